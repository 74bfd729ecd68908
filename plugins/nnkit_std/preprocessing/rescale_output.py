"""`RescaleOutput`: a regression's outputs mapped back to the target's units."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from nnkit import Layer
from nnkit.errors import ConfigurationError
from nnkit.files.onnx import OnnxGraph
from nnkit.interfaces.workspace import Workspace
from nnkit_std.preprocessing.common import (
    check_width,
    mean_and_spread,
)

__all__ = ["RescaleOutput"]


class RescaleOutput(Layer):
    """The last layer of a regression: outputs mapped to the target's units,
    ``y = z * scale + mean``, at inference.

    Training follows scikit-learn's ``TransformedTargetRegressor``: ``fit`` standardises
    the targets with this layer's statistics (`training_targets`) and the network learns
    those, so it is well scaled whatever the target's units; this layer is then the
    identity. ``predict`` and ``evaluate`` (and a validation set's scores) give and
    compare values in the target's units. The statistics are the training targets' mean
    and standard deviation, learnt by ``adapt(y)`` or by the first ``fit`` (from its first
    chunk, when it trains on chunks: call ``adapt(y)`` on a sample first instead).

    Args:
        mean: the target's mean per output (saved in the model's configuration).
        scale: the target's standard deviation per output (positive).
    """

    example_arguments: ClassVar[dict[str, Any]] = {
        "mean": [100.0, -3.0, 0.5, 7.0],
        "scale": [20.0, 2.0, 0.1, 3.0],
    }

    def __init__(
        self, mean: Sequence[float] | None = None, scale: Sequence[float] | None = None
    ) -> None:
        self._stats = mean_and_spread(mean, scale, "rescale_output", "scale")

    @property
    def mean(self) -> list[float] | None:
        """The target's learnt means, or ``None`` before adapting."""
        return None if self._stats is None else self._stats[0].tolist()

    @property
    def scale(self) -> list[float] | None:
        """The target's learnt standard deviations, or ``None`` before adapting."""
        return None if self._stats is None else self._stats[1].tolist()

    def adapt(self, y: np.ndarray) -> None:
        """Learn the mean and standard deviation of the targets ``y`` (samples first)."""
        values = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        if hasattr(self, "n_outputs"):
            check_width(values[0], self.n_outputs, "rescale_output")
        std = values.std(axis=0)
        self._stats = (values.mean(axis=0), np.where(std > 0, std, 1.0))

    def training_targets(self, Y: np.ndarray) -> np.ndarray:
        """``Y`` standardised with this layer's statistics, learnt from ``Y`` first if
        never adapted: what the network learns to output before this layer."""
        if Y.dtype == np.bool_:
            raise ConfigurationError(
                "rescale_output maps a regression's outputs to the target's units, but the "
                "targets are class labels; remove it from a classifier"
            )
        if self._stats is None:
            self.adapt(Y)
        mean, scale = self._arrays(Y.dtype)
        return (Y - mean) / scale

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        if len(input_shape) != 1:
            raise ConfigurationError(f"rescale_output takes flat outputs, got {tuple(input_shape)}")
        self.n_outputs = int(input_shape[0])
        if self._stats is not None:
            check_width(self._stats[0], self.n_outputs, "rescale_output")
        return tuple(input_shape)

    def _arrays(self, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
        stats = self._stats  # read once: adapt() replaces the pair in one assignment
        if stats is None:
            return np.zeros(self.n_outputs, dtype), np.ones(self.n_outputs, dtype)
        return stats[0].astype(dtype), stats[1].astype(dtype)

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        ws.training = training
        if training:
            return x  # training compares with standardised targets
        mean, scale = self._arrays(x.dtype)
        ws.scale = scale
        y = np.multiply(x, scale, out=ws.buffer_like("y", x))
        y += mean
        return y

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        if not need_input_gradient:
            return None
        if ws.training:
            return dy
        return np.multiply(dy, ws.scale, out=ws.buffer_like("dx", dy))

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        mean, scale = self._arrays(graph.dtype)
        scaled = graph.node("Mul", [x, graph.weight(scale, "scale")])
        return graph.node("Add", [scaled, graph.weight(mean, "mean")])
