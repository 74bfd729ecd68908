"""``python -m benchmarks.baseline_worker``: the child process of `benchmarks.baseline`.

Reads one JSON request a line on standard input and answers each with one JSON line:
``describe`` (which nnkit this is), ``time`` (seconds of one ``train`` or ``predict`` of
a workload at a number of threads) and ``guard`` (the loss of the correctness guard).
Everything else the process prints goes to standard error, so the answers stay clean.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from dataclasses import replace
from typing import Any

from benchmarks import measure, nnkit_systems, workloads

#: Set by the parent (`benchmarks.baseline`): a folder whose code this process must not
#: import, the repository the earlier nnkit is measured against.
HIDDEN_FOLDER_ENV = "NNKIT_BASELINE_HIDDEN_FOLDER"


def keep_out(folder: str | None) -> list[str]:
    """Drop from ``sys.path`` the entries inside ``folder`` (the repository, which an
    editable install of nnkit or of a plugin puts on every interpreter's path), except
    those of ``PYTHONPATH`` and of this interpreter's own prefix; returns what it
    dropped. Then ``import nnkit_vision`` finds the revision's plugin or nothing."""
    if not folder:
        return []
    root = os.path.realpath(folder)
    given = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    kept = {os.path.realpath(entry) for entry in given if entry}
    prefix = os.path.realpath(sys.prefix)

    def hidden(entry: str) -> bool:
        path = os.path.realpath(entry or os.curdir)
        inside = path == root or path.startswith(root + os.sep)
        return inside and path not in kept and not path.startswith(prefix + os.sep)

    dropped = [entry for entry in sys.path if hidden(entry)]
    sys.path[:] = [entry for entry in sys.path if entry not in dropped]
    importlib.invalidate_caches()
    return dropped


class Worker:
    def __init__(self) -> None:
        self.workloads: dict[tuple[str, int, int | None], workloads.Workload] = {}
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
            cnn = name in ("W3", "W3bn")
            if cnn and not nnkit_systems.vision_available():
                raise RuntimeError(f"{nnkit_systems.VISION_PLUGIN} is not installed")
            if name == "W3bn" and not nnkit_systems.extras_available():
                raise RuntimeError(f"{nnkit_systems.EXTRAS_PLUGIN} is not installed")
            self.systems[name] = nnkit_systems.NNKitCNN() if cnn else nnkit_systems.NNKit()
        return self.systems[name]

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request["op"]
        if op == "describe":
            import nnkit

            vision = nnkit_systems.vision_available()
            return {
                "nnkit": nnkit.__version__,
                "path": os.path.dirname(nnkit.__file__),
                "vision": vision,
                "extras": nnkit_systems.extras_available(),
                "vision_path": os.path.dirname(
                    importlib.import_module(nnkit_systems.VISION_PLUGIN).__file__ or ""
                )
                if vision
                else None,
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
    keep_out(os.environ.get(HIDDEN_FOLDER_ENV))
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
