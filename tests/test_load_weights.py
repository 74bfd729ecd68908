"""Layer names and ``Network.load_weights``: weights copied from another model file by
position or by layer name, checked whole before anything is written."""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile

import numpy as np
import pytest

import nnkit
from nnkit.datasets import load_digits
from nnkit.errors import ConfigurationError, DataError, ModelFileError
from nnkit.files.weights import WeightsMismatchWarning


def _net(head_units=3, seed=0, head_name=None):
    head = nnkit.Dense(head_units, activation="softmax")
    head.name = head_name
    return nnkit.Network(
        [nnkit.Dense(8, activation="relu"), nnkit.Dense(6, activation="tanh"), head],
        loss="cross_entropy", optimizer="adam", seed=seed,
    )


def _saved(tmp_path, net, name="source.nnkit"):
    path = tmp_path / name
    net.build(5).save(path)
    return path


# -- names -------------------------------------------------------------------------


def test_unnamed_layers_get_unique_registry_names_and_given_names_are_kept():
    dense = [nnkit.Dense(4) for _ in range(4)]
    dense[1].name = "dense_1"  # taken by the user: the third unnamed dense skips it
    dense[3].name = "head"
    net = nnkit.Network([dense[0], nnkit.layer("dropout", rate=0.1), *dense[1:]])
    assert net.layer_names == ["dense", "dropout", "dense_1", "dense_2", "head"]
    assert dense[0].name is None  # assigned names stay the network's, not the layer's


def test_two_layers_of_one_name_and_a_bad_name_are_refused():
    first, second = nnkit.Dense(4), nnkit.Dense(2)
    first.name = second.name = "body"
    with pytest.raises(ConfigurationError, match="layers 1 and 2 are both named 'body'"):
        nnkit.Network([first, second])
    with pytest.raises(ConfigurationError, match="non-empty string"):
        first.name = ""
    with pytest.raises(ConfigurationError, match="non-empty string"):
        first.name = 3


def test_names_are_saved_restored_and_shown_in_the_summary(tmp_path):
    path = _saved(tmp_path, _net(head_name="head"))
    loaded = nnkit.load(path)
    assert loaded.layer_names == ["dense", "dense_1", "head"]
    out = io.StringIO()
    loaded.summary(file=out)
    rows = out.getvalue().splitlines()
    assert rows[0].split()[-1] == "name"
    assert [rows[i].split()[-1] for i in (2, 3, 4)] == ["dense", "dense_1", "head"]


def _rewrite_description(path, change):
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    description = json.loads(members["model.json"])
    change(description)
    members["model.json"] = json.dumps(description).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_a_file_without_names_gets_the_assigned_names(tmp_path):
    path = _saved(tmp_path, _net(head_name="head"))

    def drop_names(description):
        for entry in description["network"]["layers"]:
            del entry["layer_name"]

    _rewrite_description(path, drop_names)
    assert nnkit.load(path).layer_names == ["dense", "dense_1", "dense_2"]


def test_a_file_with_a_malformed_or_repeated_name_is_refused(tmp_path):
    path = _saved(tmp_path, _net())

    def repeat(description):
        for entry in description["network"]["layers"]:
            entry["layer_name"] = "same"

    _rewrite_description(path, repeat)
    with pytest.raises(ModelFileError, match="both named 'same'"):
        nnkit.load(path)

    def number(description):
        description["network"]["layers"][0]["layer_name"] = 7

    _rewrite_description(path, number)
    with pytest.raises(ModelFileError, match="'layer_name' is 7"):
        nnkit.load(path)


# -- load_weights ------------------------------------------------------------------


