"""The kit as a pytest plugin: ``pytest --nnkit-check`` checks every installed component.

nnkit registers this module under pytest's ``pytest11`` entry point, so it loads with
pytest, but it does nothing unless asked: ``--nnkit-check`` adds one test per installed
component and check, and ``--nnkit-check=acme`` limits them to the components of one
plugin, named by its entry-point name (``acme``) or its distribution (``acme-nn``), as
``NNKIT_LOAD_PLUGINS`` names them; a comma-separated list names several.

Each test's id names the kind, the plugin-qualified component and the check
(``test_nnkit_conformance[activation-acme:acme.cube-activation_gradient]``); the id
pytest prints, passed back on the command line, runs that one check again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import pytest

#: The test module the option adds to the collection.
CONFORMANCE_MODULE: Final = Path(__file__).with_name("conformance.py")
#: The test function of that module, whose ids pytest prints without the module's path
#: (the module lives outside the project being tested).
CONFORMANCE_TEST: Final = "test_nnkit_conformance"
#: The option's value when given without names: every installed component.
ALL: Final = "all"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nnkit", "nnkit component conformance")
    group.addoption(
        "--nnkit-check",
        nargs="?",
        const=ALL,
        default=None,
        metavar="PLUGINS",
        help="run nnkit's conformance kit on every installed component, or on those of "
        "the comma-separated plugins given (entry-point or distribution names)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # A printed id such as "::test_nnkit_conformance[...]" has lost the module's path:
    # put it back, so the id re-runs its check with or without --nnkit-check.
    prefix = f"::{CONFORMANCE_TEST}"
    rerun = [arg for arg in config.args if arg.startswith(prefix)]
    config.args[:] = [
        f"{CONFORMANCE_MODULE}{arg}" if arg.startswith(prefix) else arg for arg in config.args
    ]
    if config.getoption("nnkit_check") is None:
        return
    _check_names(plugins_to_check(config))
    if not rerun:
        config.args.append(str(CONFORMANCE_MODULE))


def plugins_to_check(config: Any) -> list[str]:
    """The plugins named by ``--nnkit-check`` (empty for all of them)."""
    value = config.getoption("nnkit_check")
    if value in (None, ALL):
        return []
    return [name.strip() for name in value.split(",") if name.strip()]


def _check_names(names: list[str]) -> None:
    """Answer a name that is no loaded plugin with a usage error listing the loaded ones."""
    from nnkit.registry.origins import normalize_name
    from nnkit.registry.registry import default_registry

    registry = default_registry()
    known = {normalize_name(p.name) for p in registry.plugins}
    known |= {normalize_name(p.distribution) for p in registry.plugins if p.distribution}
    unknown = [name for name in names if normalize_name(name) not in known]
    if unknown:
        loaded = ", ".join(p.describe() for p in registry.plugins) or "none"
        raise pytest.UsageError(
            f"--nnkit-check: no loaded plugin is called {', '.join(map(repr, unknown))}; "
            f"name a plugin by its entry-point or distribution name. Loaded plugins: {loaded}"
        )
