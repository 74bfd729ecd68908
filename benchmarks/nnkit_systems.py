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


def vision_missing() -> str | None:
    """Why nnkit's convolution layers (the ``nnkit-vision`` plugin) cannot be used here,
    or None when they can."""
    if importlib.util.find_spec(VISION_PLUGIN) is None:
        return "not installed"
    try:
        importlib.import_module(VISION_PLUGIN)
    except Exception as error:  # an nnkit-vision written for another nnkit
        return f"installed but not importable ({type(error).__name__}: {error})"
    return None


def vision_available() -> bool:
    return vision_missing() is None


class NNKitCNN(NNKit):
    """W3's CNN from the ``nnkit-vision`` layers: images ``(n, 1, 28, 28)``, channels first."""

    name = "nnkit"

    @staticmethod
    def network(workload: Workload, seed: int | None = 0):
        import nnkit

        return nnkit.Network(
            [
                nnkit.layer("conv2d", filters=32, kernel_size=3, padding="same", activation="relu"),
                nnkit.layer("max_pool2d", pool_size=2),
                nnkit.layer("conv2d", filters=64, kernel_size=3, padding="same", activation="relu"),
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
