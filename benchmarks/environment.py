"""What the numbers were measured on: versions, CPU, and the BLAS numpy calls."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

#: Tuning variables some machines set for OpenBLAS; a user's machine has none of them.
OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def reexec_without_blas_overrides(module: str = "benchmarks") -> None:
    """Restart this process (``python -m module``) without :data:`OPENBLAS_OVERRIDES`
    (they are read when OpenBLAS loads, so they must be gone before numpy is imported)."""
    if any(name in os.environ for name in OPENBLAS_OVERRIDES):
        environ = {k: v for k, v in os.environ.items() if k not in OPENBLAS_OVERRIDES}
        environ["NNKIT_BENCHMARK_UNSET"] = ",".join(
            name for name in OPENBLAS_OVERRIDES if name in os.environ
        )
        os.execve(sys.executable, [sys.executable, "-m", module, *sys.argv[1:]], environ)


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> dict[str, Any]:
    """Versions of everything measured, the machine, and threadpoolctl's view of BLAS."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu(),
        "cores": os.cpu_count(),
        "versions": {
            name: _version(name)
            for name in ("nnkit-numpy", "numpy", "scikit-learn", "torch", "threadpoolctl")
        },
        "unset_for_this_run": [
            n for n in os.environ.get("NNKIT_BENCHMARK_UNSET", "").split(",") if n
        ],
    }
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {
                key: pool.get(key)
                for key in ("internal_api", "version", "architecture", "num_threads", "filepath")
            }
            for pool in threadpool_info()
        ]
    except ImportError:
        info["blas"] = "threadpoolctl is not installed"
    return info
