"""The data and network shapes every system is measured on."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

#: Samples per batch when the workloads measure inference.
INFERENCE_BATCH = 1024
#: The same for the convolutional network of W3, whose im2col columns would take 230 MB
#: for a batch of 1024 images; 256 images take 58 MB.
CNN_INFERENCE_BATCH = 256


@dataclass(frozen=True)
class Workload:
    """A classification task: data, layer widths, and how to train on it."""

    name: str
    X: np.ndarray  # (n_samples, n_features), or (n_samples, 1, 28, 28) for W3; float32
    y: np.ndarray  # integer class labels
    hidden: tuple[int, ...]  # dense widths (after the convolutions, for W3)
    n_classes: int
    batch_size: int
    epochs: int
    learning_rate: float = 0.01
    #: W3bn: a batch normalisation after each convolution, before its ReLU.
    batch_norm: bool = False

    @property
    def layer_sizes(self) -> list[int]:
        return [self.X.shape[1], *self.hidden, self.n_classes]

    def head(self, n_samples: int) -> Workload:
        """The same task on its first ``n_samples`` samples."""
        return replace(self, X=self.X[:n_samples], y=self.y[:n_samples])


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


def small_cnn(n_samples: int = 20_000, seed: int = 0) -> Workload:
    """W3: 20,000 synthetic 1x28x28 float32 images (standard normal pixels, labels from a
    random linear teacher), batch 64, one epoch, for the small CNN every W3 system builds:
    conv 32 3x3 same -> relu -> max_pool 2 -> conv 64 3x3 same -> relu -> max_pool 2 ->
    flatten -> dense 128 relu -> dense 10 softmax."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, 1, 28, 28), dtype=np.float32)
    teacher = rng.standard_normal((28 * 28, 10), dtype=np.float32)
    y = np.argmax(X.reshape(n_samples, -1) @ teacher, axis=1)
    return Workload("W3", X, y, (128,), 10, batch_size=64, epochs=1)


def small_cnn_batch_norm(n_samples: int = 20_000, seed: int = 0) -> Workload:
    """W3bn: W3's images and network with a batch normalisation after each convolution:
    conv 32 3x3 same -> batch_norm -> relu -> max_pool 2 -> conv 64 3x3 same ->
    batch_norm -> relu -> max_pool 2 -> flatten -> dense 128 relu -> dense 10 softmax.
    The normalisations are PyTorch's ``BatchNorm2d`` defaults (momentum 0.1 of the new
    batch, epsilon 1e-5, an unbiased running variance)."""
    return replace(small_cnn(n_samples, seed), name="W3bn", batch_norm=True)


#: The workloads by name, as ``--workloads`` and the baseline's requests give them.
BUILDERS = {"W1": mnist_like, "W2": digits, "W3": small_cnn, "W3bn": small_cnn_batch_norm}


def build(name: str, n_samples: int | None = None) -> Workload:
    """A workload by name (``W1``, ``W2``, ``W3``, ``W3bn``), with ``n_samples`` for all but
    W2: the same data in every process that asks, since each is generated from a fixed
    seed."""
    if name not in BUILDERS:
        raise ValueError(f"unknown workload {name!r}: expected {', '.join(BUILDERS)}")
    if name == "W2":
        return digits()
    return BUILDERS[name](n_samples) if n_samples else BUILDERS[name]()


def initial_weights(workload: Workload, seed: int = 1) -> list[np.ndarray]:
    """Glorot-uniform weights and zero biases, ``[W1, b1, ...]`` with ``W`` of shape
    ``(fan_out, fan_in)`` and ``b`` of shape ``(fan_out,)``, as nnkit holds them: the
    same start for every system in the correctness guard."""
    rng = np.random.default_rng(seed)
    arrays = []
    sizes = workload.layer_sizes
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6 / (fan_in + fan_out))
        arrays.append(rng.uniform(-limit, limit, (fan_out, fan_in)).astype(np.float32))
        arrays.append(np.zeros(fan_out, dtype=np.float32))
    return arrays
