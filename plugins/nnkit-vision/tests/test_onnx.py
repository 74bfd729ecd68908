"""ONNX export of the image layers: onnxruntime's predictions equal nnkit's, for every
layer and option, in float32 and float64, from Python and from the shell."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from wiring import digits_cnn

import nnkit
from nnkit.data.split import train_test_split

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")

layer = nnkit.layer

#: Networks covering every layer and option, each with the sample shape it is built for.
NETWORKS = {
    "same-odd-kernel-max-pool": (
        lambda: [
            layer("conv2d", filters=4, kernel_size=3, padding="same", activation="relu"),
            layer("max_pool2d", pool_size=2),
            layer("flatten"),
            nnkit.Dense(3, activation="softmax"),
        ],
        (1, 8, 8),
    ),
    "same-even-kernels-stride-2": (  # pads 1 before and 2 after; then 0 before, 1 after
        lambda: [
            layer("conv2d", filters=4, kernel_size=4, stride=2, padding="same",
                  activation="sigmoid"),
            layer("conv2d", filters=3, kernel_size=2, stride=2, padding="same",
                  activation="tanh"),
            layer("flatten"),
            nnkit.Dense(2),
        ],
        (2, 11, 10),
    ),
    "valid-oblong-kernel-average-and-global-pools": (
        lambda: [
            layer("conv2d", filters=5, kernel_size=(2, 3), stride=(1, 2),
                  activation="leaky_relu"),
            layer("avg_pool2d", pool_size=2, stride=1),  # overlapping windows
            layer("global_avg_pool2d"),
            nnkit.Dense(3, activation="softmax"),
        ],
        (3, 9, 11),
    ),
    "pools-leaving-rows-and-columns-over": (
        lambda: [
            layer("conv2d", filters=3, kernel_size=1),  # no activation
            layer("max_pool2d", pool_size=3, stride=2),  # 10x9 -> 4x4, a column left over
            layer("avg_pool2d", pool_size=(3, 2), stride=(1, 2)),  # 4x4 -> 2x2
            layer("flatten"),
            nnkit.Dense(2),
        ],
        (2, 10, 9),
    ),
    "softmax-over-channels-with-gaps": (
        lambda: [
            layer("conv2d", filters=4, kernel_size=(3, 2), stride=3, padding="same",
                  activation="softmax"),  # a softmax over the filters of each pixel
            layer("avg_pool2d", pool_size=1, stride=2),  # windows with gaps between them
            layer("max_pool2d", pool_size=(1, 2), stride=(2, 1)),
            layer("flatten"),
            nnkit.Dense(2, activation="identity"),
        ],
        (2, 13, 14),
    ),
    "lenet-padding-dilation-groups": (
        lambda: [
            layer("conv2d", filters=4, kernel_size=5, padding=2, activation="tanh"),
            layer("conv2d", filters=4, kernel_size=3, padding=(2, 1), dilation=(2, 1),
                  groups=4),  # depthwise, dilated
            layer("conv2d", filters=6, kernel_size=1, groups=2, activation="relu"),
            layer("conv2d", filters=2, kernel_size=(2, 3), stride=2,
                  padding=((0, 1), (2, 0)), dilation=2, groups=2),
            layer("flatten"),
            nnkit.Dense(3, activation="softmax"),
        ],
        (2, 8, 9),
    ),
    "padded-pools-and-global-maximum": (
        lambda: [
            layer("conv2d", filters=3, kernel_size=3, padding=1, activation="tanh"),
            layer("max_pool2d", pool_size=3, stride=2, padding=1),  # -inf at the border
            layer("avg_pool2d", pool_size=(2, 3), stride=1, padding=(1, 1)),  # zeros count
            layer("max_pool2d", pool_size=2, padding=((1, 0), (0, 1))),
            layer("global_max_pool2d"),
            nnkit.Dense(2),
        ],
        (2, 9, 8),
    ),
    "zero-padding-and-cropping": (
        lambda: [
            layer("zero_padding2d", padding=((1, 0), (2, 1))),
            layer("conv2d", filters=3, kernel_size=3, activation="relu"),
            layer("cropping2d", cropping=((0, 2), (1, 1))),
            layer("flatten"),
            nnkit.Dense(2),
        ],
        (2, 7, 6),
    ),
    "upsampling-nearest-and-bilinear": (
        lambda: [
            layer("upsampling2d", size=(2, 3)),
            layer("conv2d", filters=2, kernel_size=3, stride=2, activation="tanh"),
            layer("upsampling2d", size=2, interpolation="bilinear"),
            layer("flatten"),
            nnkit.Dense(2),
        ],
        (2, 4, 3),
    ),
    "transposed-convolutions": (
        lambda: [
            layer("conv2d_transpose", filters=3, kernel_size=3, stride=2, padding=1,
                  output_padding=1, activation="relu"),
            layer("conv2d_transpose", filters=2, kernel_size=(2, 3), stride=(1, 2),
                  padding=(0, 2), output_padding=(0, 1)),
            layer("flatten"),
            nnkit.Dense(2),
        ],
        (2, 3, 4),
    ),
}


def run(model, X: np.ndarray) -> np.ndarray:
    """onnxruntime's ``Y`` for ``X``; ``model`` is an ``onnx.ModelProto`` or a file."""
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    session = onnxruntime.InferenceSession(source, providers=["CPUExecutionProvider"])
    return session.run(["Y"], {"X": X})[0]


