"""``python -m benchmarks.profile_loop``: where a W1 epoch of the NumPy loop spends its time.

Times every line of the hand-written loop (`benchmarks/numpy_loop.py`) with
line_profiler, installed by ``pip install -e ".[bench]"``: the matrix products against
the element-wise work that keeps any NumPy code from the GEMM bound. Timing each line
adds a little to each, so read the shares rather than the totals.
"""

from __future__ import annotations

import argparse

from benchmarks.environment import reexec_without_blas_overrides


def main(argv: list[str] | None = None) -> int:
    reexec_without_blas_overrides("benchmarks.profile_loop")
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_loop", description=__doc__)
    parser.add_argument("--samples", type=int, default=60_000, help="W1 samples (default 60000)")
    args = parser.parse_args(argv)

    from line_profiler import LineProfiler

    from benchmarks.numpy_loop import NumpyLoop
    from benchmarks.workloads import mnist_like

    workload = mnist_like(args.samples)
    NumpyLoop().train(mnist_like(1_024))  # warm-up: imports, first allocations
    profiler = LineProfiler(NumpyLoop.train, NumpyLoop._forward)
    profiler.runcall(NumpyLoop().train, workload)
    profiler.print_stats(output_unit=1e-3, stripzeros=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
