"""layer.trainable = False: the frozen parameters, and the optimizer's state for them,
stay bit for bit through fit; the flag is saved, restored, and shown in the summary."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

import nnkit
from nnkit.errors import ConfigurationError, ModelFileError


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 5)), rng.integers(0, 3, size=n)


def _net(optimizer="adam"):
    return nnkit.Network(
        [nnkit.Dense(8, activation="relu"), nnkit.Dense(6, activation="tanh"),
         nnkit.Dense(3, activation="softmax")],
        loss="cross_entropy", optimizer=optimizer, seed=0,
    )


@pytest.mark.parametrize(
    "optimizer",
    [nnkit.optimizer("adam", weight_decay=0.1),
     nnkit.optimizer("adam", weight_decay=0.1, decoupled_weight_decay=False),
     nnkit.optimizer("sgd", learning_rate=0.1, momentum=0.9)],
)
def test_a_frozen_layer_is_unchanged_bit_for_bit_and_its_optimizer_state_untouched(optimizer):
    X, y = _data()
    net = _net(optimizer)
    net.build(5)
    net.layers[0].trainable = False
    frozen_before = [a.copy() for a in net.store.value_views[0].values()]
    other_before = [a.copy() for a in net.store.value_views[1].values()]
    net.fit(X, y, epochs=3, batch_size=8, verbose=0)
    for before, after in zip(frozen_before, net.store.value_views[0].values()):
        np.testing.assert_array_equal(before, after)
    assert any(not np.array_equal(b, a)
               for b, a in zip(other_before, net.store.value_views[1].values()))
    size = sum(a.size for a in frozen_before)
    for key, array in net.optimizer_state.items():
        if array.shape == net.store.values.shape:
            assert not np.any(array[:size]), key  # the moments stay zero there
            assert np.any(array[size:]), key


def test_all_trainable_steps_are_unchanged_by_an_unfrozen_layer():
    X, y = _data()
    plain, toggled = _net(), _net()
    toggled.layers[1].trainable = False
    toggled.layers[1].trainable = True
    plain.fit(X, y, epochs=2, verbose=0)
    toggled.fit(X, y, epochs=2, verbose=0)
    for a, b in zip(plain.get_weights(), toggled.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_freezing_everything_changes_nothing():
    X, y = _data()
    net = _net()
    net.build(5)
    for layer in net.layers:
        layer.trainable = False
    before = net.get_weights()
    net.fit(X, y, epochs=1, verbose=0)
    for a, b in zip(before, net.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert net.n_trainable_parameters == 0


def test_a_frozen_holder_freezes_the_layers_it_holds():
    X, y = _data()
    net = nnkit.Network(
        [nnkit.Dense(5), nnkit.layer("residual", layers=[nnkit.Dense(5, activation="tanh")]),
         nnkit.Dense(3, activation="softmax")],
        loss="cross_entropy", optimizer="adam", seed=0,
    )
    net.build(5)
    net.layers[1].trainable = False
    inner = [a.copy() for a in net.store.value_views[2].values()]
    net.fit(X, y, epochs=2, verbose=0)
    for before, after in zip(inner, net.store.value_views[2].values()):
        np.testing.assert_array_equal(before, after)


def test_trainable_must_be_a_flag():
    with pytest.raises(ConfigurationError, match="True or False"):
        nnkit.Dense(2).trainable = "no"


def test_the_flag_is_saved_restored_and_training_resumes_frozen(tmp_path):
    X, y = _data()
    net = _net()
    net.build(5)
    net.layers[1].trainable = False
    net.fit(X, y, epochs=1, verbose=0)
    path = tmp_path / "frozen.nnkit"
    net.save(path)
    again = nnkit.load(path)
    assert [layer.trainable for layer in again.layers] == [True, False, True]
    frozen = [a.copy() for a in again.store.value_views[1].values()]
    again.fit(X, y, epochs=1, verbose=0)
    for before, after in zip(frozen, again.store.value_views[1].values()):
        np.testing.assert_array_equal(before, after)


def _rewrite_description(path, change):
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    name = next(n for n in entries if n.endswith(".json"))
    description = json.loads(entries[name])
    change(description)
    entries[name] = json.dumps(description).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for key, data in entries.items():
            archive.writestr(key, data)


def test_a_file_without_the_flag_means_trainable(tmp_path):
    net = _net()
    net.build(5)
    path = tmp_path / "old.nnkit"
    net.save(path)

    def drop(description):
        for entry in description["network"]["layers"]:
            del entry["trainable"]

    _rewrite_description(path, drop)
    again = nnkit.load(path)
    assert all(layer.trainable for layer in again.layers)
    assert again.n_trainable_parameters == again.n_parameters


def test_a_flag_that_is_not_a_boolean_is_refused(tmp_path):
    net = _net()
    net.build(5)
    path = tmp_path / "bad.nnkit"
    net.save(path)

    def spoil(description):
        description["network"]["layers"][0]["trainable"] = "yes"

    _rewrite_description(path, spoil)
    with pytest.raises(ModelFileError, match="trainable"):
        nnkit.load(path)


def test_the_summary_shows_trainable_and_frozen_counts():
    net = _net()
    net.build(5)
    net.layers[0].trainable = False
    out = io.StringIO()
    net.summary(out)
    assert "trainable parameters: 75    frozen: 48" in out.getvalue()
    assert net.n_trainable_parameters == 75 and net.n_parameters == 123


def test_a_0_2_model_file_loads_trainable_and_predicts_the_same_after_a_round_trip(tmp_path):
    from pathlib import Path

    data = Path(__file__).parent / "data"
    recorded = np.load(data / "v0.2-expected.npz")
    net = nnkit.load(data / "v0.2-classifier.nnkit")
    assert all(layer.trainable for layer in net.all_layers)
    assert net.n_trainable_parameters == net.n_parameters
    net.save(tmp_path / "again.nnkit")
    again = nnkit.load(tmp_path / "again.nnkit")
    np.testing.assert_allclose(again.predict(recorded["X"]), recorded["proba"],
                               rtol=1e-6, atol=1e-7)
