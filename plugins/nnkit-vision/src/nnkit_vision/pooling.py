"""Pooling: the maximum or the mean of each window of each channel, and of whole images.

Pooling windows must fit inside the (padded) image, so rows and columns left over at
the bottom and right are dropped (PyTorch's default, Keras's ``"valid"``). Padding
follows PyTorch: max pooling pads with ``-inf`` (a padded pixel is never a window's
maximum), average pooling with zeros that count in the mean (``count_include_pad``).
Each window offset is one strided view of the whole batch (`nnkit_vision.windows`),
which NumPy reduces as fast as a reshape would, and also serves overlapping windows.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from nnkit import Layer
from nnkit.errors import ConfigurationError
from nnkit.files.onnx import OnnxGraph
from nnkit.interfaces.workspace import Workspace
from nnkit_vision.export import (
    global_average_by_reduction,
    global_maximum_by_reduction,
    mean_by_sums,
    window_attributes,
)
from nnkit_vision.images import (
    image_shape,
    margins,
    margins_config,
    pair,
    samples_first,
    samples_last,
)
from nnkit_vision.windows import WindowGrid, staged, window_blocks

__all__ = ["AvgPool2D", "GlobalAvgPool2D", "GlobalMaxPool2D", "MaxPool2D"]


class _WindowPool(Layer):
    """What max and average pooling share: the window and the output shape."""

    #: The registry name the errors use.
    kind: ClassVar[str]
    #: What the padding is filled with.
    fill: ClassVar[float]
    example_arguments: ClassVar[dict[str, Any]] = {"pool_size": 2}
    example_input_shape: ClassVar[tuple[int, ...]] = (2, 5, 5)

    def __init__(
        self,
        pool_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] | tuple[tuple[int, int], tuple[int, int]] = 0,
    ) -> None:
        self.pool_size = pair(pool_size, f"{self.kind} pool_size")
        self.stride = None if stride is None else pair(stride, f"{self.kind} stride")
        self.padding = margins(padding, f"{self.kind} padding")
        (ph, pw), (top, bottom, left, right) = self.pool_size, self.padding
        # As PyTorch: every window then keeps at least one pixel of the image.
        if max(top, bottom) > ph // 2 or max(left, right) > pw // 2:
            raise ConfigurationError(
                f"{self.kind} padding must be at most half the pool size on each side, "
                f"got padding {margins_config(self.padding)} for a {ph}x{pw} pool; use "
                f"less padding or a larger pool_size"
            )
        self.grid: WindowGrid | None = None
        self.image: tuple[int, int, int] | None = None

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        self.image = image_shape(input_shape, self.kind)
        channels, height, width = self.image
        stride = self.pool_size if self.stride is None else self.stride
        self.grid = WindowGrid.fitted(
            self.kind, "pool", (height, width), self.pool_size, stride, self.padding
        )
        return (channels, *self.grid.output)

    def _padded(self, x: np.ndarray, ws: Workspace) -> np.ndarray:
        """The batch ``x`` samples last, ``(channels, height, width, m)``, with the
        layer's padding of `fill` (a copy in ``ws``), or a view when it has none."""
        xt = samples_last(x)
        return staged(xt, self.grid, ws, self.fill) if self.grid.is_padded else xt

    def _fold(self, combine: np.ufunc, xt: np.ndarray, ws: Workspace) -> np.ndarray:
        """``combine`` (``np.maximum``, ``np.add``) over every offset of the windows, one
        whole-image slice per offset: ``(channels, out_height, out_width, m)``."""
        grid = self.grid
        y = ws.buffer("y", (xt.shape[0], *grid.output, xt.shape[-1]), xt.dtype)
        first, *others = [grid.at(xt, i, j) for i, j in grid.offsets]
        if not others:
            np.copyto(y, first)
            return y
        combine(first, others[0], out=y)
        for window in others[1:]:
            combine(y, window, out=y)
        return y

    def _input_gradient(self, ws: Workspace, m: int, dtype: np.dtype) -> np.ndarray:
        """A buffer for the input gradient of ``m`` samples with the padding,
        ``(channels, padded height, padded width, m)``, zero wherever the windows'
        gradients will not overwrite it."""
        dx = ws.buffer("dx", (self.image[0], *self.grid.padded, m), dtype)
        grid = self.grid
        if not grid.tiles:  # overlapping windows add up, gaps get nothing
            dx.fill(0)
            return dx
        (ho, wo), (ph, pw) = grid.output, grid.size
        dx[:, ho * ph :] = 0  # the rows and columns no window covers
        dx[:, :, wo * pw :] = 0
        return dx

    def get_config(self) -> dict[str, Any]:
        return {
            "pool_size": list(self.pool_size),
            "stride": None if self.stride is None else list(self.stride),
            "padding": margins_config(self.padding),
        }


