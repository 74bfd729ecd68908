"""The loss and metrics of a whole epoch or evaluation, added up batch by batch."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from nnkit.interfaces.metric import Metric

__all__ = ["RunningScores", "evaluate_metrics"]


class RunningScores:
    """Running totals over batches: the loss as the sample-weighted mean of the batch
    losses (exactly the mean over the samples), each metric through its own state, so a
    metric of the whole set (F1, ROC AUC) is computed over the whole set.

    One object per epoch or evaluation: the states belong to the call, never to the
    metrics, so one metric serves many threads.
    """

    def __init__(self, metrics: dict[str, Metric]) -> None:
        self.metrics = metrics
        self.states = {name: metric.init_state() for name, metric in metrics.items()}
        # perf: each metric beside its state, for the loop of every batch.
        self._updates = [(metric.update, self.states[name]) for name, metric in metrics.items()]
        self.loss_total = 0.0
        self.seen = 0

    def add(self, A: np.ndarray, Y: np.ndarray, loss: float, samples: int) -> None:
        """One batch of ``samples`` samples: outputs ``A`` against targets ``Y``, whose
        mean loss was ``loss``."""
        self.loss_total += loss * samples
        self.seen += samples
        for update, state in self._updates:
            update(state, A, Y)

    def result(self) -> dict[str, float]:
        """``{"loss": ..., <metric>: ...}`` over every batch added."""
        scores = {"loss": self.loss_total / self.seen if self.seen else float("nan")}
        scores.update(
            {name: metric.result(self.states[name]) for name, metric in self.metrics.items()}
        )
        return scores


def evaluate_metrics(
    metrics: dict[str, Metric], batches: Iterable[tuple[np.ndarray, np.ndarray]]
) -> dict[str, float]:
    """Each metric over every ``(A, Y)`` pair of ``batches``, by name: the whole set's
    value, whatever the batch sizes."""
    scores = RunningScores(metrics)
    for A, Y in batches:
        scores.add(A, Y, 0.0, 0)
    return {name: value for name, value in scores.result().items() if name != "loss"}
