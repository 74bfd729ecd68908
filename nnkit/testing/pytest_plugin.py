"""The kit as a pytest plugin: ``pytest --nnkit-check`` checks every installed component.

nnkit registers this module under pytest's ``pytest11`` entry point, so it loads with
pytest, but it does nothing unless asked: ``--nnkit-check`` adds one test per installed
component and check, and ``--nnkit-check=acme-nn`` limits them to the components one
distribution supplies (a comma-separated list names several).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

#: The test module the option adds to the collection.
CONFORMANCE_MODULE = Path(__file__).with_name("conformance.py")
ALL = "all"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nnkit", "nnkit component conformance")
    group.addoption(
        "--nnkit-check",
        nargs="?",
        const=ALL,
        default=None,
        metavar="DISTRIBUTIONS",
        help="run nnkit's conformance kit on every installed component, or on those of "
        "the comma-separated distributions given",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("nnkit_check") is not None:
        config.args.append(str(CONFORMANCE_MODULE))


def distributions_to_check(config: Any) -> list[str]:
    """The distributions named by ``--nnkit-check`` (empty for all of them)."""
    value = config.getoption("nnkit_check")
    if value in (None, ALL):
        return []
    return [name.strip() for name in value.split(",") if name.strip()]
