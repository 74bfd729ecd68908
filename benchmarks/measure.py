"""Timing with warm-up, interleaved rounds and medians; peak memory in a child process."""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

#: Pause before each timed run.
SETTLE_SECONDS = 0.5


class ThreadSetting(NamedTuple):
    """How many threads BLAS, OpenMP and PyTorch may use during a timed run."""

    name: str  # as printed: "1 thread", "2 threads"
    threads: int


def thread_settings(cores: int | None = None) -> list[ThreadSetting]:
    """One thread (the stable figures on a shared machine) and all cores, if more than one."""
    cores = cores or os.cpu_count() or 1
    settings = [ThreadSetting("1 thread", 1)]
    if cores > 1:
        settings.append(ThreadSetting(f"{cores} threads", cores))
    return settings


@contextlib.contextmanager
def limited_threads(threads: int) -> Iterator[None]:
    """Limit NumPy's BLAS and any OpenMP pool (threadpoolctl) and PyTorch's intra-op pool
    (when PyTorch is loaded) to ``threads`` for the duration of the block."""
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    previous = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=threads):
        if torch is not None:
            torch.set_num_threads(threads)
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(previous)


def rotated(items: Sequence[Any], shift: int) -> list[Any]:
    shift %= max(len(items), 1)
    return [*items[shift:], *items[:shift]]


def interleaved_rounds(
    systems: Sequence[Any],
    settings: Sequence[ThreadSetting],
    run: Callable[[Any, ThreadSetting], float],
    rounds: int,
) -> dict[tuple[str, str], list[float]]:
    """Call ``run(system, setting)`` for every system at every thread setting, ``rounds``
    times; ``{(setting name, system name): [seconds of each round]}``.

    Within a round every setting and every system runs once, so the settings see the same
    machine weather; the order of both is rotated each round so that no system (or
    setting) always runs first, or last, on a warming or throttling machine.
    """
    times: dict[tuple[str, str], list[float]] = {
        (setting.name, system.name): [] for setting in settings for system in systems
    }
    for round_index in range(rounds):
        for setting in rotated(settings, round_index):
            for system in rotated(systems, round_index):
                # Worker threads of the previous system (OpenMP, OpenBLAS) spin for a
                # while after their last task; let them go idle so they do not slow this one.
                time.sleep(SETTLE_SECONDS)
                times[setting.name, system.name].append(run(system, setting))
    return times


def timed(action: Callable[[], Any]) -> float:
    """Seconds ``action`` takes by the monotonic clock."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def time_job(system: Any, workload: Any, action: str, threads: int) -> float:
    """Seconds one ``train`` (of ``workload``) or ``predict`` (of its ``X``) takes at
    ``threads`` threads. A system in another process (the baseline) times itself."""
    remote = getattr(system, "time_job", None)
    if remote is not None:
        return remote(workload, action, threads)
    with limited_threads(threads):
        if action == "train":
            return timed(lambda: system.train(workload))
        if action == "predict":
            return timed(lambda: system.predict(workload.X))
    raise ValueError(f"unknown action {action!r}: expected 'train' or 'predict'")


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


class Spread(NamedTuple):
    """A ratio measured once per round: its median and its range across the rounds."""

    median: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.median:.2f}x [{self.low:.2f}-{self.high:.2f}]"


def spread(values: Sequence[float]) -> Spread:
    return Spread(statistics.median(values), min(values), max(values))


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
