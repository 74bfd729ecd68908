"""ONNX export of the sequence layers: onnxruntime's predictions equal nnkit's, for every
layer, in float32 and float64, at older and newer operator sets."""

from __future__ import annotations

import numpy as np
import pytest

import nnkit

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")

layer = nnkit.layer

#: Networks covering every layer and option, each with the sample shape it is built for.
NETWORKS = {
    "lstm-sequences-then-last": (
        lambda: [layer("lstm", units=5, return_sequences=True), layer("lstm", units=4),
                 nnkit.Dense(3, activation="softmax")],
        (6, 3),
    ),
    "gru-and-rnn": (
        lambda: [layer("gru", units=4, return_sequences=True), layer("rnn", units=3),
                 nnkit.Dense(2)],
        (5, 2),
    ),
    "transformer-block": (
        lambda: [layer("positional_embedding", max_length=8, dim=4),
                 layer("sinusoidal_embedding"), layer("layer_norm"),
                 layer("multi_head_attention", heads=2, key_dim=3, causal=True),
                 layer("multi_head_attention", heads=1, key_dim=2),
                 layer("global_avg_pool1d"), nnkit.Dense(2)],
        (6, 4),
    ),
    "convolutions-and-max-pool": (
        lambda: [layer("conv1d", filters=4, kernel_size=3, padding="causal", dilation=2,
                       activation="relu"),
                 layer("conv1d", filters=3, kernel_size=2, stride=2, padding="same"),
                 layer("conv1d", filters=3, kernel_size=3),
                 layer("global_max_pool1d"), nnkit.Dense(2, activation="softmax")],
        (11, 2),
    ),
}


def randomised(net, sample_shape):
    net.build(sample_shape)
    rng = np.random.default_rng(0)
    net.set_weights([rng.normal(scale=0.5, size=w.shape) for w in net.get_weights()])
    return net


def run(model, X):
    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return session.run(None, {"X": X})[0]


@pytest.mark.parametrize("opset", [13, 17, 21])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", NETWORKS)
def test_onnxruntime_predicts_what_nnkit_predicts(name, dtype, opset):
    layers, sample_shape = NETWORKS[name]
    net = randomised(nnkit.Network(layers(), dtype=dtype, seed=0), sample_shape)
    X = np.random.default_rng(1).normal(size=(4, *sample_shape)).astype(dtype)
    found = run(net.to_onnx(opset=opset), X)
    assert found.dtype == np.dtype(dtype)
    np.testing.assert_allclose(found, net.predict(X), rtol=1e-5, atol=1e-5)


def test_the_recurrent_layers_and_layer_norm_use_onnxs_own_operators():
    net = randomised(nnkit.Network([layer("layer_norm"), layer("lstm", units=3,
                                                               return_sequences=True),
                                    layer("gru", units=3, return_sequences=True),
                                    layer("rnn", units=2)], dtype="float32"), (4, 2))
    operators = {node.op_type for node in net.to_onnx(opset=17).graph.node}
    assert {"LayerNormalization", "LSTM", "GRU", "RNN"} <= operators
