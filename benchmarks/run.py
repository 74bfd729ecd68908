"""``python -m benchmarks``: nnkit, scikit-learn, PyTorch, a NumPy loop and the GEMM bound.

Every system runs on the same data in this one process: a warm-up first, then rounds in
rotating order, reporting medians and the ratios of nnkit to each other system. A table
goes to the screen and one JSON object per measurement to ``--json`` (default
``benchmarks/results.jsonl``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from benchmarks.environment import reexec_without_blas_overrides

#: Each target: (workload, measure, other system, comparison, ratio of nnkit to it).
TARGETS = [
    ("W1", "train", "scikit-learn", ">=", 1.8),
    ("W1", "train", "pytorch", ">=", 1.6),
    ("W1", "train", "GEMM bound", ">=", 0.70),
    ("W1", "inference", "scikit-learn", ">=", 1.0),
    ("W1", "inference", "pytorch", ">=", 1.5),
    ("W1", "inference", "GEMM bound", ">=", 0.80),
    ("W2", "train time", "scikit-learn", "<=", 0.35),
    ("W2", "train time", "pytorch", "<=", 0.25),
    ("W1", "memory", "scikit-learn", "<=", 1.0),
]

#: Reported without a target: the hand-written NumPy loop against the GEMM bound (what
#: any NumPy code reaches on this machine now), and nnkit against that loop (nnkit's own
#: overhead).
REFERENCES = [
    (workload, measure, ours, other)
    for workload, measure in (("W1", "train"), ("W1", "inference"), ("W2", "train time"))
    for ours, other in (("NumPy loop", "GEMM bound"), ("nnkit", "NumPy loop"))
]


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument(
        "--samples",
        type=int,
        default=60_000,
        help="W1 samples (default 60000; fewer for a quick look)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurements")
    parser.add_argument(
        "--json", default="benchmarks/results.jsonl", help="where the JSON lines go"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    reexec_without_blas_overrides()
    args = parse_arguments(argv)
    from benchmarks import environment, guard, measure, systems, workloads

    machine = environment.describe()
    available, notes = systems.available_systems()
    records: list[dict[str, Any]] = [{"kind": "environment", **machine}]

    w1 = workloads.mnist_like(args.samples)
    w2 = workloads.digits()
    warm = workloads.Workload("warm-up", w1.X[:1024], w1.y[:1024], w1.hidden, 10, 128, 1)
    for system in available:
        system.train(warm)
        system.predict(warm.X)

    results: dict[tuple[str, str, str], float] = {}
    train = measure.round_robin(
        available, lambda s: measure.timed(lambda: s.train(w1)), args.rounds
    )
    # Inference is short: three times the rounds for a steadier median.
    infer = measure.round_robin(
        available, lambda s: measure.timed(lambda: s.predict(w1.X)), 3 * args.rounds
    )
    small = measure.round_robin(
        available, lambda s: measure.timed(lambda: s.train(w2)), args.rounds
    )
    for system in available:
        name = system.name
        results["W1", "train", name] = len(w1.X) * w1.epochs / measure.median(train[name])
        results["W1", "inference", name] = len(w1.X) / measure.median(infer[name])
        results["W2", "train time", name] = measure.median(small[name])
        for key, values in (
            ("W1 train s", train),
            ("W1 inference s", infer),
            ("W2 train s", small),
        ):
            records.append(
                {"kind": "timing", "system": name, "measure": key, "seconds": values[name]}
            )
    if not args.no_memory:
        for system in available:
            if system.name != "GEMM bound":
                added = measure.peak_memory_added(system.name, "W1")
                if added is not None:
                    results["W1", "memory", system.name] = added
    check = guard.same_loss(w1, with_pytorch=any(s.name == "pytorch" for s in available))

    lines = report(results, [s.name for s in available], machine, notes, check)
    print("\n".join(lines))
    records += [
        {"kind": "result", "workload": w, "measure": m, "system": s, "value": v}
        for (w, m, s), v in results.items()
    ]
    records += [{"kind": "target", **t} for t in evaluate_targets(results)]
    records += [{"kind": "reference", **r} for r in evaluate_references(results)]
    records.append({"kind": "correctness", **check})
    Path(args.json).write_text("".join(json.dumps(r) + "\n" for r in records))
    print(f"\nJSON lines: {args.json}")
    return 0


def evaluate_targets(results: dict[tuple[str, str, str], float]) -> list[dict[str, Any]]:
    """Each target with nnkit's ratio to the other system and whether it was met."""
    evaluated = []
    for workload, measure_name, other, comparison, bound in TARGETS:
        ours = results.get((workload, measure_name, "nnkit"))
        theirs = results.get((workload, measure_name, other))
        if ours is None or theirs is None:
            continue
        ratio = ours / theirs if theirs else float("inf")
        met = ratio >= bound if comparison == ">=" else ratio <= bound
        evaluated.append(
            {
                "workload": workload,
                "measure": measure_name,
                "versus": other,
                "ratio": round(ratio, 3),
                "target": f"{comparison} {bound}",
                "met": met,
            }
        )
    return evaluated


