"""scikit-learn estimators backed by nnkit networks: ``NNClassifier`` and ``NNRegressor``.

Every component is named by its registry name (``activation="gelu"``,
``optimizer="lion"``), so installed plugins work in pipelines, cross-validation and grid
searches unchanged. Needs the optional extra: ``pip install "nnkit-numpy[sklearn]"``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, Protocol, cast

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.class_weight import compute_sample_weight
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as error:  # pragma: no cover - exercised without the extra only
    from nnkit.errors import MissingExtraError

    raise MissingExtraError(
        'nnkit.sklearn needs scikit-learn: pip install "nnkit-numpy[sklearn]"'
    ) from error

import nnkit
from nnkit.engine.network import Network
from nnkit.errors import ConfigurationError, DivergenceWarning, UnknownComponentError
from nnkit.files.table_cells import is_text
from nnkit.interfaces.layer import Layer
from nnkit.interfaces.loss import Loss

__all__ = ["NNClassifier", "NNRegressor"]

#: The ``batch_size`` that trains on every sample at once: one step per epoch.
FULL_BATCH = "full"


def _loss_named(name: str) -> Loss:
    """The loss registered as ``name``; a ``ValueError`` if there is none."""
    try:
        return nnkit.loss(name)
    except UnknownComponentError as error:
        raise ValueError(str(error.args[0] if error.args else error)) from None


def _check_sample_weight(sample_weight: Any, n_samples: int) -> np.ndarray:
    weights = np.asarray(sample_weight, dtype=np.float64)
    if weights.ndim == 0:
        weights = np.full(n_samples, float(weights))
    if weights.shape != (n_samples,):
        raise ValueError(
            f"sample_weight.shape == {weights.shape}, expected {(n_samples,)}: one weight "
            "per sample"
        )
    if not np.all(np.isfinite(weights)) or weights.min() < 0:
        raise ValueError("sample_weight must hold finite, non-negative numbers")
    return weights


#: What a fit leaves on the estimator, removed by a fresh fit or a diverged one.
_FIT_ATTRIBUTES = (
    "network_",
    "loss_curve_",
    "best_loss_",
    "validation_scores_",
    "n_iter_",
    "t_",
    "n_layers_",
    "n_outputs_",
    "history_",
)


def _is_weight(value: Any) -> bool:
    """Whether ``value`` is a finite number >= 0."""
    number = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
    return number and math.isfinite(value) and value >= 0


class _DivergenceReport(Protocol):
    """The ``terminate_on_nan`` callback's report: why training stopped, if it did."""

    message: str | None


