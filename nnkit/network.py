"""The network: the seed's evaluate, back-propagate and update, over a list of layers."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from nnkit.buffers import BufferCache
from nnkit.data import as_features, as_sample_weight, as_targets, check_finite, positive_int
from nnkit.errors import ConfigurationError, DataError
from nnkit.layers import Layer
from nnkit.losses import Loss
from nnkit.metrics import Metric
from nnkit.optimizers import Optimizer
from nnkit.parameters import ParameterStore
from nnkit.registry import default_registry
from nnkit.summary import format_summary

if TYPE_CHECKING:
    from nnkit.history import History

__all__ = ["Network"]

#: The floating-point types a network computes in.
SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
#: Samples evaluated at once by ``predict`` and ``evaluate``: large enough for BLAS to
#: run at full speed, small enough that the buffers stay a few megabytes.
INFERENCE_BATCH_SIZE = 1024


class Network:
    """A feed-forward network trained by back-propagation and gradient descent.

    Args:
        layers: the layers, first to last; names or instances.
        loss: the loss to minimise, by name or instance.
        optimizer: the update rule, by name or instance.
        seed: seeds initialisation, shuffling and every layer's noise; the same seed
            gives the same result.
        dtype: ``"float32"`` (the default, fast) or ``"float64"`` (for gradient checks).

    Examples:
        >>> net = Network([Dense(16, activation="relu"), Dense(3, activation="softmax")],
        ...               loss="cross_entropy", optimizer="adam", seed=0)
    """

    def __init__(
        self,
        layers: Sequence[Layer | str],
        loss: Loss | str = "mse",
        optimizer: Optimizer | str = "sgd",
        seed: int | None = None,
        dtype: str | np.dtype = "float32",
    ) -> None:
        registry = default_registry()
        if isinstance(layers, (str, Layer)) or not isinstance(layers, Sequence):
            raise ConfigurationError(
                f"layers must be a list of layers, got {type(layers).__name__}"
            )
        if len(layers) == 0:
            raise ConfigurationError("a network needs at least one layer")
        self.layers: list[Layer] = [registry.resolve("layer", layer) for layer in layers]
        self.loss: Loss = registry.resolve("loss", loss)
        self.optimizer: Optimizer = registry.resolve("optimizer", optimizer)
        try:
            self.dtype = np.dtype(dtype)
        except TypeError:
            self.dtype = None
        if self.dtype not in SUPPORTED_DTYPES:
            raise ConfigurationError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ConfigurationError(f"seed must be an integer or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        init_seed, shuffle_seed, layer_seed = np.random.SeedSequence(self.seed).spawn(3)
        self._init_rng = np.random.default_rng(init_seed)
        #: The generator that orders each epoch's batches.
        self.shuffle_rng = np.random.default_rng(shuffle_seed)
        self._layer_seed = layer_seed
        self.n_inputs: int | None = None
        self.n_outputs: int | None = None
        self.store: ParameterStore | None = None
        self.optimizer_state: dict[str, np.ndarray] = {}
        self.history: History | None = None
        #: Set to True (by a callback) to stop training after the current batch.
        self.stop_training = False
        #: The output width of each layer, once built.
        self.layer_widths: list[int] = []
        #: Each layer's own random generator (for dropout masks), once built.
        self.layer_rngs: list[np.random.Generator] = []
        #: Free-form facts saved with the model (the CLI keeps feature and class names here).
        self.metadata: dict[str, Any] = {}
        self._fused_output = False
        self._buffers = BufferCache()

    # -- building ------------------------------------------------------------------

    @property
    def built(self) -> bool:
        """Whether the input width is known and the parameters exist."""
        return self.store is not None

    def build(self, n_inputs: int, *, max_parameters: int | None = None) -> Network:
        """Size every layer for ``n_inputs`` features and draw the initial parameters.

        ``max_parameters`` refuses to allocate more parameters than that (a guard the
        model loader uses, so that a damaged file cannot ask for terabytes).
        """
        width = n_inputs = positive_int(n_inputs, "n_inputs")
        self.layer_rngs = [
            np.random.default_rng(s) for s in self._layer_seed.spawn(len(self.layers))
        ]
        self.layer_widths = []
        for layer, rng in zip(self.layers, self.layer_rngs):
            width = layer.build(width, rng)
            self.layer_widths.append(width)
        shapes = [layer.parameter_shapes() for layer in self.layers]
        if max_parameters is not None:
            needed = sum(math.prod(shape) for layer in shapes for shape in layer.values())
            if needed > max_parameters:
                raise ConfigurationError(
                    f"the layers need {needed:,} parameters, more than the "
                    f"{max_parameters:,} allowed"
                )
        self.store = ParameterStore(shapes, self.dtype)
        for layer, params, grads in zip(self.layers, self.store.value_views, self.store.grad_views):
            layer.bind(params, grads)
            layer.initialize(self._init_rng)
        self.n_inputs, self.n_outputs = int(n_inputs), width
        self.optimizer_state = self.optimizer.init_state(self.store.values)
        output_activation = getattr(self.layers[-1], "activation", None)
        self._fused_output = (
            self.loss.fused_activation is not None
            and hasattr(self.layers[-1], "backward_from_dZ")
            and default_registry().name_of(output_activation) == self.loss.fused_activation
        )
        return self

    def _ensure_built(self, n_features: int) -> None:
        if not self.built:
            self.build(n_features)

    # -- the algorithm -------------------------------------------------------------

    def forward(self, A0: np.ndarray, training: bool = False) -> np.ndarray:
        """Evaluate: ``A^L`` from ``A^0 = X^T``, each layer keeping its ``Z^l`` and ``A^l``.

        ``A0`` has one column per sample. The result is a buffer reused by the next call.
        """
        A = A0
        for layer in self.layers:
            A = layer.forward(A, training)
        return A

    def backward(
        self, A: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> None:
        """Back-propagate: fill the gradient array for output ``A = A^L`` and targets ``Y``.

        With a loss fused to the output activation, ``dZ^L = (A^L - Y) / m`` directly;
        otherwise ``dA^L`` comes from the loss and each layer turns ``dA^l`` into
        ``dA^{l-1}``, walking from the last layer to the first. ``sample_weight``, of
        shape ``(1, m)``, scales each sample's column of the output gradient.
        """
        layers = self.layers
        last = len(layers) - 1
        if self._fused_output:
            dZ = self.loss.fused_gradient(A, Y, out=self._buffers.get("dZ", A.shape, A.dtype))
            if sample_weight is not None:
                dZ *= sample_weight
            dA = layers[last].backward_from_dZ(dZ, need_input_gradient=last > 0)
        else:
            dA = self.loss.gradient(A, Y)
            if sample_weight is not None:
                dA = dA * sample_weight
            dA = layers[last].backward(dA, need_input_gradient=last > 0)
        for index in range(last - 1, -1, -1):
            dA = layers[index].backward(dA, need_input_gradient=index > 0)

    def batch_loss(
        self, A: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> float:
        """The loss of a batch: the (weighted) mean of the per-sample losses plus every
        layer's regularisation penalty. ``sample_weight`` has shape ``(1, m)``."""
        if sample_weight is None:
            value = self.loss.value(A, Y)
        else:
            value = float(np.dot(self.loss.per_sample(A, Y), sample_weight[0])) / A.shape[1]
        for layer in self.layers:
            value += layer.penalty()
        return value

    def update(self) -> None:
        """Gradient descent: one optimizer step over all parameters at once."""
        self.optimizer.update(self.store.values, self.store.grads, self.optimizer_state)

    def train_step(self, X_batch: np.ndarray, Y_batch: np.ndarray) -> np.ndarray:
        """One step on a batch: evaluate, back-propagate, update. Returns ``A^L`` from
        before the update (a reused buffer).

        ``X_batch`` has samples as rows; ``Y_batch`` has shape ``(n_outputs, m)``.
        """
        A = self.forward(X_batch.T, training=True)
        self.backward(A, Y_batch)
        self.update()
        return A

    # -- the user's entry points ---------------------------------------------------

    def fit(self, X: Any, y: Any, **options: Any) -> History:
        """Train on ``X`` (``(n_samples, n_features)``) and targets ``y``.

        Takes ``epochs``, ``batch_size``, ``validation_split``, ``validation_data``,
        ``shuffle``, ``metrics``, ``callbacks``, ``sample_weight``, ``class_weight``,
        ``clip_norm``, ``clip_value`` and ``verbose``; see `nnkit.training.fit()`.
        Returns the `History`, also kept as ``self.history``.
        """
        from nnkit.training import fit

        return fit(self, X, y, **options)

    def predict(self, X: Any, batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray:
        """The network's outputs for ``X``: shape ``(n_samples, n_outputs)``."""
        # perf: each batch is checked for NaN just before use, while it is in cache.
        X = as_features(X, self.dtype, self.n_inputs, finite=False)
        self._ensure_built(X.shape[1])
        outputs = np.empty((X.shape[0], self.n_outputs), dtype=self.dtype)
        batch_size = positive_int(batch_size, "batch_size")
        for start in range(0, X.shape[0], batch_size):
            batch = X[start : start + batch_size]
            check_finite(batch, "X", first_row=start)
            outputs[start : start + batch_size] = self.forward(batch.T).T
        return outputs

    def evaluate(
        self,
        X: Any,
        y: Any,
        metrics: Sequence[Metric | str] | None = None,
        batch_size: int = INFERENCE_BATCH_SIZE,
        sample_weight: Any = None,
    ) -> dict[str, float]:
        """The loss and metrics on ``X`` and ``y``: ``{"loss": ..., "accuracy": ...}``.

        The loss includes the layers' regularisation penalties and is weighted by
        ``sample_weight`` if given; metrics are unweighted.
        """
        X = as_features(X, self.dtype, self.n_inputs)
        self._ensure_built(X.shape[1])
        Y = as_targets(y, X.shape[0], self.n_outputs, self.loss, self.dtype)
        weights = as_sample_weight(sample_weight, X.shape[0], self.dtype)
        return self.evaluate_arrays(X, Y, self.resolve_metrics(metrics), batch_size, weights)

    def evaluate_arrays(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        metrics: dict[str, Metric],
        batch_size: int = INFERENCE_BATCH_SIZE,
        sample_weight: np.ndarray | None = None,
    ) -> dict[str, float]:
        """`evaluate()` on arrays already checked: ``Y`` is ``(n_samples, n_outputs)``
        and ``sample_weight``, if any, ``(n_samples,)``."""
        batch_size = positive_int(batch_size, "batch_size")
        totals = dict.fromkeys(["loss", *metrics], 0.0)
        for start in range(0, X.shape[0], batch_size):
            stop = min(start + batch_size, X.shape[0])
            A, Yb = self.forward(X[start:stop].T), Y[start:stop].T
            weights = None if sample_weight is None else sample_weight[None, start:stop]
            m = stop - start
            totals["loss"] += self.batch_loss(A, Yb, weights) * m
            for name, metric in metrics.items():
                totals[name] += metric.value(A, Yb) * m
        return {name: total / X.shape[0] for name, total in totals.items()}

    def resolve_metrics(self, metrics: Sequence[Metric | str] | None) -> dict[str, Metric]:
        """Metrics by the name they are logged under; the loss's defaults if ``None``."""
        registry = default_registry()
        if metrics is None:
            metrics = self.loss.default_metrics
        if isinstance(metrics, (str, Metric)):
            metrics = [metrics]
        resolved: dict[str, Metric] = {}
        for spec in metrics:
            metric = registry.resolve("metric", spec)
            name = (
                spec
                if isinstance(spec, str)
                else (registry.name_of(metric) or type(metric).__name__.lower())
            )
            name = name.rpartition(":")[2]
            if name == "loss" or name in resolved:
                raise ConfigurationError(f"metric {name!r} is named twice or clashes with 'loss'")
            resolved[name] = metric
        return resolved

    # -- parameters ----------------------------------------------------------------

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every parameter in order, ``[W1, b1, W2, b2, ...]``, in the seed's shapes:
        ``W^l`` is ``(n^l, n^{l-1})`` and ``b^l`` is ``(n^l, 1)``."""
        self._require_built("get_weights")
        return [array.copy() for array in self.store.arrays()]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Replace every parameter; ``weights`` as `get_weights()` returns them."""
        self._require_built("set_weights")
        current = self.store.arrays()
        if len(weights) != len(current):
            raise DataError(
                f"set_weights got {len(weights)} arrays but the network has {len(current)} "
                "(W1, b1, W2, b2, ...)"
            )
        arrays = []
        for index, (new, old) in enumerate(zip(weights, current)):
            new = np.asarray(new)
            if new.shape != old.shape:
                raise DataError(
                    f"weight array {index} has shape {new.shape} but the network expects "
                    f"{old.shape}"
                )
            if not np.isfinite(new).all():
                raise DataError(f"weight array {index} contains NaN or infinite values")
            arrays.append(new)
        for new, old in zip(arrays, current):  # all checked first: never half-replaced
            old[...] = new

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise ConfigurationError(
                f"{what} needs a built network: call fit, predict or build(n_inputs) first"
            )

    def save(self, path: str | os.PathLike[str], include_optimizer: bool = True) -> None:
        """Write the network to one file, atomically: JSON for the components and raw
        arrays for the weights (and, by default, the optimizer's state, so that training
        resumes exactly). See `nnkit.persistence.save()`."""
        from nnkit.persistence import save

        save(self, path, include_optimizer=include_optimizer)

    def summary(self, file: TextIO | None = None) -> None:
        """Print a table of the layers: output shape, parameter count, activation, and
        the distribution that supplied each component."""
        print(format_summary(self), file=sys.stdout if file is None else file)

    @property
    def n_parameters(self) -> int:
        """The number of trainable numbers in the network."""
        return 0 if self.store is None else self.store.size

    def __repr__(self) -> str:
        layers = ", ".join(repr(layer) for layer in self.layers)
        return f"Network([{layers}], loss={self.loss!r}, optimizer={self.optimizer!r})"
