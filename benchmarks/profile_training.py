"""``python -m benchmarks.profile_training``: where a W1 training epoch spends its time.

Builds the hand-written training step (`benchmarks/numpy_loop.py`) up one piece at a
time, each stage a whole epoch at 1 thread: the matrix products alone (in the loop's
arrays, on a batch that never leaves the cache, as the GEMM bound multiplies), then
gathering the shuffled batches, the biases and their gradients, ReLU and its
derivative, the softmax with the loss, accuracy and output gradient, and the SGD step,
which completes the loop. The GEMM bound, the NumPy loop itself and nnkit's ``fit``
run alongside. Every stage runs once per round, in rotating order, and each line shows
its fastest round, the one the machine's other tenants disturbed least (the medians of
neighbouring stages drift apart by more than a piece costs); its difference from the
previous line is what that piece costs in place, between the products, where a line
profiler's timings of single lines would not see the caches it disturbs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from benchmarks.stages import profile_w1_training, stage_lines
from benchmarks.workloads import Workload
from nnkit.interfaces.buffers import BufferCache

F32 = np.dtype(np.float32)

#: The pieces of a training step, in the order the stages add them.
PIECES = (
    "gathering the shuffled batch",
    "biases and their gradients",
    "ReLU and its derivative",
    "softmax, loss, accuracy, dZ",
    "the SGD step",
)


def train_by_hand(
    workload: Workload, weights: list[np.ndarray], pieces: int, seed: int = 0
) -> list[np.ndarray]:
    """The NumPy loop's training with only the first ``pieces`` of `PIECES` switched on
    (all of them: the loop's own step, batch for batch); ``[W1, b1, ...]`` after it.

    Without the gather every step multiplies the first batch, always in cache, as the
    GEMM bound does; without the output's gradient, a fixed one.
    """
    X, labels, m, rate = workload.X, workload.y, workload.batch_size, workload.learning_rate
    gather, biases, relu, output, sgd = (pieces > index for index in range(len(PIECES)))
    W = [w.copy() for w in weights[0::2]]
    b = [v.reshape(-1, 1).copy() for v in weights[1::2]]  # columns (n, 1)
    dW, db = [np.empty_like(w) for w in W], [np.empty_like(v) for v in b]
    scratch = BufferCache()
    ones = np.ones((m, 1), F32)
    first_batch = np.ascontiguousarray(X[:m])
    fixed_gradient = np.full((workload.n_classes, m), 1e-3, F32)
    rng = np.random.default_rng(seed)
    scores = []  # each batch's loss and accuracy, kept as the loop keeps its losses
    for _ in range(workload.epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), m):
            rows = order[start : start + m]
            k = len(rows)
            X_batch = first_batch[:k]
            if gather:
                X_batch = scratch.get("X", (k, X.shape[1]), F32)
                X.take(rows, axis=0, out=X_batch, mode="clip")
            A = [X_batch.T]
            for layer, w in enumerate(W):  # Z = W A (+ b), then A = relu(Z) or softmax(Z)
                Z = np.matmul(w, A[-1], out=scratch.get(f"Z{layer}", (w.shape[0], k), F32))
                if biases:
                    Z += b[layer]
                if layer < len(W) - 1:
                    if relu:
                        np.maximum(Z, scratch.filled("zeros", Z.shape, F32, 0), out=Z)
                elif output:
                    Z -= Z.max(axis=0, keepdims=True)
                    np.exp(Z, out=Z)
                    Z /= Z.sum(axis=0, keepdims=True)
                A.append(Z)
            dZ = fixed_gradient[:, :k]
            if output:  # one-hot targets, the batch's loss and accuracy, dZ^L = (A^L - Y) / m
                Y = scratch.get("Y", (workload.n_classes, k), F32)
                Y.fill(0)
                Y[labels[rows], np.arange(k)] = 1
                loss = -float(np.vdot(np.log(np.maximum(A[-1], 1e-7)), Y)) / k
                scores.append((loss, np.count_nonzero(A[-1].argmax(0) == labels[rows]) / k))
                dZ = np.subtract(A[-1], Y, out=scratch.get("dZ", Y.shape, F32))
                dZ *= 1 / k
            for layer in range(len(W) - 1, -1, -1):  # dW = dZ A^T, db = dZ 1, W^T dZ * relu'
                np.matmul(dZ, A[layer].T, out=dW[layer])
                if biases:
                    np.matmul(dZ, ones[:k], out=db[layer])
                if layer:
                    dA = scratch.get(f"dA{layer}", A[layer].shape, F32)
                    dZ = np.matmul(W[layer].T, dZ, out=dA)
                    if relu:
                        np.multiply(dA, A[layer] > 0, out=dA)
            if sgd:
                for parameter, gradient in zip(W + b, dW + db):
                    gradient *= rate
                    parameter -= gradient
    return [array for pair in zip(W, (v.ravel() for v in b)) for array in pair]  # b as (n,)


def stages(workload: Workload) -> dict[str, Callable[[], object]]:
    """Each stage's epoch over ``workload``, by name, in the order the table prints them."""
    from benchmarks.nnkit_systems import NNKit
    from benchmarks.numpy_loop import NumpyLoop
    from benchmarks.systems import GemmBound
    from benchmarks.workloads import initial_weights

    weights = initial_weights(workload)
    jobs: dict[str, Callable[[], object]] = {
        "GEMM bound": lambda: GemmBound().train(workload),
        "products in the loop's arrays": partial(train_by_hand, workload, weights, 0),
    }
    for count, piece in enumerate(PIECES, start=1):
        jobs[f"+ {piece}"] = partial(train_by_hand, workload, weights, count)
    jobs["NumPy loop"] = lambda: NumpyLoop().train(workload, weights=weights)
    jobs["nnkit fit"] = lambda: NNKit().train(workload)
    return jobs


def main(argv: list[str] | None = None) -> int:
    return profile_w1_training(
        "benchmarks.profile_training",
        __doc__,
        argv,
        stages,
        lambda times: stage_lines(times, min, adds=lambda name: name.startswith("+")),
    )


if __name__ == "__main__":
    raise SystemExit(main())
