"""ONNX export of networks drawn as graphs: onnxruntime answers as nnkit, by input name."""

from __future__ import annotations

import numpy as np
import pytest

import nnkit
from nnkit import Dense, Input, Network

onnxruntime = pytest.importorskip("onnxruntime")


def _session(net: Network, tmp_path):
    net.to_onnx(tmp_path / "model.onnx")
    return onnxruntime.InferenceSession(
        str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"]
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_graph_of_every_merge_and_a_shared_layer_equals_onnxruntime(tmp_path, dtype) -> None:
    left, right = Input(shape=(4,), name="left"), Input(shape=(4,), name="right")
    shared = Dense(4, activation="tanh")
    a, b = shared(left), shared(right)
    merges = [
        nnkit.layer("add")([a, b, left]),
        nnkit.layer("subtract")([a, b]),
        nnkit.layer("multiply")([a, b, right]),
        nnkit.layer("average")([a, b]),
    ]
    joined = nnkit.layer("concatenate", axis=1)(merges)
    net = Network(inputs=[left, right], outputs=Dense(3)(joined), seed=0, dtype=dtype)
    net.build((8,))
    rng = np.random.default_rng(0)
    X = {"left": rng.normal(size=(7, 4)), "right": rng.normal(size=(7, 4))}
    session = _session(net, tmp_path)
    assert [i.name for i in session.get_inputs()] == ["left", "right"]
    assert [o.name for o in session.get_outputs()] == ["Y"]
    (found,) = session.run(None, {k: v.astype(dtype) for k, v in X.items()})
    np.testing.assert_allclose(found, net.predict(X), rtol=1e-5, atol=1e-5)


def test_images_concatenated_along_channels_equal_onnxruntime(tmp_path) -> None:
    image = Input(shape=(2, 3, 3), name="image")
    doubled = nnkit.layer("concatenate", axis=1)([image, image])  # (4, 3, 3)
    net = Network(inputs=image, outputs=Dense(2)(nnkit.layer("flatten")(doubled)), seed=0)
    net.build((2, 3, 3))
    X = np.random.default_rng(1).normal(size=(5, 2, 3, 3)).astype(np.float32)
    (found,) = _session(net, tmp_path).run(None, {"image": X})
    np.testing.assert_allclose(found, net.predict(X), rtol=1e-5, atol=1e-5)


def test_a_merge_without_an_onnx_form_is_named() -> None:
    class Maximum(nnkit.MergeLayer):
        def build_inputs(self, input_shapes, rng):
            return input_shapes[0]

        def forward_inputs(self, xs, ws, training=False):
            return np.maximum(xs[0], xs[1])

        def backward_inputs(self, dy, ws, need_input_gradient=True):
            return [dy, dy]

    x = Input(shape=(3,))
    net = Network(inputs=x, outputs=Dense(1)(Maximum()([Dense(3)(x), x])))
    net.build(3)
    with pytest.raises(nnkit.ConfigurationError, match=r"layer 2, .*Maximum.*has no ONNX form"):
        net.to_onnx()
