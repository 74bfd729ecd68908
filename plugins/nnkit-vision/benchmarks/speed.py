"""Training and inference speed of a small CNN, nnkit-vision beside PyTorch, at 1 thread.

The network is the W3 workload of nnkit's benchmark: 1x28x28 images, conv 32 3x3 same
relu, max_pool 2, conv 64 3x3 same relu, max_pool 2, flatten, dense 128 relu, dense 10
softmax, SGD, batches of 64. Run from an nnkit checkout with nnkit-vision installed::

    python plugins/nnkit-vision/benchmarks/speed.py [--samples 2560] [--rounds 5]

Rounds alternate between the systems, and each figure is the best round, so that a busy
spell of a shared machine slows both sides rather than one. Besides PyTorch (NCHW and
channels_last, when installed) it times the GEMM bound: only the matrix products of an
im2col design of the same step, on preallocated arrays.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

import nnkit

BATCH, INFERENCE_BATCH, CLASSES = 64, 1024, 10


def nnkit_network() -> nnkit.Network:
    layer = nnkit.layer
    return nnkit.Network(
        [
            layer("conv2d", filters=32, kernel_size=3, padding="same", activation="relu"),
            layer("max_pool2d", pool_size=2),
            layer("conv2d", filters=64, kernel_size=3, padding="same", activation="relu"),
            layer("max_pool2d", pool_size=2),
            layer("flatten"),
            nnkit.Dense(128, activation="relu"),
            nnkit.Dense(CLASSES, activation="softmax"),
        ],
        loss="cross_entropy",
        optimizer=nnkit.optimizer("sgd", learning_rate=0.01),
        seed=0,
    )


class NNKit:
    name = "nnkit-vision"

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        self.net = nnkit_network()
        self.X, self.y = X, y

    def train(self) -> None:
        self.net.fit(self.X, self.y, epochs=1, batch_size=BATCH, verbose=0)

    def predict(self) -> None:
        self.net.predict(self.X, batch_size=INFERENCE_BATCH)


class Torch:
    def __init__(self, X: np.ndarray, y: np.ndarray, channels_last: bool) -> None:
        import torch

        self.torch = torch
        torch.manual_seed(0)
        nn = torch.nn
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, CLASSES),
        )
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
        self.name = "PyTorch channels_last" if channels_last else "PyTorch NCHW"
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
            self.X = self.X.contiguous(memory_format=torch.channels_last)
        self.optimizer = torch.optim.SGD(self.net.parameters(), lr=0.01)
        self.loss = nn.CrossEntropyLoss()

    def train(self) -> None:
        order = self.torch.randperm(len(self.X))
        for start in range(0, len(self.X), BATCH):
            rows = order[start : start + BATCH]
            self.optimizer.zero_grad()
            self.loss(self.net(self.X[rows]), self.y[rows]).backward()
            self.optimizer.step()

    def predict(self) -> None:
        with self.torch.no_grad():
            for start in range(0, len(self.X), INFERENCE_BATCH):
                self.torch.softmax(self.net(self.X[start : start + INFERENCE_BATCH]), 1)


class GemmBound:
    """The matrix products of one im2col training step: forward, weight gradients, and
    input gradients (none for the first layer)."""

    name = "GEMM bound"

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        self.n = len(X)
        rng = np.random.default_rng(0)
        f32 = np.float32
        # (rows of W_col, columns of W_col = rows of X_col, columns of X_col)
        shapes = [(32, 9, 28 * 28 * BATCH), (64, 288, 14 * 14 * BATCH), (128, 3136, BATCH),
                  (CLASSES, 128, BATCH)]
        self.products = []
        for index, (rows, inner, cols) in enumerate(shapes):
            W = rng.normal(size=(rows, inner)).astype(f32)
            A = rng.normal(size=(inner, cols)).astype(f32)
            Z = np.empty((rows, cols), f32)
            self.products.append((W, A, Z, np.empty_like(W), np.empty_like(A), index > 0))

    def _forward(self) -> None:
        for W, A, Z, _, _, _ in self.products:
            np.matmul(W, A, out=Z)

    def train(self) -> None:
        for _ in range(0, self.n, BATCH):
            self._forward()
            for W, A, Z, dW, dA, needs_input in self.products:
                np.matmul(Z, A.T, out=dW)
                if needs_input:
                    np.matmul(W.T, Z, out=dA)

    def predict(self) -> None:
        for _ in range(0, self.n, BATCH):
            self._forward()


def best_rates(systems: list, rounds: int, n: int) -> dict[str, tuple[float, float]]:
    """Samples per second of each system, training and inferring, best of ``rounds``."""
    best = {system.name: [0.0, 0.0] for system in systems}
    for system in systems:  # warm up: first calls allocate
        system.train()
        system.predict()
    for _ in range(rounds):
        for system in systems:
            for slot, call in enumerate((system.train, system.predict)):
                start = time.perf_counter()
                call()
                rate = n / (time.perf_counter() - start)
                best[system.name][slot] = max(best[system.name][slot], rate)
    return {name: (train, infer) for name, (train, infer) in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=64 * 40)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.samples, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, CLASSES, size=args.samples)
    systems: list = [NNKit(X, y)]
    try:
        import torch

        torch.set_num_threads(args.threads)
        systems += [Torch(X, y, channels_last=False), Torch(X, y, channels_last=True)]
    except ImportError:
        print("PyTorch is not installed: nnkit-vision and the GEMM bound only")
    systems.append(GemmBound(X, y))
    with threadpool_limits(args.threads):
        rates = best_rates(systems, args.rounds, args.samples)
    ours_train, ours_infer = rates["nnkit-vision"]
    print(f"{'system':24} {'train/s':>9} {'infer/s':>9}   nnkit-vision's ratio (train, infer)")
    for name, (train, infer) in rates.items():
        ratios = f"{ours_train / train:5.2f} {ours_infer / infer:5.2f}"
        print(f"{name:24} {train:9.0f} {infer:9.0f}   {ratios}")


if __name__ == "__main__":
    main()
