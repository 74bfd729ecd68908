"""An earlier nnkit as one more system: ``python -m benchmarks --baseline SPEC``.

A change is best measured against the code before it in the same run, under the same
machine weather. The baseline runs the same workloads through the same code
(`benchmarks/nnkit_systems.py`), in a child process whose Python imports the earlier
nnkit; the child times each job itself and answers with the seconds.

``SPEC`` is either

- ``git:REV`` (``git:main``, ``git:HEAD~1``, a tag or a commit of this repository): the
  revision is exported with ``git archive`` into a temporary folder and installed there,
  with the plugin distributions it keeps under ``plugins/``, by ``pip install --no-deps
  --target``, so it runs on this environment's NumPy and threadpoolctl; the folder is
  removed at the end. Nothing of the working tree leaks in: the child drops the
  repository's folders (an editable install's) from its path, and does not load the
  environment's nnkit plugins that the revision does not have; or
- the path of a virtual environment (or of its ``python``) in which an earlier nnkit is
  installed, with NumPy and threadpoolctl.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from benchmarks.baseline_worker import HIDDEN_FOLDER_ENV
from nnkit.registry.loading import DISABLE_PLUGINS_ENV, ENTRY_POINT_GROUP
from nnkit.registry.origins import normalize_name

#: The repository this file belongs to: where ``git:REV`` revisions are read from.
REPOSITORY = Path(__file__).resolve().parent.parent
#: Seconds a revision may take to install, and a job to answer, before the run gives up.
INSTALL_TIMEOUT = 600
JOB_TIMEOUT = 3600


class BaselineError(RuntimeError):
    """The baseline could not be built, started, or run a job."""


def resolve_revision(revision: str, repository: Path = REPOSITORY) -> str:
    """The full commit id of ``revision`` in ``repository``, or a `BaselineError`."""
    result = subprocess.run(
        [
            "git",
            "-C",
            str(repository),
            "rev-parse",
            "--verify",
            "--quiet",
            f"{revision}^{{commit}}",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise BaselineError(
            f"--baseline git:{revision}: {revision!r} is not a revision of the repository at "
            f"{repository}; give a branch, tag or commit, such as git:main or git:HEAD~1"
        )
    return result.stdout.strip()


def export_revision(commit: str, destination: Path, repository: Path = REPOSITORY) -> Path:
    """The files of ``commit`` (``git archive``) unpacked into ``destination``."""
    archive = subprocess.run(
        ["git", "-C", str(repository), "archive", "--format=tar", commit],
        capture_output=True,
        check=True,
    )
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(destination, filter="data")
    return destination


def repository_plugins(source: Path) -> list[Path]:
    """The plugin distributions kept in the repository exported at ``source``: each
    folder of ``plugins/`` with its own ``pyproject.toml``."""
    return sorted(path.parent for path in source.glob("plugins/*/pyproject.toml"))


def install_command(source: Path, target: Path, plugins: Sequence[Path] = ()) -> list[str]:
    """``pip install`` of the project at ``source``, and of the ``plugins`` folders, into
    the folder ``target``: no dependencies (this environment's NumPy is used) and, when
    hatchling is installed here, no build isolation, so nothing is downloaded."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
    command += ["--disable-pip-version-check", "--target", str(target), str(source)]
    command += [str(plugin) for plugin in plugins]
    if importlib.util.find_spec("hatchling") is not None:
        command.insert(command.index("--target"), "--no-build-isolation")
    return command


def plugins_missing_from(site: Path) -> list[str]:
    """The distributions that register nnkit plugins in this environment but are not
    installed in ``site``: the plugins a revision installed there does not have."""
    here = {
        entry_point.dist.metadata["Name"]
        for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP)
        if entry_point.dist is not None
    }
    there = {
        normalize_name(dist.metadata["Name"])
        for dist in metadata.distributions(path=[str(site)])
    }
    return sorted(name for name in here if normalize_name(name) not in there)


def copy_benchmarks(destination: Path) -> Path:
    """This ``benchmarks`` package alone, copied into ``destination`` (the child's working
    folder), so that the child imports the same benchmark code but not this nnkit."""
    shutil.copytree(
        Path(__file__).resolve().parent,
        destination / "benchmarks",
        ignore=shutil.ignore_patterns("__pycache__", "*.jsonl"),
    )
    return destination


