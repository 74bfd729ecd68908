"""The trainer: ``fit``, ``evaluate`` and ``predict``, written once, for a model that runs
forward and backward passes.

`Network` inherits them, as a Keras model inherits its trainer: the network describes
the model and runs passes; this module decides what a step, an epoch and an evaluation
are. A subclass changes one step by overriding `Trainer.train_step`, `Trainer.test_step`
or `Trainer.predict_step`; the trainer uses nothing of the model but what
`TrainableModel` lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, TextIO, TypeVar

import numpy as np

from nnkit.arguments import FRACTION, POSITIVE, positive_int, real_number
from nnkit.data.arrays import check_finite
from nnkit.errors import ConfigurationError, DataError
from nnkit.interfaces.callback import Callback, TrainingContext
from nnkit.interfaces.layer import Layer, Shape
from nnkit.interfaces.loss import Loss
from nnkit.interfaces.metric import Metric
from nnkit.interfaces.optimizer import Optimizer
from nnkit.interfaces.workspace import Workspace
from nnkit.registry.registry import default_registry
from nnkit.training.adapting import adapt_first_layer, adapt_layers, refuse_unadapted
from nnkit.training.history import History
from nnkit.training.inputs import as_model_input, prepare, prepare_features
from nnkit.training.loop import ChunkedEpochs, EpochRunner, clip_gradients, run_epochs
from nnkit.training.masked_targets import masked_targets
from nnkit.training.outputs import OutputsLoss, per_output_metrics, split_outputs
from nnkit.training.progress import progress_callback
from nnkit.training.scores import RunningScores

if TYPE_CHECKING:
    from nnkit.engine.graph import Graph
    from nnkit.engine.parameters import ParameterStore

__all__ = ["Trainer", "TrainableModel", "INFERENCE_BATCH_SIZE"]

#: Samples evaluated at once by ``predict`` and ``evaluate``: large enough for BLAS to
#: run at full speed, small enough that the buffers stay a few megabytes.
INFERENCE_BATCH_SIZE = 1024

_Model = TypeVar("_Model", bound="TrainableModel")


class TrainableModel(Protocol):
    """What the trainer uses of a model: the passes, the loss, the optimizer step and the
    locks that keep readers apart from steps. `Network` provides all of it."""

    layers: list[Layer]
    loss: Loss
    optimizer: Optimizer
    dtype: np.dtype
    input_shape: Shape | None
    output_shape: Shape | None
    shuffle_rng: np.random.Generator
    history: History | None
    stop_training: bool

    @property
    def built(self) -> bool: ...

    @property
    def n_outputs(self) -> int | None: ...

    @property
    def store(self) -> ParameterStore | None: ...

    @property
    def graph(self) -> Graph: ...

    def ensure_built(self, sample_shape: Sequence[int]) -> None: ...

    def forward(
        self, X: np.ndarray, workspace: Workspace | None = None, training: bool = False
    ) -> np.ndarray: ...

    def backward(
        self,
        A: np.ndarray,
        Y: np.ndarray,
        workspace: Workspace,
        sample_weight: np.ndarray | None = None,
    ) -> None: ...

    def batch_loss(
        self, A: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> float: ...

    def update(self) -> None: ...

    def training_session(self) -> AbstractContextManager[None]: ...

    def writing(self) -> AbstractContextManager[None]: ...

    def reading(self) -> AbstractContextManager[Workspace]: ...

    # The trainer's own steps, called through the model so that a subclass's override
    # is the one that runs.
    def train_step(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        workspace: Workspace,
        sample_weight: np.ndarray | None = None,
        clip_norm: float | None = None,
        clip_value: float | None = None,
    ) -> tuple[np.ndarray, float]: ...

    def test_step(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        workspace: Workspace,
        sample_weight: np.ndarray | None = None,
    ) -> tuple[np.ndarray, float]: ...

    def predict_step(self, X: np.ndarray, workspace: Workspace) -> np.ndarray: ...

    def resolve_metrics(
        self, metrics: Sequence[Metric | str] | Mapping[str, Metric | str] | None
    ) -> dict[str, Metric]: ...

    def evaluate_arrays(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        metrics: dict[str, Metric],
        batch_size: int = INFERENCE_BATCH_SIZE,
        sample_weight: np.ndarray | None = None,
    ) -> dict[str, float]: ...


class Trainer:
    """``fit``, ``partial_fit``, ``evaluate`` and ``predict``, and the steps they are
    made of, for any `TrainableModel`."""

    # -- one batch ----------------------------------------------------------------

    def train_step(
        self: TrainableModel,
        X: np.ndarray,
        Y: np.ndarray,
        workspace: Workspace,
        sample_weight: np.ndarray | None = None,
        clip_norm: float | None = None,
        clip_value: float | None = None,
    ) -> tuple[np.ndarray, float]:
        """One optimizer step on a batch: evaluate, the loss, back-propagate, clip the
        gradient if asked, update. Returns the outputs ``(m, n_outputs)`` from before the
        update (a buffer of ``workspace``) and the batch's loss.

        ``X``, ``Y`` and ``sample_weight`` ``(m,)`` have one row per sample. Override it
        to change what one step does (gradient accumulation, a second optimizer); `fit`
        calls it for every batch.
        """
        A = self.forward(X, workspace, True)  # training: (m, n_outputs)
        if workspace.output_mask is not None:  # masked positions: no target
            Y = masked_targets(self.loss, Y, workspace.output_mask, workspace)
        # The batch's loss and metrics are those of the outputs before the update.
        loss = self.batch_loss(A, Y, sample_weight)
        self.backward(A, Y, workspace, sample_weight)
        if clip_norm is not None or clip_value is not None:
            store = self.store
            assert store is not None, "forward ran, so the model is built"
            clip_gradients(store.grads, clip_norm, clip_value)
        self.update()
        return A, loss

    def test_step(
        self: TrainableModel,
        X: np.ndarray,
        Y: np.ndarray,
        workspace: Workspace,
        sample_weight: np.ndarray | None = None,
    ) -> tuple[np.ndarray, float]:
        """The outputs ``(m, n_outputs)`` and the loss of a batch, nothing updated;
        `evaluate` and validation call it for every batch."""
        A = self.forward(X, workspace)
        if workspace.output_mask is not None:  # masked positions: no target
            Y = masked_targets(self.loss, Y, workspace.output_mask, workspace)
        return A, self.batch_loss(A, Y, sample_weight)

    def predict_step(self: TrainableModel, X: np.ndarray, workspace: Workspace) -> np.ndarray:
        """The outputs ``(m, n_outputs)`` of a batch of samples ``X``, a buffer of
        ``workspace``; `predict` calls it for every batch."""
        return self.forward(X, workspace)

    # -- the user's entry points ---------------------------------------------------

    def fit(
        self: TrainableModel,
        X: Any,
        y: Any = None,
        epochs: int = 1,
        batch_size: int = 32,
        validation_split: float = 0.0,
        validation_data: Any = None,
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
        """Train on ``X`` and targets ``y``; the network is built from ``X`` if it is not yet.

        Args:
            X: samples, shape ``(n_samples, *sample_shape)``: ``(n_samples, n_features)``
                for tabular data. Or, for data larger than memory, chunks of samples
                with ``y=None``: see `nnkit.chunks`.
            y: targets, shape ``(n_samples, n_outputs)``, or integer class labels; for
                outputs that keep a time axis, ``(n_samples, T, n_outputs)`` or labels
                ``(n_samples, T)``, one per position.
            epochs: passes over the training data.
            batch_size: samples per gradient step; the last batch of an epoch may be
                smaller.
            validation_split: fraction of the samples, taken from the end of ``X``
                before shuffling (as Keras does), held out to validate on after each
                epoch.
            validation_data: ``(X_val, y_val)`` or ``(X_val, y_val, sample_weight_val)``
                to validate on instead.
            shuffle: draw a new batch order every epoch from the network's seeded
                generator.
            metrics: metric names or instances; by default those the loss names
                (``accuracy`` for the cross-entropies).
            callbacks: callback names or instances, such as ``"terminate_on_nan"`` or
                ``nnkit.callback("early_stopping", patience=5)``.
            sample_weight: a weight per sample, shape ``(n_samples,)``: each sample's
                loss and gradient are multiplied by it.
            class_weight: ``{class: weight}``; multiplies each sample's weight by its
                class's.
            clip_norm: rescale the gradient (of all parameters together) to at most this
                Euclidean norm before each step.
            clip_value: clip every gradient element to ``[-clip_value, clip_value]``.
            verbose: 0 prints nothing, 1 a progress bar per epoch in a terminal (a line
                per epoch elsewhere), 2 a line per epoch.
            stream: where progress goes (standard output by default).

        Returns:
            The `History` of per-epoch ``loss``, metrics, their ``val_`` counterparts,
            and anything callbacks log (such as ``learning_rate``); also kept as
            ``self.history``.

        One `fit` at a time: a second `fit` on the same network from another thread
        raises `ConfigurationError`. `predict` and `evaluate` may run beside it from
        other threads; each such call sees the weights of whole optimizer steps.
        """
        epochs = positive_int(epochs, "epochs")
        batch_size = positive_int(batch_size, "batch_size")
        validation_split = real_number(validation_split, "validation_split", FRACTION)
        if validation_split and validation_data is not None:
            raise ConfigurationError("give validation_split or validation_data, not both")
        for name, limit in (("clip_norm", clip_norm), ("clip_value", clip_value)):
            if limit is not None:
                real_number(limit, name, POSITIVE)
        reporter = progress_callback(verbose, stream)

        chunked: ChunkedEpochs | None = None
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
            refuse_unadapted(self)
            chunked = ChunkedEpochs(self, X, epochs, class_weight)
            X, Y, weights = chunked.first
            steps_per_epoch = chunked.steps_per_epoch(batch_size)
        else:
            # Preprocessing layers learn from the rows that train, as split below.
            adapt_first_layer(self, X, 1 - validation_split)
            X = as_model_input(self, X)
            adapt_layers(self, X[: int(X.shape[0] * (1 - validation_split)) or X.shape[0]])
            # perf: class labels stay compact (booleans); batches are converted as drawn.
            X, Y, weights = prepare(
                self, X, y, sample_weight, class_weight, compact=True, encoded=True
            )
            steps_per_epoch = -(-X.shape[0] // batch_size)
        metric_map = self.resolve_metrics(metrics)

        validation = None
        if validation_data is not None:
            validation = _validation_arrays(self, validation_data)
        elif validation_split:
            split = int(X.shape[0] * (1 - validation_split))
            if split < 1 or split == X.shape[0]:
                raise DataError(
                    f"validation_split={validation_split} of {X.shape[0]} samples leaves "
                    f"{split} to train on and {X.shape[0] - split} to validate on; both "
                    "need one"
                )
            validation = (
                X[split:],
                Y[split:].astype(self.dtype),
                None if weights is None else weights[split:],
            )
            X, Y = X[:split], Y[:split]
            weights = None if weights is None else weights[:split]
        if chunked is None and not isinstance(self.loss, OutputsLoss):  # several: refused
            with self.writing():  # a target scaling may learn from Y here
                Y = self.layers[-1].training_targets(Y)

        registry = default_registry()
        callback_list = [registry.resolve("callback", spec) for spec in callbacks or ()]
        if reporter is not None:
            callback_list.append(reporter)
        logged = ["loss", *metric_map]
        if validation is not None:
            logged += [f"val_{name}" for name in logged]
        higher = {name: metric.higher_is_better for name, metric in metric_map.items()}
        higher.update({f"val_{name}": better for name, better in list(higher.items())})
        higher.update({"loss": False, "val_loss": False})
        context = TrainingContext(
            network=self,  # type: ignore[arg-type]  # a Network, or a model like one
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            logged=tuple(logged),
            higher_is_better=higher,
        )
        for callback in callback_list:  # each checks its settings here, before any training
            callback.set_context(context)

        runner = EpochRunner(
            self, X, Y, weights, batch_size, shuffle, metric_map, callback_list,
            clip_norm, clip_value,
        )
        with self.training_session():
            return run_epochs(runner, epochs, validation, chunked)

    def partial_fit(
        self: _Model,
        X: Any,
        y: Any = None,
        batch_size: int = 32,
        sample_weight: Any = None,
        class_weight: dict[int, float] | None = None,
    ) -> _Model:
        """One pass over ``X`` and ``y`` (or over chunks, with ``y=None``), continuing from
        the current weights and optimizer state, as scikit-learn's ``partial_fit`` does.
        Returns the model."""
        Trainer.fit(
            self,
            X,
            y,
            epochs=1,
            batch_size=batch_size,
            sample_weight=sample_weight,
            class_weight=class_weight,
            verbose=0,
        )
        return self

    def predict(
        self: TrainableModel, X: Any, batch_size: int = INFERENCE_BATCH_SIZE
    ) -> Any:
        """The outputs for ``X`` of shape ``(n_samples, *sample_shape)``: shape
        ``(n_samples, n_outputs)``, or ``(n_samples, *output_shape)`` for outputs that
        keep a time axis (``(n_samples, T, vocab)`` per token). A network of several
        inputs takes ``X`` as a dict by input name (or a list in input order), as `fit`
        and `evaluate` do; a network
        of several outputs returns a dict of arrays by output name.

        Safe from any number of threads at once: each call gets exactly what it would
        get alone, whatever the batch size.
        """
        # perf: each batch is checked for NaN just before use, while it is in cache.
        X = prepare_features(self, X, finite=False)
        allow_nan = self.graph.n_inputs == 1 and self.layers[0].accepts_nan
        batch_size = positive_int(batch_size, "batch_size")
        assert self.output_shape is not None, "prepare_features built the model"
        outputs = np.empty((X.shape[0], *self.output_shape), dtype=self.dtype)
        with self.reading() as workspace:
            for start in range(0, X.shape[0], batch_size):
                batch = X[start : start + batch_size]
                check_finite(batch, "X", first_row=start, allow_nan=allow_nan)
                outputs[start : start + batch_size] = self.predict_step(batch, workspace)
        if isinstance(self.loss, OutputsLoss):
            return split_outputs(outputs, self.loss)
        return outputs

    def evaluate(
        self: TrainableModel,
        X: Any,
        y: Any,
        metrics: Sequence[Metric | str] | Mapping[str, Metric | str] | None = None,
        batch_size: int = INFERENCE_BATCH_SIZE,
        sample_weight: Any = None,
    ) -> dict[str, float]:
        """The loss and metrics on ``X`` and ``y``: ``{"loss": ..., "accuracy": ...}``.

        The loss includes the layers' regularisation penalties and is weighted by
        ``sample_weight`` if given; metrics are unweighted. Safe from several threads,
        as `predict` is.
        """
        data = prepare(self, X, y, sample_weight)
        return self.evaluate_arrays(
            data.X, data.Y, self.resolve_metrics(metrics), batch_size, data.weights
        )

    def evaluate_arrays(
        self: TrainableModel,
        X: np.ndarray,
        Y: np.ndarray,
        metrics: dict[str, Metric],
        batch_size: int = INFERENCE_BATCH_SIZE,
        sample_weight: np.ndarray | None = None,
    ) -> dict[str, float]:
        """`evaluate()` on arrays already prepared: ``Y`` is ``(n_samples, n_outputs)``
        and ``sample_weight``, if any, ``(n_samples,)``."""
        batch_size = positive_int(batch_size, "batch_size")
        # This call's own running scores: metrics are computed over the whole set.
        scores = RunningScores(metrics)
        with self.reading() as workspace:
            for start in range(0, X.shape[0], batch_size):
                stop = min(start + batch_size, X.shape[0])
                Yb = Y[start:stop]
                weights = None if sample_weight is None else sample_weight[start:stop]
                A, loss = self.test_step(X[start:stop], Yb, workspace, weights)
                if workspace.output_mask is not None:
                    Yb = masked_targets(self.loss, Yb, workspace.output_mask, workspace)
                scores.add(A, Yb, loss, stop - start)
        return scores.result()

    def resolve_metrics(
        self: TrainableModel, metrics: Sequence[Metric | str] | Mapping[str, Metric | str] | None
    ) -> dict[str, Metric]:
        """Metrics by the name they are logged under; the loss's defaults if ``None``.

        A name logs under itself and an instance under its registry name; a mapping
        ``{"f1_macro": nnkit.metric("f1", average="macro"), ...}`` chooses the names, so
        two variants of one metric can be reported side by side.
        """
        if isinstance(self.loss, OutputsLoss):  # each output's loss and metrics
            return per_output_metrics(self.loss, metrics, _resolve_named)
        return _resolve_named(self.loss, metrics)


def _resolve_named(
    loss: Loss, metrics: Sequence[Metric | str] | Mapping[str, Metric | str] | None
) -> dict[str, Metric]:
    """`TrainableModel.resolve_metrics` for one output whose loss is ``loss``."""
    registry = default_registry()
    if metrics is None:
        metrics = loss.default_metrics
    if isinstance(metrics, (str, Metric)):
        metrics = [metrics]
    named: list[tuple[str | None, Metric | str]]
    if isinstance(metrics, Mapping):
        named = list(metrics.items())
        for name, _ in named:
            if not isinstance(name, str) or not name or name.startswith("val_"):
                raise ConfigurationError(
                    f"metric names must be non-empty strings not starting with 'val_' "
                    f"(that prefix marks validation values), got {name!r}"
                )
    else:
        named = [(None, spec) for spec in metrics]
    resolved: dict[str, Metric] = {}
    for chosen, spec in named:
        metric = registry.resolve("metric", spec)
        if chosen is not None:
            name = chosen
        elif isinstance(spec, str):
            name = spec.rpartition(":")[2]
        else:
            name = registry.name_of(metric) or type(metric).__name__.lower()
        if name == "loss" or name in resolved:
            raise ConfigurationError(
                f"metric {name!r} is named twice or clashes with 'loss'; to report two "
                "variants of one metric, give them names: metrics={'f1_macro': "
                "nnkit.metric('f1', average='macro'), 'f1_micro': ...}"
            )
        resolved[name] = metric
    return resolved


def _validation_arrays(
    model: TrainableModel, validation_data: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``validation_data`` prepared as `evaluate` prepares its arguments."""
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ConfigurationError(
            "validation_data must be a pair (X_val, y_val) or a triple (X_val, y_val, "
            "sample_weight_val)"
        )
    weights = validation_data[2] if len(validation_data) == 3 else None
    data = prepare(
        model, validation_data[0], validation_data[1], weights, names=("X_val", "y_val")
    )
    return data.X, data.Y, data.weights
