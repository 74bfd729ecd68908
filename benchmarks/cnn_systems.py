"""W3's systems besides nnkit: PyTorch in both memory formats, the NumPy CNN, the GEMM bound.

Each builds conv 32 3x3 same -> relu -> max_pool 2 -> conv 64 3x3 same -> relu ->
max_pool 2 -> flatten -> dense 128 relu -> dense 10 softmax and trains it with plain SGD
on the same images, in the same batches, as every other system. W3bn adds a batch
normalisation after each convolution; only nnkit and PyTorch build that network.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.nnkit_systems import (
    EXTRAS_PLUGIN,
    VISION_PLUGIN,
    NNKitCNN,
    plugin_missing,
    vision_missing,
)
from benchmarks.numpy_cnn import NumpyCNN
from benchmarks.systems import PyTorch
from benchmarks.workloads import CNN_INFERENCE_BATCH, Workload


class PyTorchCNN(PyTorch):
    """The network as ``nn.Sequential`` with ``torch.optim.SGD``, in PyTorch's default
    memory format (NCHW) or in ``channels_last``, which its CPU convolutions prefer."""

    inference_batch = CNN_INFERENCE_BATCH

    def __init__(self, channels_last: bool = False) -> None:
        super().__init__()
        torch = self.torch
        self.name = "pytorch channels_last" if channels_last else "pytorch NCHW"
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def model(self, workload: Workload):
        nn = self.torch.nn
        channels, height, width = workload.X.shape[1:]

        def normalised(filters: int) -> list:
            """W3bn's batch normalisation after a convolution, with PyTorch's defaults."""
            return [nn.BatchNorm2d(filters)] if workload.batch_norm else []

        return nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1),
            *normalised(32),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            *normalised(64),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * (height // 4) * (width // 4), workload.hidden[0]),
            nn.ReLU(),
            nn.Linear(workload.hidden[0], workload.n_classes),
        ).to(memory_format=self.memory_format)

    def batch(self, tensor: Any) -> Any:
        """A batch in this system's memory format."""
        return tensor.contiguous(memory_format=self.memory_format)


class GemmBoundCNN:
    """Only the matrix products of an im2col design of the network, on preallocated
    arrays: per training step the four forward products (two convolutions as
    ``cols @ K``, two dense layers), the four weight gradients, and the three
    back-propagated gradients a network needs (none into the images). No im2col NumPy
    implementation of the same step can take less time."""

    name = "GEMM bound"

    @staticmethod
    def shapes(workload: Workload, m: int) -> list[tuple[int, int, int]]:
        """``(rows, inner, columns)`` of each forward product for a batch of ``m``."""
        channels, height, width = workload.X.shape[1:]
        pixels1, pixels2 = height * width, height * width // 4
        flat = 64 * pixels2 // 4
        return [
            (m * pixels1, 9 * channels, 32),
            (m * pixels2, 9 * 32, 64),
            (m, flat, workload.hidden[0]),
            (m, workload.hidden[0], workload.n_classes),
        ]

    def train(self, workload: Workload, seed: int = 0) -> None:
        self.workload = workload
        products = self._arrays(workload.batch_size, seed)
        steps = -(-len(workload.X) // workload.batch_size) * workload.epochs
        for _ in range(steps):
            for A, K, Z in products:
                np.matmul(A, K, out=Z)
            # Z stands in for dZ, and dA for the gradient of the columns (or inputs).
            for index, (A, K, Z) in enumerate(reversed(products)):
                np.matmul(A.T, Z, out=self.dK[-1 - index])
                if index < len(products) - 1:
                    np.matmul(Z, K.T, out=self.dA[-1 - index])

    def _arrays(self, m: int, seed: int = 0) -> list[tuple[np.ndarray, ...]]:
        """``(A, K, Z)`` of every product for a batch of ``m``, and the gradients' arrays."""
        rng = np.random.default_rng(seed)
        shapes = self.shapes(self.workload, m)
        products = [
            (
                np.ones((rows, inner), np.float32),  # im2col columns, or the layer's input
                rng.standard_normal((inner, columns), dtype=np.float32),
                np.empty((rows, columns), np.float32),
            )
            for rows, inner, columns in shapes
        ]
        self.dK = [np.empty_like(K) for _, K, _ in products]
        self.dA = [np.empty_like(A) for A, _, _ in products]
        return products

    def predict(self, X: np.ndarray) -> np.ndarray:
        products = self._arrays(CNN_INFERENCE_BATCH)
        Z = products[-1][2]
        for _ in range(-(-len(X) // CNN_INFERENCE_BATCH)):
            for A, K, Z in products:
                np.matmul(A, K, out=Z)
        return Z


def available_cnn_systems(batch_norm: bool = False) -> tuple[list[Any], list[str]]:
    """W3's systems that can run here (W3bn's with ``batch_norm``: nnkit and PyTorch, the
    others have no batch normalisation), and notes on those that cannot."""
    name = "W3bn" if batch_norm else "W3"
    systems: list[Any] = []
    notes = []
    needed = [(f"convolution layers ({VISION_PLUGIN}) are", vision_missing(), "nnkit-vision")]
    if batch_norm:
        needed.append((f"batch_norm ({EXTRAS_PLUGIN}) is", plugin_missing(EXTRAS_PLUGIN),
                       "nnkit-extras"))  # fmt: skip
    missing = [
        f"{name}: nnkit's {what} {why}, so nnkit was skipped: pip install ./plugins/{folder}"
        for what, why, folder in needed
        if why is not None
    ]
    if missing:
        notes += missing
    else:
        systems.append(NNKitCNN())
    if not batch_norm:
        systems += [NumpyCNN(), GemmBoundCNN()]
    try:
        systems += [PyTorchCNN(), PyTorchCNN(channels_last=True)]
    except ImportError:
        notes.append(f"{name}: PyTorch is not installed, so it was skipped: pip install torch")
    return systems, notes