class MaxPool2D(_WindowPool):
    """The largest value of each ``pool_size`` window of each channel, windows every
    ``stride`` pixels (``pool_size`` by default: windows side by side).

    Back-propagation routes each window's gradient to the pixel that held its maximum;
    when several pixels tie, to the first in row-major order, as PyTorch does.

    Args:
        pool_size: the window's height and width, one integer for both or a pair.
        stride: the step between windows, one integer or a pair; ``None`` means
            ``pool_size``.
        padding: ``-inf`` pixels around the image, as PyTorch's ``padding=``: one
            integer for every side, a pair ``(height, width)`` or ``((top, bottom),
            (left, right))``, at most half the pool on each side.
    """

    kind = "max_pool2d"
    fill = -np.inf  # a padded pixel is never a maximum

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        xt = self._padded(x, ws)
        y = self._fold(np.maximum, xt, ws)  # y = the maximum over the window's offsets
        ws.x, ws.y = xt, y
        # perf: while training, find the maxima now, while x is still in the cache.
        ws.winners = self._winners(xt, y, ws) if training else None
        return samples_first(y)

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """``MaxPool`` with the layer's window, stride and padding (which ONNX too
        leaves out of every maximum), rounding the output size down (``ceil_mode=0``):
        windows past the last whole one are dropped, as here."""
        return graph.node("MaxPool", [x], **window_attributes(self.grid), ceil_mode=0)

    def _winners(self, xt: np.ndarray, y: np.ndarray, ws: Workspace) -> np.ndarray:
        """Where each window's maximum is: a boolean array with one entry per pixel of
        each window, true at the first (row-major) pixel equal to the window's maximum.

        Windows side by side: shaped as `window_blocks`, ``(C, Ho, ph, Wo, pw, m)``.
        Otherwise: one ``(C, Ho, Wo, m)`` mask per kernel offset, stacked.
        """
        grid = self.grid
        if grid.tiles:  # one comparison of all pixels with their window's maximum
            winners = ws.buffer("winners", (y.shape[0], y.shape[1], grid.size[0], y.shape[2],
                                            grid.size[1], y.shape[3]), np.bool_)
            np.equal(window_blocks(xt, grid), y[:, :, None, :, None, :], out=winners)
            masks = [winners[:, :, i, :, j] for i, j in grid.offsets]
        else:
            winners = ws.buffer("winners", (len(grid.offsets), *y.shape), np.bool_)
            for mask, (i, j) in zip(winners, grid.offsets):
                np.equal(grid.at(xt, i, j), y, out=mask)
            masks = list(winners)
        if len(masks) > 1:  # ties: keep only the first maximum of each window
            free = ws.buffer("free", y.shape, np.bool_)  # windows whose maximum is not yet kept
            np.logical_not(masks[0], out=free)
            for k, mask in enumerate(masks[1:], start=1):
                np.logical_and(mask, free, out=mask)
                if k < len(masks) - 1:
                    np.greater(free, mask, out=free)  # free and not this mask
        return winners

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        if not need_input_gradient:
            return None
        dyt, grid = samples_last(dy), self.grid
        winners = ws.winners if ws.winners is not None else self._winners(ws.x, ws.y, ws)
        dx = self._input_gradient(ws, dyt.shape[-1], dy.dtype)
        if grid.tiles:  # each pixel in one window at most: dx = dy at the maxima, else 0
            np.multiply(dyt[:, :, None, :, None, :], winners, out=window_blocks(dx, grid))
            return samples_first(grid.unpad(dx))
        routed = ws.buffer("routed", dyt.shape, dy.dtype)
        for mask, (i, j) in zip(winners, grid.offsets):  # overlapping windows add up
            np.multiply(dyt, mask, out=routed)
            target = grid.at(dx, i, j)
            np.add(target, routed, out=target)
        return samples_first(grid.unpad(dx))


