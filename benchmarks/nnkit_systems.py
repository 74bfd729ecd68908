"""nnkit's own systems: the MLP of W1 and W2, and the CNN of W3.

They use only nnkit's public API, so that the same code also measures an earlier nnkit
installed elsewhere (the baseline, `benchmarks/baseline.py`).
"""

from __future__ import annotations

import importlib
import importlib.util

import numpy as np

from benchmarks.workloads import CNN_INFERENCE_BATCH, INFERENCE_BATCH, Workload

#: The plugin distribution whose layers W3's nnkit network is built from.
VISION_PLUGIN = "nnkit_vision"
#: The one whose ``batch_norm`` W3bn's network adds after each convolution.
EXTRAS_PLUGIN = "nnkit_extras"
#: ``batch_norm`` as PyTorch's ``BatchNorm2d()`` computes it (momentum 0.9 of the old
#: average is PyTorch's 0.1 of the new batch), so both systems do the same work.
BATCH_NORM_AS_PYTORCH = {"momentum": 0.9, "epsilon": 1e-5, "running_variance": "unbiased"}


class NNKit:
    name = "nnkit"

    @staticmethod
    def network(workload: Workload, seed: int | None = 0):
        """The workload's network: ReLU hidden layers, softmax output, plain SGD."""
        import nnkit

        return nnkit.Network(
            [nnkit.Dense(units, activation="relu") for units in workload.hidden]
            + [nnkit.Dense(workload.n_classes, activation="softmax")],
            loss="cross_entropy",
            optimizer=nnkit.optimizer("sgd", learning_rate=workload.learning_rate),
            seed=seed,
        )

    def train(self, workload: Workload, seed: int = 0) -> None:
        self.net = self.network(workload, seed)
        self.net.fit(
            workload.X,
            workload.y,
            epochs=workload.epochs,
            batch_size=workload.batch_size,
            verbose=0,
        )

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.net.predict(X, batch_size=INFERENCE_BATCH)


def plugin_missing(module: str) -> str | None:
    """Why the plugin ``module`` cannot be used here, or None when it can."""
    if importlib.util.find_spec(module) is None:
        return "not installed"
    try:
        importlib.import_module(module)
    except Exception as error:  # a plugin written for another nnkit
        return f"installed but not importable ({type(error).__name__}: {error})"
    return None


def vision_missing() -> str | None:
    """Why nnkit's convolution layers (the ``nnkit-vision`` plugin) cannot be used here,
    or None when they can."""
    return plugin_missing(VISION_PLUGIN)


def vision_available() -> bool:
    return vision_missing() is None


def extras_available() -> bool:
    """Whether ``batch_norm`` (the ``nnkit-extras`` plugin) can be used here: W3bn needs it."""
    return plugin_missing(EXTRAS_PLUGIN) is None


class NNKitCNN(NNKit):
    """W3's CNN from the ``nnkit-vision`` layers: images ``(n, 1, 28, 28)``, channels first;
    for W3bn with nnkit-extras' ``batch_norm`` between each convolution and its ReLU."""

    name = "nnkit"

    @staticmethod
    def convolution(filters: int, batch_norm: bool) -> list:
        """A 3x3 convolution and its ReLU, with a batch normalisation between them."""
        import nnkit

        if not batch_norm:
            return [
                nnkit.layer(
                    "conv2d", filters=filters, kernel_size=3, padding="same", activation="relu"
                )
            ]
        return [
            nnkit.layer("conv2d", filters=filters, kernel_size=3, padding="same"),
            nnkit.layer("batch_norm", **BATCH_NORM_AS_PYTORCH),
            nnkit.layer("activation", activation="relu"),
        ]

    @staticmethod
    def network(workload: Workload, seed: int | None = 0):
        import nnkit

        return nnkit.Network(
            [
                *NNKitCNN.convolution(32, workload.batch_norm),
                nnkit.layer("max_pool2d", pool_size=2),
                *NNKitCNN.convolution(64, workload.batch_norm),
                nnkit.layer("max_pool2d", pool_size=2),
                nnkit.layer("flatten"),
                *(nnkit.Dense(units, activation="relu") for units in workload.hidden),
                nnkit.Dense(workload.n_classes, activation="softmax"),
            ],
            loss="cross_entropy",
            optimizer=nnkit.optimizer("sgd", learning_rate=workload.learning_rate),
            seed=seed,
        )

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.net.predict(X, batch_size=CNN_INFERENCE_BATCH)


def guard_loss(workload: Workload) -> float:
    """nnkit's loss on ``workload`` after one unshuffled epoch from the guard's weights
    (`workloads.initial_weights`): the correctness guard's figure (`benchmarks/guard.py`)."""
    from benchmarks.workloads import initial_weights

    net = NNKit.network(workload).build(workload.X.shape[1])
    # In the shapes this nnkit holds them: a baseline before 0.3 keeps biases as (n, 1).
    held = net.get_weights()
    net.set_weights([np.reshape(a, w.shape) for a, w in zip(initial_weights(workload), held)])
    net.fit(
        workload.X, workload.y, epochs=1, batch_size=workload.batch_size, shuffle=False, verbose=0
    )
    return float(net.evaluate(workload.X, workload.y)["loss"])


def cnn_guard_loss(workload: Workload, weights: list[np.ndarray] | None = None) -> float:
    """nnkit's loss on W3's or W3bn's ``workload`` after one unshuffled epoch from
    ``weights`` in PyTorch's layout and order (its ``model.parameters()``: a kernel
    ``(filters, channels, 3, 3)`` and bias per convolution, a weight and bias per batch
    normalisation, ``(out, in)`` and bias per linear layer), the order and, but for
    ``batch_norm``'s ``(channels, 1)`` columns, the shapes nnkit holds them in; from
    nnkit's own start when None. The loss is evaluated as at inference, with the running
    statistics the epoch left."""
    net = NNKitCNN.network(workload).build(workload.X.shape[1:])
    if weights is not None:
        held = net.get_weights()
        net.set_weights([np.reshape(a, w.shape) for a, w in zip(weights, held, strict=True)])
    net.fit(
        workload.X, workload.y, epochs=1, batch_size=workload.batch_size, shuffle=False, verbose=0
    )
    return float(net.evaluate(workload.X, workload.y)["loss"])
