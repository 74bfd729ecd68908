"""Saved state that passes the loader's shape and dtype checks but that no training could
produce is refused at load, naming the array, instead of crashing or turning to NaN on
the first resumed step."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nnkit
from nnkit.interfaces.state_checks import MAX_STEP_COUNT, require_non_negative, require_step_count

from .test_persistence import LABELS, X, classifier, npy, rewrite


def saved_with(tmp_path: Path, optimizer: str, name: str = "model.nnkit", **arrays) -> Path:
    """A model trained one epoch with ``optimizer``, its optimizer state partly replaced."""
    network = classifier(optimizer=optimizer)
    network.fit(X, LABELS, epochs=1)
    path = tmp_path / name
    network.save(path)
    rewrite(
        path,
        lambda members: members.update(
            {f"arrays/optimizer/{key}.npy": npy(value) for key, value in arrays.items()}
        ),
    )
    return path


def adam_state(path: Path) -> dict[str, np.ndarray]:
    return dict(nnkit.load(path).optimizer_state)


@pytest.mark.parametrize("t", [-1, -(2**63), MAX_STEP_COUNT, 2**63 - 1])
def test_an_adam_step_counter_out_of_range_is_refused(tmp_path, t):
    path = saved_with(tmp_path, "adam", t=np.array(t, dtype=np.int64))
    with pytest.raises(nnkit.ModelFileError) as caught:
        nnkit.load(path)
    message = str(caught.value)
    assert "optimizer state (arrays/optimizer/) is impossible" in message
    assert f"adam state 't' counts {t} steps" in message and "[0, 2**62)" in message


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_a_negative_second_moment_is_refused(tmp_path, optimizer):
    good = saved_with(tmp_path, optimizer, "good.nnkit")
    v = adam_state(good)["v"].copy()
    v[3] = -0.5
    path = saved_with(tmp_path, optimizer, v=v)
    with pytest.raises(nnkit.ModelFileError, match=r"state 'v' has 1 negative values .*index 3"):
        nnkit.load(path)


def test_a_zero_step_counter_is_the_fresh_state_and_loads(tmp_path):
    path = saved_with(tmp_path, "adam", t=np.array(0, dtype=np.int64))
    assert int(nnkit.load(path).optimizer_state["t"]) == 0


def test_the_checks_name_the_array_and_what_it_should_be():
    with pytest.raises(ValueError, match=r"sgd state 'v' has 2 negative values \(the first, at "):
        require_non_negative({"v": np.array([1.0, -1.0, -2.0])}, "v", "sgd", "a square")
    require_non_negative({"v": np.array([0.0, np.nan])}, "v", "sgd", "a square")  # NaN: loader's
    with pytest.raises(ValueError, match="should be a 0-d integer step counter"):
        require_step_count({"t": np.zeros(2, dtype=np.int64)}, "t", "adam")
    require_step_count({"t": np.array(MAX_STEP_COUNT - 1)}, "t", "adam")


def test_every_optimizer_accepts_its_own_state(tmp_path):
    for optimizer in [c.name for c in nnkit.components("optimizer")]:
        network = classifier(optimizer=optimizer)
        network.fit(X, LABELS, epochs=1)
        network.optimizer.check_state(network.optimizer_state)  # raises if not


# -- property-based: any state the loader accepts resumes to a finite step ------------------


@pytest.fixture(scope="module")
def adam_model(tmp_path_factory):
    network = classifier(optimizer="adam")
    network.fit(X, LABELS, epochs=1)
    path = tmp_path_factory.mktemp("adam") / "adam.nnkit"
    network.save(path)
    return path.read_bytes(), network.optimizer_state["v"].shape


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_adam_state_either_is_refused_or_resumes_finitely(adam_model, tmp_path, data):
    good, shape = adam_model
    path = tmp_path / "fuzzed.nnkit"
    path.write_bytes(good)
    moments = st.floats(-1e3, 1e3, width=32) | st.sampled_from([0.0, -0.0, -1e-30])
    replaced = {}
    if data.draw(st.booleans(), label="replace t"):
        replaced["t"] = np.array(data.draw(st.integers(-(2**63), 2**63 - 1)), dtype=np.int64)
    for key in ("m", "v"):
        if data.draw(st.booleans(), label=f"replace {key}"):
            values = data.draw(st.lists(moments, min_size=shape[0], max_size=shape[0]), label=key)
            replaced[key] = np.array(values, dtype=np.float32)
    rewrite(
        path,
        lambda members: members.update(
            {f"arrays/optimizer/{key}.npy": npy(value) for key, value in replaced.items()}
        ),
    )
    try:
        network = nnkit.load(path)
    except nnkit.ModelFileError:
        assert (replaced.get("t", 0) < 0 or replaced.get("t", 0) >= MAX_STEP_COUNT) or (
            "v" in replaced and (replaced["v"] < 0).any()
        )
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        network.fit(X, LABELS, epochs=1, batch_size=len(X))
    assert np.isfinite(network.store.values).all()
