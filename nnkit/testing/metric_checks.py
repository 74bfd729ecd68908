"""Checks of a metric: batches give the value of the whole set, and states stay apart."""

from __future__ import annotations

import math

import numpy as np

from nnkit.interfaces.metric import Metric
from nnkit.testing.subject import Subject

#: Samples of the check's set, and batch sizes that split it unevenly (1, a partial last
#: batch, and the whole set at once).
SAMPLES = 23
BATCH_SIZES = (1, 5, SAMPLES)


def _outputs_and_targets() -> tuple[np.ndarray, np.ndarray]:
    """Two softmax-like outputs against one-hot targets, a row per sample
    ``(samples, 2)``: a set every classification and regression metric can score."""
    rng = np.random.default_rng(0)
    first = rng.random(SAMPLES)
    A = np.stack([first, 1 - first], axis=1)
    labels = rng.integers(0, 2, SAMPLES)
    Y = np.stack([labels == 0, labels == 1], axis=1).astype(np.float64)
    return A, Y


def _accumulated(metric: Metric, A: np.ndarray, Y: np.ndarray, batch_size: int) -> float:
    state = metric.init_state()
    buffer = np.empty((batch_size, A.shape[1]))  # reused, as the training loop's outputs are
    for start in range(0, A.shape[0], batch_size):
        stop = min(start + batch_size, A.shape[0])
        batch = buffer[: stop - start]
        batch[...] = A[start:stop]
        metric.update(state, batch, Y[start:stop])
    return metric.result(state)


def metric_batches_equal_whole_set(subject: Subject) -> None:
    """Updating a state batch by batch (sizes 1, 5 and all 23 samples, the outputs in a
    reused buffer) gives `value()` of the whole set, to 1e-9: the metric keeps what it
    needs in its state, not a mean of batch values or a view of a buffer."""
    metric = subject.make()
    A, Y = _outputs_and_targets()
    whole = metric.value(A, Y)
    for batch_size in BATCH_SIZES:
        found = _accumulated(metric, A, Y, batch_size)
        if not (math.isclose(found, whole, rel_tol=1e-9, abs_tol=1e-9) or found == whole):
            raise AssertionError(
                f"batches of {batch_size}: expected the whole set's value {whole!r}, found "
                f"{found!r}; keep counts or sums in the state (init_state/update/result) "
                "and copy arrays you keep, since the outputs' buffer is reused"
            )


def metric_states_are_independent(subject: Subject) -> None:
    """Two states updated in turn give each its own result: the running values live in
    the state, never on the metric, so one metric can serve several threads."""
    metric = subject.make()
    A, Y = _outputs_and_targets()
    half = SAMPLES // 2
    alone = _accumulated(metric, A[:half], Y[:half], 4)
    first, second = metric.init_state(), metric.init_state()
    for start in range(0, half, 4):
        stop = min(start + 4, half)
        metric.update(first, A[start:stop], Y[start:stop])
        metric.update(second, A[half:], Y[half:])
    found = metric.result(first)
    if not (found == alone or math.isclose(found, alone, rel_tol=1e-12, abs_tol=1e-12)):
        raise AssertionError(
            f"a state's result changed when another state was updated: expected {alone!r}, "
            f"found {found!r}; keep running values in the state from init_state(), not on "
            "the metric"
        )


CHECKS = [metric_batches_equal_whole_set, metric_states_are_independent]
