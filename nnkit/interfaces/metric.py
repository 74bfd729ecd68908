"""The metric interface: a number reported while training, such as accuracy or F1.

A metric is computed over a whole epoch (or a whole evaluation), not averaged over its
batches: each batch updates a running *state*, and the state gives the result at the
end. The state is a plain dict that belongs to one evaluation, never to the metric
object, so one metric (and one network) can serve many threads at once, as an
optimizer keeps its moments in a state dict of its own.
"""

from __future__ import annotations

from abc import ABC
from typing import Any, ClassVar

import numpy as np

from nnkit.interfaces.component import Component

__all__ = ["Metric", "MetricState"]

#: A metric's running state over one epoch or one evaluation.
MetricState = dict[str, Any]


class Metric(Component, ABC):  # noqa: B024 - implement value, or init_state/update/result
    """A number computed from a network's outputs and the targets over a whole set.

    ``A`` and ``Y`` hold one sample per row, ``(samples, outputs)``, as the network's
    outputs and the targets do. Write a
    metric in one of two ways:

    - a per-sample mean: implement `value()` only; the epoch's value is then the
      sample-weighted mean of the batch values, which is exactly the mean over the
      epoch's samples;
    - anything else (F1, ROC AUC, R²): implement `init_state()`, `update()` and
      `result()`; `value()` then computes the metric of one set through them.
    """

    #: Whether a larger value is better (early stopping and model selection use it).
    higher_is_better: ClassVar[bool] = True

    def init_state(self) -> MetricState:
        """A fresh running state: one per evaluation and per epoch (that is the reset)."""
        return {"total": 0.0, "count": 0}

    def update(self, state: MetricState, A: np.ndarray, Y: np.ndarray) -> None:
        """Add one batch, outputs ``A`` against targets ``Y``, to ``state``.

        ``A`` may be a buffer that the next batch overwrites: keep copies, not views.
        """
        samples = A.shape[0]
        state["total"] += self.value(A, Y) * samples
        state["count"] += samples

    def result(self, state: MetricState) -> float:
        """The metric over every batch added to ``state`` (NaN if none was)."""
        if not state["count"]:
            return float("nan")
        return float(state["total"] / state["count"])

    def value(self, A: np.ndarray, Y: np.ndarray) -> float:
        """The metric of outputs ``A`` against targets ``Y``, both ``(samples, outputs)``."""
        if type(self).update is Metric.update:
            raise NotImplementedError(
                f"metric {type(self).__name__} implements neither value(A, Y) nor "
                "init_state/update/result: implement value for a per-sample mean, or the "
                "three state methods for a metric of the whole set"
            )
        state = self.init_state()
        self.update(state, A, Y)
        return self.result(state)

