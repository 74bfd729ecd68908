"""The ``nnkit`` command, run as a user runs it: in a real subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import nnkit


def nnkit_command(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "nnkit", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=300,
    )


def test_train_with_no_arguments_prints_epochs_and_test_accuracy():
    result = nnkit_command("train")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("data: bundled digits, 1348 training and 449 test samples")
    assert sum(line.startswith("epoch ") for line in lines) == 50
    accuracy = float(re.search(r"test accuracy: ([0-9.]+)", lines[-1]).group(1))
    assert accuracy >= 0.95


def test_train_options_change_the_network():
    result = nnkit_command(
        "train",
        "--layers",
        "16,8",
        "--optimizer",
        "sgd",
        "--learning-rate",
        "0.1",
        "--epochs",
        "3",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1 and "test accuracy" in result.stdout


def test_user_errors_are_one_line_with_a_nonzero_exit():
    result = nnkit_command("train", "--optimizer", "adma", "--epochs", "1")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "optimizer 'adma' is not registered. Did you mean 'adam'?" in result.stderr
    assert "Traceback" not in result.stderr
    bad_layers = nnkit_command("train", "--layers", "64,x")
    assert bad_layers.returncode == 2 and "comma-separated positive integers" in bad_layers.stderr
    zero_epochs = nnkit_command("train", "--epochs", "0")
    assert zero_epochs.returncode == 1 and "epochs must be a positive integer" in zero_epochs.stderr


def test_version_and_help():
    assert nnkit_command("--version").stdout.strip() == f"nnkit {nnkit.__version__}"
    help_text = nnkit_command("train", "--help").stdout
    assert "--learning-rate" in help_text and "examples:" in help_text


def test_plugins_lists_components_with_their_distribution():
    table = nnkit_command("plugins").stdout
    assert re.search(
        r"^activation\s+relu\s+nnkit_std\s+nnkit\s+" + re.escape(nnkit.__version__), table, re.M
    )
    listing = json.loads(nnkit_command("plugins", "--json").stdout)
    rows = {(row["kind"], row["name"]): row for row in listing["components"]}
    assert rows[("optimizer", "adam")]["distribution"] == "nnkit"
    assert listing["failed"] == []


def test_plugins_reports_disabled_plugins():
    listing = json.loads(
        nnkit_command("plugins", "--json", env={"NNKIT_DISABLE_PLUGINS": "nnkit"}).stdout
    )
    assert listing["components"] == [] and listing["disabled"] == ["nnkit_std"]
