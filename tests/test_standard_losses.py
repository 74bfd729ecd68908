"""Losses under standard names are the standard quantities: equal to scikit-learn's
functions of the same names, value and gradient, whatever the number of outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import log_loss, mean_absolute_error, mean_squared_error

import nnkit
from nnkit.testing.numeric import numeric_gradient

rng = np.random.default_rng(7)
DATA = Path(__file__).parent / "data"


def _gradient_matches_the_value(loss, A, Y):
    A = A.copy()
    indices, expected = numeric_gradient(lambda: loss.value(A, Y), A)
    np.testing.assert_allclose(loss.gradient(A, Y).reshape(-1)[indices], expected, rtol=1e-5,
                               atol=1e-9)


@pytest.mark.parametrize("k", [1, 3])
def test_mse_is_the_mean_over_samples_and_outputs_as_in_scikit_learn(k):
    A, Y = rng.normal(size=(20, k)), rng.normal(size=(20, k))
    mse = nnkit.loss("mse")
    assert mse.value(A, Y) == pytest.approx(mean_squared_error(Y, A), rel=1e-12)
    assert mse.per_sample(A, Y).mean() == pytest.approx(mean_squared_error(Y, A), rel=1e-12)
    _gradient_matches_the_value(mse, A, Y)


@pytest.mark.parametrize("k", [1, 3])
def test_half_squared_error_is_the_classic_loss_k_over_2_times_mse(k):
    A, Y = rng.normal(size=(20, k)), rng.normal(size=(20, k))
    half = nnkit.loss("half_squared_error")
    assert half.value(A, Y) == pytest.approx(0.5 * np.sum((A - Y) ** 2) / 20, rel=1e-12)
    assert half.value(A, Y) == pytest.approx(k / 2 * nnkit.loss("mse").value(A, Y), rel=1e-12)
    np.testing.assert_allclose(half.gradient(A, Y), (A - Y) / 20)


@pytest.mark.parametrize("k", [1, 3])
def test_mae_is_the_mean_over_samples_and_outputs_as_in_scikit_learn(k):
    A, Y = rng.normal(size=(20, k)), rng.normal(size=(20, k))
    mae = nnkit.loss("mae")
    assert mae.value(A, Y) == pytest.approx(mean_absolute_error(Y, A), rel=1e-12)
    _gradient_matches_the_value(mae, A, Y)


def test_binary_cross_entropy_is_scikit_learns_log_loss_averaged_over_outputs():
    P = rng.uniform(0.05, 0.95, size=(30, 3))
    Y = rng.integers(0, 2, size=(30, 3)).astype(float)
    bce = nnkit.loss("binary_cross_entropy")
    per_output = [log_loss(Y[:, j], P[:, j], labels=[0, 1]) for j in range(3)]
    assert bce.value(P, Y) == pytest.approx(np.mean(per_output), rel=1e-9)
    assert bce.value(P[:, :1], Y[:, :1]) == pytest.approx(per_output[0], rel=1e-9)
    _gradient_matches_the_value(bce, P, Y)


def test_binary_cross_entropy_fused_with_sigmoid_is_exact_for_several_outputs():
    bce, sigmoid = nnkit.loss("binary_cross_entropy"), nnkit.activation("sigmoid")
    Z, Y = rng.normal(size=(6, 3)), rng.integers(0, 2, size=(6, 3)).astype(float)
    indices, expected = numeric_gradient(lambda: bce.value(sigmoid.forward(Z), Y), Z)
    found = bce.fused_gradient(sigmoid.forward(Z), Y).reshape(-1)[indices]
    np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-9)


def test_cross_entropy_is_scikit_learns_log_loss():
    P = rng.dirichlet(np.ones(4), size=25)
    labels = rng.integers(0, 4, size=25)
    ce = nnkit.loss("cross_entropy")
    assert ce.value(P, np.eye(4)[labels]) == pytest.approx(
        log_loss(labels, P, labels=[0, 1, 2, 3]), rel=1e-9
    )
    _gradient_matches_the_value(ce, P, np.eye(4)[labels])


@pytest.mark.parametrize("name", ["mse", "half_squared_error", "mae", "binary_cross_entropy"])
def test_the_losses_pass_the_conformance_kit(name):
    from nnkit.testing import check_component

    check_component(name, kind="loss")


@pytest.mark.parametrize("suffix", ["", "_one"])
def test_a_0_2_mse_network_predicts_the_same_and_reports_the_loss_by_the_factor(suffix):
    # nnkit 0.2's mse was 1/2 the squared error summed over the k outputs: k/2 times the
    # mean squared error that mse now reports (twice it for one output, equal for two).
    recorded = np.load(DATA / "v0.2-expected.npz")
    name = "v0.2-regressor-one-output.nnkit" if suffix else "v0.2-regressor.nnkit"
    net = nnkit.load(DATA / name)
    X, y, k = recorded["X"], recorded["y" + suffix], net.n_outputs
    np.testing.assert_allclose(net.predict(X), recorded["regression" + suffix], rtol=1e-6)
    loss = net.evaluate(X, y)["loss"]
    assert loss == pytest.approx(float(recorded["mse_loss" + suffix]) * 2 / k, rel=1e-5)
    assert loss == pytest.approx(mean_squared_error(y, net.predict(X)), rel=1e-5)
