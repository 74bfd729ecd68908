"""Global pooling over time: a ``(T, d)`` sequence to one ``(d,)`` vector, the bridge
from sequence layers to a dense classifier.

With a mask of padded positions (``ws.mask``, True at a real step) both pool over the
real steps only and drop the mask; a sequence without a real step pools to zeros.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from nnkit import Layer
from nnkit.files.onnx import OnnxGraph
from nnkit.interfaces.workspace import Workspace
from nnkit_text.sequences import sequence_shape

__all__ = ["GlobalAvgPool1D", "GlobalMaxPool1D"]


def _reduction(graph: OnnxGraph, op: str, x: str) -> str:
    """``op`` (``ReduceMax``, ``ReduceMean``) over the time axis, dropped; its axes are
    an attribute before operator set 18 and an input from it."""
    if graph.opset >= 18:
        axes = graph.weight(np.array([1], dtype=np.int64), "axes")
        return graph.node(op, [x, axes], keepdims=0)
    return graph.node(op, [x], axes=[1], keepdims=0)


class _GlobalPool1D(Layer):
    kind: ClassVar[str]
    example_input_shape: ClassVar[tuple[int, ...]] = (5, 3)
    supports_masking: ClassVar[bool] = True

    def compute_mask(self, x: np.ndarray, mask: np.ndarray | None) -> np.ndarray | None:
        return None  # the time axis is gone: the mask was read, and ends here

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        self.steps, features = sequence_shape(input_shape, self.kind)
        return (features,)

    def get_config(self) -> dict[str, Any]:
        return {}


class GlobalMaxPool1D(_GlobalPool1D):
    """The largest value of each feature over the time steps: ``y_i = max_t x_{t,i}``
    (over the real steps, with a mask). Back-propagation routes each feature's gradient
    to the step that held its maximum, the first one when several tie (as PyTorch's
    ``max`` does)."""

    kind = "global_max_pool1d"

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        mask = ws.mask
        if mask is not None:  # padded steps never win: the maximum over the real ones
            x = np.where(mask[:, :, None], x, -np.inf)
        winners = np.argmax(x, axis=1)  # (m, d): the step of each maximum, the first on ties
        ws.winners = winners
        y = np.take_along_axis(x, winners[:, None], axis=1)[:, 0]  # y = max_t x_t
        if mask is not None:
            real = mask.any(axis=1)
            ws.real = real
            y[~real] = 0  # no real step: zeros, and no gradient
        return y

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        if not need_input_gradient:
            return None
        dx = np.zeros((dy.shape[0], self.steps, dy.shape[1]), dy.dtype)
        if ws.mask is not None:
            dy = dy * ws.real[:, None]
        np.put_along_axis(dx, ws.winners[:, None], dy[:, None], axis=1)  # dx = dy at argmax
        return dx

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """``ReduceMax`` over the time axis."""
        return _reduction(graph, "ReduceMax", x)


class GlobalAvgPool1D(_GlobalPool1D):
    """The mean of each feature over the time steps: ``y_i = (1/T) Σ_t x_{t,i}``; each
    step receives ``1/T`` of the gradient. With a mask, the mean over the real steps,
    as Keras' ``GlobalAveragePooling1D``: padded steps weigh nothing."""

    kind = "global_avg_pool1d"

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        if ws.mask is None:
            return x.mean(axis=1)  # y = (1/T) Σ_t x_t
        # The mean over the real steps: y = Σ_t w_t x_t with w_t = mask_t / count.
        weights = ws.mask / np.maximum(ws.mask.sum(axis=1, keepdims=True), 1)
        ws.weights = weights.astype(x.dtype)
        return np.einsum("mt,mtd->md", ws.weights, x)

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        if not need_input_gradient:
            return None
        dx = np.empty((dy.shape[0], self.steps, dy.shape[1]), dy.dtype)
        if ws.mask is not None:
            np.multiply(dy[:, None], ws.weights[:, :, None], out=dx)  # dx_t = w_t dy
            return dx
        dx[...] = dy[:, None] / self.steps  # dx_t = dy / T
        return dx

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """``ReduceMean`` over the time axis."""
        return _reduction(graph, "ReduceMean", x)
