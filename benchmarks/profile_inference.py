"""``python -m benchmarks.profile_inference``: where W1 prediction spends its time.

Builds W1's inference up one step at a time, by hand, on nnkit's trained weights: the
three products against weights stored transposed (the GEMM bound), against ``W.T`` views
(as nnkit multiplies), then adding the biases, ReLU, the softmax and the copy into the
output, and finally nnkit's own ``Network.forward`` loop and ``Network.predict``. Every
stage runs once per round, in rotating order, at 1 thread; each line's median minus the
previous line's is what that step costs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from benchmarks.environment import reexec_without_blas_overrides
from benchmarks.stages import profile_arguments, stage_lines, time_stages

#: Samples per batch, as the benchmark predicts.
BATCH = 1024


def stages(net, X: np.ndarray) -> tuple[dict[str, Callable[[], object]], np.ndarray]:
    """Each stage's inference over ``X``, by name, in the order the table prints them,
    and the array the stages from the copy on write their outputs into."""
    from nnkit.interfaces.workspace import Workspace

    dense = net.layers
    weights = [layer.params["W"] for layer in dense]
    transposed = [np.ascontiguousarray(W.T) for W in weights]
    biases = [layer.params["b"] for layer in dense]  # (units,): added to each row
    buffers = [np.empty((BATCH, W.shape[0]), X.dtype) for W in weights]
    zeros = [np.zeros((BATCH, W.shape[0]), X.dtype) for W in weights]
    outputs = np.empty((len(X), weights[-1].shape[0]), X.dtype)
    workspace = Workspace()

    def by_hand(steps: int, copied_weights: bool = False) -> None:
        for start in range(0, len(X), BATCH):
            A = X[start : start + BATCH]
            m = len(A)
            for index, W in enumerate(weights):
                right = transposed[index] if copied_weights else W.T
                Z = np.matmul(A, right, out=buffers[index][:m])
                if steps >= 1:
                    Z += biases[index]
                if steps >= 2 and index < len(weights) - 1:
                    np.maximum(Z, zeros[index][:m], out=Z)
                A = Z
            if steps >= 3:  # softmax over each row, in Fortran order as nnkit computes it
                rows = np.asfortranarray(A)
                rows -= rows.max(axis=-1, keepdims=True)
                np.exp(rows, out=rows)
                rows /= rows.sum(axis=-1, keepdims=True)
                A[...] = rows
            if steps >= 4:
                outputs[start : start + m] = A

    def network_forward() -> None:
        for start in range(0, len(X), BATCH):
            outputs[start : start + BATCH] = net.forward(X[start : start + BATCH], workspace)

    jobs = {
        "products, weights transposed (the bound)": lambda: by_hand(0, True),
        "products, W.T views (as nnkit)": lambda: by_hand(0),
        "+ biases": lambda: by_hand(1),
        "+ ReLU": lambda: by_hand(2),
        "+ softmax": lambda: by_hand(3),
        "+ copy into the output": lambda: by_hand(4),
        "nnkit Network.forward per batch": network_forward,
        "nnkit Network.predict": lambda: net.predict(X, batch_size=BATCH),
    }
    return jobs, outputs


def main(argv: list[str] | None = None) -> int:
    reexec_without_blas_overrides("benchmarks.profile_inference")
    args = profile_arguments("benchmarks.profile_inference", __doc__, argv)

    from benchmarks.measure import limited_threads, median
    from benchmarks.nnkit_systems import NNKit
    from benchmarks.workloads import mnist_like

    workload = mnist_like(args.samples)
    system = NNKit()
    with limited_threads(1):
        system.train(workload.head(min(2_048, args.samples)))
        jobs, _ = stages(system.net, workload.X)
        for job in jobs.values():  # warm-up: first allocations, page faults
            job()
    times = time_stages(jobs, args.rounds)
    print(f"W1 inference, {args.samples:,} samples, batch {BATCH}, 1 thread, "
          f"median of {args.rounds} rounds:")
    print("\n".join(stage_lines(times, median)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
