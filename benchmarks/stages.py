"""The profiles' shared machinery: a computation timed stage by stage at 1 thread, each
stage's time set beside the one before it and beside the bound the first stage is."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from benchmarks.environment import reexec_without_blas_overrides
from benchmarks.measure import limited_threads, rotated, timed

if TYPE_CHECKING:
    from benchmarks.workloads import Workload


def profile_arguments(module: str, description: str | None, argv: list[str] | None):
    """A profile's command line: ``--samples`` of W1 and timed ``--rounds``."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument("--samples", type=int, default=60_000, help="W1 samples (default 60000)")
    parser.add_argument("--rounds", type=int, default=11, help="timed rounds (default 11)")
    return parser.parse_args(argv)


def profile_w1_training(
    module: str,
    description: str | None,
    argv: list[str] | None,
    stages: Callable[[Workload], dict[str, Callable[[], object]]],
    lines: Callable[[dict[str, list[float]]], list[str]],
) -> int:
    """A W1 training profile's ``main``: the ``stages`` of W1 (``--samples`` of it) warmed
    up on a few samples, timed for ``--rounds`` at 1 thread, and printed by ``lines``."""
    reexec_without_blas_overrides(module)
    args = profile_arguments(module, description, argv)

    from benchmarks.workloads import mnist_like

    workload = mnist_like(args.samples)
    with limited_threads(1):
        for job in stages(workload.head(min(2_048, args.samples))).values():
            job()  # warm-up: imports, first allocations
    times = time_stages(stages(workload), args.rounds)
    print(f"W1 training, {args.samples:,} samples, batch {workload.batch_size}, 1 thread, "
          f"fastest of {args.rounds} rounds:")
    print("\n".join(lines(times)))
    return 0


def time_stages(jobs: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Seconds of each job in every round, at 1 thread. Each round runs every job once,
    in an order rotated from round to round, so that no stage always meets the machine
    first or last."""
    times: dict[str, list[float]] = {name: [] for name in jobs}
    with limited_threads(1):
        for round_index in range(rounds):
            for name in rotated(list(jobs), round_index):
                times[name].append(timed(jobs[name]))
    return times


def stage_lines(
    times: dict[str, list[float]],
    summary: Callable[[Sequence[float]], float],
    adds: Callable[[str], bool] = lambda name: True,
) -> list[str]:
    """One line per stage, at most 84 columns: its time (``summary`` of its rounds), what
    it adds to the line before (for the stages ``adds`` accepts) and its share of the
    first stage's time, the bound."""
    bound = summary(next(iter(times.values())))
    lines, previous = [], None
    for name, values in times.items():
        seconds = summary(values)
        step = ""
        if previous is not None and adds(name):
            step = f"{(seconds - previous) * 1000:+7.1f} ms"
        lines.append(
            f"  {name:<42}{seconds * 1000:8.1f} ms {step:>10} {bound / seconds:.2f} of the bound"
        )
        previous = seconds
    return lines
