"""`Impute`: missing cells (NaN) filled with a learnt mean, median or most frequent value,
optionally with a missing-indicator column per feature."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar, Final

import numpy as np

from nnkit import Layer
from nnkit.errors import ConfigurationError
from nnkit.files.onnx import OnnxGraph
from nnkit.interfaces.workspace import Workspace
from nnkit_std.preprocessing.common import (
    ReadsText,
    check_width,
    flat_statistics,
    rows,
)

__all__ = ["Impute"]


#: The statistics `Impute` fills with.
STRATEGIES: Final = ("mean", "median", "most_frequent")


class Impute(ReadsText, Layer):
    """Missing cells (NaN) filled with each feature's learnt mean, median or most
    frequent value, as scikit-learn's ``SimpleImputer``.

    As the network's first layer it lets NaN into the network (`Layer.accepts_nan`);
    infinity is still refused. With ``add_indicator``, one column per feature is
    appended, 1 where the cell was missing: every feature gets one, so the width does not
    depend on the data. The fill values are learnt by `adapt` or by the first ``fit``
    (from its training part); before that a missing cell becomes 0. A filled cell does
    not depend on the input, so its gradient is 0; the others pass through.

    Args:
        strategy: ``"mean"``, ``"median"`` or ``"most_frequent"`` (the smallest of
            equally frequent values).
        add_indicator: append a missing-indicator column per feature.
        statistics: the learnt fill values (saved in the model's configuration).
    """

    accepts_nan: ClassVar[bool] = True
    example_arguments: ClassVar[dict[str, Any]] = {
        "add_indicator": True,
        "statistics": [1.0, -2.0, 0.5, 3.0],
    }

    def __init__(
        self,
        strategy: str = "mean",
        add_indicator: bool = False,
        statistics: Sequence[float] | None = None,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ConfigurationError(
                f"impute strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}"
            )
        if not isinstance(add_indicator, (bool, np.bool_)):
            raise ConfigurationError(
                f"impute add_indicator must be True or False, got {add_indicator!r}"
            )
        self.strategy = strategy
        self.add_indicator = bool(add_indicator)
        self._statistics = flat_statistics(statistics, "impute", "statistics")

    @property
    def statistics(self) -> list[float] | None:
        """The learnt fill values, or ``None`` before adapting."""
        return None if self._statistics is None else self._statistics.tolist()

    def needs_adapting(self) -> bool:
        return self._statistics is None

    def adapt(self, x: np.ndarray) -> None:
        """Learn each feature's fill value from ``x`` (samples first), ignoring NaN; a
        feature with no value at all is filled with 0."""
        values = rows(np.asarray(self.encode_input(x), dtype=np.float64))
        fill = np.zeros(values.shape[1])
        for column in range(values.shape[1]):
            present = values[:, column][~np.isnan(values[:, column])]
            if not present.size:
                continue
            if self.strategy == "mean":
                fill[column] = present.mean()
            elif self.strategy == "median":
                fill[column] = np.median(present)
            else:
                counts = Counter(present.tolist())
                top = max(counts.values())
                fill[column] = min(value for value, count in counts.items() if count == top)
        if hasattr(self, "n_features"):
            check_width(fill, self.n_features, "impute")
        self._statistics = fill

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        if len(input_shape) != 1:
            raise ConfigurationError(
                f"impute takes flat samples (features,), got {tuple(input_shape)}"
            )
        self.n_features = int(input_shape[0])
        check_width(self._statistics, self.n_features, "impute")
        return (self.n_features * (2 if self.add_indicator else 1),)

    def _fill(self, dtype: np.dtype) -> np.ndarray:
        statistics = self._statistics
        if statistics is None:
            return np.zeros(self.n_features, dtype)
        return statistics.astype(dtype)

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        missing = np.isnan(x)
        ws.missing = missing
        n = self.n_features
        y = ws.buffer("y", (x.shape[0], n * (2 if self.add_indicator else 1)), x.dtype)
        np.copyto(y[:, :n], np.where(missing, self._fill(x.dtype), x))
        if self.add_indicator:
            y[:, n:] = missing
        return y

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        if not need_input_gradient:
            return None
        dx = np.copy(dy[:, : self.n_features])
        dx[ws.missing] = 0  # a filled cell is a constant
        return dx

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        missing = graph.node("IsNaN", [x])
        filled = graph.node("Where", [missing, graph.weight(self._fill(graph.dtype), "fill"), x])
        if not self.add_indicator:
            return filled
        elem = 1 if graph.dtype == np.float32 else 11  # ONNX FLOAT, DOUBLE
        indicator = graph.node("Cast", [missing], to=elem)
        return graph.node("Concat", [filled, indicator], axis=1)
