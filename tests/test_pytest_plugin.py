"""``pytest --nnkit-check``: names plugins as the environment variables do, prints ids
that run their check again, and answers a wrong name with a usage error."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import nnkit

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def pytest_in(tmp_path):
    """Run pytest in an empty project (one trivial test) with the options given."""
    (tmp_path / "test_nothing.py").write_text("def test_ok():\n    assert True\n")

    def run(*options: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            env={
                "PYTHONPATH": ":".join([str(ROOT), str(ROOT / "plugins"), *sys.path]),
                "NNKIT_LOAD_PLUGINS": "nnkit_std",
            },
        )

    return run


def kit_ids(output: str) -> list[str]:
    return re.findall(r"^(::test_nnkit_conformance\[[^\]]+\])$", output, re.M)


def test_an_entry_point_name_selects_the_same_checks_as_the_distribution_name(pytest_in):
    by_entry_point = kit_ids(pytest_in("--nnkit-check=nnkit_std", "--collect-only").stdout)
    by_distribution = kit_ids(pytest_in("--nnkit-check=nnkit", "--collect-only").stdout)
    assert by_entry_point == by_distribution
    assert "::test_nnkit_conformance[activation-nnkit_std:relu-activation_gradient]" in (
        by_entry_point
    )


def test_a_printed_id_runs_that_one_check_again(pytest_in):
    wanted = "::test_nnkit_conformance[optimizer-nnkit_std:adam-optimizer_descends]"
    for options in ([wanted], ["--nnkit-check=nnkit_std", wanted]):
        rerun = pytest_in("-rA", *options)
        assert rerun.returncode == 0, rerun.stdout[-800:] + rerun.stderr
        assert f"PASSED {wanted}" in rerun.stdout
        assert "1 passed" in rerun.stdout


def test_an_unknown_plugin_is_a_usage_error_listing_the_loaded_ones(pytest_in):
    unknown = pytest_in("--nnkit-check=no-such-plugin")
    assert unknown.returncode == pytest.ExitCode.USAGE_ERROR
    assert unknown.stderr.strip() == (
        "ERROR: --nnkit-check: no loaded plugin is called 'no-such-plugin'; name a plugin by "
        f"its entry-point or distribution name. Loaded plugins: nnkit_std (nnkit {nnkit.__version__})"
    )
    assert "Traceback" not in unknown.stdout + unknown.stderr