def randomised(net: nnkit.Network, sample_shape, seed: int = 0) -> nnkit.Network:
    """``net`` built for ``sample_shape`` with every weight drawn from a normal
    distribution: biases start at zero, which would leave them untested."""
    net.build(sample_shape)
    rng = np.random.default_rng(seed)
    net.set_weights([rng.normal(scale=0.5, size=w.shape) for w in net.get_weights()])
    return net


def operators(model) -> set[str]:
    return {node.op_type for node in model.graph.node}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", NETWORKS)
def test_onnxruntime_predicts_what_nnkit_predicts(name, dtype):
    layers, sample_shape = NETWORKS[name]
    net = randomised(nnkit.Network(layers(), dtype=dtype, seed=0), sample_shape)
    X = np.random.default_rng(1).normal(size=(6, *sample_shape)).astype(dtype)
    found = run(net.to_onnx(), X)
    assert found.dtype == np.dtype(dtype)
    np.testing.assert_allclose(found, net.predict(X), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("opset", [13, 18, 21])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_layer_exports_at_older_and_newer_operator_sets(opset, dtype):
    """ReduceMean, for global pooling in float64, takes its axes as an input from 18."""
    net = randomised(nnkit.Network([
        layer("conv2d", filters=3, kernel_size=3, stride=2, padding="same", activation="tanh"),
        layer("max_pool2d", pool_size=2, stride=1), layer("avg_pool2d", pool_size=2),
        layer("global_avg_pool2d"),
    ], dtype=dtype), (2, 9, 8))
    maximum = randomised(nnkit.Network([
        layer("avg_pool2d", pool_size=2, padding=1), layer("global_max_pool2d"),
    ], dtype=dtype), (2, 9, 8))
    X = np.random.default_rng(2).normal(size=(4, 2, 9, 8)).astype(dtype)
    model = net.to_onnx(opset=opset)
    assert model.opset_import[0].version == opset
    np.testing.assert_allclose(run(model, X), net.predict(X), rtol=1e-5, atol=1e-5)
    found = run(maximum.to_onnx(opset=opset), X)
    np.testing.assert_allclose(found, maximum.predict(X), rtol=1e-5, atol=1e-5)


def test_padded_pools_become_pads_and_count_the_zeros_in_the_mean():
    net = nnkit.Network([
        layer("max_pool2d", pool_size=3, stride=2, padding=(1, 0)),
        layer("avg_pool2d", pool_size=2, padding=((1, 0), (0, 1))),
        layer("global_max_pool2d"),
    ]).build((1, 9, 9))
    nodes = {node.op_type: {a.name: onnx.helper.get_attribute_value(a)
                            for a in node.attribute} for node in net.to_onnx().graph.node}
    assert nodes["MaxPool"]["pads"] == [1, 0, 1, 0]
    assert nodes["AveragePool"]["pads"] == [1, 0, 0, 1]
    assert nodes["AveragePool"]["count_include_pad"] == 1
    assert "GlobalMaxPool" in nodes


def test_float32_graphs_use_the_convolution_and_pooling_operators():
    net = nnkit.Network([
        layer("conv2d", filters=2, kernel_size=4, stride=2, padding="same"),
        layer("conv2d", filters=2, kernel_size=(2, 3), padding="same", activation="relu"),
        layer("max_pool2d", pool_size=2), layer("avg_pool2d", pool_size=(2, 1), stride=1),
        layer("global_avg_pool2d"),
    ]).build((1, 9, 9))
    model = net.to_onnx()
    nodes = {node.op_type: [] for node in model.graph.node}
    for node in model.graph.node:
        nodes[node.op_type].append({a.name: onnx.helper.get_attribute_value(a)
                                    for a in node.attribute})
    # ONNX's pads are (top, left, bottom, right): (k - 1) // 2 before, k // 2 after.
    assert nodes["Conv"] == [
        {"kernel_shape": [4, 4], "strides": [2, 2], "pads": [1, 1, 2, 2], "dilations": [1, 1],
         "group": 1},
        {"kernel_shape": [2, 3], "strides": [1, 1], "pads": [0, 1, 1, 1], "dilations": [1, 1],
         "group": 1},
    ]
    assert nodes["MaxPool"] == [
        {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [0, 0, 0, 0], "ceil_mode": 0}
    ]
    assert nodes["AveragePool"] == [
        {"kernel_shape": [2, 1], "strides": [1, 1], "pads": [0, 0, 0, 0], "ceil_mode": 0,
         "count_include_pad": 1}
    ]
    assert {"GlobalAveragePool", "Flatten", "Relu"} <= set(nodes)


def test_conv_options_become_the_attributes_of_conv():
    net = nnkit.Network([
        layer("conv2d", filters=4, kernel_size=3, padding=((0, 1), (2, 3)), dilation=(2, 1),
              groups=2),
        layer("flatten"),
    ]).build((2, 9, 9))
    (conv,) = [node for node in net.to_onnx().graph.node if node.op_type == "Conv"]
    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in conv.attribute}
    assert attributes == {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [0, 2, 1, 3],
                          "dilations": [2, 1], "group": 2}


