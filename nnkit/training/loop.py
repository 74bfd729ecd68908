"""The training loop: epochs of shuffled mini-batches, validation, callbacks, the history."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from nnkit.arguments import FRACTION, POSITIVE, positive_int, real_number
from nnkit.data.arrays import as_features, as_sample_weight, as_targets, class_weights_for
from nnkit.data.streams import Chunks, ChunkSource
from nnkit.errors import ConfigurationError, DataError, DivergenceWarning
from nnkit.interfaces.callback import Callback, TrainingContext
from nnkit.interfaces.metric import Metric
from nnkit.interfaces.workspace import Workspace
from nnkit.registry.registry import default_registry
from nnkit.training.adapting import adapt_first_layer, adapt_layers, refuse_unadapted
from nnkit.training.history import History
from nnkit.training.progress import progress_callback
from nnkit.warning_location import warn_at_caller

if TYPE_CHECKING:
    from nnkit.engine.network import Network

__all__ = ["fit", "clip_gradients"]


def fit(
    network: Network,
    X: Any,
    y: Any,
    epochs: int = 1,
    batch_size: int = 32,
    validation_split: float = 0.0,
    validation_data: tuple[Any, ...] | None = None,
    shuffle: bool = True,
    metrics: Sequence[Metric | str] | Mapping[str, Metric | str] | None = None,
    callbacks: Sequence[Callback | str] | None = None,
    sample_weight: Any = None,
    class_weight: dict[int, float] | None = None,
    clip_norm: float | None = None,
    clip_value: float | None = None,
    verbose: int = 1,
    stream: TextIO | None = None,
) -> History:
    """Train ``network`` on ``X`` and ``y``: the loop behind `Network.fit`, whose
    documentation describes every argument."""
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    validation_split = real_number(validation_split, "validation_split", FRACTION)
    if validation_split and validation_data is not None:
        raise ConfigurationError("give validation_split or validation_data, not both")
    for name, limit in (("clip_norm", clip_norm), ("clip_value", clip_value)):
        if limit is not None:
            real_number(limit, name, POSITIVE)
    reporter = progress_callback(verbose, stream)

    chunked: _ChunkedEpochs | None = None
    if y is None:  # chunks of data larger than memory
        if validation_split:
            raise ConfigurationError(
                "validation_split needs the data in memory; with chunks, give "
                "validation_data=(X_val, y_val)"
            )
        if sample_weight is not None:
            raise ConfigurationError(
                "with chunks, give each chunk's sample weights as the third item of the "
                "chunk, (X_chunk, y_chunk, w_chunk), or nnkit.chunks(X, y, sample_weight)"
            )
        refuse_unadapted(network)
        chunked = _ChunkedEpochs(network, X, epochs, class_weight)
        X, Y, row_weights = chunked.first
        weights = None if row_weights is None else row_weights[0]
        steps_per_epoch = chunked.steps_per_epoch(batch_size)
    else:
        first = network.layers[0]
        adapt_first_layer(network, X, 1 - validation_split)
        X = as_features(
            first.encode_input(X), network.dtype, network.input_shape,
            allow_nan=first.accepts_nan,
        )
        # Layers learn their statistics from the rows that train, as split below.
        training_rows = int(X.shape[0] * (1 - validation_split)) or X.shape[0]
        adapt_layers(network, X[:training_rows])
        network.layers[0].check_input(X)
        # perf: class labels stay compact (booleans); batches are converted as drawn.
        Y = as_targets(
            y, X.shape[0], network._built_n_outputs(), network.loss, network.dtype, compact=True
        )
        weights = _combined_weights(sample_weight, class_weight, Y, network.dtype)
        steps_per_epoch = -(-X.shape[0] // batch_size)
    metric_map = network.resolve_metrics(metrics)

    validation = None
    if validation_data is not None:
        validation = _validation_arrays(network, validation_data)
    elif validation_split:
        split = int(X.shape[0] * (1 - validation_split))
        if split < 1 or split == X.shape[0]:
            raise DataError(
                f"validation_split={validation_split} of {X.shape[0]} samples leaves "
                f"{split} to train on and {X.shape[0] - split} to validate on; both need one"
            )
        validation = (
            X[split:],
            Y[split:].astype(network.dtype),
            None if weights is None else weights[split:],
        )
        X, Y = X[:split], Y[:split]
        weights = None if weights is None else weights[:split]
    if chunked is None:
        with network._weights_lock.writing():  # a target scaling may learn from Y here
            Y = network.layers[-1].training_targets(Y)

    callback_list = [default_registry().resolve("callback", spec) for spec in callbacks or ()]
    if reporter is not None:
        callback_list.append(reporter)
    logged = ["loss", *metric_map]
    if validation is not None:
        logged += [f"val_{name}" for name in logged]
    higher = {name: metric.higher_is_better for name, metric in metric_map.items()}
    higher.update({f"val_{name}": better for name, better in list(higher.items())})
    higher.update({"loss": False, "val_loss": False})
    context = TrainingContext(
        network=network,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        logged=tuple(logged),
        higher_is_better=higher,
    )
    for callback in callback_list:  # each checks its settings here, before any training
        callback.set_context(context)

    runner = _EpochRunner(
        network,
        X,
        Y,
        weights,
        batch_size,
        shuffle,
        metric_map,
        callback_list,
        clip_norm,
        clip_value,
    )
    with network.training_session():
        return _run_epochs(runner, epochs, validation, chunked)


def _run_epochs(
    runner: _EpochRunner,
    epochs: int,
    validation: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None,
    chunked: _ChunkedEpochs | None = None,
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


#: One chunk as the training loop takes it: features, compact targets, weights ``(1, n)``.
Chunk = tuple[np.ndarray, np.ndarray, "np.ndarray | None"]


class _ChunkedEpochs:
    """The chunks of each epoch, checked and converted as they arrive; the first chunk
    is read before training to build the network and check the settings."""

    def __init__(
        self, network: Network, source: Any, epochs: int, class_weight: Any
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

    def epoch(self, number: int) -> Iterator[Chunk]:
        if number == 1:
            yield self.first
            chunks: Iterable[tuple[Any, Any, Any]] = self._first_epoch
        else:
            chunks = self.source
        for index, chunk in enumerate(chunks, start=1 if number == 1 else 0):
            yield self._checked(index, chunk)

    def _checked(self, index: int, chunk: tuple[Any, Any, Any]) -> Chunk:
        network = self.network
        X_raw, y_raw, w_raw = chunk
        first = network.layers[0]
        X = as_features(
            first.encode_input(X_raw), network.dtype, network.input_shape,
            name=f"X of chunk {index}", allow_nan=first.accepts_nan,
        )
        network._ensure_built(X.shape[1:])
        network.layers[0].check_input(X)
        Y = as_targets(
            y_raw, X.shape[0], network._built_n_outputs(), network.loss, network.dtype,
            name=f"y of chunk {index}", compact=True,
        )
        W = _combined_weights(w_raw, self.class_weight, Y, network.dtype)
        Y = network.layers[-1].training_targets(Y)
        return X, Y, None if W is None else W.reshape(1, -1)


def _combined_weights(
    sample_weight: Any, class_weight: Any, Y: np.ndarray, dtype: np.dtype
) -> np.ndarray | None:
    weights = as_sample_weight(sample_weight, Y.shape[0], dtype)
    if class_weight is not None:
        per_class = class_weights_for(class_weight, Y, dtype)
        weights = per_class if weights is None else weights * per_class
    return weights


def _validation_arrays(
    network: Network, validation_data: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ConfigurationError(
            "validation_data must be a pair (X_val, y_val) or a triple (X_val, y_val, "
            "sample_weight_val)"
        )
    first = network.layers[0]
    X_val = as_features(
        first.encode_input(validation_data[0]), network.dtype, network.input_shape,
        name="X_val", allow_nan=first.accepts_nan,
    )
    network.layers[0].check_input(X_val)
    Y_val = as_targets(
        validation_data[1],
        X_val.shape[0],
        network._built_n_outputs(),
        network.loss,
        network.dtype,
        name="y_val",
    )
    w_val = None
    if len(validation_data) == 3:
        w_val = as_sample_weight(validation_data[2], X_val.shape[0], network.dtype)
    return X_val, Y_val, w_val


def clip_gradients(grads: np.ndarray, clip_norm: float | None, clip_value: float | None) -> None:
    """Clip the flat gradient vector in place: element-wise to ``[-clip_value, clip_value]``,
    then as a whole to Euclidean norm ``clip_norm``."""
    if clip_value is not None:
        np.clip(grads, -clip_value, clip_value, out=grads)
    if clip_norm is not None:
        norm = float(np.sqrt(np.vdot(grads, grads)))
        if norm > clip_norm:
            grads *= clip_norm / norm


def _warn_diverged(network: Network, loss: float, epoch: int, batch: int) -> None:
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


class _EpochRunner:
    """One pass over the training data in mini-batches, with buffers kept across epochs."""

    def __init__(
        self,
        network: Network,
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
        self.weights = None if weights is None else weights.reshape(1, -1)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.metrics = metrics
        self.callbacks = callbacks
        # perf: only callbacks that override the batch hooks are called per batch.
        self.batch_begin = [c for c in callbacks if _overrides(c, "on_batch_begin")]
        self.batch_end = [c for c in callbacks if _overrides(c, "on_batch_end")]
        self.clipping = clip_norm is not None or clip_value is not None
        self.clip_norm, self.clip_value = clip_norm, clip_value
        # This fit's own arrays: the batches and every layer's, reused from batch to batch.
        self.workspace = Workspace()
        self.diverged = False

    def run(self, epoch: int, chunks: Iterable[Chunk] | None = None) -> dict[str, float]:
        """One epoch over the data in memory or, for data larger than memory, over
        ``chunks``: the loss and metrics are those of the whole epoch either way."""
        network = self.network
        self.loss_total, self.seen, self.batch = 0.0, 0, 0
        # A fresh state per epoch: each metric is computed over the epoch's samples.
        self.states = {name: metric.init_state() for name, metric in self.metrics.items()}
        for X, Y, W in [(self.X, self.Y, self.weights)] if chunks is None else chunks:
            self._run_chunk(epoch, X, Y, W)
            if network.stop_training:
                break
        if not self.seen:
            raise DataError("the training data had no samples this epoch")
        logs = {"loss": self.loss_total / self.seen}
        logs.update(
            {name: metric.result(self.states[name]) for name, metric in self.metrics.items()}
        )
        return logs

    def _run_chunk(self, epoch: int, X: np.ndarray, Y: np.ndarray, W: np.ndarray | None) -> None:
        """Mini-batch steps over the samples ``X`` (targets ``Y``, weights ``W`` of shape
        ``(1, n)`` or ``None``), shuffled by the network's generator."""
        network, states = self.network, self.states
        workspace = buffers = self.workspace
        n = X.shape[0]
        order = network.shuffle_rng.permutation(n) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            self.batch += 1
            batch = self.batch
            for callback in self.batch_begin:
                callback.on_batch_begin(batch)
            stop = min(start + self.batch_size, n)
            m = stop - start
            W_batch = None
            if order is None:
                X_batch, Y_rows = X[start:stop], Y[start:stop]
                if W is not None:
                    W_batch = W[:, start:stop]
            else:  # gather the shuffled batch into reused buffers, never copying all of X
                rows = order[start:stop]
                # perf: mode="clip" (the rows are valid) spares take's buffering of `out`.
                X_batch = X.take(
                    rows, axis=0, out=buffers.buffer("X", (m, *X.shape[1:]), X.dtype), mode="clip"
                )
                Y_rows = Y.take(
                    rows, axis=0, out=buffers.buffer("Y", (m, Y.shape[1]), Y.dtype), mode="clip"
                )
                if W is not None:
                    W_batch = W.take(
                        rows, axis=1, out=buffers.buffer("W", (1, m), W.dtype), mode="clip"
                    )
            # Targets as columns, like every array inside the network.
            if Y_rows.dtype != X.dtype:  # compact one-hot targets, converted per batch
                # perf: into a C-contiguous buffer, as the network's own arrays are.
                Y_batch = buffers.buffer("Y_columns", (Y_rows.shape[1], m), X.dtype)
                np.copyto(Y_batch, Y_rows.T)
            else:
                Y_batch = Y_rows.T
            A = network.forward(X_batch, workspace, training=True).T  # columns, (n_out, m)
            # The batch's loss and metrics are those of the outputs before the update.
            batch_loss = network.batch_loss(A, Y_batch, W_batch)
            if not self.diverged and not math.isfinite(batch_loss):
                self.diverged = True
                _warn_diverged(network, batch_loss, epoch, batch)
            self.loss_total += batch_loss * m
            for name, metric in self.metrics.items():
                metric.update(states[name], A, Y_batch)
            network.backward(A, Y_batch, workspace, W_batch)
            if self.clipping:
                clip_gradients(
                    network._require_built("clip_gradients").grads, self.clip_norm, self.clip_value
                )
            network.update()
            self.seen += m
            for callback in self.batch_end:
                callback.on_batch_end(batch, {"loss": batch_loss})
            if network.stop_training:
                break
