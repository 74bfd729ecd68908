"""The standard optimizers against PyTorch, where nnkit's conventions differ from it.

Each option that reproduces PyTorch is checked against ``torch.optim`` in float64 over
several steps with a learning rate that changes every step (as under any schedule);
the defaults keep the 0.2.0 update, so saved models train on exactly as before.
"""

from __future__ import annotations

import numpy as np
import pytest

import nnkit
from nnkit.testing import check_component

RATES = [0.05, 0.02, 0.08, 0.01, 0.03, 0.06]  # a rate that changes at every step


def gradients(steps: int, size: int = 7) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [rng.normal(size=size) for _ in range(steps)]


def run_nnkit(optimizer, start: np.ndarray, grads: list[np.ndarray]) -> np.ndarray:
    params = start.copy()
    state = optimizer.init_state(params)
    for rate, g in zip(RATES, grads):
        optimizer.learning_rate = rate
        optimizer.update(params, g.copy(), state)
    return params


def run_torch(make_optimizer, start: np.ndarray, grads: list[np.ndarray]) -> np.ndarray:
    torch = pytest.importorskip("torch")
    weight = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))
    optimizer = make_optimizer([weight])
    for rate, g in zip(RATES, grads):
        for group in optimizer.param_groups:
            group["lr"] = rate
        weight.grad = torch.tensor(g, dtype=torch.float64)
        optimizer.step()
    return weight.detach().numpy()


START = np.random.default_rng(1).normal(size=7)
GRADS = gradients(len(RATES))


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_velocity_gradient_is_pytorchs_sgd_under_a_changing_rate(nesterov):
    torch = pytest.importorskip("torch")
    ours = nnkit.optimizer("sgd", momentum=0.9, nesterov=nesterov, velocity="gradient")
    theirs = run_torch(
        lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=nesterov), START, GRADS
    )
    np.testing.assert_allclose(run_nnkit(ours, START, GRADS), theirs, rtol=0, atol=1e-12)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_default_velocity_is_a_step_and_differs_from_pytorch_only_when_the_rate_changes(
    nesterov,
):
    torch = pytest.importorskip("torch")
    ours = nnkit.optimizer("sgd", momentum=0.9, nesterov=nesterov)
    assert ours.velocity == "step"
    theirs = run_torch(
        lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=nesterov), START, GRADS
    )
    assert np.abs(run_nnkit(ours, START, GRADS) - theirs).max() > 1e-3
    # Under one fixed rate the two velocities differ by the factor -lr only.
    params, state = START.copy(), ours.init_state(START)
    reference = torch.nn.Parameter(torch.tensor(START, dtype=torch.float64))
    theirs_fixed = torch.optim.SGD([reference], lr=0.05, momentum=0.9, nesterov=nesterov)
    ours.learning_rate = 0.05
    for g in GRADS:
        ours.update(params, g.copy(), state)
        reference.grad = torch.tensor(g, dtype=torch.float64)
        theirs_fixed.step()
    np.testing.assert_allclose(params, reference.detach().numpy(), rtol=0, atol=1e-12)


def test_adam_epsilon_on_v_hat_is_pytorchs_adam():
    torch = pytest.importorskip("torch")
    # A large epsilon makes where it is added visible well above rounding.
    ours = nnkit.optimizer("adam", epsilon=0.1, epsilon_on="v_hat")
    theirs = run_torch(lambda p: torch.optim.Adam(p, lr=0.01, eps=0.1), START, GRADS)
    np.testing.assert_allclose(run_nnkit(ours, START, GRADS), theirs, rtol=0, atol=1e-12)
    default = nnkit.optimizer("adam", epsilon=0.1)
    assert np.abs(run_nnkit(default, START, GRADS) - theirs).max() > 1e-3


