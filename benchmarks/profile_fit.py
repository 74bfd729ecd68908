"""``python -m benchmarks.profile_fit``: what W1's ``fit`` does once, before its first
step, beside the NumPy loop's set-up and the whole of both trainings.

Before it trains, nnkit's ``fit`` builds the network (it sizes every layer, draws the
He-normal initial weights and runs each layer once on a probe batch), checks that ``X``
holds no NaN or infinity, and encodes the class labels; the NumPy loop draws
Glorot-uniform weights and checks nothing. Each part runs on its own at 1 thread, once a
round, in an order rotated with the two trainings; each line shows its fastest round
and its share of nnkit's training. What nnkit's one-time work adds to the loop's is the
part of the two trainings' difference that no change to the training step can remove.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.stages import profile_w1_training
from benchmarks.workloads import Workload, initial_weights

#: The one-time parts, by name, and whose they are.
NNKIT_PARTS = (
    "nnkit: build (weights, probe)",
    "nnkit: check X for NaN and inf",
    "nnkit: encode the labels",
)
LOOP_PARTS = ("NumPy loop: initial weights",)


def stages(workload: Workload) -> dict[str, Callable[[], object]]:
    """The two trainings and each one-time part, by name, in the order printed."""
    import nnkit
    from benchmarks.nnkit_systems import NNKit
    from benchmarks.numpy_loop import NumpyLoop
    from nnkit.data.arrays import as_targets, check_finite

    loss = nnkit.loss("cross_entropy")
    n_samples, n_features = workload.X.shape
    parts: list[Callable[[], object]] = [
        lambda: NNKit.network(workload).build(n_features),
        lambda: check_finite(workload.X, "X"),
        lambda: as_targets(
            workload.y, n_samples, workload.n_classes, loss, workload.X.dtype, compact=True
        ),
        lambda: initial_weights(workload),
    ]
    return {
        "nnkit fit": lambda: NNKit().train(workload),
        "NumPy loop": lambda: NumpyLoop().train(workload),
        **dict(zip((*NNKIT_PARTS, *LOOP_PARTS), parts)),
    }


def report(times: dict[str, list[float]]) -> list[str]:
    """A line per stage (fastest round, share of nnkit's fit), then the one-time work
    nnkit adds and the difference between the trainings."""
    fastest = {name: min(values) for name, values in times.items()}
    fit = fastest["nnkit fit"]

    def line(name: str, seconds: float) -> str:
        return f"  {name:<34}{seconds * 1000:8.1f} ms {seconds / fit:7.1%} of nnkit's fit"

    added = sum(fastest[name] for name in NNKIT_PARTS) - sum(fastest[n] for n in LOOP_PARTS)
    lines = [line(name, seconds) for name, seconds in fastest.items()]
    lines.append(line("one-time work nnkit adds", added))
    lines.append(line("nnkit fit minus NumPy loop", fit - fastest["NumPy loop"]))
    return lines


def main(argv: list[str] | None = None) -> int:
    return profile_w1_training("benchmarks.profile_fit", __doc__, argv, stages, report)


if __name__ == "__main__":
    raise SystemExit(main())
