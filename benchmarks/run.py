"""``python -m benchmarks``: nnkit, scikit-learn, PyTorch, hand-written NumPy and the GEMM bound.

Every system runs on the same data in this one process (an earlier nnkit given with
``--baseline`` runs in a child process): a warm-up first, then rounds in which every
system runs once at 1 thread and once at all cores, the order rotating. It reports the
median of each measure, and each ratio of nnkit to another system as the median and
range of its per-round values. A table goes to the screen and one JSON object per
measurement to ``--json`` (default ``benchmarks/results.jsonl``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.environment import reexec_without_blas_overrides
from benchmarks.sequence_run import SEQUENCE_REFERENCES, SEQUENCE_TARGETS, SEQUENCE_WORKLOADS

if TYPE_CHECKING:
    from benchmarks.baseline import Baseline
    from benchmarks.measure import Spread, ThreadSetting

#: Each target: (workload, measure, other system, comparison, ratio of nnkit to it),
#: judged at 1 thread, the setting whose ratios hold on a shared machine.
TARGETS = [
    ("W1", "train", "scikit-learn", ">=", 1.8),
    ("W1", "train", "pytorch", ">=", 1.6),
    ("W1", "train", "GEMM bound", ">=", 0.88),
    ("W1", "inference", "scikit-learn", ">=", 1.05),
    ("W1", "inference", "pytorch", ">=", 1.05),
    ("W1", "inference", "GEMM bound", ">=", 0.92),
    ("W2", "train time", "scikit-learn", "<=", 0.35),
    ("W2", "train time", "pytorch", "<=", 0.25),
    ("W1", "memory", "scikit-learn", "<=", 1.0),
    ("W3", "train", "pytorch NCHW", ">=", 1.0),
    ("W3", "train", "pytorch channels_last", ">=", 0.7),
    ("W3", "train", "GEMM bound", ">=", 0.65),
    ("W3", "inference", "pytorch NCHW", ">=", 1.5),
    ("W3", "inference", "pytorch channels_last", ">=", 0.7),
    ("W3bn", "train", "pytorch NCHW", ">=", 1.0),
    ("W3bn", "train", "pytorch channels_last", ">=", 0.7),
    ("W3bn", "inference", "pytorch NCHW", ">=", 1.5),
    ("W3bn", "inference", "pytorch channels_last", ">=", 0.7),
    *SEQUENCE_TARGETS,
]

#: Reported without a target: hand-written NumPy against the GEMM bound (what any NumPy
#: code reaches on this machine now) and against PyTorch, and nnkit against the
#: hand-written code (nnkit's own overhead).
REFERENCES = [
    *(
        (workload, measure, ours, other)
        for workload, measure in (("W1", "train"), ("W1", "inference"), ("W2", "train time"))
        for ours, other in (("NumPy loop", "GEMM bound"), ("nnkit", "NumPy loop"))
    ),
    *(
        ("W3", measure, ours, other)
        for measure in ("train", "inference")
        for ours, other in (
            ("NumPy CNN", "GEMM bound"),
            ("NumPy CNN", "pytorch NCHW"),
            ("NumPy CNN", "pytorch channels_last"),
            ("nnkit", "NumPy CNN"),
        )
    ),
    *SEQUENCE_REFERENCES,
]

#: The measures compared with the baseline (nnkit before the change).
BASELINE_MEASURES = [
    ("W1", "train"),
    ("W1", "inference"),
    ("W2", "train time"),
    ("W3", "train"),
    ("W3", "inference"),
    ("W3bn", "train"),
    ("W3bn", "inference"),
]

#: Run unless --workloads says otherwise; W4 and W5 (SEQUENCE_WORKLOADS) only when named.
DEFAULT_WORKLOADS = ("W1", "W2", "W3", "W3bn")
WORKLOADS = (*DEFAULT_WORKLOADS, *SEQUENCE_WORKLOADS)
#: The convolutional workloads, measured with ``--cnn-rounds`` and ``--cnn-samples``.
CNN_WORKLOADS = ("W3", "W3bn")

#: (workload, setting, system) -> the value of each round: samples per second for
#: "train" and "inference", seconds for "train time", MiB for "memory" (setting None).
Values = dict[tuple[str, str, str | None, str], list[float]]

#: The --help text: plain text (the module docstring's ``code`` markup is for the docs).
HELP_DESCRIPTION = """\
Time nnkit against scikit-learn, PyTorch, hand-written NumPy code and the GEMM bound,
on the same data in one process: a warm-up, then rounds in which every system runs
once at 1 thread and once at all cores, in rotating order. It prints the median of
each measure and each ratio of nnkit to another system (median and range of the
rounds), and writes one JSON object per measurement to --json."""
HELP_EPILOG = """\
workloads:
  W1  784-256-128-10 MLP on 60,000 synthetic samples, batch 128, one epoch:
      training and inference (batch 1024) samples per second
  W2  the bundled digits, 64-32-10, batch 32, 50 epochs: total training time
  W3  a small CNN on 20,000 synthetic 1x28x28 images (needs nnkit-vision):
      training and inference samples per second
  W3bn  W3 with a batch normalisation after each convolution (nnkit-extras'
      batch_norm, PyTorch's BatchNorm2d), against PyTorch only
  W4  a tiny GPT (needs nnkit-text and nnkit-extras; only when named): vocabulary 96,
      context 64, d_model 128, 4 heads, 2 pre-norm blocks, batch 32, AdamW, one epoch
      of 32 batches: training and inference (batch 128) tokens per second
  W5  an LSTM language model (needs nnkit-text; only when named): embedding 64, LSTM
      128 over 64 steps, dense to 96 at every step, batch 32, Adam, one epoch of 64
      batches: training and inference (batch 128) tokens per second

the GEMM bound: the same matrix products as the network, and nothing else, timed
alone: no framework can beat it, so nnkit's ratio to it says how much time goes to
the work around the products. Ratios are judged at 1 thread, the setting that holds
still on a shared machine. benchmarks/README.md has the details."""


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=HELP_DESCRIPTION,
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument(
        "--cnn-rounds",
        type=int,
        default=3,
        help="timed rounds of W3 and W3bn, the long ones (default 3)",
    )
    parser.add_argument(
        "--samples",
        type=int,
        default=60_000,
        help="W1 samples (default 60000; fewer for a quick look)",
    )
    parser.add_argument(
        "--cnn-samples", type=int, default=20_000, help="W3 and W3bn images (default 20000)"
    )
    parser.add_argument(
        "--workloads",
        default=",".join(DEFAULT_WORKLOADS),
        help="which workloads, comma-separated (default W1,W2,W3,W3bn; W4 and W5 when named)",
    )
    parser.add_argument(
        "--baseline",
        metavar="SPEC",
        help="an earlier nnkit as one more system: git:REV (git:main, git:HEAD~1), "
        "installed into a temporary folder, or the path of a virtual environment",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurements")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test in seconds: few samples, 2 rounds (1 of W3), no memory",
    )
    parser.add_argument(
        "--json", default="benchmarks/results.jsonl", help="where the JSON lines go"
    )
    args = parser.parse_args(argv)
    spelled = {name.upper(): name for name in WORKLOADS}  # w3bn and W3BN are W3bn
    given = [name.strip() for name in args.workloads.split(",") if name.strip()]
    unknown = [name for name in given if name.upper() not in spelled]
    if unknown:
        parser.error(
            f"--workloads: unknown {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}"
        )
    args.workloads = [spelled[name.upper()] for name in given]
    if args.quick:
        args.samples, args.cnn_samples = min(args.samples, 2_048), min(args.cnn_samples, 256)
        args.rounds, args.cnn_rounds, args.no_memory = 2, 1, True
    return args


def main(argv: list[str] | None = None) -> int:
    reexec_without_blas_overrides()
    args = parse_arguments(argv)
    from benchmarks import environment, measure

    if args.quick:
        measure.SETTLE_SECONDS = 0.01
    settings = measure.thread_settings()
    baseline = None
    if args.baseline:
        from benchmarks.baseline import Baseline

        print(f"preparing the baseline {args.baseline} ...", file=sys.stderr, flush=True)
        baseline = Baseline(args.baseline)
    try:
        values, notes, checks = measure_all(args, settings, baseline)
    finally:
        if baseline is not None:
            baseline.close()

    # After the run, so that every library threadpoolctl reports on has been loaded.
    machine = environment.describe()
    lines = report(values, settings, machine, notes, checks, baseline)
    print("\n".join(lines))
    records: list[dict[str, Any]] = [{"kind": "environment", **machine}]
    if baseline is not None:
        records.append(
            {
                "kind": "baseline",
                "spec": baseline.spec,
                "label": baseline.label,
                **baseline.description,
            }
        )
    records += [
        {
            "kind": "result",
            "workload": w,
            "measure": m,
            "threads": s,
            "system": name,
            "rounds": v,
            "median": median_value(v),
        }
        for (w, m, s, name), v in values.items()
    ]
    for setting in settings:
        records += [
            {"kind": "target", "threads": setting.name, **t}
            for t in evaluate_targets(values, setting.name)
        ]
        records += [
            {"kind": "reference", "threads": setting.name, **r}
            for r in evaluate_references(values, setting.name)
        ]
    records += [{"kind": "correctness", **check} for check in checks]
    Path(args.json).write_text("".join(json.dumps(r) + "\n" for r in records))
    print(f"\nJSON lines: {args.json}")
    return 0


def measure_all(
    args: argparse.Namespace, settings: Sequence[ThreadSetting], baseline: Baseline | None
) -> tuple[Values, list[str], list[dict[str, Any]]]:
    """Warm up and time every chosen workload on every system at every thread setting."""
    from benchmarks import cnn_systems, guard, measure, systems, workloads

    values: Values = {}
    notes: list[str] = []
    checks: list[dict[str, Any]] = []

    def timed_rounds(workload, measure_name: str, action: str, lineup, rounds: int) -> None:
        print(
            f"{workload.name} {measure_name}: {rounds} rounds of {len(lineup)} systems at "
            f"{' and '.join(setting.name for setting in settings)} ...",
            file=sys.stderr,
            flush=True,
        )
        times = measure.interleaved_rounds(
            lineup,
            settings,
            lambda system, setting: measure.time_job(system, workload, action, setting.threads),
            rounds,
        )
        samples = len(workload.X) * (workload.epochs if action == "train" else 1)
        for (setting, name), seconds in times.items():
            per_round = seconds if measure_name == "train time" else [samples / s for s in seconds]
            values[workload.name, measure_name, setting, name] = per_round

    def warm_up(workload, lineup, n_samples: int) -> None:
        warm = replace(workload.head(n_samples), epochs=1)
        for system in lineup:
            for setting in settings:
                measure.time_job(system, warm, "train", setting.threads)
                measure.time_job(system, warm, "predict", setting.threads)

    if "W1" in args.workloads or "W2" in args.workloads:
        lineup, mlp_notes = systems.available_systems()
        notes += mlp_notes
        if baseline is not None:
            lineup.append(baseline)
        if "W1" in args.workloads:
            w1 = workloads.mnist_like(args.samples)
            warm_up(w1, lineup, 1024)
            timed_rounds(w1, "train", "train", lineup, args.rounds)
            # Inference is short: three times the rounds for a steadier median.
            timed_rounds(w1, "inference", "predict", lineup, 3 * args.rounds)
        if "W2" in args.workloads:
            w2 = workloads.digits()
            warm_up(w2, lineup, 256)
            timed_rounds(w2, "train time", "train", lineup, args.rounds)
        if "W1" in args.workloads and not args.no_memory:
            for system in lineup:
                if system.name not in ("GEMM bound", "baseline"):
                    added = measure.peak_memory_added(system.name, "W1")
                    if added is not None:
                        values["W1", "memory", None, system.name] = [added]
        if "W1" in args.workloads:
            with_pytorch = any(s.name == "pytorch" for s in lineup)
            checks.append({"workload": "W1", **guard.same_loss(w1, with_pytorch, baseline)})
    for name in (name for name in CNN_WORKLOADS if name in args.workloads):
        cnn = workloads.build(name, args.cnn_samples)
        lineup, cnn_notes = cnn_systems.available_cnn_systems(batch_norm=cnn.batch_norm)
        notes += cnn_notes
        if baseline is not None:
            why = baseline_sits_out(baseline.description, baseline.label, name, cnn.batch_norm)
            if why is None:
                lineup.append(baseline)
            else:
                notes.append(why)
        warm_up(cnn, lineup, 128)
        timed_rounds(cnn, "train", "train", lineup, args.cnn_rounds)
        timed_rounds(cnn, "inference", "predict", lineup, args.cnn_rounds)
        names = {system.name for system in lineup}
        check = guard.same_cnn_loss(cnn, "pytorch NCHW" in names, "nnkit" in names)
        checks.append({"workload": name, **check})
    sequences = [name for name in SEQUENCE_WORKLOADS if name in args.workloads]
    if sequences:
        from benchmarks.sequence_run import measure_sequences

        found, sequence_notes, sequence_checks = measure_sequences(
            sequences, settings, args.rounds, args.quick
        )
        values.update(found)
        notes += sequence_notes
        checks += sequence_checks
    return values, notes, checks


def baseline_sits_out(
    description: dict[str, Any], label: str, workload: str, batch_norm: bool
) -> str | None:
    """Why the baseline cannot run the CNN ``workload`` (a note for the report), or None
    when it can: W3 needs nnkit-vision in the baseline, W3bn nnkit-extras too. Revisions
    from before nnkit-vision, release 0.2.0 among them, have no convolution layers."""
    needed = [("vision", "nnkit_vision", "plugins/nnkit-vision")]
    if batch_norm:
        needed.append(("extras", "nnkit_extras", "plugins/nnkit-extras"))
    for key, module, folder in needed:
        if not description.get(key):
            return (
                f"{workload}: the baseline, {label}, has no {module}, so it sat out "
                f"{workload}; a revision with {folder} can take part"
            )
    return None


def median_value(values: Sequence[float]) -> float:
    from benchmarks.measure import median

    return median(values)


def _values(
    values: Values, workload: str, measure: str, setting: str | None, system: str
) -> list[float] | None:
    """A system's values at ``setting``, or those measured once for all settings."""
    found = values.get((workload, measure, setting, system))
    return found if found is not None else values.get((workload, measure, None, system))


def ratio(
    values: Values, workload: str, measure: str, setting: str, ours: str, other: str
) -> Spread | None:
    """The `Spread` of ``ours`` / ``other`` across the rounds, each round's values paired
    (they ran minutes apart at most); None when either was not measured."""
    from benchmarks.measure import spread

    mine, theirs = (_values(values, workload, measure, setting, s) for s in (ours, other))
    if not mine or not theirs:
        return None
    if len(mine) != len(theirs):  # measured once each (memory): the ratio of the medians
        mine, theirs = [median_value(mine)], [median_value(theirs)]
    return spread([a / b if b else float("inf") for a, b in zip(mine, theirs)])


def evaluate_targets(values: Values, setting: str) -> list[dict[str, Any]]:
    """Each target with nnkit's ratio to the other system at ``setting`` and whether its
    median meets the target."""
    evaluated = []
    for workload, measure_name, other, comparison, bound in TARGETS:
        found = ratio(values, workload, measure_name, setting, "nnkit", other)
        if found is None:
            continue
        met = found.median >= bound if comparison == ">=" else found.median <= bound
        evaluated.append(
            {
                "workload": workload,
                "measure": measure_name,
                "versus": other,
                "ratio": round(found.median, 3),
                "low": round(found.low, 3),
                "high": round(found.high, 3),
                "target": f"{comparison} {bound}",
                "met": met,
            }
        )
    return evaluated


def evaluate_references(
    values: Values, setting: str, pairs: Sequence[tuple[str, str, str, str]] = tuple(REFERENCES)
) -> list[dict[str, Any]]:
    """The ratios reported without a target (see `REFERENCES`)."""
    evaluated = []
    for workload, measure_name, ours, other in pairs:
        found = ratio(values, workload, measure_name, setting, ours, other)
        if found is not None:
            evaluated.append(
                {
                    "workload": workload,
                    "measure": measure_name,
                    "system": ours,
                    "versus": other,
                    "ratio": round(found.median, 3),
                    "low": round(found.low, 3),
                    "high": round(found.high, 3),
                }
            )
    return evaluated


def _figure(item: dict[str, Any] | None) -> str:
    if item is None:
        return "-"
    return f"{item['ratio']:.2f}x [{item['low']:.2f}-{item['high']:.2f}]"


def system_tables(
    values: Values,
    settings: Sequence[ThreadSetting],
    workloads_measures: Sequence[tuple[str, str]],
    rate: str = "samples/s",
) -> list[str]:
    """One table per thread setting: each system's median of each measure, the
    throughputs in ``rate`` (W4's and W5's in tokens/s)."""
    from nnkit.engine.tables import format_table

    units = {"train": rate, "inference": rate, "train time": "s", "memory": "MiB"}
    columns = [(w, m) for w, m in workloads_measures if any(key[:2] == (w, m) for key in values)]
    if not columns:
        return []
    names = list(dict.fromkeys(key[3] for key in values if key[:2] in columns))
    lines = []
    for setting in settings:
        rows = []
        for name in names:
            row = [name]
            for workload, measure_name in columns:
                found = _values(values, workload, measure_name, setting.name, name)
                if found is None:
                    row.append("-")
                elif measure_name == "train time":
                    row.append(f"{median_value(found):.2f}")
                else:
                    row.append(f"{median_value(found):,.0f}")
            rows.append(row)
        headers = ["system", *(f"{w} {m} {units[m]}" for w, m in columns)]
        lines += [f"at {setting.name} (medians):", format_table(headers, rows), ""]
    return lines


def report(
    values: Values,
    settings: Sequence[ThreadSetting],
    machine: dict[str, Any],
    notes: Sequence[str],
    checks: Sequence[dict[str, Any]],
    baseline: Baseline | None = None,
) -> list[str]:
    """The lines printed at the end of a run."""
    from nnkit.engine.tables import format_table

    lines = system_tables(
        values,
        settings,
        [("W1", "train"), ("W1", "inference"), ("W2", "train time"), ("W1", "memory")],
    )
    lines += system_tables(values, settings, [("W3", "train"), ("W3", "inference")])
    lines += system_tables(values, settings, [("W3bn", "train"), ("W3bn", "inference")])
    lines += system_tables(
        values,
        settings,
        [(w, m) for w in SEQUENCE_WORKLOADS for m in ("train", "inference")],
        rate="tokens/s",
    )
    names = [setting.name for setting in settings]
    by_setting = {name: evaluate_targets(values, name) for name in names}
    rows = []
    for target in by_setting[names[0]]:
        others = [
            next(
                (
                    t
                    for t in by_setting[name]
                    if t["workload"] == target["workload"]
                    and t["measure"] == target["measure"]
                    and t["versus"] == target["versus"]
                ),
                None,
            )
            for name in names
        ]
        rows.append(
            [
                f"{target['workload']} {target['measure']}",
                f"vs {target['versus']}",
                f"[{target['target']}]",
                *(_figure(other) for other in others),
                "met" if target["met"] else "NOT met",
            ]
        )
    if rows:
        lines.append(
            "nnkit's ratio to each system: median of the rounds [lowest-highest]; targets in "
            f"brackets, judged at {names[0]}:"
        )
        lines.append(_indent(format_table(["", "", "target", *names, "verdict"], rows)))
    references = {name: evaluate_references(values, name) for name in names}
    rows = [
        [
            f"{reference['workload']} {reference['measure']}",
            f"{reference['system']} vs {reference['versus']}",
            *(_figure(_match(references[name], reference)) for name in names),
        ]
        for reference in references[names[0]]
    ]
    if rows:
        lines.append("for reference, without a target (a time ratio below 1 is faster):")
        lines.append(_indent(format_table(["", "", *names], rows)))
    if baseline is not None:
        pairs = [(w, m, "nnkit", "baseline") for w, m in BASELINE_MEASURES]
        compared = {name: evaluate_references(values, name, pairs) for name in names}
        rows = [
            [
                f"{item['workload']} {item['measure']}",
                *(_figure(_match(compared[name], item)) for name in names),
            ]
            for item in compared[names[0]]
        ]
        if rows:
            version = baseline.description["nnkit"]
            lines.append(
                f"nnkit against the baseline, {baseline.label}: nnkit {version} from "
                f"{baseline.description['path']} (a time ratio below 1 is faster):"
            )
            lines.append(_indent(format_table(["", *names], rows)))
    for check in checks:
        losses = ", ".join(f"{name} {loss:.6f}" for name, loss in check["losses"].items())
        verdict = "same" if check["same"] else "DIFFERENT"
        lines.append(
            f"correctness guard, {check['workload']}: same start and batches, loss {losses} "
            f"({verdict})"
        )
    blas = machine["blas"]
    if isinstance(blas, list):
        for pool in blas:
            lines.append(
                f"threads: {pool['internal_api']} {pool['version']} {pool['architecture']}, "
                f"{pool['num_threads']} by default ({Path(pool['filepath']).name})"
            )
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items() if v)
    lines.append(f"versions: python {machine['python']}, {versions}")
    lines.append(f"machine: {machine['cpu']}, {machine['cores']} cores, {machine['platform']}")
    if machine["unset_for_this_run"]:
        lines.append(f"unset for this run: {', '.join(machine['unset_for_this_run'])}")
    lines += [f"note: {note}" for note in notes]
    return "\n".join(lines).splitlines()


def _match(items: list[dict[str, Any]], like: dict[str, Any]) -> dict[str, Any] | None:
    keys = ("workload", "measure", "system", "versus")
    return next((i for i in items if all(i.get(k) == like.get(k) for k in keys)), None)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
