"""The training loop: epochs of shuffled mini-batches, validation, and the history."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from nnkit.buffers import BufferCache
from nnkit.data import as_features, as_targets, positive_int
from nnkit.errors import ConfigurationError, DataError
from nnkit.history import History
from nnkit.metrics import Metric

if TYPE_CHECKING:
    from nnkit.network import Network

__all__ = ["fit"]


def fit(
    network: Network,
    X: Any,
    y: Any,
    epochs: int = 1,
    batch_size: int = 32,
    validation_split: float = 0.0,
    validation_data: tuple[Any, Any] | None = None,
    shuffle: bool = True,
    metrics: Sequence[Metric | str] | None = None,
    verbose: int = 1,
    stream: TextIO | None = None,
) -> History:
    """Train ``network`` on ``X`` and ``y``.

    Args:
        network: the network to train (built from ``X`` if it is not yet).
        X: features, shape ``(n_samples, n_features)``.
        y: targets, shape ``(n_samples, n_outputs)``, or integer class labels.
        epochs: passes over the training data.
        batch_size: samples per gradient step; the last batch of an epoch may be smaller.
        validation_split: fraction of the samples, taken from the end of ``X`` before
            shuffling (as Keras does), held out to validate on after each epoch.
        validation_data: ``(X_val, y_val)`` to validate on instead.
        shuffle: draw a new batch order every epoch from the network's seeded generator.
        metrics: metric names or instances; by default those the loss names
            (``accuracy`` for the cross-entropies).
        verbose: 0 prints nothing, 1 a line per epoch.
        stream: where those lines go (standard output by default).

    Returns:
        The :class:`~nnkit.history.History` of per-epoch ``loss``, metrics, and their
        ``val_`` counterparts.
    """
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    if not isinstance(validation_split, (int, float)) or not 0 <= validation_split < 1:
        raise ConfigurationError(f"validation_split must be in [0, 1), got {validation_split!r}")
    if validation_split and validation_data is not None:
        raise ConfigurationError("give validation_split or validation_data, not both")

    X = as_features(X, network.dtype, network.n_inputs)
    network._ensure_built(X.shape[1])
    Y = as_targets(y, X.shape[0], network.n_outputs, network.loss, network.dtype)
    metric_map = network.resolve_metrics(metrics)

    validation = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ConfigurationError("validation_data must be a pair (X_val, y_val)")
        X_val = as_features(validation_data[0], network.dtype, network.n_inputs, name="X_val")
        Y_val = as_targets(
            validation_data[1],
            X_val.shape[0],
            network.n_outputs,
            network.loss,
            network.dtype,
            name="y_val",
        )
        validation = (X_val, Y_val)
    elif validation_split:
        split = int(X.shape[0] * (1 - validation_split))
        if split < 1 or split == X.shape[0]:
            raise DataError(
                f"validation_split={validation_split} of {X.shape[0]} samples leaves "
                f"{split} to train on and {X.shape[0] - split} to validate on; both need one"
            )
        validation = (X[split:], Y[split:])
        X, Y = X[:split], Y[:split]

    history = History()
    network.history = history
    out = sys.stdout if stream is None else stream
    epoch_runner = _EpochRunner(network, X, Y, batch_size, shuffle, metric_map)
    for epoch in range(1, epochs + 1):
        logs = epoch_runner.run()
        if validation is not None:
            scores = network.evaluate_arrays(*validation, metric_map)
            logs.update({f"val_{name}": value for name, value in scores.items()})
        history.record(epoch, logs)
        if verbose:
            values = " - ".join(f"{name}: {value:.4f}" for name, value in logs.items())
            print(f"epoch {epoch}/{epochs} - {values}", file=out, flush=True)
    return history


class _EpochRunner:
    """One pass over the training data in mini-batches, with buffers kept across epochs."""

    def __init__(
        self,
        network: Network,
        X: np.ndarray,
        Y: np.ndarray,
        batch_size: int,
        shuffle: bool,
        metrics: dict[str, Metric],
    ) -> None:
        self.network = network
        self.X = X
        # Targets as columns, like every array inside the network: Y is (n_outputs, n).
        self.Y_columns = np.ascontiguousarray(Y.T)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.metrics = metrics
        self._buffers = BufferCache()

    def run(self) -> dict[str, float]:
        network, X, Y = self.network, self.X, self.Y_columns
        n = X.shape[0]
        order = network.shuffle_rng.permutation(n) if self.shuffle else None
        loss_total = 0.0
        metric_totals = dict.fromkeys(self.metrics, 0.0)
        for start in range(0, n, self.batch_size):
            stop = min(start + self.batch_size, n)
            m = stop - start
            if order is None:
                X_batch, Y_batch = X[start:stop], Y[:, start:stop]
            else:  # gather the shuffled batch into reused buffers, never copying all of X
                rows = order[start:stop]
                X_out = self._buffers.get("X", (m, X.shape[1]), X.dtype)
                Y_out = self._buffers.get("Y", (Y.shape[0], m), Y.dtype)
                X_batch = np.take(X, rows, axis=0, out=X_out)
                Y_batch = np.take(Y, rows, axis=1, out=Y_out)
            A = network.forward(X_batch.T, training=True)
            # The batch's loss and metrics are those of the outputs before the update.
            loss_total += network.loss.value(A, Y_batch) * m
            for name, metric in self.metrics.items():
                metric_totals[name] += metric.value(A, Y_batch) * m
            network.backward(A, Y_batch)
            network.update()
        logs = {"loss": loss_total / n}
        logs.update({name: total / n for name, total in metric_totals.items()})
        return logs
