"""`Standardize`: ``(x - mean) / std`` per feature, the statistics learnt from data."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from nnkit import Layer
from nnkit.files.onnx import OnnxGraph
from nnkit.interfaces.workspace import Workspace
from nnkit_std.preprocessing.common import (
    ReadsText,
    check_width,
    mean_and_spread,
    rows,
)

__all__ = ["Standardize"]


class Standardize(ReadsText, Layer):
    """``(x - mean) / std`` per feature (per element of a sample of any shape).

    The mean and standard deviation are learnt by `adapt`, or, if it was never called,
    from the training part of the first ``fit``'s data, never from its validation part
    (as Keras' ``Normalization.adapt``); a constant feature is centred, not divided by
    zero. Until then the layer is the identity. They are statistics, not parameters:
    training does not change them. Its gradient passes through (``dx = dy / std``), so
    it can sit anywhere in a network. NaN is ignored when learning: put it after an
    `Impute`.

    Args:
        mean: the learnt means, flat (saved in the model's configuration).
        std: the learnt standard deviations, flat and positive.
    """

    example_arguments: ClassVar[dict[str, Any]] = {
        "mean": [0.5, -1.0, 2.0, 0.0],
        "std": [1.0, 2.0, 0.5, 3.0],
    }

    def __init__(
        self, mean: Sequence[float] | None = None, std: Sequence[float] | None = None
    ) -> None:
        self._stats = mean_and_spread(mean, std, "standardize", "std")

    @property
    def mean(self) -> list[float] | None:
        """The learnt means, or ``None`` before adapting."""
        return None if self._stats is None else self._stats[0].tolist()

    @property
    def std(self) -> list[float] | None:
        """The learnt standard deviations, or ``None`` before adapting."""
        return None if self._stats is None else self._stats[1].tolist()

    def needs_adapting(self) -> bool:
        return self._stats is None

    def adapt(self, x: np.ndarray) -> None:
        """Learn the mean and standard deviation of each feature of ``x`` (samples
        first), ignoring NaN."""
        values = rows(np.asarray(self.encode_input(x), dtype=np.float64))
        with np.errstate(all="ignore"):
            mean = np.nan_to_num(np.nanmean(values, axis=0))
            std = np.nan_to_num(np.nanstd(values, axis=0))
        if hasattr(self, "input_shape"):
            check_width(mean, math.prod(self.input_shape), "standardize")
        self._stats = (mean, np.where(std > 0, std, 1.0))

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        self.input_shape = tuple(input_shape)
        if self._stats is not None:
            check_width(self._stats[0], math.prod(input_shape), "standardize")
        return self.input_shape

    def _arrays(self, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
        stats = self._stats  # read once: adapt() replaces the pair in one assignment
        if stats is None:
            return np.zeros(self.input_shape, dtype), np.ones(self.input_shape, dtype)
        mean, std = stats
        return mean.reshape(self.input_shape).astype(dtype), std.reshape(self.input_shape).astype(
            dtype
        )

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        mean, std = self._arrays(x.dtype)
        ws.std = std
        y = np.subtract(x, mean, out=ws.buffer_like("y", x))
        y /= std
        return y

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        if not need_input_gradient:
            return None
        return np.divide(dy, ws.std, out=ws.buffer_like("dx", dy))

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        mean, std = self._arrays(graph.dtype)
        centred = graph.node("Sub", [x, graph.weight(mean, "mean")])
        return graph.node("Div", [centred, graph.weight(std, "std")])