class _NNEstimator(BaseEstimator):
    """What the classifier and the regressor share: building, training and predicting."""

    def __init__(
        self,
        hidden_layer_sizes: Sequence[int] = (100,),
        activation: str = "relu",
        output_activation: str | None = None,
        loss: str | None = None,
        optimizer: str = "adam",
        learning_rate: float = 0.001,
        optimizer_params: dict[str, Any] | None = None,
        epochs: int = 200,
        batch_size: int | str = 32,
        shuffle: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        patience: int = 10,
        l2: float = 0.0,
        random_state: int | np.random.RandomState | None = None,
        warm_start: bool = False,
        dtype: str = "auto",
        verbose: int = 0,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.output_activation = output_activation
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.optimizer_params = optimizer_params
        self.epochs = epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.l2 = l2
        self.random_state = random_state
        self.warm_start = warm_start
        self.dtype = dtype
        self.verbose = verbose

    # -- what the subclasses decide --------------------------------------------------

    def _output(self, n_outputs: int) -> tuple[int, str, Loss]:
        """Units and activation of the output layer, and the loss."""
        raise NotImplementedError

    # -- building ---------------------------------------------------------------------

    def _check_parameters(self) -> None:
        sizes: Any = self.hidden_layer_sizes  # as the user set it: checked below
        if isinstance(sizes, (int, np.integer)):
            sizes = (sizes,)
        if not all(isinstance(s, (int, np.integer)) and s > 0 for s in sizes):
            raise ValueError(
                f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}"
            )
        names = ["epochs", "patience"]
        if self.batch_size != FULL_BATCH:
            names.append("batch_size")
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                also = f' or "{FULL_BATCH}"' if name == "batch_size" else ""
                raise ValueError(f"{name} must be a positive integer{also}, got {value!r}")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(
                f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}"
            )
        if not (isinstance(self.learning_rate, (int, float)) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate!r}")
        if not (isinstance(self.l2, (int, float)) and self.l2 >= 0):
            raise ValueError(f"l2 must be >= 0, got {self.l2!r}")

    def _build(self, n_features: int, n_outputs: int, seed: int, data_dtype: np.dtype) -> Network:
        units, output_activation, loss = self._output(n_outputs)
        given = self.hidden_layer_sizes
        sizes = (given,) if isinstance(given, (int, np.integer)) else tuple(given)
        try:
            layers = [nnkit.Dense(int(s), activation=self.activation, l2=self.l2) for s in sizes]
            layers.append(nnkit.Dense(units, activation=output_activation, l2=self.l2))
            optimizer = nnkit.optimizer(
                self.optimizer, learning_rate=self.learning_rate, **(self.optimizer_params or {})
            )
            dtype = data_dtype if self.dtype == "auto" else self.dtype
            network = Network(layers, loss=loss, optimizer=optimizer, seed=seed, dtype=dtype)
        except UnknownComponentError as error:
            raise ValueError(str(error.args[0] if error.args else error)) from None
        except (ConfigurationError, TypeError) as error:
            raise ValueError(f"invalid parameters for {type(self).__name__}: {error}") from None
        return network.build(n_features)

    # -- training ---------------------------------------------------------------------

    def _train(
        self,
        X: np.ndarray,
        targets: np.ndarray,
        sample_weight: np.ndarray | None,
        epochs: int,
        rng: np.random.RandomState,
    ) -> None:
        network = self.network_
        full = self.batch_size == FULL_BATCH
        stopper = nnkit.callback("terminate_on_nan")
        options: dict[str, Any] = {
            "epochs": epochs,
            "batch_size": X.shape[0] if full else min(self.batch_size, X.shape[0]),
            "shuffle": bool(self.shuffle),
            "verbose": self.verbose,
            "sample_weight": sample_weight,
            "callbacks": [stopper],
        }
        if self.early_stopping:
            order = rng.permutation(X.shape[0])
            n_validation = max(1, int(round(self.validation_fraction * X.shape[0])))
            if n_validation >= X.shape[0]:
                raise ValueError(
                    f"early_stopping needs samples to train and to validate on; "
                    f"{X.shape[0]} sample(s) leave none"
                )
            held, kept = order[:n_validation], order[n_validation:]
            validation: tuple[np.ndarray, ...] = (X[held], targets[held])
            if sample_weight is not None:
                validation += (sample_weight[held],)
                options["sample_weight"] = sample_weight[kept]
            options["validation_data"] = validation
            options["callbacks"].append(nnkit.callback("early_stopping", patience=self.patience))
            X, targets = X[kept], targets[kept]
            if full:
                options["batch_size"] = X.shape[0]
        with warnings.catch_warnings():
            # The error below says it once, in scikit-learn's words.
            warnings.filterwarnings("ignore", category=DivergenceWarning)
            warnings.filterwarnings("ignore", message="training stopped: the loss became")
            history = network.fit(X, targets, **options)
        report = cast(_DivergenceReport, stopper)  # the registry returns it as a Callback
        assert network.store is not None, "fit() built the network"
        if report.message is not None or not np.isfinite(network.store.values).all():
            self._forget_fit()
            where = (report.message or "").partition(";")[0].removeprefix("training stopped: ")
            raise ValueError(
                f"{type(self).__name__} diverged: {where or 'the weights became NaN or infinite'}"
                ", so training stopped and the model is left unfitted. Scale the features "
                f"(StandardScaler) or lower learning_rate (it is {self.learning_rate:g})"
            )
        self.loss_curve_ = [*getattr(self, "loss_curve_", []), *history.history["loss"]]
        self.best_loss_ = None if self.early_stopping else min(self.loss_curve_)
        if "val_loss" in history.history:
            self.validation_scores_ = [
                *getattr(self, "validation_scores_", []),
                *history.history["val_loss"],
            ]
        self.n_iter_ = getattr(self, "n_iter_", 0) + len(history)
        self.t_ = getattr(self, "t_", 0) + len(history) * X.shape[0]
        self.n_layers_ = len(self.network_.layers) + 1
        self.n_outputs_ = self.network_.n_outputs
        self.history_ = history

    def _forget_fit(self) -> None:
        """Leave the estimator unfitted, as before its first fit."""
        for attribute in _FIT_ATTRIBUTES:
            self.__dict__.pop(attribute, None)

    # -- scikit-learn's MLP attributes -------------------------------------------------

    @property
    def coefs_(self) -> list[np.ndarray]:
        """The weight matrices in scikit-learn's layout: ``coefs_[i]`` has shape
        ``(n_in, n_out)``, the transpose of the layer's ``W``. Copies."""
        return [W.T.copy() for W in self._dense_parameters()[0::2]]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """The bias vectors: ``intercepts_[i]`` has shape ``(n_out,)``. Copies."""
        return [b.ravel().copy() for b in self._dense_parameters()[1::2]]

    def _dense_parameters(self) -> list[np.ndarray]:
        if "network_" not in self.__dict__:
            raise AttributeError(f"this {type(self).__name__} is not fitted yet; call fit")
        return self.network_.get_weights()

    def _fit(self, X: Any, y: Any, sample_weight: Any, incremental: bool, **kw: Any) -> Any:
        self._check_parameters()
        first = not (incremental or self.warm_start) or not hasattr(self, "network_")
        X, y = validate_data(
            self,
            X,
            y,
            reset=first,
            dtype=[np.float64, np.float32],
            multi_output=isinstance(self, RegressorMixin),
            y_numeric=isinstance(self, RegressorMixin),
        )
        targets = self._prepare_targets(y, first, **kw)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X.shape[0])
        sample_weight = self._weigh_classes(y, sample_weight, incremental)
        if sample_weight is not None:
            if not sample_weight.any():
                raise ValueError("sample_weight is zero for every sample: nothing to learn from")
            # Weights relative to their mean: the loss is then the weighted mean,
            # sum(w l) / sum(w), as scikit-learn's, so that a weight of 2 equals the sample
            # twice and scaling every weight changes nothing.
            sample_weight = sample_weight / sample_weight.mean()
        rng = check_random_state(self.random_state)
        if first:
            self._forget_fit()
            seed = int(rng.randint(np.iinfo(np.int32).max))
            self.network_ = self._build(X.shape[1], self._n_outputs(targets), seed, X.dtype)
        self._train(X, targets, sample_weight, 1 if incremental else self.epochs, rng)
        return self

    def _weigh_classes(
        self, y: np.ndarray, sample_weight: np.ndarray | None, incremental: bool
    ) -> np.ndarray | None:
        """``sample_weight`` times the class weights (the classifier's ``class_weight``)."""
        return sample_weight

    def _predict_outputs(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "network_")
        first = self.network_.layers[0]
        # A network whose first layer reads raw table cells (a category lookup) or fills
        # NaN (an imputer) gets them as they are, as Network.predict would.
        reads_cells = type(first).encode_input is not Layer.encode_input and is_text(X)
        X = validate_data(
            self,
            X,
            reset=False,
            dtype=None if reads_cells else [np.float64, np.float32],
            ensure_all_finite="allow-nan" if first.accepts_nan else True,
        )
        return self.network_.predict(X)

    @classmethod
    def from_network(cls, network: Network) -> Any:
        """A fitted estimator that predicts with ``network`` as it is (one trained in
        Python, or loaded from a file ``nnkit train`` saved, its preprocessing layers
        included), so its predictions are the network's. A classifier's ``classes_`` are
        the class names the network's metadata keeps, else its output indices."""
        if not network.built:
            raise ValueError("from_network needs a trained (built) network")
        assert network.n_inputs is not None and network.n_outputs is not None, "it is built"
        estimator = cls()
        estimator.network_ = network
        estimator.n_features_in_ = network.n_inputs
        estimator.n_layers_ = len(network.layers) + 1
        estimator.n_outputs_ = network.n_outputs
        estimator._adopt(network)
        return estimator

    def _adopt(self, network: Network) -> None:
        """Set what the estimator's own ``fit`` would have set for ``network``'s targets."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class NNClassifier(ClassifierMixin, _NNEstimator):
    """A multi-layer perceptron classifier: hidden ``Dense`` layers and a softmax output
    trained with cross-entropy, by default.

    Args:
        hidden_layer_sizes: the width of each hidden layer.
        activation: the hidden layers' activation, by registry name.
        output_activation: the output's activation (default ``softmax``; with
            ``loss="binary_cross_entropy"``, ``sigmoid`` on one unit for two classes).
        loss: by registry name; default ``cross_entropy``. It must take class labels.
        optimizer: the optimizer, by registry name.
        learning_rate: its learning rate.
        optimizer_params: any other arguments of the optimizer (``{"momentum": 0.9}``).
        epochs: passes over the data in ``fit`` (``partial_fit`` runs one).
        batch_size: samples per step (at most the number of samples), or ``"full"`` for
            one step per epoch on every sample (full-batch gradient descent).
        shuffle: draw a new batch order every epoch. With ``batch_size="full"`` a
            sample weight of 2 trains exactly as the sample given twice.
        early_stopping: hold out ``validation_fraction`` of the data and stop when its
            loss has not improved for ``patience`` epochs, keeping the best weights.
        validation_fraction: the share held out with ``early_stopping``.
        patience: epochs without improvement before stopping.
        l2: the L2 penalty on every weight matrix.
        random_state: seeds the weights, the batch order and the validation split.
        warm_start: let ``fit`` continue from the previous fit's network.
        dtype: the network's floating-point type: ``"auto"`` follows the training data,
            as scikit-learn does (float32 data trains in float32, about twice as fast;
            anything else in float64), or ``"float32"`` / ``"float64"``.
        verbose: 0 silent, 1 or 2 for a line per epoch.
        class_weight: ``None`` (every class weighs 1), ``"balanced"`` (weights inversely
            proportional to the class frequencies, ``n_samples / (n_classes *
            count)``), or ``{label: weight}`` with the labels of ``y``; multiplies
            ``sample_weight``.

    Attributes:
        classes_: the class labels, in the order of ``predict_proba``'s columns.
        network_: the trained `nnkit.Network`.
        coefs_: the weight matrices, ``coefs_[i]`` of shape ``(n_in, n_out)``.
        intercepts_: the bias vectors, ``intercepts_[i]`` of shape ``(n_out,)``.
        loss_curve_: the training loss after each epoch.
        best_loss_: the lowest of ``loss_curve_`` (``None`` with ``early_stopping``).
        n_iter_: the epochs run.
        t_: the training samples seen, over all epochs.
        n_layers_: the layers counted as scikit-learn does, input and output included.
        n_outputs_: the output units.
    """

    def __init__(
        self,
        hidden_layer_sizes: Sequence[int] = (100,),
        activation: str = "relu",
        output_activation: str | None = None,
        loss: str | None = None,
        optimizer: str = "adam",
        learning_rate: float = 0.001,
        optimizer_params: dict[str, Any] | None = None,
        epochs: int = 200,
        batch_size: int | str = 32,
        shuffle: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        patience: int = 10,
        l2: float = 0.0,
        random_state: int | np.random.RandomState | None = None,
        warm_start: bool = False,
        dtype: str = "auto",
        verbose: int = 0,
        class_weight: str | dict[Any, float] | None = None,
    ) -> None:
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            output_activation=output_activation,
            loss=loss,
            optimizer=optimizer,
            learning_rate=learning_rate,
            optimizer_params=optimizer_params,
            epochs=epochs,
            batch_size=batch_size,
            shuffle=shuffle,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            patience=patience,
            l2=l2,
            random_state=random_state,
            warm_start=warm_start,
            dtype=dtype,
            verbose=verbose,
        )
        self.class_weight = class_weight

    def _weigh_classes(
        self, y: np.ndarray, sample_weight: np.ndarray | None, incremental: bool
    ) -> np.ndarray | None:
        weights = self.class_weight
        if weights is None:
            return sample_weight
        if isinstance(weights, str) and weights == "balanced":
            if incremental:
                raise ValueError(
                    "class_weight='balanced' needs every sample's class at once, which "
                    "partial_fit does not see; pass the weights as a dict, for example "
                    "from sklearn.utils.class_weight.compute_class_weight('balanced', "
                    "classes=classes, y=y)"
                )
        elif not isinstance(weights, dict):
            raise ValueError(
                f"class_weight must be None, 'balanced' or a dict {{label: weight}}, got "
                f"{weights!r}"
            )
        else:
            unknown = [label for label in weights if label not in set(self.classes_.tolist())]
            if unknown:
                raise ValueError(
                    f"class_weight names labels {unknown[:5]} that are not classes of y "
                    f"{self.classes_.tolist()[:10]}"
                )
            bad = {k: v for k, v in weights.items() if not _is_weight(v)}
            if bad:
                raise ValueError(f"class weights must be finite and >= 0, got {bad}")
        per_sample = compute_sample_weight(weights, y)
        return per_sample if sample_weight is None else per_sample * sample_weight

    def _prepare_targets(self, y: np.ndarray, first: bool, classes: Any = None) -> np.ndarray:
        check_classification_targets(y)
        if first:
            labels = np.unique(y) if classes is None else np.unique(np.asarray(classes))
            if labels.size < 2:
                raise ValueError(
                    f"{type(self).__name__} needs at least two classes to learn from; the "
                    f"target has only one class ({labels[0]!r})"
                )
            self.classes_ = labels
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if unknown.size:
            raise ValueError(
                f"y has labels {unknown.tolist()[:5]} that are not in classes_ "
                f"{self.classes_.tolist()[:10]}"
            )
        return np.searchsorted(self.classes_, y)

    def _n_outputs(self, targets: np.ndarray) -> int:
        return len(self.classes_)

    def _output(self, n_outputs: int) -> tuple[int, str, Loss]:
        loss_name = self.loss or "cross_entropy"
        loss = _loss_named(loss_name)
        if not loss.accepts_class_labels:
            raise ValueError(
                f"loss {loss_name!r} does not take class labels, so it cannot train a "
                "classifier; use 'cross_entropy' (or NNRegressor for numeric targets)"
            )
        fused = loss.fused_activation
        output = self.output_activation or fused or "softmax"
        if fused is not None and output != fused:
            raise ValueError(
                f"loss {loss_name!r} is meant for a {fused!r} output, not "
                f"output_activation={output!r}; leave output_activation unset"
            )
        if output == "sigmoid":
            if n_outputs != 2:
                raise ValueError(
                    f"a sigmoid output with {loss_name!r} separates two classes; y has "
                    f"{n_outputs}. Use loss='cross_entropy' for several classes"
                )
            return 1, output, loss
        return n_outputs, output, loss

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> NNClassifier:
        """Train a new network on ``X`` and ``y`` (class labels of any type) for
        ``epochs`` epochs (or continue the last one, with ``warm_start``)."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(
        self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None
    ) -> NNClassifier:
        """One epoch on ``X`` and ``y``; the first call needs every class in ``classes``."""
        if not hasattr(self, "network_") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _adopt(self, network: Network) -> None:
        assert network.n_outputs is not None, "from_network checked it is built"
        classes = network.metadata.get("classes")
        self.classes_ = np.asarray(
            classes if classes is not None else range(max(network.n_outputs, 2))
        )

    def predict_proba(self, X: Any) -> np.ndarray:
        """The probability of each class, columns in the order of ``classes_``."""
        outputs = self._predict_outputs(X).astype(np.float64)
        if outputs.shape[1] == 1:
            outputs = np.hstack([1 - outputs, outputs])
        return outputs

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each sample."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """The log of `predict_proba()`."""
        return np.log(np.clip(self.predict_proba(X), 1e-300, None))


class NNRegressor(RegressorMixin, _NNEstimator):
    """A multi-layer perceptron regressor: hidden ``Dense`` layers and a linear output
    trained with the squared error, by default. One output per target column.

    Takes the same arguments as `NNClassifier`; ``loss`` defaults to ``mse``
    (``huber`` from nnkit-extras suits targets with outliers) and ``output_activation``
    to ``identity``.

    Attributes:
        network_: the trained `nnkit.Network`.
        coefs_: the weight matrices, ``coefs_[i]`` of shape ``(n_in, n_out)``.
        intercepts_: the bias vectors, ``intercepts_[i]`` of shape ``(n_out,)``.
        loss_curve_: the training loss after each epoch.
        best_loss_: the lowest of ``loss_curve_`` (``None`` with ``early_stopping``).
        n_iter_: the epochs run.
        t_: the training samples seen, over all epochs.
        n_layers_: the layers counted as scikit-learn does, input and output included.
        n_outputs_: the output units.
    """

    def _prepare_targets(self, y: np.ndarray, first: bool) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        if first:
            self._y_1d = y.ndim == 1
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def _n_outputs(self, targets: np.ndarray) -> int:
        return targets.shape[1]

    def _output(self, n_outputs: int) -> tuple[int, str, Loss]:
        loss_name = self.loss or "mse"
        loss = _loss_named(loss_name)
        low, high = loss.target_range
        if np.isfinite(low) or np.isfinite(high):
            raise ValueError(
                f"loss {loss_name!r} needs targets in [{low:g}, {high:g}], not any real "
                "number; use 'mse' (or 'huber') for regression, or NNClassifier for classes"
            )
        return n_outputs, self.output_activation or "identity", loss

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> NNRegressor:
        """Train a new network on ``X`` and numeric ``y`` (one or several columns)."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> NNRegressor:
        """One epoch on ``X`` and ``y``."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _adopt(self, network: Network) -> None:
        self._y_1d = network.n_outputs == 1

    def predict(self, X: Any) -> np.ndarray:
        """The predicted target(s): shape ``(n_samples,)`` for one target column."""
        outputs = self._predict_outputs(X).astype(np.float64)
        return outputs[:, 0] if self._y_1d else outputs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
