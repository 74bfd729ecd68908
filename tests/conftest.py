"""Shared fixtures: fake plugin distributions written into a temporary site directory."""

from __future__ import annotations

import itertools
import os
import sys
import textwrap
import tomllib
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

import pytest

_counter = itertools.count()

#: The first-party plugin distributions of this checkout (nnkit-extras, -vision, -text).
FIRST_PARTY = sorted((Path(__file__).resolve().parents[1] / "plugins").glob("nnkit-*"))


@pytest.fixture(scope="session", autouse=True)
def first_party_plugins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The checkout's first-party plugins, for the docs' examples and the command line's
    tests, as ``pip install`` leaves them: each distribution not installed already gets
    a dist-info naming its entry points, and its source goes on the path, for this
    process and the ones it starts (the docs build, ``nnkit`` commands). The README's
    test command installs nnkit alone, and the plugins' own CI steps install them for
    real afterwards.
    """
    site = tmp_path_factory.mktemp("first-party-site")
    added: list[str] = []
    for folder in FIRST_PARTY:
        project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
        try:
            metadata.distribution(project["name"])
            continue  # installed: use what is installed
        except metadata.PackageNotFoundError:
            pass
        info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
        )
        points = project.get("entry-points", {}).get("nnkit", {})
        (info / "entry_points.txt").write_text(
            "[nnkit]\n" + "".join(f"{name} = {target}\n" for name, target in points.items())
        )
        added.append(str(folder / "src"))
    if not added:
        yield
        return
    paths = [str(site), *added]
    saved_path, saved_env = list(sys.path), os.environ.get("PYTHONPATH")
    sys.path[:0] = paths
    os.environ["PYTHONPATH"] = os.pathsep.join(paths + ([saved_env] if saved_env else []))
    import nnkit

    nnkit.reload_plugins()
    yield
    sys.path[:] = saved_path
    if saved_env is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = saved_env


@pytest.fixture
def fake_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Write an installed-looking distribution with an ``nnkit`` entry point.

    ``fake_distribution("acme-nn", source)`` creates a module holding ``source`` and a
    ``acme_nn-1.0.dist-info`` whose ``entry_points.txt`` names it, on ``sys.path``, as
    ``pip install`` would leave it. Returns the entry-point name.
    """
    site = tmp_path / "site-packages"
    site.mkdir(exist_ok=True)
    monkeypatch.syspath_prepend(str(site))
    created: list[str] = []

    def make(
        distribution: str,
        source: str,
        version: str = "1.0",
        entry_point: str | None = None,
    ) -> str:
        module = f"fake_plugin_{next(_counter)}"
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        info = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n"
        )
        name = entry_point or distribution.replace("-", "_")
        (info / "entry_points.txt").write_text(f"[nnkit]\n{name} = {module}\n")
        created.append(module)
        return name

    yield make
    for module in created:
        sys.modules.pop(module, None)


@pytest.fixture
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> Callable[..., object]:
    """Reload the process-wide registry inside a test and restore the original after it.

    Call the returned function, with environment variables to set if any, each time the
    test should see the installed plugins afresh.
    """
    import nnkit.registry.registry

    monkeypatch.setattr(nnkit.registry.registry, "_default", None)
    # Components a test registers in-process stay in that test.
    monkeypatch.setattr(nnkit.registry.registry, "_local_components", {})

    def reload(**environ: str) -> object:
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        return nnkit.registry.registry.reload_plugins()

    return reload
