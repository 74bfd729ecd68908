"""The transposed convolution: the backward pass of a convolution run forward.

A convolution of an image of ``(Ho, Wo)`` pixels with stride ``s`` and padding ``p``
gives ``(H, W)`` pixels; its transpose takes ``(H, W)`` back to ``(Ho, Wo)``, with
``Ho = (H - 1) s - 2 p + k + output_padding``. It is that convolution's input
gradient with the roles swapped: ``X_col = W_colᵀ X`` (one matrix product), then
col2im adds each kernel offset's block into the larger image. Its own gradients are
the convolution's forward pass: im2col of ``dZ``, then two products.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from nnkit import Activation, Initializer, WeightedLayer
from nnkit.arguments import positive_int
from nnkit.errors import ConfigurationError
from nnkit.files.onnx import OnnxGraph, export_component
from nnkit.interfaces.workspace import Workspace
from nnkit_vision.export import convolution_by_products, dilated_by_stride
from nnkit_vision.images import image_shape, pair, samples_first, samples_last
from nnkit_vision.windows import WindowGrid, col2im, im2col

__all__ = ["Conv2DTranspose"]


class Conv2DTranspose(WeightedLayer):
    """A transposed 2-D convolution (sometimes called a deconvolution) of ``filters``
    kernels of ``kernel_size``: it makes images larger, as PyTorch's
    ``nn.ConvTranspose2d``, the upsampling half of autoencoders and segmentation
    networks.

    The weights are ``W``, shape ``(channels, filters, kernel_height, kernel_width)``
    (PyTorch's layout for a transposed convolution), and ``b``, shape ``(filters,)``.
    The output images are ``(filters, out_height, out_width)`` with ``out = (size - 1)
    * stride - 2 * padding + kernel + output_padding``.

    Args:
        filters: the number of kernels, the output's channels.
        kernel_size: the kernel's height and width, one integer for both or a pair.
        stride: how far apart the input pixels land in the output, one integer or a pair.
        padding: rows and columns removed from each side of the output, as PyTorch's
            ``padding=``: one integer or a pair ``(height, width)``, at most
            ``kernel_size - 1``.
        output_padding: rows and columns added at the bottom and right of the output,
            less than the stride: the convolutions of images of sizes ``n s`` to
            ``n s + s - 1`` all give the same size, and this chooses among them.
        activation: an activation name or instance; ``None`` means none.
        kernel_initializer: initializer of ``W``, by default the one the activation
            names; its fan-in is ``channels * kh * kw`` and fan-out ``filters * kh * kw``.
        bias_initializer: initializer of ``b``.
        l2: weight of the L2 penalty ``l2/2 * sum(W^2)`` added to the loss.
    """

    example_arguments: ClassVar[dict[str, Any]] = {
        "filters": 3,
        "kernel_size": 3,
        "stride": 2,
        "padding": 1,
        "output_padding": 1,
        "activation": "tanh",
    }
    example_input_shape: ClassVar[tuple[int, ...]] = (2, 3, 4)

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        output_padding: int | tuple[int, int] = 0,
        activation: str | Activation | None = None,
        kernel_initializer: str | Initializer | None = None,
        bias_initializer: str | Initializer = "zeros",
        l2: float = 0.0,
    ) -> None:
        self.filters = positive_int(filters, "conv2d_transpose filters")
        self.kernel_size = pair(kernel_size, "conv2d_transpose kernel_size")
        self.stride = pair(stride, "conv2d_transpose stride")
        self.padding = pair(padding, "conv2d_transpose padding", minimum=0)
        self.output_padding = pair(output_padding, "conv2d_transpose output_padding", minimum=0)
        if any(p >= k for p, k in zip(self.padding, self.kernel_size)):
            raise ConfigurationError(
                f"conv2d_transpose padding must be less than the kernel_size, got padding "
                f"{self.padding} for a {self.kernel_size[0]}x{self.kernel_size[1]} kernel"
            )
        if any(o >= s for o, s in zip(self.output_padding, self.stride)):
            raise ConfigurationError(
                f"conv2d_transpose output_padding must be less than the stride, got "
                f"{self.output_padding} for stride {self.stride}"
            )
        self.configure_weights(
            "conv2d_transpose", activation, kernel_initializer, bias_initializer, l2
        )
        self.channels: int | None = None
        self.image: tuple[int, int] | None = None
        self.grid: WindowGrid | None = None

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        channels, height, width = image_shape(input_shape, "conv2d_transpose")
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        (oh, ow) = self.output_padding
        out = ((height - 1) * sh - 2 * ph + kh + oh, (width - 1) * sw - 2 * pw + kw + ow)
        if min(out) < 1:
            raise ConfigurationError(
                f"conv2d_transpose's padding {self.padding} removes the whole "
                f"{out[0] + 2 * ph}x{out[1] + 2 * pw} output of {height}x{width} images; "
                f"use less padding"
            )
        # The convolution this layer transposes: from the output back to the input.
        self.grid = WindowGrid(out, self.kernel_size, self.stride, (ph, ph, pw, pw))
        assert self.grid.output == (height, width), "the sizes invert each other"
        self.channels, self.image = channels, (height, width)
        self.declare_weights((channels, self.filters, *self.kernel_size), (self.filters,))
        return (self.filters, *out)

    def fans(self) -> tuple[int, int]:
        assert self.channels is not None, "build() sets channels"
        area = self.kernel_size[0] * self.kernel_size[1]
        return self.channels * area, self.filters * area

    def _matrix(self, array: np.ndarray) -> np.ndarray:
        """``W`` (or its gradient) as the ``(channels, filters * kh * kw)`` matrix: a
        view, whose columns match the rows of the output's ``X_col``."""
        matrix = array.view()
        matrix.shape = (self.channels, -1)  # raises rather than copy
        return matrix

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        m, b = x.shape[0], self.params["b"]
        X = ws.buffer("X", (self.channels, *self.image, m), x.dtype)
        np.copyto(X, samples_last(x))  # (C, H, W, m), one matrix (C, H W m)
        X = X.reshape(self.channels, -1)
        cols = ws.buffer("product", (self.filters * len(self.grid.offsets), X.shape[1]),
                         x.dtype)
        np.matmul(self._matrix(self.params["W"]).T, X, out=cols)  # X_col = W_matᵀ X
        Z = ws.buffer("Z", (self.filters, *self.grid.image, m), x.dtype)
        # col2im adds each offset's block into the output; + b, one bias per filter
        np.add(col2im(cols, self.grid, ws), b[:, None, None, None], out=Z)
        if self.activation is None:
            A = Z
        else:  # A = g(Z), over Z when the activation works in place; filters last
            out = Z if self.activation.in_place else ws.buffer("A", Z.shape, Z.dtype)
            A = self.activation.forward(Z.T, out=out.T).T
        ws.X, ws.Z, ws.A = X, Z, A
        return samples_first(A)  # (m, filters, Ho, Wo), a view

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        dA = samples_last(dy)  # (filters, Ho, Wo, m)
        if self.activation is None:
            dZ = dA
        else:  # dZ = dA * g'(Z)
            dZ_buffer = ws.buffer("dZ", dA.shape, dA.dtype)
            dZ = self.activation.backward(ws.Z.T, ws.A.T, dA.T, out=dZ_buffer.T).T
        dcols = im2col(dZ, self.grid, ws)  # (filters kh kw, H W m)
        np.matmul(ws.X, dcols.T, out=self._matrix(self.grads["W"]))  # dW = X dcolsᵀ
        self.add_penalty_gradients()
        np.add.reduce(dZ, axis=(1, 2, 3), out=self.grads["b"])  # db: sums over pixels
        if not need_input_gradient:
            return None
        dX = ws.buffer("dX", (self.channels, *self.image, dy.shape[0]), dy.dtype)
        np.matmul(self._matrix(self.params["W"]), dcols, out=dX.reshape(self.channels, -1))
        return samples_first(dX)  # dX = W_mat dcols, (m, C, H, W)

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """``ConvTranspose`` with the layer's kernel, stride, ``pads`` and
        ``output_padding``, then the activation's ONNX form. onnxruntime has it in
        float32 only; a float64 graph spaces the input pixels ``stride`` apart with
        zeros, pads ``k - 1 - padding`` around (plus ``output_padding`` at the end)
        and convolves with the flipped kernel, as the products of `conv2d`."""
        W, b = self.params["W"], self.params["b"]
        (kh, kw), (ph, pw), (oh, ow) = self.kernel_size, self.padding, self.output_padding
        if graph.runs_float32_only_operators:
            inputs = [x, graph.weight(W, "W"), graph.weight(b, "b")]
            z = graph.node("ConvTranspose", inputs, kernel_shape=list(self.kernel_size),
                           strides=list(self.stride), pads=[ph, pw, ph, pw],
                           output_padding=[oh, ow])
        else:
            (height, width), (sh, sw) = self.image, self.stride
            spaced = dilated_by_stride(graph, x, self.channels, self.image, self.stride)
            grid = WindowGrid(
                ((height - 1) * sh + 1, (width - 1) * sw + 1), self.kernel_size, (1, 1),
                (kh - 1 - ph, kh - 1 - ph + oh, kw - 1 - pw, kw - 1 - pw + ow),
            )
            flipped = np.ascontiguousarray(W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
            z = convolution_by_products(graph, spaced, flipped, b, grid)
        if self.activation is None:
            return z
        return export_component(self.activation, graph, z, "the activation of conv2d_transpose")

    def get_config(self) -> dict[str, Any]:
        return {
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": list(self.padding),
            "output_padding": list(self.output_padding),
            "activation": self.activation,
            "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer,
            "l2": self.l2,
        }
