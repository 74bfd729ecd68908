"""Shared fixtures: fake plugin distributions written into a temporary site directory."""

from __future__ import annotations

import itertools
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

_counter = itertools.count()


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
