"""``python -m benchmarks.baseline_worker``: the child process of `benchmarks.baseline`.

Reads one JSON request a line on standard input and answers each with one JSON line:
``describe`` (which nnkit this is), ``time`` (seconds of one ``train`` or ``predict`` of
a workload at a number of threads) and ``guard`` (the loss of the correctness guard).
Everything else the process prints goes to standard error, so the answers stay clean.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from typing import Any

from benchmarks import measure, nnkit_systems, workloads


class Worker:
    def __init__(self) -> None:
        self.workloads: dict[tuple[str, int, int], workloads.Workload] = {}
        # One system per workload, so that a prediction uses that workload's training.
        self.systems: dict[str, Any] = {}

    def workload(self, request: dict[str, Any]) -> workloads.Workload:
        """The workload of the request, generated as the parent generated it."""
        name, samples = request["workload"], request["samples"]
        epochs = request.get("epochs")
        key = (name, samples, epochs)
        if key not in self.workloads:
            workload = workloads.build(name, samples)
            if len(workload.X) > samples:
                workload = workload.head(samples)
            if epochs is not None:
                workload = replace(workload, epochs=epochs)
            self.workloads[key] = workload
        return self.workloads[key]

    def system(self, name: str) -> Any:
        if name not in self.systems:
            if name == "W3" and not nnkit_systems.vision_available():
                raise RuntimeError(f"{nnkit_systems.VISION_PLUGIN} is not installed")
            self.systems[name] = nnkit_systems.NNKitCNN() if name == "W3" else nnkit_systems.NNKit()
        return self.systems[name]

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request["op"]
        if op == "describe":
            import nnkit

            return {
                "nnkit": nnkit.__version__,
                "path": os.path.dirname(nnkit.__file__),
                "vision": nnkit_systems.vision_available(),
            }
        if op == "time":
            workload = self.workload(request)
            seconds = measure.time_job(
                self.system(workload.name), workload, request["action"], request["threads"]
            )
            return {"seconds": seconds}
        if op == "guard":
            workload = self.workload(request).head(request["head"])
            return {"loss": nnkit_systems.guard_loss(workload)}
        raise ValueError(f"unknown request {op!r}")


def main() -> int:
    # The answers go to the original standard output; anything printed, to standard error.
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    worker = Worker()
    for line in sys.stdin:
        try:
            answer = worker.handle(json.loads(line))
        except Exception as error:  # reported to the parent, which stops the run
            answer = {"error": f"{type(error).__name__}: {error}"}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
