"""A hand-written NumPy training loop: the workload's step with no framework around it.

It does the work nnkit's ``fit`` does for these workloads (gather the shuffled batch,
the forward pass, the batch's loss and accuracy, back-propagation, the SGD step) and
nothing else: no input checks, no callbacks, no history. Its scratch arrays come from
nnkit's `BufferCache`, which only reuses memory from one batch to the next. Its distance to the GEMM
bound is what any NumPy implementation pays on this machine at this moment; nnkit's
distance to it is nnkit's own overhead.
"""

from __future__ import annotations

import numpy as np

from benchmarks.workloads import INFERENCE_BATCH, Workload, initial_weights
from nnkit.interfaces.buffers import BufferCache

F32 = np.dtype(np.float32)


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
        self.b = [b.reshape(-1, 1).copy() for b in start_weights[1::2]]  # columns (n, 1)
        W, b = self.W, self.b
        rng = np.random.default_rng(seed)
        scratch = BufferCache()
        ones = np.ones((m, 1), np.float32)
        dW, db = [np.empty_like(w) for w in W], [np.empty_like(v) for v in b]
        self.losses: list[float] = []
        for _ in range(workload.epochs):
            order = rng.permutation(len(X)) if shuffle else np.arange(len(X))
            for start in range(0, len(X), m):
                rows = order[start : start + m]
                k = len(rows)
                X_batch = scratch.get("X", (k, X.shape[1]), F32)
                X.take(rows, axis=0, out=X_batch, mode="clip")
                Y = scratch.get("Y", (workload.n_classes, k), F32)  # one-hot, one column per sample
                Y.fill(0)
                Y[labels[rows], np.arange(k)] = 1
                A = self._forward(X_batch.T, scratch)
                log_output = np.log(np.maximum(A[-1], 1e-7))
                self.losses.append(-float(np.vdot(log_output, Y)) / k)
                self.accuracy = np.count_nonzero(A[-1].argmax(0) == labels[rows]) / k
                # dZ^L = (A^L - Y) / m; then per layer dW = dZ A^T, db = dZ 1 and
                # dZ^{l-1} = W^T dZ * relu'(Z^{l-1}); the SGD step once all are known.
                dZ = np.subtract(A[-1], Y, out=scratch.get("dZ", Y.shape, F32))
                dZ *= 1 / k
                for layer in range(len(W) - 1, -1, -1):
                    np.matmul(dZ, A[layer].T, out=dW[layer])
                    np.matmul(dZ, ones[:k], out=db[layer])
                    if layer:
                        dA = scratch.get(f"dA{layer}", A[layer].shape, F32)
                        np.matmul(W[layer].T, dZ, out=dA)
                        dZ = np.multiply(dA, A[layer] > 0, out=dA)
                for parameter, gradient in zip(W + b, dW + db):
                    gradient *= rate
                    parameter -= gradient

    def _forward(self, A0: np.ndarray, scratch: BufferCache) -> list[np.ndarray]:
        """``A^0`` (one column per sample), then ``Z = W A + b`` with ``A = relu(Z)``
        in place, and softmax on the last layer."""
        A = [A0]
        k = A0.shape[1]
        for layer, (W, b) in enumerate(zip(self.W, self.b)):
            Z = np.matmul(W, A[-1], out=scratch.get(f"Z{layer}", (W.shape[0], k), F32))
            Z += b
            if layer < len(self.W) - 1:
                np.maximum(Z, scratch.filled("zeros", Z.shape, F32, 0), out=Z)
            else:
                Z -= Z.max(axis=0, keepdims=True)
                np.exp(Z, out=Z)
                Z /= Z.sum(axis=0, keepdims=True)
            A.append(Z)
        return A

    def predict(self, X: np.ndarray) -> np.ndarray:
        outputs = np.empty((X.shape[0], self.W[-1].shape[0]), np.float32)
        scratch = BufferCache()
        for start in range(0, X.shape[0], INFERENCE_BATCH):
            batch = X[start : start + INFERENCE_BATCH]
            outputs[start : start + len(batch)] = self._forward(batch.T, scratch)[-1].T
        return outputs
