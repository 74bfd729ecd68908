"""ONNX export: onnxruntime's predictions equal nnkit's."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest

import nnkit
from nnkit.data.split import train_test_split


def run(model_path, X):
    session = onnxruntime.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    return session.run(["Y"], {"X": X})[0]


def test_a_digits_classifier_predicts_the_same_in_onnxruntime(tmp_path):
    X, y = nnkit.datasets.load_digits()
    X_train, X_test, y_train, _ = train_test_split(X / 16, y, seed=0)
    net = nnkit.Network(
        [nnkit.Dense(64, activation="relu"), nnkit.layer("dropout", rate=0.1),
         nnkit.Dense(32, activation="leaky_relu"), nnkit.Dense(10, activation="softmax")],
        loss="cross_entropy", optimizer="adam", seed=0,
    )
    net.fit(X_train, y_train, epochs=10, verbose=0)
    net.to_onnx(tmp_path / "digits.onnx")
    expected = net.predict(X_test)
    found = run(tmp_path / "digits.onnx", X_test.astype(np.float32))
    np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-5)
    assert (found.argmax(axis=1) == expected.argmax(axis=1)).all()


def test_a_float64_regression_with_every_standard_layer_exports(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2, 6))
    y = np.sin(X[:, 0]).sum(axis=1) + X[:, 1, :2].prod(axis=1) * 1000  # target in the thousands
    net = nnkit.Network(
        [nnkit.layer("flatten"), nnkit.Dense(12, activation="tanh"),
         nnkit.layer("residual", layers=[nnkit.Dense(12, activation="sigmoid"), nnkit.Dense(12)]),
         nnkit.layer("reshape", shape=(3, 4)), nnkit.layer("activation", activation="softmax"),
         nnkit.layer("flatten"), nnkit.Dense(1, activation="identity")],
        loss="mse", optimizer="adam", seed=0, dtype="float64",
    )
    net.fit(X, y, epochs=3, verbose=0)
    model = net.to_onnx(tmp_path / "regression.onnx")
    assert [i.name for i in model.graph.input] == ["X"]
    np.testing.assert_allclose(run(tmp_path / "regression.onnx", X), net.predict(X), rtol=1e-5)


def test_an_embedding_exports_as_a_gather(tmp_path):
    codes = np.random.default_rng(1).integers(0, 5, size=(40, 3)).astype(np.float32)
    net = nnkit.Network(
        [nnkit.layer("embedding", input_dim=5, output_dim=2), nnkit.layer("flatten"),
         nnkit.Dense(2, activation="softmax")], seed=0,
    ).build(3)
    net.to_onnx(tmp_path / "embedding.onnx")
    np.testing.assert_allclose(run(tmp_path / "embedding.onnx", codes), net.predict(codes), rtol=1e-6)


class Cube(nnkit.Activation):
    def forward(self, Z):
        return Z**3

    def derivative(self, Z):
        return 3 * Z**2


def test_a_component_without_an_onnx_form_is_named():
    net = nnkit.Network([nnkit.Dense(3, activation=Cube()), nnkit.Dense(1)]).build(2)
    with pytest.raises(nnkit.ConfigurationError, match=(
        r"the activation of dense, Cube \(not registered\), has no ONNX form: Cube does not "
        r"implement to_onnx"
    )):
        net.to_onnx()


def test_an_unbuilt_network_cannot_be_exported():
    with pytest.raises(nnkit.ConfigurationError, match="nothing to export yet"):
        nnkit.Network([nnkit.Dense(1)]).to_onnx()


def test_the_model_declares_the_oldest_ir_version_its_operators_need():
    """onnx writes its newest IR version by default, which older runtimes refuse to load."""
    model = nnkit.Network([nnkit.Dense(2, activation="softmax")]).build(3).to_onnx()
    assert model.ir_version == 8 and model.opset_import[0].version == 17


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("opset", [13, 17, 21])
def test_every_standard_activation_runs_at_every_operator_set(tmp_path, dtype, opset):
    # onnxruntime implements some operators (LeakyRelu) for float32 only at some sets.
    rng = np.random.default_rng(1)
    X = rng.normal(scale=30, size=(40, 3))  # large inputs reach every branch and tail
    names = ["sigmoid", "relu", "leaky_relu", "tanh", "identity", "softmax"]
    net = nnkit.Network(
        [nnkit.Dense(5, activation=name) for name in names], dtype=dtype, seed=0
    ).build(3)
    path = tmp_path / "activations.onnx"
    net.to_onnx(path, opset=opset)
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    found = run(path, X.astype(dtype))
    np.testing.assert_allclose(found, net.predict(X), rtol=tolerance, atol=tolerance)