class AvgPool2D(_WindowPool):
    """The mean of each ``pool_size`` window of each channel, windows every ``stride``
    pixels (``pool_size`` by default). Each pixel of a window receives
    ``1 / (ph * pw)`` of the window's gradient.

    Args:
        pool_size: the window's height and width, one integer for both or a pair.
        stride: the step between windows, one integer or a pair; ``None`` means
            ``pool_size``.
        padding: zeros around the image, as PyTorch's ``padding=``: one integer for
            every side, a pair ``(height, width)`` or ``((top, bottom), (left,
            right))``, at most half the pool on each side. The zeros count in the mean,
            which is always over ``ph * pw`` pixels (PyTorch's default,
            ``count_include_pad=True``).
    """

    kind = "avg_pool2d"
    fill = 0.0  # zeros that count in the mean

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        y = self._fold(np.add, self._padded(x, ws), ws)  # the sum over the window's offsets
        if len(self.grid.offsets) > 1:
            y *= 1 / len(self.grid.offsets)  # ... / (ph pw)
        return samples_first(y)

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """``AveragePool`` with the layer's window, stride and padding, the zeros
        counting in the mean (``count_include_pad=1``), rounding the output size down
        (``ceil_mode=0``) as here. A float64 graph sums the windows' offsets instead
        (`nnkit_vision.export`)."""
        if not graph.runs_float32_only_operators:
            return mean_by_sums(graph, x, self.grid)
        return graph.node("AveragePool", [x], **window_attributes(self.grid), ceil_mode=0,
                          count_include_pad=1)

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        if not need_input_gradient:
            return None
        dyt, grid = samples_last(dy), self.grid
        dx = self._input_gradient(ws, dy.shape[0], dy.dtype)
        shares = ws.buffer("shares", dyt.shape, dy.dtype)
        np.multiply(dyt, 1 / len(grid.offsets), out=shares)  # dy / (ph pw) to each pixel
        for i, j in grid.offsets:
            target = grid.at(dx, i, j)
            if grid.tiles:
                np.copyto(target, shares)
            else:
                np.add(target, shares, out=target)
        return samples_first(grid.unpad(dx))


class GlobalAvgPool2D(Layer):
    """The mean of each channel over the whole image: ``(channels, height, width)`` to
    ``(channels,)``, the usual bridge from convolutions to a dense classifier."""

    example_input_shape: ClassVar[tuple[int, ...]] = (2, 3, 4)

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        self.image = image_shape(input_shape, "global_avg_pool2d")
        return (self.image[0],)

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        xt = samples_last(x)
        y = ws.buffer("y", (xt.shape[0], xt.shape[-1]), x.dtype)  # (channels, m)
        np.add.reduce(xt, axis=(1, 2), out=y)
        y *= 1 / (self.image[1] * self.image[2])
        return y.T  # (m, channels), a view of the columns a dense layer reads

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """``GlobalAveragePool``, ``(N, C, 1, 1)``, flattened to the layer's ``(N, C)``; in
        a float64 graph, a ``ReduceMean`` (`nnkit_vision.export`)."""
        if not graph.runs_float32_only_operators:
            return global_average_by_reduction(graph, x)
        return graph.node("Flatten", [graph.node("GlobalAveragePool", [x])], axis=1)

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        if not need_input_gradient:
            return None
        channels, height, width = self.image
        dx = ws.buffer("dx", (channels, height, width, dy.shape[0]), dy.dtype)
        # Every pixel of a channel shares its mean's gradient equally.
        np.multiply(dy.T[:, None, None, :], 1 / (height * width), out=dx)
        return samples_first(dx)


class GlobalMaxPool2D(Layer):
    """The largest value of each channel over the whole image: ``(channels, height,
    width)`` to ``(channels,)``. Back-propagation routes each channel's gradient to the
    pixel that held its maximum, the first in row-major order when several tie, as
    PyTorch's ``nn.AdaptiveMaxPool2d(1)`` does."""

    example_input_shape: ClassVar[tuple[int, ...]] = (2, 3, 4)

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        self.image = image_shape(input_shape, "global_max_pool2d")
        return (self.image[0],)

    def _pixels(self, x: np.ndarray) -> np.ndarray:
        """``x`` as ``(channels, height * width, m)``: a view of the batch."""
        channels, height, width = self.image
        return samples_last(x).reshape(channels, height * width, x.shape[0])

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        pixels = self._pixels(x)
        y = ws.buffer("y", (pixels.shape[0], pixels.shape[2]), x.dtype)  # (channels, m)
        np.maximum.reduce(pixels, axis=1, out=y)
        # While training, find where the maxima are now, while x is still in the cache.
        ws.x, ws.winners = pixels, (np.argmax(pixels, axis=1) if training else None)
        return y.T  # (m, channels), a view of the columns a dense layer reads

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """``GlobalMaxPool``, ``(N, C, 1, 1)``, flattened to the layer's ``(N, C)``; in a
        float64 graph, a ``ReduceMax`` (`nnkit_vision.export`)."""
        if not graph.runs_float32_only_operators:
            return global_maximum_by_reduction(graph, x)
        return graph.node("Flatten", [graph.node("GlobalMaxPool", [x])], axis=1)

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        if not need_input_gradient:
            return None
        winners = ws.winners if ws.winners is not None else np.argmax(ws.x, axis=1)
        channels, height, width = self.image
        m = dy.shape[0]
        dx = ws.buffer("dx", (channels, height * width, m), dy.dtype)
        dx.fill(0)
        # dx = dy at each channel's first maximum, 0 elsewhere: one scatter, no loop.
        np.put_along_axis(dx, winners[:, None, :], dy.T[:, None, :], axis=1)
        return samples_first(dx.reshape(channels, height, width, m))
