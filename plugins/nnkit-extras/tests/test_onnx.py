"""ONNX export of the extra components: onnxruntime's predictions equal nnkit's, for every
activation and for a trained batch_norm, in float32 and float64, at the oldest, default
and newest operator sets nnkit exports, for extreme inputs, and from the shell."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import nnkit

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")

#: The largest difference from nnkit allowed, relative and absolute, per dtype.
TOLERANCE = {"float32": 1e-5, "float64": 1e-10}
#: The oldest, the default and the newest operator set nnkit exports.
OPSETS = [13, 17, 21]
#: Every extra activation, ELU also with an alpha of its own.
ACTIVATIONS = {
    "gelu": lambda: "gelu",
    "silu": lambda: "silu",
    "elu": lambda: "elu",
    "elu-alpha-0.3": lambda: nnkit.activation("elu", alpha=0.3),
    "selu": lambda: "selu",
    "softplus": lambda: "softplus",
    "mish": lambda: "mish",
}


def run(model, X: np.ndarray) -> np.ndarray:
    """onnxruntime's ``Y`` for ``X``; ``model`` is an ``onnx.ModelProto`` or a file."""
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    session = onnxruntime.InferenceSession(source, providers=["CPUExecutionProvider"])
    return session.run(["Y"], {"X": X})[0]


def assert_same_predictions(found: np.ndarray, expected: np.ndarray, dtype: str) -> None:
    assert found.dtype == np.dtype(dtype)
    tolerance = TOLERANCE[dtype]
    np.testing.assert_allclose(found, expected, rtol=tolerance, atol=tolerance)


def randomised(net: nnkit.Network, n_features: int) -> nnkit.Network:
    """``net`` built with every weight drawn from a normal distribution: biases start
    at zero, which would leave them untested."""
    net.build(n_features)
    rng = np.random.default_rng(0)
    net.set_weights([rng.normal(size=w.shape) for w in net.get_weights()])
    return net


def operators(model) -> set[str]:
    return {node.op_type for node in model.graph.node}


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_onnxruntime_computes_each_activation_as_nnkit_does(name, dtype, opset):
    activation = ACTIVATIONS[name]
    net = randomised(nnkit.Network(
        [nnkit.Dense(8, activation=activation()), nnkit.Dense(3, activation=activation())],
        dtype=dtype,
    ), 5)
    X = 3 * np.random.default_rng(1).normal(size=(40, 5)).astype(dtype)
    model = net.to_onnx(opset=opset)
    assert model.opset_import[0].version == opset
    assert_same_predictions(run(model, X), net.predict(X), dtype)


