"""The training loop: epochs of shuffled mini-batches, validation, callbacks, the history.

`nnkit.training.trainer.Trainer.fit` sets a run up and hands it to `run_epochs`; each
batch is one call of the model's ``train_step``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from nnkit.data.streams import Chunks, ChunkSource
from nnkit.errors import DataError, DivergenceWarning
from nnkit.interfaces.callback import Callback
from nnkit.interfaces.metric import Metric
from nnkit.interfaces.workspace import Workspace
from nnkit.training.history import History
from nnkit.training.inputs import Prepared, prepare
from nnkit.training.masked_targets import masked_targets
from nnkit.training.outputs import OutputsLoss
from nnkit.training.scores import RunningScores
from nnkit.warning_location import warn_at_caller

if TYPE_CHECKING:
    from nnkit.training.trainer import TrainableModel

__all__ = ["EpochRunner", "ChunkedEpochs", "run_epochs", "clip_gradients"]


def run_epochs(
    runner: EpochRunner,
    epochs: int,
    validation: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None,
    chunked: ChunkedEpochs | None = None,
) -> History:
    network, callback_list, metric_map = runner.network, runner.callbacks, runner.metrics
    history = History()
    network.history = history
    network.stop_training = False
    logs: dict[str, float] = {}
    for callback in callback_list:
        callback.on_train_begin()
    for epoch in range(1, epochs + 1):
        for callback in callback_list:
            callback.on_epoch_begin(epoch)
        logs = runner.run(epoch, None if chunked is None else chunked.epoch(epoch))
        if validation is not None:
            X_val, Y_val, w_val = validation
            scores = network.evaluate_arrays(X_val, Y_val, metric_map, sample_weight=w_val)
            logs.update({f"val_{name}": value for name, value in scores.items()})
        for callback in callback_list:
            callback.on_epoch_end(epoch, logs)  # may add to logs (the learning rate)
        history.record(epoch, logs)
        if network.stop_training:
            break
    for callback in callback_list:
        callback.on_train_end(logs)
    return history




class ChunkedEpochs:
    """The chunks of each epoch, checked and converted as they arrive; the first chunk
    is read before training to build the network and check the settings."""

    def __init__(
        self, network: TrainableModel, source: Any, epochs: int, class_weight: Any
    ) -> None:
        self.network, self.class_weight = network, class_weight
        self.raw = source
        self.source = ChunkSource(source, epochs)
        self._first_epoch = iter(self.source)
        first = next(self._first_epoch, None)
        if first is None:
            raise DataError("the chunk source gave no chunks: there is nothing to train on")
        self.first = self._checked(0, first)

    def steps_per_epoch(self, batch_size: int) -> int | None:
        """Batches per epoch when the chunk sizes are known in advance (`nnkit.chunks`)."""
        if not isinstance(self.raw, Chunks):
            return None
        edges = self.raw.boundaries
        return sum(-(-(b - a) // batch_size) for a, b in zip(edges[:-1], edges[1:]))

    def epoch(self, number: int) -> Iterator[Prepared]:
        if number == 1:
            yield self.first
            chunks: Iterable[tuple[Any, Any, Any]] = self._first_epoch
        else:
            chunks = self.source
        for index, chunk in enumerate(chunks, start=1 if number == 1 else 0):
            yield self._checked(index, chunk)

    def _checked(self, index: int, chunk: tuple[Any, Any, Any]) -> Prepared:
        X, y, weights = chunk
        names = (f"X of chunk {index}", f"y of chunk {index}")
        data = prepare(self.network, X, y, weights, self.class_weight, names=names, compact=True)
        # A last layer that rescales outputs at inference trains on rescaled targets.
        if isinstance(self.network.loss, OutputsLoss):  # no output rescales (Network)
            return data
        return data._replace(Y=self.network.layers[-1].training_targets(data.Y))


def clip_gradients(grads: np.ndarray, clip_norm: float | None, clip_value: float | None) -> None:
    """Clip the flat gradient vector in place: element-wise to ``[-clip_value, clip_value]``,
    then as a whole to Euclidean norm ``clip_norm``."""
    if clip_value is not None:
        np.clip(grads, -clip_value, clip_value, out=grads)
    if clip_norm is not None:
        norm = float(np.sqrt(np.vdot(grads, grads)))
        if norm > clip_norm:
            grads *= clip_norm / norm


def _warn_diverged(network: TrainableModel, loss: float, epoch: int, batch: int) -> None:
    rate = getattr(network.optimizer, "learning_rate", None)
    rate_hint = "" if rate is None else f" (it is {rate:g})"
    warn_at_caller(
        DivergenceWarning(
            f"training diverged: the loss became {loss} at epoch {epoch}, batch {batch}. "
            f"Try a smaller learning rate{rate_hint}, scaled features, or clip_norm=1.0; "
            "callbacks=['terminate_on_nan'] stops training at once, and save() refuses "
            "weights that are not finite"
        )
    )


def _overrides(callback: Callback, hook: str) -> bool:
    return getattr(type(callback), hook) is not getattr(Callback, hook)


class EpochRunner:
    """One pass over the training data in mini-batches, with buffers kept across epochs."""

    def __init__(
        self,
        network: TrainableModel,
        X: np.ndarray,
        Y: np.ndarray,
        weights: np.ndarray | None,
        batch_size: int,
        shuffle: bool,
        metrics: dict[str, Metric],
        callbacks: list[Callback],
        clip_norm: float | None,
        clip_value: float | None,
    ) -> None:
        self.network = network
        self.X, self.Y = X, Y
        self.weights = weights
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.metrics = metrics
        self.callbacks = callbacks
        # perf: only callbacks that override the batch hooks are called per batch.
        self.batch_begin = [c for c in callbacks if _overrides(c, "on_batch_begin")]
        self.batch_end = [c for c in callbacks if _overrides(c, "on_batch_end")]
        self.clip_norm, self.clip_value = clip_norm, clip_value
        # This fit's own arrays: the batches and every layer's, reused from batch to batch.
        self.workspace = Workspace()
        self.diverged = False

    def run(self, epoch: int, chunks: Iterable[Prepared] | None = None) -> dict[str, float]:
        """One epoch over the data in memory or, for data larger than memory, over
        ``chunks``: the loss and metrics are those of the whole epoch either way."""
        network = self.network
        self.batch = 0
        # Fresh scores per epoch: each metric is computed over the epoch's samples.
        self.scores = RunningScores(self.metrics)
        if chunks is None:
            self._run_chunk(epoch, self.X, self.Y, self.weights)
        else:
            for X, Y, weights in chunks:
                self._run_chunk(epoch, X, Y, weights)
                if network.stop_training:
                    break
        if not self.scores.seen:
            raise DataError("the training data had no samples this epoch")
        return self.scores.result()

    def _run_chunk(self, epoch: int, X: np.ndarray, Y: np.ndarray, W: np.ndarray | None) -> None:
        """Mini-batch steps over the samples ``X`` (targets ``Y``, weights ``W`` of shape
        ``(n,)`` or ``None``), shuffled by the network's generator."""
        network, scores = self.network, self.scores
        workspace = buffers = self.workspace
        n = X.shape[0]
        order = network.shuffle_rng.permutation(n) if self.shuffle else None
        # Flat booleans are class labels one-hot encoded (data.arrays.as_targets): every
        # row sums to exactly 1, which a fused loss may rely on (Workspace.one_hot_targets).
        # Per-position labels are not: an ignored position is an all-zero row.
        one_hot = Y.dtype == np.bool_ and Y.ndim == 2
        workspace.one_hot_targets = None
        x_dtype, y_dtype = X.dtype, Y.dtype
        converted = y_dtype != x_dtype  # compact one-hot targets, converted per batch
        size = self.batch_size
        rows_fetched = 0  # the batch size the buffers below were fetched for
        for start in range(0, n, size):
            self.batch += 1
            batch = self.batch
            for callback in self.batch_begin:
                callback.on_batch_begin(batch)
            stop = min(start + size, n)
            m = stop - start
            if m != rows_fetched:  # perf: once per batch size, not once per batch
                rows_fetched = m
                y_shape = (m, *Y.shape[1:])
                if order is not None:
                    X_gathered = buffers.buffer("X", (m, *X.shape[1:]), x_dtype)
                    Y_gathered = buffers.buffer("Y", y_shape, y_dtype)
                Y_floats = buffers.buffer("Y floats", y_shape, x_dtype) if converted else None
            W_batch = None
            if order is None:
                X_batch, Y_rows = X[start:stop], Y[start:stop]
                if W is not None:
                    W_batch = W[start:stop]
            else:  # gather the shuffled batch into reused buffers, never copying all of X
                rows = order[start:stop]
                # perf: mode="clip" (the rows are valid) spares take's buffering of `out`.
                X_batch = X.take(rows, axis=0, out=X_gathered, mode="clip")
                Y_rows = Y.take(rows, axis=0, out=Y_gathered, mode="clip")
                if W is not None:
                    W_batch = W.take(rows, out=buffers.buffer("W", (m,), W.dtype), mode="clip")
            if Y_floats is not None:
                # perf: into rows, the memory order of the outputs training hands over
                # (Network.forward), so the loss runs over both in step; per position,
                # (m, T, k), as Dense returns them.
                Y_batch = Y_floats
                Y_batch[...] = Y_rows  # perf: the same copy as np.copyto, without its dispatch
                if one_hot:
                    workspace.one_hot_targets = Y_batch
            else:
                Y_batch = Y_rows
            A, batch_loss = network.train_step(
                X_batch, Y_batch, workspace, W_batch, self.clip_norm, self.clip_value
            )
            if not self.diverged and not math.isfinite(batch_loss):
                self.diverged = True
                _warn_diverged(network, batch_loss, epoch, batch)
            if workspace.output_mask is not None:  # the metrics skip masked positions
                Y_batch = masked_targets(network.loss, Y_batch, workspace.output_mask, workspace)
            scores.add(A, Y_batch, batch_loss, m)
            for callback in self.batch_end:
                callback.on_batch_end(batch, {"loss": batch_loss})
            if network.stop_training:
                break
