"""Dense on samples of any shape maps the last axis, as Keras' Dense does."""

from __future__ import annotations

import numpy as np
import pytest

import nnkit
from nnkit.testing import check_network_gradients

RNG = np.random.default_rng(0)


def sequence_network(dtype: str = "float64") -> nnkit.Network:
    return nnkit.Network(
        [
            nnkit.Dense(5, activation="tanh"),
            nnkit.Dense(3, activation="softmax"),  # a softmax at every position
            nnkit.layer("flatten"),
            nnkit.Dense(2),
        ],
        loss="mse",
        seed=0,
        dtype=dtype,
    )


def test_each_position_gets_the_same_weights():
    net = sequence_network()
    X = RNG.normal(size=(6, 4, 7))
    net.build((4, 7))
    assert net.layer_shapes[:2] == [(4, 5), (4, 3)]
    first = net.layers[0]
    W, b = first.params["W"], first.params["b"]
    hidden = np.tanh(X @ W.T + b)  # every position by the formula, W (5, 7)
    second = net.layers[1]
    Z = hidden @ second.params["W"].T + second.params["b"]
    E = np.exp(Z - Z.max(axis=-1, keepdims=True))
    expected = E / E.sum(axis=-1, keepdims=True)
    flat = expected.reshape(6, -1) @ net.layers[3].params["W"].T + net.layers[3].params["b"]
    np.testing.assert_allclose(net.predict(X), flat, rtol=1e-12)


def test_flat_samples_are_computed_as_before():
    net = nnkit.Network([nnkit.Dense(4, activation="relu")], seed=0, dtype="float64").build(3)
    X = RNG.normal(size=(5, 3))
    W, b = net.layers[0].params["W"], net.layers[0].params["b"]
    np.testing.assert_array_equal(net.predict(X), np.maximum(X @ W.T + b, 0))
    assert net.layer_shapes == [(4,)]


def test_gradients_over_positions_match_finite_differences():
    net = sequence_network()
    X = RNG.normal(size=(4, 3, 7))
    y = RNG.normal(size=(4, 2))
    check_network_gradients(net, X, y)


def test_a_sequence_network_trains_saves_and_loads(tmp_path):
    net = sequence_network("float32")
    X = RNG.normal(size=(64, 4, 7)).astype(np.float32)
    y = X[:, :, 0].sum(axis=1, keepdims=True).repeat(2, axis=1)
    before = net.evaluate(X, y)["loss"] if net.built else None
    history = net.fit(X, y, epochs=30, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert before is None
    net.save(tmp_path / "seq.nnkit")
    again = nnkit.load(tmp_path / "seq.nnkit")
    np.testing.assert_array_equal(again.predict(X), net.predict(X))


def test_a_sequence_dense_exports_to_onnx():
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    net = sequence_network("float32").build((4, 7))
    X = RNG.normal(size=(3, 4, 7)).astype(np.float32)
    model = net.to_onnx()
    session = onnxruntime.InferenceSession(model.SerializeToString())
    (out,) = session.run(None, {session.get_inputs()[0].name: X})
    np.testing.assert_allclose(out, net.predict(X), rtol=1e-5, atol=1e-6)
