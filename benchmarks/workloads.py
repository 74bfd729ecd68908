"""The data and network shapes every system is measured on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Samples per batch when the workloads measure inference.
INFERENCE_BATCH = 1024


@dataclass(frozen=True)
class Workload:
    """A classification task: data, layer widths, and how to train on it."""

    name: str
    X: np.ndarray  # (n_samples, n_features), float32
    y: np.ndarray  # integer class labels
    hidden: tuple[int, ...]
    n_classes: int
    batch_size: int
    epochs: int
    learning_rate: float = 0.01

    @property
    def layer_sizes(self) -> list[int]:
        return [self.X.shape[1], *self.hidden, self.n_classes]


def mnist_like(n_samples: int = 60_000, seed: int = 0) -> Workload:
    """W1: 60,000 x 784 float32 standard-normal features, labels from a random linear
    teacher; 784-256-128-10, batch 128, one epoch."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, 784), dtype=np.float32)
    teacher = rng.standard_normal((784, 10), dtype=np.float32)
    y = np.argmax(X @ teacher, axis=1)
    return Workload("W1", X, y, (256, 128), 10, batch_size=128, epochs=1)


def digits() -> Workload:
    """W2: nnkit's bundled digits, 64-32-10, batch 32, 50 epochs."""
    import nnkit

    X, y = nnkit.datasets.load_digits()
    return Workload("W2", X.astype(np.float32), y, (32,), 10, batch_size=32, epochs=50)


def initial_weights(workload: Workload, seed: int = 1) -> list[np.ndarray]:
    """Glorot-uniform weights and zero biases, ``[W1, b1, ...]`` with ``W`` of shape
    ``(fan_out, fan_in)``: the same start for every system in the correctness guard."""
    rng = np.random.default_rng(seed)
    arrays = []
    sizes = workload.layer_sizes
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6 / (fan_in + fan_out))
        arrays.append(rng.uniform(-limit, limit, (fan_out, fan_in)).astype(np.float32))
        arrays.append(np.zeros((fan_out, 1), dtype=np.float32))
    return arrays
