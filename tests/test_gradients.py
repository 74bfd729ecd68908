"""Every analytic gradient against central finite differences, in float64."""

from __future__ import annotations

import numpy as np
import pytest

import nnkit
from nnkit.interfaces.workspace import Workspace
from nnkit.testing.numeric import numeric_gradient as probe_gradient

ACTIVATIONS = ["sigmoid", "relu", "tanh", "softmax", "identity", "leaky_relu"]
STEP = 1e-6


def numeric_gradient(f, X: np.ndarray) -> np.ndarray:
    """d f / d X by central differences, one element at a time."""
    gradient = np.zeros_like(X)
    for index in np.ndindex(X.shape):
        saved = X[index]
        X[index] = saved + STEP
        plus = f(X)
        X[index] = saved - STEP
        minus = f(X)
        X[index] = saved
        gradient[index] = (plus - minus) / (2 * STEP)
    return gradient


def sample_Z(rng: np.random.Generator, shape=(4, 5)) -> np.ndarray:
    Z = rng.normal(size=shape)
    # Keep ReLU's kink out of the finite-difference window.
    Z[np.abs(Z) < 1e-3] = 0.5
    return Z


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_backward_matches_finite_differences(name):
    rng = np.random.default_rng(1)
    activation = nnkit.activation(name)
    Z, dA = sample_Z(rng), rng.normal(size=(4, 5))
    expected = numeric_gradient(lambda Z: np.sum(dA * activation.forward(Z)), Z.copy())
    A = activation.forward(Z)
    np.testing.assert_allclose(activation.backward(Z, A, dA), expected, rtol=1e-6, atol=1e-8)
    out = np.empty_like(Z)
    result = activation.backward(Z, A, dA, out=out)
    np.testing.assert_allclose(result, expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", [n for n in ACTIVATIONS if n != "softmax"])
def test_elementwise_derivative_matches_finite_differences(name):
    activation = nnkit.activation(name)
    Z = sample_Z(np.random.default_rng(2))
    expected = (activation.forward(Z + STEP) - activation.forward(Z - STEP)) / (2 * STEP)
    np.testing.assert_allclose(activation.derivative(Z), expected, rtol=1e-6, atol=1e-8)


def test_softmax_has_no_elementwise_derivative():
    with pytest.raises(NotImplementedError, match="backward"):
        nnkit.activation("softmax").derivative(np.zeros((2, 3)))


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_forward_into_buffer_equals_fresh_result(name):
    activation = nnkit.activation(name)
    Z = sample_Z(np.random.default_rng(3)).astype(np.float32)
    out = np.full_like(Z, np.nan)
    np.testing.assert_allclose(activation.forward(Z, out=out), activation.forward(Z), rtol=1e-6)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_a_transposed_view_gives_the_same_result_in_any_output_buffer(name):
    # Inference hands activations Z stored a sample after a sample (Fortran order).
    activation = nnkit.activation(name)
    Z = sample_Z(np.random.default_rng(5), shape=(7, 33)).astype(np.float32)
    expected = activation.forward(Z.copy())
    Z_rows = np.asfortranarray(Z)
    for out in (None, np.full_like(Z_rows, np.nan), np.full(Z.shape, np.nan, np.float32)):
        A = activation.forward(Z_rows.copy(order="K"), out=out)
        np.testing.assert_allclose(A, expected, rtol=1e-6, atol=1e-7)
        assert A.dtype == np.float32
        if out is not None:
            assert A is out
    in_place = Z_rows.copy(order="K")
    if activation.in_place:
        assert activation.forward(in_place, out=in_place) is in_place
        np.testing.assert_allclose(in_place, expected, rtol=1e-6, atol=1e-7)


def test_relu_keeps_nan_maps_infinities_and_handles_any_shape_and_layout():
    relu = nnkit.activation("relu")
    Z = np.array([[np.nan, -np.inf, np.inf], [-0.0, -2.5, 3.0]], dtype=np.float32)
    np.testing.assert_array_equal(relu.forward(Z), [[np.nan, 0, np.inf], [0, 0, 3]])
    # Shapes in any order (the zeros it compares against grow and shrink), views, float64.
    for shape in [(5, 7), (2, 3), (9, 11), (3, 2)]:
        Z = np.random.default_rng(0).normal(size=shape)
        np.testing.assert_array_equal(relu.forward(Z), np.where(Z > 0, Z, 0))
        np.testing.assert_array_equal(relu.forward(Z.T), np.where(Z.T > 0, Z.T, 0))
        np.testing.assert_array_equal(relu.forward(Z[:, ::2]), np.where(Z > 0, Z, 0)[:, ::2])
    assert relu.forward(Z).dtype == np.float64


@pytest.mark.parametrize("shape", [(6, 4), (32, 32), (300, 20), (128, 256)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_backward_into_a_buffer_is_dA_where_A_is_positive_at_any_batch_size(shape, dtype):
    # Small batches take sign(A), large ones A > 0 as numbers: both are exactly dA * (A > 0).
    rng = np.random.default_rng(1)
    relu = nnkit.activation("relu")
    A = relu.forward(rng.normal(size=shape).astype(dtype))
    A[0, :2] = 0.0  # the kink: no gradient at A = 0
    dA = rng.normal(size=shape).astype(dtype)
    expected = np.where(A > 0, dA, 0).astype(dtype)
    for out in (np.full(shape, np.nan, dtype), np.full(shape[::-1], np.nan, dtype).T):
        found = relu.backward(A, A, dA, out=out)
        assert found is out and found.dtype == dtype
        np.testing.assert_array_equal(found, expected)
    np.testing.assert_array_equal(relu.backward(A, A, dA), expected)  # no buffer
    in_place = dA.copy()
    np.testing.assert_array_equal(relu.backward(A, A, in_place, out=in_place), expected)


def loss_inputs(name: str, rng: np.random.Generator):
    if name == "mse":
        return rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    if name == "cross_entropy":
        A = nnkit.activation("softmax").forward(rng.normal(size=(6, 3)))
        return A, np.eye(3)[rng.integers(0, 3, size=6)]
    A = nnkit.activation("sigmoid").forward(rng.normal(size=(6, 3)))
    return A, rng.integers(0, 2, size=(6, 3)).astype(float)


@pytest.mark.parametrize("name", ["mse", "cross_entropy", "binary_cross_entropy"])
def test_loss_gradient_matches_finite_differences(name):
    loss = nnkit.loss(name)
    A, Y = loss_inputs(name, np.random.default_rng(4))
    expected = numeric_gradient(lambda A: loss.value(A, Y), A.copy())
    np.testing.assert_allclose(loss.gradient(A, Y), expected, rtol=1e-5, atol=1e-8)
    assert loss.value(A, Y) == pytest.approx(loss.per_sample(A, Y).mean())


@pytest.mark.parametrize("name", ["cross_entropy", "binary_cross_entropy"])
def test_fused_gradient_is_the_gradient_with_respect_to_Z(name):
    loss = nnkit.loss(name)
    activation = nnkit.activation(loss.fused_activation)
    rng = np.random.default_rng(5)
    Z = rng.normal(size=(6, 3))
    _, Y = loss_inputs(name, rng)
    expected = numeric_gradient(lambda Z: loss.value(activation.forward(Z), Y), Z.copy())
    np.testing.assert_allclose(
        loss.fused_gradient(activation.forward(Z), Y), expected, rtol=1e-5, atol=1e-8
    )


NETWORKS = {
    "mse-identity": (["tanh", "sigmoid", None], "mse", 2),
    "cross_entropy-softmax (fused)": (["relu", "leaky_relu", "softmax"], "cross_entropy", 3),
    "binary_cross_entropy-sigmoid (fused)": (["tanh", "sigmoid"], "binary_cross_entropy", 2),
    "mse-softmax (softmax Jacobian)": (["sigmoid", "softmax"], "mse", 3),
    "cross_entropy-sigmoid (not fused)": (["tanh", "sigmoid"], "cross_entropy", 3),
}


@pytest.mark.parametrize("case", NETWORKS)
def test_whole_network_gradient_matches_finite_differences(case):
    activations, loss, n_out = NETWORKS[case]
    widths = [5] * (len(activations) - 1) + [n_out]
    net = nnkit.Network(
        [nnkit.Dense(w, activation=a) for w, a in zip(widths, activations)],
        loss=loss,
        seed=0,
        dtype="float64",
    ).build(4)
    rng = np.random.default_rng(6)
    X = rng.normal(size=(7, 4))
    if loss == "mse":
        Y = rng.uniform(size=(7, n_out))
    else:
        Y = np.eye(n_out)[rng.integers(0, n_out, size=7)]

    def total_loss(params):
        net.store.values[...] = params
        return net.loss.value(net.forward(X), Y)

    params = net.store.values.copy()
    expected = numeric_gradient(total_loss, params.copy())
    net.store.values[...] = params
    workspace = Workspace()
    net.backward(net.forward(X, workspace, training=True), Y, workspace)
    assert net._fused_output == ("fused" in case and "not fused" not in case)
    np.testing.assert_allclose(net.store.grads, expected, rtol=1e-5, atol=1e-7)


def _output_bias_gradient(Y_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """``db`` of ``Dense(3, softmax)`` with cross-entropy on X = [[.5, -1], [1, 2]] as the
    network back-propagates it, the same by central differences in float64, and whether
    the fused output gradient was used."""
    net = nnkit.Network(
        [nnkit.Dense(3, activation="softmax")], loss="cross_entropy", seed=0, dtype="float64"
    ).build(2)
    X = np.array([[0.5, -1.0], [1.0, 2.0]])[: len(Y_rows)]
    b = net.layers[0].params["b"]

    def loss_value():
        return net.loss.value(net.forward(X), Y_rows)

    _, expected = probe_gradient(loss_value, b)
    workspace = Workspace()
    net.backward(net.forward(X, workspace, training=True), Y_rows, workspace)
    return net.layers[0].grads["b"].copy(), expected, net._fused_output


def test_fused_softmax_cross_entropy_is_exact_for_targets_that_do_not_sum_to_one():
    # A multi-hot row and an all-zero row: (A - Y)/m holds only for rows summing to 1.
    Y = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    found, expected, fused = _output_bias_gradient(Y)
    assert fused
    np.testing.assert_allclose(found, expected, rtol=1e-6, atol=1e-9)


def test_an_all_zero_target_row_has_zero_loss_and_zero_gradient():
    found, expected, fused = _output_bias_gradient(np.zeros((1, 3)))
    assert fused
    np.testing.assert_array_equal(expected, 0)
    np.testing.assert_allclose(found, 0, atol=1e-12)


@pytest.mark.parametrize("name", ["cross_entropy", "kl_divergence", "binary_cross_entropy"])
def test_fused_gradient_is_exact_for_any_targets_in_range(name):
    loss = nnkit.loss(name)
    activation = nnkit.activation(loss.fused_activation)
    rng = np.random.default_rng(8)
    Z, Y = rng.normal(size=(6, 3)), rng.uniform(size=(6, 3))
    Y[0] = 0  # a sample with no target at all
    expected = numeric_gradient(lambda Z: loss.value(activation.forward(Z), Y), Z.copy())
    np.testing.assert_allclose(
        loss.fused_gradient(activation.forward(Z), Y), expected, rtol=1e-5, atol=1e-8
    )