def evaluate_references(results: dict[tuple[str, str, str], float]) -> list[dict[str, Any]]:
    """The ratios reported without a target (see `REFERENCES`)."""
    evaluated = []
    for workload, measure_name, ours, other in REFERENCES:
        mine = results.get((workload, measure_name, ours))
        theirs = results.get((workload, measure_name, other))
        if mine is not None and theirs:
            evaluated.append(
                {
                    "workload": workload,
                    "measure": measure_name,
                    "system": ours,
                    "versus": other,
                    "ratio": round(mine / theirs, 3),
                }
            )
    return evaluated


def report(results, names, machine, notes, check) -> list[str]:
    from nnkit.tables import format_table

    rows = []
    for name in names:
        rows.append(
            [
                name,
                f"{results['W1', 'train', name]:,.0f}",
                f"{results['W1', 'inference', name]:,.0f}",
                f"{results['W2', 'train time', name]:.2f}",
                f"{results['W1', 'memory', name]:.0f}"
                if ("W1", "memory", name) in results
                else "-",
            ]
        )
    lines = [
        format_table(
            [
                "system",
                "W1 train samples/s",
                "W1 inference samples/s",
                "W2 train s",
                "W1 train MiB",
            ],
            rows,
        ),
        "",
        "nnkit's ratio to each system (targets in brackets):",
    ]
    for target in evaluate_targets(results):
        verdict = "met" if target["met"] else "NOT met"
        lines.append(
            f"  {target['workload']} {target['measure']:<11} vs {target['versus']:<13} "
            f"{target['ratio']:>6.2f}x  [{target['target']}]  {verdict}"
        )
    lines.append("for reference, without a target (a time ratio below 1 is faster):")
    for reference in evaluate_references(results):
        lines.append(
            f"  {reference['workload']} {reference['measure']:<11} {reference['system']:<10} "
            f"vs {reference['versus']:<10} {reference['ratio']:>6.2f}x"
        )
    losses = ", ".join(f"{name} {loss:.6f}" for name, loss in check["losses"].items())
    verdict = "same" if check["same"] else "DIFFERENT"
    lines.append(f"correctness guard: same start and batches, loss {losses} ({verdict})")
    blas = machine["blas"]
    if isinstance(blas, list):
        for pool in blas:
            lines.append(
                f"BLAS: {pool['internal_api']} {pool['version']} {pool['architecture']}, "
                f"{pool['num_threads']} threads ({Path(pool['filepath']).name})"
            )
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items() if v)
    lines.append(f"versions: python {machine['python']}, {versions}")
    lines.append(f"machine: {machine['cpu']}, {machine['cores']} cores, {machine['platform']}")
    if machine["unset_for_this_run"]:
        lines.append(f"unset for this run: {', '.join(machine['unset_for_this_run'])}")
    lines += [f"note: {note}" for note in notes]
    return lines
