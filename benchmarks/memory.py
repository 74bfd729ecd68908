"""``python -m benchmarks.memory SYSTEM WORKLOAD``: the peak memory one training adds.

Loads the data and the system first, then reads the resident set size, trains, and
reports how far the process's high-water mark rose above it.
"""

from __future__ import annotations

import json
import resource
import sys


def resident_mib() -> float:
    with open("/proc/self/statm") as file:
        pages = int(file.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_mib() -> float:
    # VmHWM, the high-water mark of this process's own memory map. (getrusage's
    # ru_maxrss would not do: Linux carries it over from the parent across fork and exec.)
    with open("/proc/self/status") as file:
        for line in file:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(system_name: str, workload_name: str) -> None:
    from benchmarks import systems, workloads

    workload = {"W1": workloads.mnist_like, "W2": workloads.digits}[workload_name]()
    system = {s.name: s for s in systems.available_systems()[0]}[system_name]
    small = workloads.Workload(
        "warm-up",
        workload.X[:256],
        workload.y[:256],
        workload.hidden,
        workload.n_classes,
        workload.batch_size,
        1,
    )
    system.train(small)  # imports and one-time set-up are not the training's memory
    before = resident_mib()
    system.train(workload)
    print(json.dumps({"peak_added_mib": max(0.0, peak_mib() - before)}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