def test_adam_coupled_weight_decay_is_pytorchs_adam_weight_decay():
    torch = pytest.importorskip("torch")
    ours = nnkit.optimizer(
        "adam", epsilon=1e-8, epsilon_on="v_hat", weight_decay=0.3, decoupled_weight_decay=False
    )
    theirs = run_torch(
        lambda p: torch.optim.Adam(p, lr=0.01, eps=1e-8, weight_decay=0.3), START, GRADS
    )
    np.testing.assert_allclose(run_nnkit(ours, START, GRADS), theirs, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_decoupled_weight_decay_is_pytorchs_adamw(name):
    torch = pytest.importorskip("torch")
    ours = nnkit.optimizer(name, epsilon=1e-8, epsilon_on="v_hat", weight_decay=0.3)
    assert ours.get_config()["epsilon_on"] == "v_hat"
    theirs = run_torch(
        lambda p: torch.optim.AdamW(p, lr=0.01, eps=1e-8, weight_decay=0.3), START, GRADS
    )
    np.testing.assert_allclose(run_nnkit(ours, START, GRADS), theirs, rtol=0, atol=1e-12)


def keras_adam(start, grads, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.0):
    """The 0.2.0 update, written out: decoupled decay, epsilon on the raw ``sqrt(v)``."""
    params, m, v = start.copy(), np.zeros_like(start), np.zeros_like(start)
    for t, (rate, g) in enumerate(zip(RATES, grads), start=1):
        params = params * (1 - rate * weight_decay)
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        step = rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        params = params - step * m / (np.sqrt(v) + epsilon)
    return params


def keras_sgd(start, grads, momentum):
    params, velocity = start.copy(), np.zeros_like(start)
    for rate, g in zip(RATES, grads):
        velocity = momentum * velocity - rate * g
        params = params + velocity
    return params


def test_a_config_saved_without_the_new_arguments_builds_the_0_2_0_update():
    adam = nnkit.optimizer(
        "adam",
        **{"learning_rate": 0.01, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 0.1,
           "weight_decay": 0.2},
    )
    np.testing.assert_allclose(
        run_nnkit(adam, START, GRADS),
        keras_adam(START, GRADS, epsilon=0.1, weight_decay=0.2),
        rtol=0,
        atol=1e-14,
    )
    sgd = nnkit.optimizer("sgd", **{"learning_rate": 0.01, "momentum": 0.9, "nesterov": False})
    np.testing.assert_allclose(
        run_nnkit(sgd, START, GRADS), keras_sgd(START, GRADS, 0.9), rtol=0, atol=1e-14
    )


def test_a_saved_network_keeps_its_pytorch_options(tmp_path):
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    optimizer = nnkit.optimizer(
        "adam", epsilon_on="v_hat", weight_decay=0.1, decoupled_weight_decay=False
    )
    net = nnkit.Network([nnkit.Dense(4, activation="tanh"), nnkit.Dense(1)],
                        loss="mse", optimizer=optimizer, seed=0)
    net.fit(X, y, epochs=2, batch_size=8, verbose=0)
    net.save(tmp_path / "model.nnkit")
    loaded = nnkit.load(tmp_path / "model.nnkit")
    assert loaded.optimizer.get_config() == optimizer.get_config()
    net.fit(X, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    loaded.fit(X, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("sgd", {"momentum": 0.9, "velocity": "torch"},
         "sgd velocity must be one of 'step', 'gradient', got 'torch'"),
        ("adam", {"epsilon_on": "v_corrected"},
         "adam epsilon_on must be one of 'v', 'v_hat', got 'v_corrected'"),
        ("adamw", {"epsilon_on": None}, "adam epsilon_on must be one of 'v', 'v_hat', got None"),
        ("adam", {"decoupled_weight_decay": "no"},
         "adam decoupled_weight_decay must be True or False, got 'no'"),
    ],
)
def test_a_misspelt_convention_is_refused_with_the_choices(name, arguments, message):
    with pytest.raises(nnkit.ConfigurationError) as caught:
        nnkit.optimizer(name, **arguments)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("sgd", {"momentum": 0.9, "velocity": "gradient"}),
        ("sgd", {"momentum": 0.9, "nesterov": True, "velocity": "gradient"}),
        ("adam", {"epsilon_on": "v_hat", "weight_decay": 0.01, "decoupled_weight_decay": False}),
        ("adamw", {"epsilon_on": "v_hat"}),
    ],
)
def test_the_pytorch_options_pass_the_conformance_kit(name, arguments):
    check_component(nnkit.optimizer(name, **arguments))
