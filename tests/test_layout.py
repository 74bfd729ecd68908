"""One layout at every interface: samples first, ``(m, ...)``, from the layers to the
losses, metrics, activations and the network's passes; biases are vectors; and model
files written by nnkit 0.2 (biases stored as columns) still load and predict the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nnkit
from nnkit.interfaces.workspace import Workspace
from nnkit.testing import check_component
from nnkit.testing.numeric import numeric_gradient

DATA = Path(__file__).parent / "data"


def test_biases_are_vectors_and_weights_keep_the_matrix_shapes():
    net = nnkit.Network([nnkit.Dense(5, activation="tanh"), nnkit.Dense(3)], seed=0).build(4)
    assert [w.shape for w in net.get_weights()] == [(5, 4), (5,), (3, 5), (3,)]


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_a_model_file_of_nnkit_0_2_loads_and_predicts_the_same(kind):
    # Written by nnkit 0.2.0, which stored each bias as a column (n, 1) inside the one
    # parameter array: the array has as many numbers, only the recorded shapes differ.
    recorded = np.load(DATA / "v0.2-expected.npz")
    net = nnkit.load(DATA / f"v0.2-{kind}.nnkit")
    expected = recorded["proba" if kind == "classifier" else "regression"]
    np.testing.assert_allclose(net.predict(recorded["X"]), expected, rtol=1e-6, atol=1e-7)
    assert all(b.ndim == 1 for b in net.get_weights()[1::2])


def test_the_0_2_classifier_reports_the_same_cross_entropy():
    recorded = np.load(DATA / "v0.2-expected.npz")
    net = nnkit.load(DATA / "v0.2-classifier.nnkit")
    loss = net.evaluate(recorded["X"], recorded["labels"])["loss"]
    assert loss == pytest.approx(float(recorded["cross_entropy_loss"]), rel=1e-6)


def test_backward_takes_rows_and_a_weight_per_sample():
    net = nnkit.Network(
        [nnkit.Dense(4, activation="tanh"), nnkit.Dense(2, activation="sigmoid")],
        loss="binary_cross_entropy", seed=0, dtype="float64",
    ).build(3)
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(6, 3)), rng.integers(0, 2, size=(6, 2)).astype(float)
    weights = rng.uniform(0.5, 2.0, size=6)

    def weighted_loss():
        return net.batch_loss(net.forward(X), Y, weights)

    _, expected = numeric_gradient(weighted_loss, net.store.values)
    workspace = Workspace()
    A = net.forward(X, workspace, training=True)
    assert A.shape == (6, 2)
    net.backward(A, Y, workspace, weights)
    np.testing.assert_allclose(net.store.grads, expected, rtol=1e-5, atol=1e-8)


def test_softmax_normalises_over_the_last_axis():
    Z = np.random.default_rng(2).normal(size=(5, 3))
    A = nnkit.activation("softmax").forward(Z)
    np.testing.assert_allclose(A.sum(axis=-1), 1.0)
    np.testing.assert_allclose(A[1], np.exp(Z[1]) / np.exp(Z[1]).sum())


def test_losses_and_metrics_take_a_row_per_sample():
    A = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    Y = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    assert nnkit.loss("cross_entropy").per_sample(A, Y).shape == (3,)
    assert nnkit.metric("accuracy").value(A, Y) == pytest.approx(2 / 3)


class ColumnLoss(nnkit.Loss):
    """A loss written for nnkit 0.2's columns, ``(outputs, samples)``."""

    def per_sample(self, A, Y):
        return 0.5 * np.sum((A - Y) ** 2, axis=0)

    def gradient(self, A, Y):
        return (A - Y) / A.shape[1]


class ColumnSoftmax(nnkit.Activation):
    """A softmax written for nnkit 0.2's columns: it normalises over the first axis."""

    def forward(self, Z, out=None):
        E = np.exp(Z - Z.max(axis=0, keepdims=True))
        return E / E.sum(axis=0, keepdims=True)

    def backward(self, Z, A, dA, out=None):
        return A * (dA - np.sum(dA * A, axis=0, keepdims=True))


def test_the_kit_refuses_a_loss_written_for_columns():
    with pytest.raises(AssertionError, match=r"one value per sample.*\(samples, outputs\)"):
        check_component(ColumnLoss(), kind="loss")


def test_the_kit_refuses_an_activation_that_mixes_samples():
    with pytest.raises(AssertionError, match="alone"):
        check_component(ColumnSoftmax(), kind="activation")
