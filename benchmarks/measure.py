"""Timing with warm-up, round-robin rotation and medians; peak memory in a child process."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

#: Pause before each timed run.
SETTLE_SECONDS = 0.5


def round_robin(
    systems: Sequence[Any], run: Callable[[Any], float], rounds: int
) -> dict[str, list[float]]:
    """Call ``run(system)`` for every system, ``rounds`` times, the order rotated each
    round so no system always runs first (or last) on a warming, throttling machine."""
    times: dict[str, list[float]] = {system.name: [] for system in systems}
    for round_index in range(rounds):
        shift = round_index % len(systems)
        for system in [*systems[shift:], *systems[:shift]]:
            # Worker threads of the previous system (OpenMP, OpenBLAS) spin for a while
            # after their last task; let them go idle so they do not slow this one.
            time.sleep(SETTLE_SECONDS)
            times[system.name].append(run(system))
    return times


def timed(action: Callable[[], Any]) -> float:
    """Seconds ``action`` takes by the monotonic clock."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def peak_memory_added(system: str, workload: str) -> float | None:
    """Peak resident memory (MiB) a system's training adds, measured in a fresh process
    so that earlier runs leave no high-water mark behind."""
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", system, workload],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if result.returncode != 0:
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])["peak_added_mib"]
