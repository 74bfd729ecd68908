"""The standard optimizers follow their formulas exactly, on the flat parameter vector."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nnkit


def run(optimizer, steps, seed=0):
    rng = np.random.default_rng(seed)
    params = rng.normal(size=8)
    gradients = [rng.normal(size=8) for _ in range(steps)]
    state = optimizer.init_state(params)
    for g in gradients:
        optimizer.update(params, g.copy(), state)
    return params, gradients, state


def test_sgd_is_the_seeds_update():
    params, (g,), _ = run(nnkit.optimizer("sgd", learning_rate=0.1), 1)
    start = np.random.default_rng(0).normal(size=8)
    np.testing.assert_allclose(params, start - 0.1 * g)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_matches_the_keras_formulation(nesterov):
    lr, mu = 0.1, 0.9
    params, gradients, state = run(
        nnkit.optimizer("sgd", learning_rate=lr, momentum=mu, nesterov=nesterov), 3
    )
    expected = np.random.default_rng(0).normal(size=8)
    v = np.zeros(8)
    for g in gradients:
        v = mu * v - lr * g
        expected = expected + (mu * v - lr * g if nesterov else v)
    np.testing.assert_allclose(params, expected)
    np.testing.assert_allclose(state["velocity"], v)


def test_adam_matches_the_paper():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7
    params, gradients, state = run(nnkit.optimizer("adam", learning_rate=lr), 4)
    expected = np.random.default_rng(0).normal(size=8)
    m = v = np.zeros(8)
    for t, g in enumerate(gradients, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        step = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        expected = expected - step * m / (np.sqrt(v) + eps)
    np.testing.assert_allclose(params, expected)
    assert int(state["t"]) == 4


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_optimizers_descend_a_convex_quadratic(name):
    optimizer = nnkit.optimizer(name, learning_rate=0.05)
    target = np.linspace(-1, 1, 6)
    params = np.zeros(6)
    state = optimizer.init_state(params)
    for _ in range(500):
        optimizer.update(params, params - target, state)  # gradient of |p - target|^2 / 2
    np.testing.assert_allclose(params, target, atol=1e-2)


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_zero_gradients_leave_parameters_unchanged(name):
    optimizer = nnkit.optimizer(name)
    params = np.ones(5)
    state = optimizer.init_state(params)
    optimizer.update(params, np.zeros(5), state)
    np.testing.assert_array_equal(params, np.ones(5))


def test_config_round_trips_through_the_registry_name():
    for name, kwargs in [
        ("sgd", {"learning_rate": 0.2, "momentum": 0.5}),
        ("adam", {"beta_2": 0.99}),
    ]:
        optimizer = nnkit.optimizer(name, **kwargs)
        rebuilt = nnkit.optimizer(name, **optimizer.get_config())
        assert rebuilt.get_config() == optimizer.get_config()
        assert all(optimizer.get_config()[k] == v for k, v in kwargs.items())


@pytest.mark.parametrize("bad", [math.inf, math.nan, -math.inf])
@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
def test_a_non_finite_learning_rate_is_refused(name, bad):
    with pytest.raises(nnkit.ConfigurationError, match="learning_rate must be a finite number > 0"):
        nnkit.optimizer(name, learning_rate=bad)


@pytest.mark.parametrize(
    ("name", "argument", "message"),
    [
        ("sgd", "momentum", r"sgd momentum must be in \[0, 1\)"),
        ("adam", "beta_1", r"adam beta_1 must be in \[0, 1\)"),
        ("adam", "beta_2", r"adam beta_2 must be in \[0, 1\)"),
        ("adam", "epsilon", "adam epsilon must be a finite number > 0"),
        ("adamw", "weight_decay", r"weight_decay must be in \[0, 1\)"),
    ],
)
@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_non_finite_hyperparameters_are_refused(name, argument, message, bad):
    with pytest.raises(nnkit.ConfigurationError, match=message):
        nnkit.optimizer(name, **{argument: bad})


def test_sgd_takes_a_learning_rate_set_to_any_number_and_keeps_the_dtype():
    # A schedule may set the rate to a NumPy number or a 0-d array; the step multiplies
    # by it as a 0-d array of the parameters' dtype, exactly as by the Python number.
    for rate in (0.1, np.float64(0.1), np.float32(0.1), np.array(0.1)):
        sgd = nnkit.optimizer("sgd", learning_rate=0.5)
        sgd.learning_rate = rate
        params = np.array([1.0, -2.0, 3.0], dtype=np.float32)
        grads = np.array([0.5, 0.25, -1.0], dtype=np.float32)
        sgd.update(params, grads.copy(), sgd.init_state(params))
        assert params.dtype == np.float32
        np.testing.assert_array_equal(params, np.float32([1.0, -2.0, 3.0]) - grads * 0.1)


def test_a_constant_is_a_shared_read_only_0_d_array_of_the_dtype_asked_for():
    from nnkit.interfaces.buffers import constant

    one_tenth = constant(0.1, np.dtype(np.float32))
    assert one_tenth.shape == () and one_tenth.dtype == np.float32
    assert constant(0.1, np.dtype(np.float32)) is one_tenth
    assert constant(0.1, np.dtype(np.float64)).dtype == np.float64
    with pytest.raises(ValueError):
        one_tenth[...] = 2.0
    assert (np.ones(3, np.float32) * one_tenth).dtype == np.float32
