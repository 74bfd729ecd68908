"""The tests ``pytest --nnkit-check`` runs: every check on every installed component."""

from __future__ import annotations

import pytest

from nnkit.testing import checked_kind, checks_for, installed_components
from nnkit.testing.pytest_plugin import plugins_to_check


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "component" not in metafunc.fixturenames:
        return
    subjects = installed_components(plugins_to_check(metafunc.config))
    # Ids name the supplier too ("activation-nnkit_std:relu-activation_gradient"), so each
    # is unique and selects the same check whatever else is installed.
    cases = [
        pytest.param(
            subject,
            check,
            id=f"{subject.kind}-{subject.info.origin.qualified_name}-{check.name}"
            if subject.info
            else f"{subject.kind}-{subject.label}-{check.name}",
        )
        for subject in subjects
        for check in checks_for(checked_kind(subject))
    ]
    metafunc.parametrize(("component", "check"), cases)


def test_nnkit_conformance(component, check):
    check(component)
