"""The ONNX forms of windows: what ``Conv`` and the pooling operators take from a
`WindowGrid`, and the same computations spelt with other operators for float64.

Arrays in the graph are ``(N, channels, height, width)``, ONNX's NCHW, as nnkit passes
images between layers. ONNX defines ``Conv``, ``AveragePool`` and ``GlobalAveragePool``
for float64 too, but onnxruntime, the runtime most users load a model into, implements
them for float32 only and refuses to load the model. A float64 graph therefore spells
them as the layers compute them: one strided ``Slice`` per kernel offset (the ONNX form
of `WindowGrid.at`), then a product (``Einsum``) or a ``Sum`` over the offsets.
"""

from __future__ import annotations

import numpy as np

from nnkit.files.onnx import OnnxGraph
from nnkit_vision.windows import WindowGrid

__all__ = [
    "convolution_by_products",
    "dilated_by_stride",
    "global_average_by_reduction",
    "global_maximum_by_reduction",
    "mean_by_sums",
    "window_attributes",
]


def window_attributes(grid: WindowGrid) -> dict[str, list[int]]:
    """``kernel_shape``, ``strides`` and ``pads`` of the operator that slides ``grid``'s
    windows. ONNX orders the pads as all the beginnings then all the ends: ``(top, left,
    bottom, right)``; the grid keeps ``(top, bottom, left, right)``."""
    top, bottom, left, right = grid.padding
    return {
        "kernel_shape": list(grid.size),
        "strides": list(grid.stride),
        "pads": [top, left, bottom, right],
    }


def convolution_by_products(
    graph: OnnxGraph, x: str, W: np.ndarray, b: np.ndarray, grid: WindowGrid, groups: int = 1
) -> str:
    """``Z = W_col X_col + b`` as the layer computes it, without ``Conv``: ``X_col`` is
    the windows at every kernel offset, stacked on the channel axis; with ``groups``,
    one product per group, in the same ``Einsum``."""
    filters = W.shape[0]
    # (N, kh kw C, Ho, Wo): channel c at offset (i, j) is row (i kw + j) C + c ...
    columns = graph.node("Concat", _offsets(graph, _padded(graph, x, grid), grid), axis=1)
    bias = graph.weight(b.reshape(filters, 1, 1), "b")
    if groups == 1:
        # ... so W's columns are put in that order: (F, kh, kw, C) flattened.
        W_col = graph.weight(W.transpose(0, 2, 3, 1).reshape(filters, -1), "W")
        z = graph.node("Einsum", [columns, W_col], equation="nkhw,fk->nfhw")
        return graph.node("Add", [z, bias])
    (ho, wo), per_group = grid.output, W.shape[1]
    offsets = len(grid.offsets)
    # (N, offsets, groups, C / groups, Ho, Wo); a 0 keeps the batch's size.
    shape = np.array([0, offsets, groups, per_group, ho, wo], dtype=np.int64)
    split = graph.node("Reshape", [columns, graph.weight(shape, "shape")])
    # W as (groups, F / groups, offsets, C / groups), in the order of the split columns.
    W_groups = W.reshape(groups, filters // groups, per_group, offsets).transpose(0, 1, 3, 2)
    z = graph.node("Einsum", [split, graph.weight(np.ascontiguousarray(W_groups), "W")],
                   equation="nkgchw,gfkc->ngfhw")
    merged = np.array([0, filters, ho, wo], dtype=np.int64)
    z = graph.node("Reshape", [z, graph.weight(merged, "shape")])
    return graph.node("Add", [z, bias])


def dilated_by_stride(
    graph: OnnxGraph, x: str, channels: int, image: tuple[int, int], stride: tuple[int, int]
) -> str:
    """``x`` (``(N, C, H, W)``) with ``stride - 1`` zeros between its pixels along each
    axis, ``(N, C, (H - 1) sh + 1, (W - 1) sw + 1)``: each pixel given a block of zeros
    after it (``Pad`` of a ``(N, C, H, 1, W, 1)`` view), the blocks laid side by side
    and the zeros past the last pixel cut off."""
    (height, width), (sh, sw) = image, stride
    apart = np.array([0, channels, height, 1, width, 1], dtype=np.int64)
    blocks = graph.node("Reshape", [x, graph.weight(apart, "shape")])
    pads = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, sh - 1, 0, sw - 1], dtype=np.int64)
    blocks = graph.node("Pad", [blocks, graph.weight(pads, "pads")])
    together = np.array([0, channels, height * sh, width * sw], dtype=np.int64)
    spaced = graph.node("Reshape", [blocks, graph.weight(together, "shape")])
    starts = graph.weight(np.array([0, 0], dtype=np.int64), "starts")
    ends = graph.weight(np.array([(height - 1) * sh + 1, (width - 1) * sw + 1],
                                 dtype=np.int64), "ends")
    axes = graph.weight(np.array([2, 3], dtype=np.int64), "axes")
    return graph.node("Slice", [spaced, starts, ends, axes])


