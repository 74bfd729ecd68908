"""The 2-D convolution: ``Z = W * A + b`` as one matrix product per batch (im2col)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from nnkit import Activation, Initializer, WeightedLayer
from nnkit.arguments import positive_int
from nnkit.errors import ConfigurationError
from nnkit.files.onnx import OnnxGraph, export_component
from nnkit.interfaces.workspace import Workspace
from nnkit_vision.export import convolution_by_products, window_attributes
from nnkit_vision.images import (
    image_shape,
    margins,
    margins_config,
    pair,
    samples_first,
    samples_last,
)
from nnkit_vision.windows import PADDINGS, WindowGrid, col2im, column_blocks, im2col

__all__ = ["Conv2D"]

#: The most entries of ``X_col`` built at once at inference (4 MiB in float32): a large
#: batch is convolved in blocks of output rows, each block's columns written and read
#: back by the matrix product while still in the cache, and its memory reused.
INFERENCE_BLOCK = 1 << 20


class Conv2D(WeightedLayer):
    """A 2-D convolution of ``filters`` kernels of ``kernel_size`` over images
    ``(channels, height, width)``, with a bias per filter and an activation.

    The weights are ``W``, shape ``(filters, channels // groups, kernel_height,
    kernel_width)`` (PyTorch's layout), and ``b``, shape ``(filters,)``. As in PyTorch
    and Keras, the kernel is not flipped (a cross-correlation). The output images are
    ``(filters, out_height, out_width)`` with ``out = (size + padding - dilation *
    (kernel - 1) - 1) // stride + 1``.

    Args:
        filters: the number of kernels, the output's channels.
        kernel_size: the kernel's height and width, one integer for both or a pair.
        stride: the step between windows, one integer or a pair.
        padding: ``"valid"`` (no padding), ``"same"``, or the zeros added: one integer
            for every side, a pair ``(height, width)`` for both sides of each axis (as
            PyTorch's ``padding=``), or ``((top, bottom), (left, right))``. ``"same"``
            adds ``(k - 1) // 2`` zeros before and ``k // 2`` after, ``k`` being the
            span of the (dilated) kernel, along each axis, whatever the stride, as
            PyTorch's ``padding=(k - 1) // 2``. At stride 1 the output keeps the input's
            size; at stride ``s`` it is ``ceil(size / s)`` for odd kernels, the size
            Keras gives, though Keras pads only what the stride needs, which can shift
            the windows by a pixel.
        dilation: the distance between the pixels a kernel sees, one integer or a pair:
            a ``k``-wide kernel then spans ``dilation * (k - 1) + 1`` pixels.
        groups: the channels and filters are split into this many groups, each filter
            seeing the channels of its group only; both counts must divide by it.
            ``groups == channels`` is a depthwise convolution.
        activation: an activation name or instance; ``None`` means none. It sees samples
            first and filters last, ``(m, out_width, out_height, filters)`` (a view), so
            a softmax normalises over the filters of each pixel.
        kernel_initializer: initializer of ``W``, by default the one the activation
            names; its fan-in is ``channels * kh * kw`` and fan-out ``filters * kh * kw``.
        bias_initializer: initializer of ``b``.
        l2: weight of the L2 penalty ``l2/2 * sum(W^2)`` added to the loss.
    """

    example_arguments: ClassVar[dict[str, Any]] = {
        "filters": 3,
        "kernel_size": 3,
        "padding": "same",
        "activation": "tanh",
    }
    example_input_shape: ClassVar[tuple[int, ...]] = (2, 5, 5)

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: str | int | tuple[int, int] | tuple[tuple[int, int], tuple[int, int]] = "valid",
        activation: str | Activation | None = None,
        kernel_initializer: str | Initializer | None = None,
        bias_initializer: str | Initializer = "zeros",
        l2: float = 0.0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
    ) -> None:
        self.filters = positive_int(filters, "conv2d filters")
        self.kernel_size = pair(kernel_size, "conv2d kernel_size")
        self.stride = pair(stride, "conv2d stride")
        self.dilation = pair(dilation, "conv2d dilation")
        self.groups = positive_int(groups, "conv2d groups")
        if self.filters % self.groups:
            raise ConfigurationError(
                f"conv2d filters must divide by groups: {self.filters} filters cannot be "
                f"split into {self.groups} groups; use a multiple of {self.groups}"
            )
        self.padding: str | tuple[int, int, int, int]
        if isinstance(padding, str):
            if padding not in PADDINGS:
                raise ConfigurationError(
                    f"conv2d padding must be one of {', '.join(map(repr, PADDINGS))} or a "
                    f"number of zeros, got {padding!r}"
                )
            self.padding = padding
        else:
            self.padding = margins(padding, "conv2d padding")
        self.configure_weights("conv2d", activation, kernel_initializer, bias_initializer, l2)
        self.channels: int | None = None
        self.grid: WindowGrid | None = None

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        channels, height, width = image_shape(input_shape, "conv2d")
        if channels % self.groups:
            raise ConfigurationError(
                f"conv2d with groups={self.groups} needs input channels that divide by "
                f"{self.groups}, got {channels}; change groups or the channels"
            )
        self.grid = WindowGrid.fitted(
            "conv2d", "kernel", (height, width), self.kernel_size, self.stride, self.padding,
            self.dilation,
        )
        self.channels = channels
        per_group = channels // self.groups
        self.declare_weights((self.filters, per_group, *self.kernel_size), (self.filters,))
        return (self.filters, *self.grid.output)

    def fans(self) -> tuple[int, int]:
        assert self.channels is not None, "build() sets channels"
        area = self.kernel_size[0] * self.kernel_size[1]
        # As PyTorch counts them: the inputs and outputs of one group's kernel.
        return self.channels // self.groups * area, self.filters // self.groups * area

    def _matrix(self, array: np.ndarray) -> np.ndarray:
        """``W`` (or its gradient) as the ``(filters, channels * kh * kw)`` matrix
        ``W_col``: a view, whose rows match the rows of ``X_col``."""
        matrix = array.view()
        matrix.shape = (self.filters, -1)  # raises rather than copy
        return matrix

    def _stacked(self, matrix: np.ndarray) -> np.ndarray:
        """A ``(rows, columns)`` matrix whose rows run group by group (``W_col``, ``Z``,
        ``X_col``) as ``(groups, rows // groups, columns)``: a view, one product per
        group in a single stacked ``matmul``."""
        return _rows_by_group(matrix, self.groups)

    def _product(self, W_col: np.ndarray, X_col: np.ndarray, out: np.ndarray) -> None:
        """``out = W_col X_col``, group by group: each group's filters (rows of
        ``W_col``) see only its channels (rows of ``X_col``, channel-major)."""
        if self.groups == 1:
            np.matmul(W_col, X_col, out=out)
        else:
            np.matmul(self._stacked(W_col), _rows_by_group(X_col, self.groups),
                      out=_rows_by_group(out, self.groups))

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        b = self.params["b"]
        m = x.shape[0]
        out_height, out_width = self.grid.output
        xt, W_col = samples_last(x), self._matrix(self.params["W"])
        Z = ws.buffer("Z", (self.filters, out_height * out_width * m), b.dtype)
        if training or Z.shape[1] * W_col.shape[1] <= INFERENCE_BLOCK:
            X_col = im2col(xt, self.grid, ws)  # (C kh kw, Ho Wo m)
            self._product(W_col, X_col, Z)  # Z = W_col X_col
        else:  # perf: a large inference batch, in blocks of X_col that stay in the cache
            X_col = None  # backward, if called, builds it again
            for columns, block in column_blocks(xt, self.grid, ws, INFERENCE_BLOCK):
                self._product(W_col, block, Z[:, columns])
        Z += b[:, None]  # + b, one bias per filter, broadcast over pixels and samples
        Z = Z.reshape(self.filters, out_height, out_width, m)
        if self.activation is None:
            A = Z
        else:  # A = g(Z), written over Z when the activation works in place
            out = Z if self.activation.in_place else ws.buffer("A", Z.shape, Z.dtype)
            # Activations take samples first and units last: (m, Wo, Ho, filters), a view,
            # so a softmax normalises over the filters of each pixel.
            A = self.activation.forward(Z.T, out=out.T).T
        ws.x, ws.X_col, ws.Z, ws.A = xt, X_col, Z, A
        return samples_first(A)  # (m, filters, Ho, Wo), a view

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        dA = samples_last(dy)  # (filters, Ho, Wo, m)
        if self.activation is None and dA.flags.c_contiguous:
            dZ = dA  # dZ = dA, already laid out as one matrix
        elif self.activation is None:
            dZ = ws.buffer("dZ", dA.shape, dA.dtype)
            np.copyto(dZ, dA)
        else:  # dZ = dA * g'(Z)
            dZ_buffer = ws.buffer("dZ", dA.shape, dA.dtype)
            dZ = self.activation.backward(ws.Z.T, ws.A.T, dA.T, out=dZ_buffer.T).T
        dZ = dZ.reshape(self.filters, -1)  # (filters, Ho Wo m)
        X_col = ws.X_col if ws.X_col is not None else im2col(ws.x, self.grid, ws)
        dW_col = self._matrix(self.grads["W"])
        if self.groups == 1:
            np.matmul(dZ, X_col.T, out=dW_col)  # dW = dZ X_colᵀ
        else:  # the same, group by group
            np.matmul(self._stacked(dZ), _rows_by_group(X_col, self.groups).transpose(0, 2, 1),
                      out=self._stacked(dW_col))
        self.add_penalty_gradients()
        ones = ws.filled("ones", (dZ.shape[1],), dZ.dtype, 1)
        np.matmul(dZ, ones, out=self.grads["b"])  # db = dZ 1: sums over pixels, samples
        if not need_input_gradient:
            return None
        dX_col = ws.buffer("dX_col", X_col.shape, dZ.dtype)
        W_col = self._matrix(self.params["W"])
        if self.groups == 1:
            np.matmul(W_col.T, dZ, out=dX_col)  # dX_col = W_colᵀ dZ
        else:  # the same, group by group
            np.matmul(self._stacked(W_col).transpose(0, 2, 1), self._stacked(dZ),
                      out=self._stacked(dX_col))
        return samples_first(col2im(dX_col, self.grid, ws))  # (m, C, H, W), a view

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """``Conv`` with the layer's kernel, stride and zero padding (``(k - 1) // 2``
        before, ``k // 2`` after, for ``"same"``), then the activation's own ONNX form. A
        float64 graph computes ``W_col X_col + b`` instead (`nnkit_vision.export`)."""
        W, b = self.params["W"], self.params["b"]
        if graph.runs_float32_only_operators:
            inputs = [x, graph.weight(W, "W"), graph.weight(b, "b")]
            attributes: dict[str, Any] = window_attributes(self.grid)
            attributes["dilations"] = list(self.dilation)
            z = graph.node("Conv", inputs, **attributes, group=self.groups)
        else:
            z = convolution_by_products(graph, x, W, b, self.grid, self.groups)
        if self.activation is None:
            return z
        return export_component(self.activation, graph, z, "the activation of conv2d")

    def get_config(self) -> dict[str, Any]:
        return {
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": (
                self.padding if isinstance(self.padding, str) else margins_config(self.padding)
            ),
            "dilation": list(self.dilation),
            "groups": self.groups,
            "activation": self.activation,
            "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer,
            "l2": self.l2,
        }


def _rows_by_group(matrix: np.ndarray, groups: int) -> np.ndarray:
    """``matrix`` (``(rows, columns)``, rows group by group, possibly a block of
    columns of a larger matrix) as ``(groups, rows // groups, columns)``: a view."""
    stack = matrix.view()
    stack.shape = (groups, -1, matrix.shape[-1])  # raises rather than copy
    return stack
