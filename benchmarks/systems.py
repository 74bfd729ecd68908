"""The systems under comparison, each behind the same three calls.

``train(workload)`` runs the workload's epochs from a fresh network; ``predict(X)``
returns class probabilities from the trained network. Every system sees the same
float32 data and the same hyper-parameters: plain SGD (no momentum), the same learning
rate and batch size, no regularisation.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from benchmarks.nnkit_systems import NNKit
from benchmarks.numpy_loop import NumpyLoop
from benchmarks.workloads import INFERENCE_BATCH, Workload


class ScikitLearn:
    name = "scikit-learn"

    def train(self, workload: Workload, seed: int = 0) -> None:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        self.model = MLPClassifier(
            hidden_layer_sizes=workload.hidden,
            activation="relu",
            solver="sgd",
            learning_rate_init=workload.learning_rate,
            momentum=0.0,
            nesterovs_momentum=False,
            alpha=0.0,
            batch_size=workload.batch_size,
            max_iter=workload.epochs,
            shuffle=True,
            tol=0.0,
            n_iter_no_change=workload.epochs + 1,
            random_state=seed,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model.fit(workload.X, workload.y)

    def predict(self, X: np.ndarray) -> np.ndarray:
        # scikit-learn predicts a whole array at once; feed it the same batches.
        return np.concatenate(
            [
                self.model.predict_proba(X[start : start + INFERENCE_BATCH])
                for start in range(0, len(X), INFERENCE_BATCH)
            ]
        )


class PyTorch:
    name = "pytorch"
    #: Samples per inference batch.
    inference_batch = INFERENCE_BATCH

    def __init__(self) -> None:
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        self.torch = torch

    def model(self, workload: Workload):
        """The workload's network: ``Linear`` layers with ReLU between them."""
        torch = self.torch
        layers: list[Any] = []
        sizes = workload.layer_sizes
        for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(torch.nn.Linear(fan_in, fan_out))
            if index < len(sizes) - 2:
                layers.append(torch.nn.ReLU())
        return torch.nn.Sequential(*layers)

    def train(self, workload: Workload, seed: int = 0) -> None:
        torch = self.torch
        torch.manual_seed(seed)
        self.net = self.model(workload)
        optimizer = torch.optim.SGD(self.net.parameters(), lr=workload.learning_rate)
        loss_function = torch.nn.CrossEntropyLoss()
        X, y = torch.from_numpy(workload.X), torch.from_numpy(workload.y.astype(np.int64))
        generator = torch.Generator().manual_seed(seed)
        for _ in range(workload.epochs):
            order = torch.randperm(len(X), generator=generator)
            for start in range(0, len(X), workload.batch_size):
                rows = order[start : start + workload.batch_size]
                optimizer.zero_grad()
                loss = loss_function(self.net(self.batch(X[rows])), y[rows])
                loss.backward()
                optimizer.step()

    def batch(self, tensor: Any) -> Any:
        """A batch as the network takes it (as it is, here)."""
        return tensor

    def predict(self, X: np.ndarray) -> np.ndarray:
        torch, step = self.torch, self.inference_batch
        with torch.no_grad():
            tensor = torch.from_numpy(X)
            return np.concatenate(
                [
                    torch.softmax(self.net(self.batch(tensor[start : start + step])), 1).numpy()
                    for start in range(0, len(X), step)
                ]
            )


class GemmBound:
    """Only the matrix products one training step needs, on preallocated arrays:
    ``L`` forward products, ``L`` weight gradients, and ``L - 1`` back-propagated
    gradients. No NumPy implementation of the same step can take less time."""

    name = "GEMM bound"

    def train(self, workload: Workload, seed: int = 0) -> None:
        sizes, m = workload.layer_sizes, workload.batch_size
        rng = np.random.default_rng(seed)
        W = [rng.standard_normal((o, i), dtype=np.float32) for i, o in zip(sizes[:-1], sizes[1:])]
        A = [np.ones((s, m), dtype=np.float32) for s in sizes]  # activations, one column each
        dZ = [np.ones((s, m), dtype=np.float32) for s in sizes[1:]]
        dW = [np.empty_like(w) for w in W]
        dA = [np.empty((s, m), dtype=np.float32) for s in sizes[1:-1]]
        steps = -(-len(workload.X) // m) * workload.epochs
        for _ in range(steps):
            for layer, w in enumerate(W):
                np.matmul(w, A[layer], out=A[layer + 1])
            for layer in range(len(W) - 1, -1, -1):
                np.matmul(dZ[layer], A[layer].T, out=dW[layer])
                if layer:
                    np.matmul(W[layer].T, dZ[layer], out=dA[layer - 1])
        self.W = W
        # Stored transposed and contiguous for predict, outside its timing.
        self.W_rows = [np.ascontiguousarray(w.T) for w in W]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The forward products, one row per sample (``A W^T``) against weights stored
        transposed and contiguous: the fastest of the layouts on OpenBLAS, a few percent
        ahead of ``A W.T`` through a view and of ``W A`` in columns."""
        weights = self.W_rows
        outputs = None
        buffers = None
        for start in range(0, len(X), INFERENCE_BATCH):
            batch = X[start : start + INFERENCE_BATCH]
            if buffers is None or batch.shape[0] != buffers[0].shape[0]:
                buffers = [np.empty((batch.shape[0], w.shape[1]), np.float32) for w in weights]
            A = batch
            for w, out in zip(weights, buffers):
                A = np.matmul(A, w, out=out)
            outputs = A
        return outputs


def available_systems() -> tuple[list[Any], list[str]]:
    """The systems that can run here, and notes on those that cannot."""
    systems: list[Any] = [NNKit(), NumpyLoop(), GemmBound()]
    notes = []
    try:
        systems.append(ScikitLearn())
        import sklearn  # noqa: F401
    except ImportError:
        systems.pop()
        notes.append("scikit-learn is not installed: pip install -e '.[bench]'")
    try:
        systems.append(PyTorch())
    except ImportError:
        notes.append("PyTorch is not installed, so it was skipped: pip install torch")
    return systems, notes
