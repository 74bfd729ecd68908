"""A hand-written NumPy training loop: the workload's step with no framework around it.

It does the work nnkit's ``fit`` does for these workloads (gather the shuffled batch,
the forward pass, the batch's loss and accuracy, back-propagation, the SGD step) and
nothing else: no input checks, no callbacks, no history. Its distance to the GEMM
bound is what any NumPy implementation pays on this machine at this moment; nnkit's
distance to it is nnkit's own overhead.
"""

from __future__ import annotations

import numpy as np

from benchmarks.workloads import INFERENCE_BATCH, Workload, initial_weights


class _Scratch:
    """Flat blocks reused for every batch; the last, smaller batch takes a prefix."""

    def __init__(self) -> None:
        self.blocks: dict[str, np.ndarray] = {}

    def __call__(self, name: str, rows: int, columns: int) -> np.ndarray:
        block = self.blocks.get(name)
        if block is None or block.size < rows * columns:
            block = self.blocks[name] = np.empty(rows * columns, np.float32)
        return block[: rows * columns].reshape(rows, columns)

    def zeros(self, rows: int, columns: int) -> np.ndarray:
        """Zeros to compare against in ReLU (never written, so filled only once)."""
        block = self.blocks.get("zeros")
        if block is None or block.size < rows * columns:
            block = self.blocks["zeros"] = np.zeros(rows * columns, np.float32)
        return block[: rows * columns].reshape(rows, columns)


class NumpyLoop:
    name = "NumPy loop"

    def train(
        self,
        workload: Workload,
        seed: int = 0,
        weights: list[np.ndarray] | None = None,
        shuffle: bool = True,
    ) -> None:
        X, labels, m, rate = workload.X, workload.y, workload.batch_size, workload.learning_rate
        start_weights = initial_weights(workload, seed) if weights is None else weights
        self.W = [w.copy() for w in start_weights[0::2]]
        self.b = [b.copy() for b in start_weights[1::2]]
        W, b = self.W, self.b
        rng = np.random.default_rng(seed)
        scratch = _Scratch()
        ones = np.ones((m, 1), np.float32)
        dW, db = [np.empty_like(w) for w in W], [np.empty_like(v) for v in b]
        self.losses: list[float] = []
        for _ in range(workload.epochs):
            order = rng.permutation(len(X)) if shuffle else np.arange(len(X))
            for start in range(0, len(X), m):
                rows = order[start : start + m]
                k = len(rows)
                X_batch = X.take(rows, axis=0, out=scratch("X", k, X.shape[1]), mode="clip")
                Y = scratch("Y", workload.n_classes, k)  # one-hot, one column per sample
                Y.fill(0)
                Y[labels[rows], np.arange(k)] = 1
                A = self._forward(X_batch.T, scratch)
                log_output = np.log(np.maximum(A[-1], 1e-7))
                self.losses.append(-float(np.vdot(log_output, Y)) / k)
                self.accuracy = np.count_nonzero(A[-1].argmax(0) == labels[rows]) / k
                # dZ^L = (A^L - Y) / m; then per layer dW = dZ A^T, db = dZ 1 and
                # dZ^{l-1} = W^T dZ * relu'(Z^{l-1}); the SGD step once all are known.
                dZ = np.subtract(A[-1], Y, out=scratch("dZ", *Y.shape))
                dZ *= 1 / k
                for layer in range(len(W) - 1, -1, -1):
                    np.matmul(dZ, A[layer].T, out=dW[layer])
                    np.matmul(dZ, ones[:k], out=db[layer])
                    if layer:
                        dA = np.matmul(W[layer].T, dZ, out=scratch(f"dA{layer}", *A[layer].shape))
                        dZ = np.multiply(dA, A[layer] > 0, out=dA)
                for parameter, gradient in zip(W + b, dW + db):
                    gradient *= rate
                    parameter -= gradient

    def _forward(self, A0: np.ndarray, scratch: _Scratch) -> list[np.ndarray]:
        """``A^0`` (one column per sample), then ``Z = W A + b`` with ``A = relu(Z)``
        in place, and softmax on the last layer."""
        A = [A0]
        k = A0.shape[1]
        for layer, (W, b) in enumerate(zip(self.W, self.b)):
            Z = np.matmul(W, A[-1], out=scratch(f"Z{layer}", W.shape[0], k))
            Z += b
            if layer < len(self.W) - 1:
                np.maximum(Z, scratch.zeros(W.shape[0], k), out=Z)
            else:
                Z -= Z.max(axis=0, keepdims=True)
                np.exp(Z, out=Z)
                Z /= Z.sum(axis=0, keepdims=True)
            A.append(Z)
        return A

    def predict(self, X: np.ndarray) -> np.ndarray:
        outputs = np.empty((X.shape[0], self.W[-1].shape[0]), np.float32)
        scratch = _Scratch()
        for start in range(0, X.shape[0], INFERENCE_BATCH):
            batch = X[start : start + INFERENCE_BATCH]
            outputs[start : start + len(batch)] = self._forward(batch.T, scratch)[-1].T
        return outputs