class Baseline:
    """The proxy for the child process: a system whose ``time_job`` is answered there."""

    name = "baseline"

    def __init__(self, spec: str, repository: Path = REPOSITORY) -> None:
        self.spec = spec
        self._folder = Path(tempfile.mkdtemp(prefix="nnkit-baseline-"))
        try:
            python, path, isolation = self._prepare(spec, repository)
            copy_benchmarks(self._folder / "code")
            environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            environ["PYTHONPATH"] = os.pathsep.join([*path, str(self._folder / "code")])
            environ.update(isolation)
            self._process = subprocess.Popen(
                [python, "-m", "benchmarks.baseline_worker"],
                cwd=self._folder / "code",
                env=environ,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            self.description: dict[str, Any] = self._ask({"op": "describe"})
        except BaseException:
            self.close()
            raise

    def _prepare(
        self, spec: str, repository: Path
    ) -> tuple[str, list[str], dict[str, str]]:
        """The child's interpreter, the folders to put first on its path, and the
        environment variables that keep the working tree out of it."""
        if spec.startswith("git:"):
            revision = spec[len("git:") :]
            commit = resolve_revision(revision, repository)
            self.label = f"git {revision} ({commit[:10]})"
            source = export_revision(commit, self._folder / "source", repository)
            site = self._folder / "site"
            result = subprocess.run(
                install_command(source, site, repository_plugins(source)),
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT,
            )
            if result.returncode != 0:
                raise BaselineError(
                    f"--baseline {spec}: pip could not install that revision:\n"
                    f"{result.stderr.strip()}"
                )
            isolation = {HIDDEN_FOLDER_ENV: str(repository)}
            missing = plugins_missing_from(site)
            if missing:
                isolation[DISABLE_PLUGINS_ENV] = ",".join(
                    filter(None, [os.environ.get(DISABLE_PLUGINS_ENV), *missing])
                )
            return sys.executable, [str(site)], isolation
        location = Path(spec)
        python = location / "bin" / "python" if location.is_dir() else location
        if not python.exists():
            raise BaselineError(
                f"--baseline {spec}: neither a virtual environment (no bin/python inside) nor "
                "a Python interpreter; give git:REV (such as git:main) or the path of a "
                "virtual environment in which the earlier nnkit is installed"
            )
        self.label = str(location)
        return str(python), [], {}

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        stdin: IO[str] = self._process.stdin  # type: ignore[assignment]
        stdout: IO[str] = self._process.stdout  # type: ignore[assignment]
        try:
            stdin.write(json.dumps(request) + "\n")
            stdin.flush()
            line = stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            raise BaselineError(
                f"the baseline ({self.spec}) stopped (exit status {self._process.wait()}); "
                "its error is printed above"
            )
        answer = json.loads(line)
        if "error" in answer:
            hint = ""
            if answer["error"].startswith("ModuleNotFoundError"):
                hint = "; the baseline's Python needs nnkit, numpy and threadpoolctl installed"
            raise BaselineError(f"the baseline ({self.spec}) failed: {answer['error']}{hint}")
        return answer

    def time_job(self, workload: Any, action: str, threads: int) -> float:
        """Seconds the child takes to ``train`` or ``predict`` the same workload."""
        answer = self._ask(
            {
                "op": "time",
                "workload": workload.name,
                "samples": len(workload.X),
                "epochs": workload.epochs,
                "action": action,
                "threads": threads,
            }
        )
        return answer["seconds"]

    def guard_loss(self, workload: Any, samples: int) -> float:
        """The baseline's loss in the correctness guard (`benchmarks/guard.py`)."""
        return self._ask(
            {"op": "guard", "workload": workload.name, "samples": len(workload.X), "head": samples}
        )["loss"]

    def close(self) -> None:
        """Stop the child and remove the temporary folder."""
        process = getattr(self, "_process", None)
        if process is not None and process.poll() is None:
            process.stdin.close()  # type: ignore[union-attr]
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> Baseline:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
