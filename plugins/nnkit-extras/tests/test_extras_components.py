"""What each extra component promises beyond the interface: values, modes and state."""

from __future__ import annotations

import io
import math
import warnings
import zipfile

import numpy as np
import pytest

import nnkit
from nnkit.interfaces.workspace import Workspace

rng = np.random.default_rng(0)
X = rng.normal(size=(200, 6))
y = (X[:, 0] * X[:, 1] > 0).astype(int)


@pytest.mark.parametrize(
    ("name", "z", "expected"),
    [
        ("gelu", 1.0, 0.8411919906),  # the tanh approximation at 1
        ("silu", 2.0, 2.0 / (1 + math.exp(-2.0))),
        ("elu", -1.0, math.exp(-1.0) - 1),
        ("selu", -1.0, 1.0507009873554805 * 1.6732632423543772 * (math.exp(-1.0) - 1)),
        ("softplus", 0.0, math.log(2.0)),
        ("softplus", 800.0, 800.0),  # no overflow
        ("mish", 1.0, math.tanh(math.log1p(math.e))),
    ],
)
def test_activations_take_their_published_values(name, z, expected):
    value = nnkit.activation(name).forward(np.array([[z]]))
    assert value[0, 0] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("name", ["gelu", "silu", "elu", "selu", "softplus", "mish"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_derivatives_stay_finite_and_silent_for_huge_inputs(name, dtype):
    big = np.finfo(dtype).max / 4
    Z = np.array([[-big, -1e20, -40.0, 40.0, 1e20, big]], dtype=dtype)
    activation = nnkit.activation(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow on the way would warn
        dZ = activation.backward(Z, activation.forward(Z), np.ones_like(Z))
    assert np.isfinite(dZ).all() and dZ.dtype == dtype
    slope = 1.0507009873554805 if name == "selu" else 1.0  # each is (scale) z for large z
    np.testing.assert_allclose(dZ[0, -3:], slope, rtol=1e-6)
    if name in ("gelu", "silu", "softplus", "mish"):  # and 0 for large negative z
        np.testing.assert_allclose(dZ[0, :3], 0.0, atol=1e-6)


def test_selu_keeps_a_deep_stack_normalised():
    net = nnkit.Network([nnkit.Dense(256, activation="selu") for _ in range(8)], seed=0)
    net.build(256)
    out = net.predict(np.random.default_rng(1).normal(size=(2000, 256)))
    assert abs(out.mean()) < 0.1 and 0.8 < out.std() < 1.2
    assert nnkit.components("initializer")  # lecun_normal is the default selu start
    assert type(net.layers[0].kernel_initializer).__name__ == "LecunNormal"


def test_huber_is_squared_error_near_the_target_and_linear_far_from_it():
    huber, half = nnkit.loss("huber", delta=1.0), nnkit.loss("half_squared_error")
    A, Y = np.array([[0.5], [3.0]]), np.zeros((2, 1))  # two samples of one output
    assert huber.per_sample(A, Y)[0] == half.per_sample(A, Y)[0] == 0.125
    assert huber.per_sample(A, Y)[1] == 2.5  # 1 * (3 - 0.5)
    assert np.array_equal(huber.gradient(A, Y), [[0.25], [0.5]])  # clipped at delta, / m
    # Several outputs: the mean over them, as PyTorch's HuberLoss, not their sum.
    two = np.array([[0.5, 3.0]])
    assert huber.per_sample(two, np.zeros((1, 2)))[0] == pytest.approx((0.125 + 2.5) / 2)


def test_lion_moves_every_parameter_by_the_learning_rate():
    lion = nnkit.optimizer("lion", learning_rate=0.01)
    params, grads = np.zeros(4), np.array([3.0, -0.001, 1e6, -2.0])
    lion.update(params, grads.copy(), lion.init_state(params))
    assert np.array_equal(params, [-0.01, 0.01, -0.01, 0.01])


@pytest.mark.parametrize("optimizer", ["rmsprop", "adagrad", "nadam", "lion"])
def test_each_optimizer_trains_a_network(optimizer):
    rate = {"lion": 3e-3, "adagrad": 0.1}.get(optimizer, 0.01)
    net = nnkit.Network(
        [nnkit.Dense(16, activation="gelu"), nnkit.Dense(2, activation="softmax")],
        loss="cross_entropy",
        optimizer=nnkit.optimizer(optimizer, learning_rate=rate),
        seed=0,
    )
    history = net.fit(X, y, epochs=30, batch_size=20, verbose=0)
    assert history.history["loss"][-1] < 0.6 * history.history["loss"][0]


def batch_norm_network():
    return nnkit.Network(
        [
            nnkit.Dense(16, activation="relu"),
            nnkit.layer("batch_norm", momentum=0.9),
            nnkit.Dense(2, activation="softmax"),
        ],
        loss="cross_entropy",
        optimizer="adam",
        seed=0,
    )


def test_batch_norm_normalises_in_training_and_uses_running_statistics_after():
    net = batch_norm_network()
    net.fit(X * 5 + 3, y, epochs=5, verbose=0)
    norm = net.layers[1]
    hidden = net.layers[0].forward(X * 5 + 3, Workspace(), training=False).copy()
    trained = norm.forward(hidden, Workspace(), training=True)
    gamma, beta = norm.params["gamma"].T, norm.params["beta"].T
    x_hat = (trained - beta) / gamma
    assert np.allclose(x_hat.mean(axis=0), 0, atol=1e-4)
    assert np.allclose(
        x_hat.var(axis=0), hidden.var(axis=0) / (hidden.var(axis=0) + 1e-3), atol=1e-3
    )
    assert not np.allclose(norm.running_mean, 0) and not np.allclose(norm.running_var, 1)
    one = norm.forward(hidden[:1], Workspace(), training=False).copy()
    assert np.allclose(one[0], norm.forward(hidden, Workspace(), training=False)[0])


def test_batch_norm_running_statistics_are_saved_with_the_model(tmp_path):
    net = batch_norm_network()
    net.fit(X, y, epochs=3, verbose=0)
    net.save(tmp_path / "bn.nnkit")
    loaded = nnkit.load(tmp_path / "bn.nnkit")
    assert np.array_equal(loaded.layers[1].running_mean, net.layers[1].running_mean)
    assert np.array_equal(loaded.predict(X), net.predict(X))
    loaded.fit(X, y, epochs=2, verbose=0)
    net.fit(X, y, epochs=2, verbose=0)
    assert np.array_equal(loaded.predict(X), net.predict(X))


def test_bad_arguments_are_refused_with_the_reason():
    with pytest.raises(nnkit.ConfigurationError, match="huber delta must be positive"):
        nnkit.loss("huber", delta=0)
    with pytest.raises(nnkit.ConfigurationError, match="batch_norm momentum"):
        nnkit.layer("batch_norm", momentum=1.5)
    with pytest.raises(nnkit.ConfigurationError, match="lion beta_1"):
        nnkit.optimizer("lion", beta_1=1.0)


def rewrite_array(path, member, array):
    """Replace one ``.npy`` member of the model file at ``path``."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array)
    members[member] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_a_negative_running_variance_is_refused_at_load(tmp_path):
    net = batch_norm_network()
    net.fit(X, y, epochs=1, verbose=0)
    path = tmp_path / "bn.nnkit"
    net.save(path)
    variance = net.layers[1].running_var.copy()
    variance[2, 0] = -1.0
    rewrite_array(path, "arrays/layers/1/running_var.npy", variance)
    with pytest.raises(nnkit.ModelFileError) as caught:
        nnkit.load(path)
    message = str(caught.value)
    assert "the layer 2 state (arrays/layers/1/) is impossible" in message
    assert "batch_norm state 'running_var' has negative values (the lowest is" in message


@pytest.mark.parametrize(
    ("optimizer", "key", "value", "message"),
    [
        ("nadam", "t", np.array(-1, dtype=np.int64), "nadam state 't' counts -1 steps"),
        ("nadam", "v", -1.0, "nadam state 'v' has 1 negative values"),
        ("rmsprop", "v", -1.0, "rmsprop state 'v' has 1 negative values"),
        ("adagrad", "accumulator", -1.0, "adagrad state 'accumulator' has 1 negative values"),
    ],
)
def test_impossible_optimizer_state_is_refused_at_load(tmp_path, optimizer, key, value, message):
    net = nnkit.Network(
        [nnkit.Dense(3, activation="relu"), nnkit.Dense(2, activation="softmax")],
        loss="cross_entropy",
        optimizer=optimizer,
        seed=0,
    )
    net.fit(X, y, epochs=1, verbose=0)
    path = tmp_path / "model.nnkit"
    net.save(path)
    if np.ndim(value) == 0 and key != "t":
        state = net.optimizer_state[key].copy()
        state[0] = value
        value = state
    rewrite_array(path, f"arrays/optimizer/{key}.npy", value)
    with pytest.raises(nnkit.ModelFileError, match=message):
        nnkit.load(path)
    net.optimizer.check_state(net.optimizer_state)  # the state training made is accepted


@pytest.mark.parametrize("bad", [math.inf, math.nan])
@pytest.mark.parametrize(
    ("optimizer", "argument"),
    [
        ("rmsprop", "epsilon"),
        ("rmsprop", "rho"),
        ("adagrad", "epsilon"),
        ("adagrad", "initial_accumulator_value"),
        ("nadam", "epsilon"),
        ("nadam", "beta_2"),
        ("lion", "learning_rate"),
        ("lion", "weight_decay"),
    ],
)
def test_non_finite_hyperparameters_are_refused(optimizer, argument, bad):
    with pytest.raises(nnkit.ConfigurationError, match=f"{argument} must be"):
        nnkit.optimizer(optimizer, **{argument: bad})


def test_rmsprop_refuses_a_negative_epsilon_and_takes_numpy_numbers():
    with pytest.raises(
        nnkit.ConfigurationError, match="rmsprop epsilon must be a finite number > 0"
    ):
        nnkit.optimizer("rmsprop", epsilon=-1e-7)
    assert nnkit.optimizer("rmsprop", rho=np.float32(0.5)).rho == 0.5