def mean_by_sums(graph: OnnxGraph, x: str, grid: WindowGrid) -> str:
    """The mean of each window without ``AveragePool``: the sum over the kernel offsets,
    times ``1 / (ph pw)``, as `AvgPool2D` computes it."""
    total = graph.node("Sum", _offsets(graph, _padded(graph, x, grid), grid))
    share = graph.constant(1 / len(grid.offsets), "share")
    return graph.node("Mul", [total, share])


def global_average_by_reduction(graph: OnnxGraph, x: str) -> str:
    """The mean of each channel, ``(N, C)``, without ``GlobalAveragePool``: a
    ``ReduceMean`` over height and width (its axes are an input from operator set 18)."""
    if graph.opset >= 18:
        axes = graph.weight(np.array([2, 3], dtype=np.int64), "axes")
        return graph.node("ReduceMean", [x, axes], keepdims=0)
    return graph.node("ReduceMean", [x], axes=[2, 3], keepdims=0)


def global_maximum_by_reduction(graph: OnnxGraph, x: str) -> str:
    """The maximum of each channel, ``(N, C)``, without ``GlobalMaxPool``: a
    ``ReduceMax`` over height and width (its axes are an input from operator set 18)."""
    if graph.opset >= 18:
        axes = graph.weight(np.array([2, 3], dtype=np.int64), "axes")
        return graph.node("ReduceMax", [x, axes], keepdims=0)
    return graph.node("ReduceMax", [x], axes=[2, 3], keepdims=0)


def _padded(graph: OnnxGraph, x: str, grid: WindowGrid) -> str:
    """``x`` with the grid's zeros around each image (a ``Pad``), or ``x`` itself."""
    if not grid.is_padded:
        return x
    top, bottom, left, right = grid.padding
    # Pad's pads: the beginnings of axes N, C, H, W, then their ends.
    pads = graph.weight(np.array([0, 0, top, left, 0, 0, bottom, right], dtype=np.int64), "pads")
    return graph.node("Pad", [x, pads])


def _offsets(graph: OnnxGraph, x: str, grid: WindowGrid) -> list[str]:
    """The pixel at each kernel offset ``(i, j)`` of every window, row-major: one strided
    ``Slice`` of the padded ``x`` per offset, each ``(N, C, Ho, Wo)``."""
    (ho, wo), (sh, sw), (dh, dw) = grid.output, grid.stride, grid.dilation
    axes = graph.weight(np.array([2, 3], dtype=np.int64), "axes")
    steps = graph.weight(np.array([sh, sw], dtype=np.int64), "steps")
    windows = []
    for i, j in ((i * dh, j * dw) for i, j in grid.offsets):  # where a dilated kernel lands
        starts = graph.weight(np.array([i, j], dtype=np.int64), "starts")
        ends = graph.weight(np.array([i + sh * (ho - 1) + 1, j + sw * (wo - 1) + 1],
                                     dtype=np.int64), "ends")
        windows.append(graph.node("Slice", [x, starts, ends, axes, steps]))
    return windows
