"""W4 and W5 in ``python -m benchmarks``: their targets, and their timed rounds.

Throughputs are tokens per second: a sequence of 64 steps is 64 predictions, each
scored by the per-token cross-entropy in training.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmarks.measure import ThreadSetting

SEQUENCE_WORKLOADS = ("W4", "W5")

#: (workload, measure, other system, comparison, ratio of nnkit to it), at 1 thread.
SEQUENCE_TARGETS = [
    ("W4", "train", "pytorch", ">=", 1.0),
    ("W4", "train", "GEMM bound", ">=", 0.6),
    ("W4", "inference", "pytorch", ">=", 1.0),
    ("W5", "train", "pytorch", ">=", 1.0),
    ("W5", "inference", "pytorch", ">=", 1.0),
]

#: Without a target: nnkit's remaining ratios to the bound, and PyTorch's to it.
SEQUENCE_REFERENCES = [
    ("W4", "inference", "nnkit", "GEMM bound"),
    ("W5", "train", "nnkit", "GEMM bound"),
    ("W5", "inference", "nnkit", "GEMM bound"),
    *(
        (workload, measure, "pytorch", "GEMM bound")
        for workload in SEQUENCE_WORKLOADS
        for measure in ("train", "inference")
    ),
]

#: Sequences of each workload in ``--quick``'s smoke test: two batches.
QUICK_SEQUENCES = 64


def measure_sequences(
    names: Sequence[str], settings: Sequence[ThreadSetting], rounds: int, quick: bool = False
) -> tuple[dict[tuple[str, str, str | None, str], list[float]], list[str], list[dict[str, Any]]]:
    """Warm up and time W4 and/or W5 (``names``) on every system at every setting, in
    interleaved rounds: ``(values, notes, correctness checks)`` as ``run.measure_all``
    keeps them, the values in tokens per second."""
    from benchmarks import measure
    from benchmarks.sequence_guard import same_sequence_loss
    from benchmarks.sequence_systems import available_sequence_systems
    from benchmarks.sequence_workloads import build_sequence

    values: dict[tuple[str, str, str | None, str], list[float]] = {}
    notes: list[str] = []
    checks: list[dict[str, Any]] = []
    for name in names:
        lineup, found_notes = available_sequence_systems(name)
        notes += found_notes
        workload = build_sequence(name, QUICK_SEQUENCES if quick else None)
        warm = workload.head(2 * workload.batch_size)
        for system in lineup:
            for setting in settings:
                measure.time_job(system, warm, "train", setting.threads)
                measure.time_job(system, warm, "predict", setting.threads)
        tokens = workload.X.size
        for measure_name, action in (("train", "train"), ("inference", "predict")):
            print(
                f"{name} {measure_name}: {rounds} rounds of {len(lineup)} systems at "
                f"{' and '.join(setting.name for setting in settings)} ...",
                file=sys.stderr,
                flush=True,
            )
            times = measure.interleaved_rounds(
                lineup,
                settings,
                lambda system, setting, workload=workload, action=action: measure.time_job(
                    system, workload, action, setting.threads
                ),
                rounds,
            )
            factor = tokens * (workload.epochs if action == "train" else 1)
            for (setting_name, system_name), seconds in times.items():
                values[name, measure_name, setting_name, system_name] = [
                    factor / s for s in seconds
                ]
        if any(system.name == "nnkit" for system in lineup):
            with_pytorch = any(system.name == "pytorch" for system in lineup)
            checks.append({"workload": name, **same_sequence_loss(workload, with_pytorch)})
    return values, notes, checks
