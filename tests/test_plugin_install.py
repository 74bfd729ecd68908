"""Extending nnkit needs no change to it: the guide's plugin package, installed with pip,
passes the kit, is trained with by name, saved, reloaded, and missed by name once gone."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nnkit
from nnkit.testing import check_component, checks_for

#: The minimal plugin package of the "Writing a plugin" guide.
EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "acme-nn"
DISTRIBUTION = "acme-nn"
MODULE = "acme_nn"


def pip(*arguments: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *arguments],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr


def forget_plugin() -> None:
    sys.modules.pop(MODULE, None)
    importlib.invalidate_caches()


@pytest.fixture
def installed_plugin(tmp_path):
    project = tmp_path / "acme-nn"
    shutil.copytree(EXAMPLE, project)  # build from a copy: no build files in the checkout
    pip("install", "--no-deps", "--no-build-isolation", "--no-index", str(project))
    forget_plugin()
    try:
        yield
    finally:
        subprocess.run(
            [sys.executable, "-m", "pip", "uninstall", "--yes", DISTRIBUTION],
            capture_output=True,
            timeout=600,
        )
        forget_plugin()


def test_a_pip_installed_plugin_trains_saves_and_is_missed_when_gone(
    installed_plugin, isolated_registry, tmp_path
):
    isolated_registry()
    supplier = nnkit.registry.registry.default_registry().get("activation", "acme.softsign")
    assert (supplier.distribution, supplier.version) == (DISTRIBUTION, "0.1.0")
    check_component("acme.softsign")
    check_component("acme.sign_sgd")
    own_tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_acme_nn.py"],
        cwd=tmp_path / "acme-nn",
        capture_output=True,
        text=True,
        timeout=300,
    )
    expected = len(checks_for("activation")) + len(checks_for("optimizer"))
    assert own_tests.returncode == 0, own_tests.stdout
    assert f"{expected} passed" in own_tests.stdout, own_tests.stdout

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    net = nnkit.Network(
        [nnkit.Dense(8, activation="acme.softsign"), nnkit.Dense(2, activation="softmax")],
        loss="cross_entropy",
        optimizer=nnkit.optimizer("acme.sign_sgd", learning_rate=0.005),
        seed=0,
    )
    history = net.fit(X, y, epochs=20, verbose=0)
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]
    path = tmp_path / "acme.nnkit"
    net.save(path)
    assert np.array_equal(nnkit.load(path).predict(X), net.predict(X))

    pip("uninstall", "--yes", DISTRIBUTION)
    forget_plugin()
    isolated_registry()
    with pytest.raises(nnkit.MissingComponentError) as caught:
        nnkit.load(path)
    message = str(caught.value)
    assert "activation 'acme.softsign'" in message
    assert f"supplied by {DISTRIBUTION} 0.1.0" in message
    assert f"pip install {DISTRIBUTION}" in message


def test_the_wheel_ships_py_typed_so_type_checkers_read_nnkits_hints(tmp_path):
    import zipfile
    from pathlib import Path

    from hatchling.builders.wheel import WheelBuilder

    root = Path(__file__).resolve().parent.parent
    (wheel,) = WheelBuilder(str(root)).build(directory=str(tmp_path), versions=["standard"])
    assert "nnkit/py.typed" in zipfile.ZipFile(wheel).namelist()
