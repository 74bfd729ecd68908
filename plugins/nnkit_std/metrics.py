"""The standard metrics, each exact over the whole epoch whatever the batch size.

Means over samples (accuracy, MAE) implement ``value`` and let the interface average the
batches by their sizes; the others keep counts or sums in their state and compute the
result once, as scikit-learn's functions of the same names do on the whole set.

Outputs that keep a time axis, ``(samples, positions, classes)``, are scored position by
position: the classification metrics over the positions that carry a target (an
all-zero target row, the loss's ``ignore_index``, is left out), the regression ones
over every position.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from nnkit import Metric
from nnkit.errors import ConfigurationError
from nnkit.interfaces.metric import MetricState

#: The ways precision, recall and F1 combine the classes, as scikit-learn names them.
AVERAGES = (
    "binary",  # the positive class (1) only: one sigmoid output or two classes
    "macro",  # the unweighted mean over the classes that occur in targets or predictions
    "micro",  # from the counts pooled over every class (equals accuracy for one label each)
)


def _positions(A: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-position outputs and targets ``(m, T, k)`` as rows ``(positions, k)``, the
    positions without a target left out (for ``k > 1``: an all-zero target row; with one
    unit a 0 is class 0). Flat ``(m, k)`` ones as they are."""
    if A.ndim == 2:
        return A, Y
    A, Y = A.reshape(-1, A.shape[-1]), Y.reshape(-1, Y.shape[-1])
    if A.shape[1] == 1:
        return A, Y
    kept = Y.any(axis=1)
    return A[kept], Y[kept]