def extreme_inputs(dtype: str) -> np.ndarray:
    """Both signs of magnitudes from 1e-30 to a quarter of the dtype's largest number,
    through those where ``e^z`` or ``z^3`` overflow: one sample of shape (2, 18)."""
    big = np.finfo(dtype).max / 4
    magnitudes = [0, 1e-30, 1e-12, 1e-7, 1e-3, 0.5, 1, 3, 15, 20, 40, 90, 100, 710, 800, 1e4,
                  1e15, big]
    return np.array([[magnitudes, [-m for m in magnitudes]]], dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_extreme_inputs_give_what_nnkit_gives_and_never_inf_or_nan(name, dtype):
    """The activation as a layer of its own, on samples of shape (2, 18)."""
    X = extreme_inputs(dtype)
    net = nnkit.Network(
        [nnkit.layer("activation", activation=ACTIVATIONS[name]()), nnkit.layer("flatten")],
        dtype=dtype,
    ).build(X.shape[1:])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning on the way to a finite result
        expected = net.predict(X)
    assert np.isfinite(expected).all()
    found = run(net.to_onnx(), X)
    assert np.isfinite(found).all(), f"inf or nan at inputs {X.ravel()[~np.isfinite(found[0])]}"
    assert_same_predictions(found, expected, dtype)


@pytest.mark.parametrize("name", ["elu", "selu", "softplus", "mish"])
def test_float64_graphs_keep_the_relative_precision_of_expm1_and_log1p(name):
    """Near 0 (e^z - 1) and far below it (log(1 + e^z)), a difference of exponentials
    or logarithms would cancel; the graph matches nnkit relatively, not just to 1e-10."""
    z = np.array([[-50, -30, -1e-3, -1e-7, -1e-12, -1e-20, 1e-20, 1e-12, 1e-7]])
    net = nnkit.Network([nnkit.layer("activation", activation=name)], dtype="float64")
    net.build(z.shape[1:])
    np.testing.assert_allclose(run(net.to_onnx(), z), net.predict(z), rtol=1e-10, atol=0)


def test_float64_graphs_avoid_the_operators_onnxruntime_has_only_in_float32():
    layers = [nnkit.Dense(4, activation=name) for name in ("elu", "selu", "softplus", "mish")]
    model = nnkit.Network([*layers, nnkit.layer("batch_norm")], dtype="float64").build(3).to_onnx()
    found = operators(model)
    assert not found & {"Elu", "Selu", "Softplus", "BatchNormalization"}
    assert {"Where", "Tanh", "Log", "Exp"} <= found


def test_float32_graphs_use_the_activation_and_normalisation_operators():
    layers = [nnkit.Dense(4, activation=name) for name in ("elu", "selu", "softplus", "mish")]
    model = nnkit.Network([*layers, nnkit.layer("batch_norm")]).build(3).to_onnx()
    assert {"Elu", "Selu", "Softplus", "BatchNormalization"} <= operators(model)
    attributes = {
        node.op_type: {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        for node in model.graph.node
    }
    assert attributes["Selu"] == pytest.approx({"alpha": 1.6732632, "gamma": 1.0507010})
    assert attributes["BatchNormalization"] == pytest.approx({"epsilon": 1e-3})


@functools.cache
def trained_batch_norm_network(dtype: str) -> tuple[nnkit.Network, np.ndarray]:
    """A classifier with two batch_norm layers trained on features far from zero mean and
    unit variance, and samples to predict.

    The last feature is constant while training, so the first layer's running variance
    for it falls to about 0; the samples to predict vary there, which makes the output
    hang on ``1 / sqrt(epsilon)``, and on epsilon to its last digit.
    """
    rng = np.random.default_rng(0)
    loc, scale = [5, -3, 0, 2], [4, 0.5, 1, 0]
    X = rng.normal(loc=loc, scale=scale, size=(300, 4))
    y = (X[:, 0] + 4 * X[:, 1] > -7).astype(int)
    net = nnkit.Network(
        [nnkit.layer("batch_norm", momentum=0.5, epsilon=1e-2),
         nnkit.Dense(6, activation="gelu"), nnkit.layer("batch_norm"),
         nnkit.Dense(2, activation="softmax")],
        loss="cross_entropy", optimizer="adam", seed=0, dtype=dtype,
    )
    net.fit(X, y, epochs=3, batch_size=32, verbose=0)
    samples = rng.normal(loc=loc, scale=[4, 0.5, 1, 0.1], size=(60, 4))
    return net, samples.astype(dtype)


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_trained_batch_norm_predicts_in_onnxruntime_what_it_predicts_in_nnkit(dtype, opset):
    net, X = trained_batch_norm_network(dtype)
    first, second = net.layers[0], net.layers[2]
    assert np.abs(first.running_mean[:2]).min() > 1  # the statistics moved from 0 and 1
    assert np.abs(first.running_var[:2] - 1).min() > 0.5
    assert first.running_var[3, 0] < 1e-6
    assert np.abs(second.running_mean).max() > 0.1
    assert np.abs(second.params["gamma"] - 1).max() > 1e-3  # gamma and beta were trained
    assert np.abs(second.params["beta"]).max() > 1e-3
    assert_same_predictions(run(net.to_onnx(opset=opset), X), net.predict(X), dtype)


def test_nnkit_export_writes_a_saved_model_with_extra_components_that_onnxruntime_runs(
    tmp_path,
):
    net = randomised(nnkit.Network(
        [nnkit.Dense(8, activation="mish"), nnkit.layer("batch_norm"),
         nnkit.Dense(8, activation="selu"), nnkit.Dense(3, activation="softmax")],
        loss="cross_entropy", seed=0,
    ), 4)
    net.save(tmp_path / "extras.nnkit")
    output = tmp_path / "extras.onnx"
    exported = subprocess.run(
        [sys.executable, "-m", "nnkit", "export", str(tmp_path / "extras.nnkit"),
         "-o", str(output)],
        capture_output=True, text=True, env=dict(os.environ), timeout=120,
    )
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.strip() == f"wrote {output}"
    X = np.random.default_rng(2).normal(size=(30, 4)).astype(np.float32)
    assert_same_predictions(run(output, X), net.predict(X), "float32")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_trained_batch_norm_of_images_predicts_in_onnxruntime_what_it_predicts_in_nnkit(dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(loc=[[[3.0]], [[-2.0]]], scale=[[[2.0]], [[0.5]]], size=(40, 2, 3, 4))
    y = (X[:, 0].mean(axis=(1, 2)) > 3).astype(int)
    net = nnkit.Network(
        [nnkit.layer("batch_norm", momentum=0.5), nnkit.layer("flatten"),
         nnkit.Dense(2, activation="softmax")],
        loss="cross_entropy", optimizer="adam", seed=0, dtype=dtype,
    )
    net.fit(X, y, epochs=2, batch_size=8, verbose=0)
    assert np.abs(net.layers[0].running_mean.ravel() - [3, -2]).max() < 1.5
    samples = X[:10].astype(dtype)
    assert_same_predictions(run(net.to_onnx(), samples), net.predict(samples), dtype)
