"""The tests ``pytest --nnkit-check`` runs: every check on every installed component."""

from __future__ import annotations

import pytest

from nnkit.testing import checks_for, installed_components
from nnkit.testing.pytest_plugin import distributions_to_check


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "component" not in metafunc.fixturenames:
        return
    wanted = distributions_to_check(metafunc.config)
    subjects = installed_components(wanted)
    if wanted and not subjects:
        raise pytest.UsageError(f"--nnkit-check: no installed component comes from {wanted}")
    cases = [
        pytest.param(subject, check, id=f"{subject.kind}-{subject.name}-{check.name}")
        for subject in subjects
        for check in checks_for(subject.kind)
    ]
    metafunc.parametrize(("component", "check"), cases)


def test_nnkit_conformance(component, check):
    check(component)