def _classes(A: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """The predicted and true class of each sample (of each position that carries a
    target, for per-position outputs), and the number of classes: the arg-max unit for
    several outputs, a 0.5 threshold (classes 0 and 1) for one."""
    if A.ndim > 2 and A.shape[-1] > 1:  # arg-max first: no copy of the outputs
        kept = Y.any(axis=-1)
        return A.argmax(axis=-1)[kept], Y.argmax(axis=-1)[kept], A.shape[-1]
    A, Y = _positions(A, Y)
    if A.shape[1] == 1:
        return (A[:, 0] > 0.5).astype(np.intp), (Y[:, 0] > 0.5).astype(np.intp), 2
    return A.argmax(axis=1), Y.argmax(axis=1), A.shape[1]


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` with 0 where the denominator is 0, as scikit-learn's
    default ``zero_division`` gives."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.zeros(np.broadcast(numerator, denominator).shape)
    return np.divide(numerator, denominator, out=out, where=denominator > 0)


class Accuracy(Metric):
    """The fraction of samples whose predicted class is the target class: the arg-max
    unit for several outputs, a 0.5 threshold for a single one. For per-position
    outputs ``(m, T, k)``, the fraction of the positions that carry a target (over the
    whole epoch, whatever the batches)."""

    def update(self, state: MetricState, A: np.ndarray, Y: np.ndarray) -> None:
        if A.ndim == 2:  # per sample, counted exactly
            state["total"] += _right_samples(A, Y)
            state["count"] += A.shape[0]
            return
        predicted, actual, _ = _classes(A, Y)
        state["total"] += int(np.count_nonzero(predicted == actual))
        state["count"] += actual.size

    def value(self, A: np.ndarray, Y: np.ndarray) -> float:
        if A.ndim > 2:
            predicted, actual, _ = _classes(A, Y)
            return float(np.count_nonzero(predicted == actual)) / max(actual.size, 1)
        return _right_samples(A, Y) / A.shape[0]


def _right_samples(A: np.ndarray, Y: np.ndarray) -> int:
    """How many samples of ``(samples, outputs)`` outputs are of the target's class: the
    arg-max unit for several outputs, the side of 0.5 for a single one."""
    if A.shape[1] == 1:
        return int(np.count_nonzero((A > 0.5) == (Y > 0.5)))
    return int(np.count_nonzero(A.argmax(axis=1) == Y.argmax(axis=1)))


class BinaryAccuracy(Metric):
    """The fraction of output units on the right side of 0.5, averaged over samples."""

    def value(self, A: np.ndarray, Y: np.ndarray) -> float:
        return float(np.mean((A > 0.5) == (Y > 0.5)))


class MeanAbsoluteError(Metric):
    """The mean absolute difference between outputs and targets (over every output, which
    is scikit-learn's ``mean_absolute_error`` averaged uniformly over the outputs)."""

    higher_is_better = False

    def value(self, A: np.ndarray, Y: np.ndarray) -> float:
        return float(np.mean(np.abs(np.subtract(A, Y, dtype=np.float64))))


class _ConfusionMetric(Metric):
    """A score from the confusion matrix of the epoch, combined over classes by ``average``."""

    #: The registry name, for messages.
    title: ClassVar[str] = ""

    def __init__(self, average: str = "binary") -> None:
        if average not in AVERAGES:
            raise ConfigurationError(
                f"{self.title} average must be one of {', '.join(map(repr, AVERAGES))}, "
                f"got {average!r}"
            )
        self.average = average

    def init_state(self) -> MetricState:
        return {"confusion": None}  # sized by the first batch: (true class, predicted class)

    def update(self, state: MetricState, A: np.ndarray, Y: np.ndarray) -> None:
        predicted, actual, n_classes = _classes(A, Y)
        if self.average == "binary" and n_classes > 2:
            raise ConfigurationError(
                f"{self.title} with average='binary' needs one output or two classes, but the "
                f"network has {n_classes} outputs; use nnkit.metric({self.title!r}, "
                "average='macro') or average='micro'"
            )
        counts = np.bincount(actual * n_classes + predicted, minlength=n_classes * n_classes)
        counts = counts.reshape(n_classes, n_classes)
        if state["confusion"] is None:
            state["confusion"] = counts
        else:
            state["confusion"] += counts

    def result(self, state: MetricState) -> float:
        confusion = state["confusion"]
        if confusion is None:
            return float("nan")
        hits = np.diagonal(confusion)
        predicted, actual = confusion.sum(axis=0), confusion.sum(axis=1)
        if self.average == "binary":
            return float(self._score(hits[1], predicted[1], actual[1]))
        if self.average == "micro":
            return float(self._score(hits.sum(), predicted.sum(), actual.sum()))
        present = (predicted + actual) > 0
        return float(np.mean(self._score(hits, predicted, actual)[present]))

    def _score(self, hits: np.ndarray, predicted: np.ndarray, actual: np.ndarray) -> np.ndarray:
        """The score of each class from its true positives and its predicted and actual
        counts."""
        raise NotImplementedError


class Precision(_ConfusionMetric):
    """Of the samples predicted as a class, the fraction that belong to it:
    ``tp / (tp + fp)``, as ``sklearn.metrics.precision_score``."""

    title = "precision"

    def _score(self, hits: np.ndarray, predicted: np.ndarray, actual: np.ndarray) -> np.ndarray:
        return _ratio(hits, predicted)


class Recall(_ConfusionMetric):
    """Of the samples of a class, the fraction predicted as it: ``tp / (tp + fn)``, as
    ``sklearn.metrics.recall_score``."""

    title = "recall"

    def _score(self, hits: np.ndarray, predicted: np.ndarray, actual: np.ndarray) -> np.ndarray:
        return _ratio(hits, actual)


class F1(_ConfusionMetric):
    """The harmonic mean of precision and recall, ``2 tp / (2 tp + fp + fn)``, as
    ``sklearn.metrics.f1_score``."""

    title = "f1"

    def _score(self, hits: np.ndarray, predicted: np.ndarray, actual: np.ndarray) -> np.ndarray:
        return _ratio(2 * np.asarray(hits), predicted + actual)


class RocAuc(Metric):
    """The area under the ROC curve, from every score of the epoch (kept in the state).

    One output (a sigmoid) or two: the binary AUC of the positive class's score, as
    ``sklearn.metrics.roc_auc_score``. More outputs: one-vs-rest, the unweighted mean
    of each class's AUC (``multi_class="ovr", average="macro"``). A class that is absent
    from the targets has no AUC and is left out of the mean; with no class to score the
    result is NaN.
    """

    def init_state(self) -> MetricState:
        return {"scores": [], "classes": []}

    def update(self, state: MetricState, A: np.ndarray, Y: np.ndarray) -> None:
        # Copies: A may be a buffer the next batch overwrites.
        state["scores"].append(np.array(_positions(A, Y)[0], dtype=np.float64))
        state["classes"].append(_classes(A, Y)[1])

    def result(self, state: MetricState) -> float:
        if not state["scores"]:
            return float("nan")
        scores = np.concatenate(state["scores"], axis=0)
        classes = np.concatenate(state["classes"])
        if scores.shape[1] <= 2:
            return _binary_auc(scores[:, -1], classes == 1)
        areas = [_binary_auc(scores[:, c], classes == c) for c in range(scores.shape[1])]
        defined = [area for area in areas if not np.isnan(area)]
        return float(np.mean(defined)) if defined else float("nan")


def _binary_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """The AUC as the Mann-Whitney statistic: the chance that a positive sample scores
    above a negative one, ties counting half (exactly the trapezoidal ROC area)."""
    n_positive = int(np.count_nonzero(positive))
    n_negative = positive.size - n_positive
    if n_positive == 0 or n_negative == 0:
        return float("nan")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    # Tied scores share the mean of the 1-based ranks they span.
    mean_rank = np.cumsum(counts) - (counts - 1) / 2
    rank_sum = float(mean_rank[inverse.ravel()][positive].sum())
    return (rank_sum - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative)


def _rows(values: np.ndarray) -> np.ndarray:
    """Per-position values ``(m, T, k)`` as rows ``(m T, k)``, each position one row."""
    return values if values.ndim == 2 else values.reshape(-1, values.shape[-1])


class _ResidualMetric(Metric):
    """A regression metric from per-output sums over the epoch, in float64."""

    def init_state(self) -> MetricState:
        return {"count": 0, "squared_error": 0.0}

    def update(self, state: MetricState, A: np.ndarray, Y: np.ndarray) -> None:
        A, Y = _rows(A), _rows(Y)
        residual = np.subtract(Y, A, dtype=np.float64)
        state["squared_error"] = state["squared_error"] + np.einsum("ij,ij->j", residual, residual)
        state["count"] += A.shape[0]


class RootMeanSquaredError(_ResidualMetric):
    """The square root of the mean squared error of each output, averaged over the
    outputs, as ``sklearn.metrics.root_mean_squared_error``."""

    higher_is_better = False

    def result(self, state: MetricState) -> float:
        if not state["count"]:
            return float("nan")
        return float(np.mean(np.sqrt(state["squared_error"] / state["count"])))


class R2(_ResidualMetric):
    """The coefficient of determination of each output, ``1 - SS_res / SS_tot``,
    averaged over the outputs, as ``sklearn.metrics.r2_score`` (a constant target
    scores 1 if predicted exactly and 0 otherwise)."""

    def init_state(self) -> MetricState:
        state = super().init_state()
        state.update(mean=0.0, spread=0.0)  # running mean and sum of squared deviations
        return state

    def update(self, state: MetricState, A: np.ndarray, Y: np.ndarray) -> None:
        A, Y = _rows(A), _rows(Y)
        before, batch = state["count"], A.shape[0]
        super().update(state, A, Y)
        # Merge the batch's mean and spread into the running ones (Chan et al.), which
        # stays exact where sum(y^2) - n mean^2 would cancel.
        targets = np.asarray(Y, dtype=np.float64)
        batch_mean = targets.mean(axis=0)
        deviation = targets - batch_mean
        batch_spread = np.einsum("ij,ij->j", deviation, deviation)
        delta = batch_mean - state["mean"]
        total = before + batch
        state["mean"] = state["mean"] + delta * (batch / total)
        state["spread"] = state["spread"] + batch_spread + delta**2 * (before * batch / total)

    def result(self, state: MetricState) -> float:
        if not state["count"]:
            return float("nan")
        residual, spread = state["squared_error"], state["spread"]
        scores = np.where(residual == 0, 1.0, 0.0)  # constant targets, as scikit-learn
        varying = spread != 0
        scores[varying] = 1 - residual[varying] / spread[varying]
        return float(np.mean(scores))