def test_by_position_copies_every_weight_of_the_same_architecture(tmp_path):
    source = _net(seed=1).build(5)
    path = _saved(tmp_path, source)
    target = _net(seed=2).build(5)
    assert not np.array_equal(target.get_weights()[0], source.get_weights()[0])
    target.load_weights(path)
    for ours, theirs in zip(target.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_by_position_refuses_another_architecture_and_changes_nothing(tmp_path):
    path = _saved(tmp_path, _net(head_units=4, seed=1))
    target = _net(seed=2).build(5)
    before = target.get_weights()
    with pytest.raises(DataError, match=r"layer 'dense_2' has parameters W \(3, 6\), b \(3,\)"
                       r".*has W \(4, 6\), b \(4,\).*by_name=True"):
        target.load_weights(path)
    for ours, kept in zip(target.get_weights(), before):
        np.testing.assert_array_equal(ours, kept)  # the body was not half copied
    shorter = nnkit.Network([nnkit.Dense(3, activation="softmax")], loss="cross_entropy")
    with pytest.raises(DataError, match="holds 3 layers but the network has 1"):
        shorter.build(5).load_weights(path)


def test_by_name_copies_matching_names_and_leaves_the_others(tmp_path):
    source = _net(seed=1, head_name="old_head")
    path = _saved(tmp_path, source)
    target = _net(head_units=4, seed=2, head_name="new_head").build(5)
    head_before = [a.copy() for a in target.layers[2].params.values()]
    target.load_weights(path, by_name=True)
    for index in (0, 1):  # "dense" and "dense_1" match
        for key in ("W", "b"):
            np.testing.assert_array_equal(
                target.layers[index].params[key], source.layers[index].params[key]
            )
    for before, after in zip(head_before, target.layers[2].params.values()):
        np.testing.assert_array_equal(before, after)


def test_by_name_refuses_a_shape_mismatch_naming_layer_and_shapes_unless_skipped(tmp_path):
    source = _net(seed=1)  # its head is "dense_2", with 3 units
    path = _saved(tmp_path, source)
    target = _net(head_units=4, seed=2).build(5)
    before = target.get_weights()
    with pytest.raises(DataError, match=r"layer 'dense_2' has parameters W \(4, 6\), b \(4,\),"
                       r" but .* has W \(3, 6\), b \(3,\); pass skip_mismatch=True"):
        target.load_weights(path, by_name=True)
    for ours, kept in zip(target.get_weights(), before):
        np.testing.assert_array_equal(ours, kept)
    with pytest.warns(WeightsMismatchWarning, match=r"skipped 1 layer\(s\).*'dense_2' \(W \(4, 6\)"):
        target.load_weights(path, by_name=True, skip_mismatch=True)
    np.testing.assert_array_equal(target.layers[0].params["W"], source.layers[0].params["W"])
    np.testing.assert_array_equal(target.get_weights()[4], before[4])  # the head kept


def test_load_weights_needs_a_built_network_booleans_and_a_model_file(tmp_path):
    path = _saved(tmp_path, _net())
    with pytest.raises(ConfigurationError, match="load_weights needs a built network"):
        _net().load_weights(path)
    with pytest.raises(ConfigurationError, match="by_name must be True or False"):
        _net().build(5).load_weights(path, by_name="yes")
    bad = tmp_path / "bad.nnkit"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match="not an nnkit model file"):
        _net().build(5).load_weights(bad)
    with pytest.raises(FileNotFoundError):
        _net().build(5).load_weights(tmp_path / "absent.nnkit")


def test_the_weights_change_inside_the_write_lock(tmp_path):
    source = _net(seed=1)
    path = _saved(tmp_path, source)
    target = _net(seed=2).build(5)
    before = target.get_weights()
    target._weights_lock.acquire_read()  # a prediction in progress
    loader = threading.Thread(target=target.load_weights, args=(path,))
    try:
        loader.start()
        time.sleep(0.5)
        assert loader.is_alive()  # waits for the reader
        for ours, kept in zip(target.get_weights(), before):
            np.testing.assert_array_equal(ours, kept)
    finally:
        target._weights_lock.release_read()
    loader.join(10)
    np.testing.assert_array_equal(target.get_weights()[0], source.get_weights()[0])


def test_fine_tuning_a_saved_digits_cnns_head_with_the_convolutions_frozen(tmp_path):
    X, y = load_digits()
    images = X.reshape(-1, 1, 8, 8)
    train, tune = slice(0, 1000), slice(1000, 1400)

    def body():
        return [
            nnkit.layer("conv2d", filters=8, kernel_size=3, activation="relu"),
            nnkit.layer("conv2d", filters=8, kernel_size=3, activation="relu"),
            nnkit.layer("flatten"),
        ]

    base = nnkit.Network(
        [*body(), nnkit.Dense(10, activation="softmax")],
        loss="cross_entropy", optimizer=nnkit.optimizer("adam", learning_rate=3e-3), seed=0,
    )
    base.fit(images[train], y[train], epochs=3, batch_size=32, verbose=0)
    base.save(tmp_path / "digits.nnkit")

    head = nnkit.Dense(10, activation="softmax")
    head.name = "head"
    tuned = nnkit.Network(
        [*body(), head], loss="cross_entropy",
        optimizer=nnkit.optimizer("adam", learning_rate=1e-2), seed=5,
    )
    tuned.build((1, 8, 8))
    tuned.load_weights(tmp_path / "digits.nnkit", by_name=True)
    for layer in tuned.layers[:2]:
        layer.trainable = False
    convolutions = [a.copy() for layer in tuned.layers[:2] for a in layer.params.values()]
    for ours, saved in zip(convolutions, base.get_weights()[:4]):
        np.testing.assert_array_equal(ours, saved)  # the body came from the file
    untrained = tuned.evaluate(images[tune], y[tune])["accuracy"]
    tuned.fit(images[tune], y[tune], epochs=5, batch_size=32, verbose=0)
    after = [a for layer in tuned.layers[:2] for a in layer.params.values()]
    for before, now in zip(convolutions, after):
        np.testing.assert_array_equal(before, now)  # frozen, bit for bit
    accuracy = tuned.evaluate(images[1400:], y[1400:])["accuracy"]
    assert accuracy > max(0.7, untrained + 0.4), (untrained, accuracy)  # 0.81 from 0.14