def test_float64_graphs_avoid_the_operators_onnxruntime_has_only_in_float32():
    layers, sample_shape = NETWORKS["valid-oblong-kernel-average-and-global-pools"]
    model = nnkit.Network(layers(), dtype="float64").build(sample_shape).to_onnx()
    found = operators(model)
    assert not found & {"Conv", "AveragePool", "GlobalAveragePool"}
    assert {"Slice", "Einsum", "Sum", "ReduceMean"} <= found


@pytest.fixture(scope="module")
def digits():
    X, y = nnkit.datasets.load_digits()
    return train_test_split(X.reshape(-1, 1, 8, 8) / 16, y, test_size=0.25, seed=0)


def test_the_digits_cnn_of_the_documentation_exports(digits, tmp_path):
    X_train, X_test, y_train, _ = digits
    cnn = digits_cnn()
    cnn.fit(X_train[:400], y_train[:400], epochs=1, batch_size=32, verbose=0)
    cnn.to_onnx(tmp_path / "digits-cnn.onnx")
    expected = cnn.predict(X_test)
    found = run(tmp_path / "digits-cnn.onnx", X_test.astype(np.float32))
    np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-5)
    assert (found.argmax(axis=1) == expected.argmax(axis=1)).all()


def test_nnkit_export_writes_a_saved_cnn_that_onnxruntime_runs(digits, tmp_path):
    _, X_test, _, _ = digits
    cnn = digits_cnn().build((1, 8, 8))
    cnn.save(tmp_path / "digits-cnn.nnkit")
    output = tmp_path / "digits-cnn.onnx"
    exported = subprocess.run(
        [sys.executable, "-m", "nnkit", "export", str(tmp_path / "digits-cnn.nnkit"),
         "-o", str(output)],
        capture_output=True, text=True, env=dict(os.environ), timeout=120,
    )
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.strip() == f"wrote {output}"
    found = run(output, X_test[:50].astype(np.float32))
    np.testing.assert_allclose(found, cnn.predict(X_test[:50]), rtol=1e-5, atol=1e-5)


class Cube(nnkit.Activation):
    """An activation with no ONNX form."""

    def forward(self, Z):
        return Z**3

    def derivative(self, Z):
        return 3 * Z**2


def test_a_conv2d_activation_without_an_onnx_form_is_named():
    net = nnkit.Network([layer("conv2d", filters=2, kernel_size=3, activation=Cube()),
                         layer("flatten")])
    net.build((1, 5, 5))
    with pytest.raises(nnkit.ConfigurationError, match=(
        r"the activation of conv2d, Cube \(not registered\), has no ONNX form: Cube does "
        r"not implement to_onnx"
    )):
        net.to_onnx()
