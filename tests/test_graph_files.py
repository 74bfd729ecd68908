"""Model files of networks drawn as graphs: the graph recorded, loaded back the same."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

import nnkit
from nnkit import Dense, Input, ModelFileError, Network
from nnkit.files.model_format import CHAIN_FORMAT_VERSION, FORMAT_VERSION


def _two_inputs_with_a_shared_layer() -> Network:
    left, right = Input(shape=(4,), name="left"), Input(shape=(2, 2), name="right")
    shared = Dense(5, activation="tanh", l2=0.01)
    flat = nnkit.layer("flatten")(right)
    merged = nnkit.layer("concatenate")([shared(left), shared(flat), left])
    skip = nnkit.layer("add")([Dense(3)(merged), Dense(3)(left)])
    return Network(
        inputs=[left, right], outputs=Dense(2)(skip), optimizer="adam", seed=4
    )


def _data(n: int = 40) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(0)
    X = {"left": rng.normal(size=(n, 4)), "right": rng.normal(size=(n, 2, 2))}
    return X, rng.normal(size=(n, 2))


def _description(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("model.json"))


def test_a_graph_saves_and_loads_with_its_calls_shared_layers_and_names(tmp_path) -> None:
    X, y = _data()
    net = _two_inputs_with_a_shared_layer()
    net.fit(X, y, epochs=2, batch_size=8, verbose=0)
    net.save(tmp_path / "graph.nnkit")
    loaded = nnkit.load(tmp_path / "graph.nnkit")
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))
    assert loaded.graph.input_names == ["left", "right"]
    assert [n.inputs for n in loaded.graph.nodes] == [n.inputs for n in net.graph.nodes]
    assert loaded.n_parameters == net.n_parameters  # the shared layer saved once
    # Training resumes exactly: same weights, optimizer state and random streams.
    net.fit(X, y, epochs=1, batch_size=8, verbose=0)
    loaded.fit(X, y, epochs=1, batch_size=8, verbose=0)
    np.testing.assert_allclose(loaded.get_weights()[0], net.get_weights()[0], rtol=1e-6)
    record = _description(tmp_path / "graph.nnkit")
    assert record["format_version"] == FORMAT_VERSION
    assert record["network"]["graph"]["inputs"][1] == {"name": "right", "shape": [2, 2]}


def test_a_chain_keeps_the_format_older_readers_read(tmp_path) -> None:
    net = Network([Dense(2)], seed=0).build(3)
    net.save(tmp_path / "chain.nnkit")
    record = _description(tmp_path / "chain.nnkit")
    assert record["format_version"] == CHAIN_FORMAT_VERSION
    assert "graph" not in record["network"]


def test_a_damaged_graph_record_is_a_model_file_error(tmp_path) -> None:
    net = _two_inputs_with_a_shared_layer().build((8,))
    net.save(tmp_path / "graph.nnkit")
    description = _description(tmp_path / "graph.nnkit")
    description["network"]["graph"]["calls"][2] = [0, [99]]  # reads a value not yet made
    with zipfile.ZipFile(tmp_path / "graph.nnkit") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["model.json"] = json.dumps(description).encode()
    with zipfile.ZipFile(tmp_path / "bad.nnkit", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ModelFileError, match="call 3 of the graph is malformed"):
        nnkit.load(tmp_path / "bad.nnkit")
