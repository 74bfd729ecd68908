"""``python -m benchmarks.profile_sequences W4|W5``: where nnkit's time goes in W4 or W5.

Runs nnkit's training epoch (``--action train``, the default) or its prediction
(``--action predict``) of the workload at 1 thread under cProfile, after a warm-up, and
prints the functions that take the most time of their own, each with its share of the
total: the layers' forward and backward passes, the dense layers' products, the loss,
the optimiser's step. Beside it, the GEMM bound of the same work at 1 thread: what its
matrix products alone take. A function's own time counts the NumPy operations it calls
(they are not Python functions, so cProfile does not list them apart).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time
from typing import Any

from benchmarks.environment import reexec_without_blas_overrides

#: How many functions the summary lists.
TOP = 15

#: Where the summary's file names start: below these folders (the repository's,
#: a plugin's source folder, an installed package's).
ROOTS = ("/src/", "/site-packages/")


def location(path: str, line: int) -> str:
    """``path:line`` short enough for the summary: relative to the repository or to the
    folder the package is installed in."""
    repository = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if path.startswith(repository + os.sep):
        path = os.path.relpath(path, repository)
    for root in ROOTS:
        path = path.rsplit(root, 1)[-1]
    return f"{path}:{line}"


def profile(name: str, action: str = "train", n_sequences: int = 256) -> list[str]:
    """The summary lines for nnkit's ``action`` (``train`` or ``predict``) on the first
    ``n_sequences`` of workload ``name`` (W4 or W5), at 1 thread."""
    from benchmarks.measure import limited_threads
    from benchmarks.sequence_systems import GemmBoundSequence, NNKitSequence
    from benchmarks.sequence_workloads import build_sequence

    workload = build_sequence(name, n_sequences)
    system, bound = NNKitSequence(), GemmBoundSequence()
    warm_up = workload.head(min(2 * workload.batch_size, n_sequences))
    with limited_threads(1):
        system.train(warm_up)  # imports, first allocations, and a network to predict with
        bound.train(warm_up)
        job, bound_job = (
            (lambda: system.train(workload), lambda: bound.train(workload))
            if action == "train"
            else (lambda: system.predict(workload.X), lambda: bound.predict(workload.X))
        )
        started = time.perf_counter()
        bound_job()
        bound_seconds = time.perf_counter() - started
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        job()
        profiler.disable()
        seconds = time.perf_counter() - started
    tokens = workload.X.size
    lines = [
        f"{name} {action}, {n_sequences:,} sequences, 1 thread: nnkit {seconds:.2f} s "
        f"({tokens / seconds:,.0f} tokens/s",
        f"  under the profiler), its GEMM bound {bound_seconds:.2f} s "
        f"({tokens / bound_seconds:,.0f} tokens/s)",
        f"{'own s':>7}  {'share':>6}  function",
    ]
    stats: Any = pstats.Stats(profiler, stream=io.StringIO()).stats
    rows = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:TOP]
    for (path, line, function), (_, _, own, _, _) in rows:
        lines.append(f"{own:7.3f}  {own / seconds:6.1%}  {function} ({location(path, line)})")
    return lines


def positive(text: str) -> int:
    """A positive number of sequences, for argparse."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    reexec_without_blas_overrides("benchmarks.profile_sequences")
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.profile_sequences", description=__doc__
    )
    parser.add_argument("workload", choices=["W4", "W5"], help="which language model")
    parser.add_argument(
        "--action", choices=["train", "predict"], default="train",
        help="profile one training epoch (default) or the prediction of every sequence",
    )
    parser.add_argument(
        "--sequences", type=positive, default=256, help="how many sequences (default 256)"
    )
    args = parser.parse_args(argv)
    print("\n".join(profile(args.workload, args.action, args.sequences)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
