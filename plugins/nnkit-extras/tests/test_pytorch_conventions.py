"""The extra components against PyTorch, where nnkit's conventions differ from it.

Each option that reproduces PyTorch is compared with it in float64 (the PyTorch
comparisons skip where PyTorch is not installed); the defaults keep the 0.2.0
behaviour, so saved models load and behave exactly as before.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from nnkit_extras.erf import erf, erfc

import nnkit
from nnkit.interfaces.workspace import Workspace
from nnkit.testing import check_component

RATES = [0.05, 0.02, 0.08, 0.01, 0.03, 0.06]  # a rate that changes at every step
START = np.random.default_rng(1).normal(size=7)
GRADS = [np.random.default_rng(10 + i).normal(size=7) for i in range(len(RATES))]


def run_nnkit(optimizer, start=START, grads=GRADS):
    params = start.copy()
    state = optimizer.init_state(params)
    for rate, g in zip(RATES, grads):
        optimizer.learning_rate = rate
        optimizer.update(params, g.copy(), state)
    return params


def run_torch(make_optimizer, start=START, grads=GRADS):
    torch = pytest.importorskip("torch")
    # NAdam keeps its product of momenta in the default dtype, float32 unless told.
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        weight = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))
        optimizer = make_optimizer([weight])
        for rate, g in zip(RATES, grads):
            optimizer.param_groups[0]["lr"] = rate
            weight.grad = torch.tensor(g, dtype=torch.float64)
            optimizer.step()
    finally:
        torch.set_default_dtype(default)
    return weight.detach().numpy()


# --- nadam -------------------------------------------------------------------------


@pytest.mark.parametrize("momentum_decay", [0.004, 0.05, 0.0])
def test_nadam_momentum_decay_is_pytorchs_nadam(momentum_decay):
    torch = pytest.importorskip("torch")
    ours = nnkit.optimizer("nadam", epsilon=1e-8, momentum_decay=momentum_decay)
    theirs = run_torch(
        lambda p: torch.optim.NAdam(p, lr=0.01, eps=1e-8, momentum_decay=momentum_decay)
    )
    np.testing.assert_allclose(run_nnkit(ours), theirs, rtol=0, atol=1e-12)


def test_nadam_without_momentum_decay_keeps_the_0_2_0_update():
    """Config without ``momentum_decay``: the constant momentum ``beta_1``, as in 0.2.0."""
    ours = nnkit.optimizer("nadam", **{"learning_rate": 0.01, "beta_1": 0.9,
                                       "beta_2": 0.999, "epsilon": 1e-7})
    assert ours.momentum_decay is None and "mu_product" not in ours.init_state(START)
    params, m, v = START.copy(), np.zeros(7), np.zeros(7)
    b1, b2 = 0.9, 0.999
    for t, (rate, g) in enumerate(zip(RATES, GRADS), start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = b1 * m / (1 - b1 ** (t + 1)) + (1 - b1) * g / (1 - b1**t)
        params = params - rate * m_hat / (np.sqrt(v / (1 - b2**t)) + 1e-7)
    np.testing.assert_allclose(run_nnkit(ours), params, rtol=0, atol=1e-14)


def test_nadam_momentum_decay_is_checked_and_passes_the_conformance_kit():
    with pytest.raises(nnkit.ConfigurationError, match="nadam momentum_decay must be"):
        nnkit.optimizer("nadam", momentum_decay=-0.1)
    nadam = nnkit.optimizer("nadam", momentum_decay=0.004)
    check_component(nadam)
    state = nadam.init_state(START)
    state["mu_product"][...] = 1.5  # no product of momenta below 1 can be this
    with pytest.raises(ValueError, match="nadam state 'mu_product' is 1.5"):
        nadam.check_state(state)


def test_rmsprop_and_adagrad_are_pytorchs_with_pytorchs_defaults_spelt_out():
    torch = pytest.importorskip("torch")
    rmsprop = nnkit.optimizer("rmsprop", rho=0.99, epsilon=1e-8)
    np.testing.assert_allclose(
        run_nnkit(rmsprop), run_torch(lambda p: torch.optim.RMSprop(p, lr=0.01)),
        rtol=0, atol=1e-12,
    )
    adagrad = nnkit.optimizer("adagrad", initial_accumulator_value=0.0, epsilon=1e-10)
    np.testing.assert_allclose(
        run_nnkit(adagrad), run_torch(lambda p: torch.optim.Adagrad(p, lr=0.01)),
        rtol=0, atol=1e-12,
    )


# --- batch_norm --------------------------------------------------------------------


def batch_norm(units, **arguments):
    net = nnkit.Network([nnkit.layer("batch_norm", **arguments)], dtype="float64", seed=0)
    net.build(units)
    return net.layers[0]


BATCHES = [np.random.default_rng(20 + i).normal(2.0, 3.0, size=(8, 5)) for i in range(4)]


def test_batch_norm_unbiased_running_variance_is_pytorchs_batchnorm1d():
    torch = pytest.importorskip("torch")
    ours = batch_norm(5, momentum=0.9, epsilon=1e-5, running_variance="unbiased")
    theirs = torch.nn.BatchNorm1d(5, momentum=0.1, eps=1e-5, dtype=torch.float64)
    theirs.train()
    for batch in BATCHES:
        output = ours.forward(batch, Workspace(), training=True)
        ours.commit_state()  # as the network's optimizer step does
        expected = theirs(torch.tensor(batch)).detach().numpy()
        np.testing.assert_allclose(output, expected, rtol=0, atol=1e-10)
    np.testing.assert_allclose(
        ours.running_mean.ravel(), theirs.running_mean.numpy(), rtol=0, atol=1e-10
    )
    np.testing.assert_allclose(
        ours.running_var.ravel(), theirs.running_var.numpy(), rtol=0, atol=1e-10
    )
    theirs.eval()
    probe = np.random.default_rng(5).normal(size=(3, 5))
    np.testing.assert_allclose(
        ours.forward(probe, Workspace(), training=False),
        theirs(torch.tensor(probe)).detach().numpy(),
        rtol=0,
        atol=1e-10,
    )


def test_batch_norm_default_running_variance_is_the_biased_batch_variance():
    """0.2.0's update, which a config without ``running_variance`` still means."""
    ours = batch_norm(5, **{"momentum": 0.9, "epsilon": 1e-3})
    assert ours.running_variance == "biased"
    variance = np.ones(5)
    for batch in BATCHES:
        ours.forward(batch, Workspace(), training=True)
        ours.commit_state()
        variance = 0.9 * variance + 0.1 * batch.var(axis=0)
    np.testing.assert_allclose(ours.running_var.ravel(), variance, rtol=1e-14)


def test_batch_norm_refuses_an_unbiased_variance_of_one_sample():
    ours = batch_norm(5, running_variance="unbiased")
    with pytest.raises(nnkit.DataError, match="at least 2 samples"):
        ours.forward(BATCHES[0][:1], Workspace(), training=True)
    np.testing.assert_array_equal(ours.running_var, 1.0)  # nothing half-updated
    with pytest.raises(nnkit.ConfigurationError, match="'biased', 'unbiased', got 'sample'"):
        nnkit.layer("batch_norm", running_variance="sample")


# --- gelu --------------------------------------------------------------------------

GRID = np.concatenate([np.linspace(-40, 40, 8001), np.geomspace(1e-300, 30, 2000)])


def test_erf_is_math_erf_to_float64_rounding():
    grid = np.concatenate([GRID, -GRID, [0.0, -0.0, np.inf, -np.inf]])
    expected = np.array([math.erf(x) for x in grid])
    np.testing.assert_allclose(erf(grid), expected, rtol=1e-15, atol=0)  # 4.5 ulps
    expected_c = np.array([math.erfc(x) for x in grid])
    np.testing.assert_allclose(erfc(grid), expected_c, rtol=0, atol=1e-15)
    # In the right tail relatively too, down to its underflow near 26.5.
    tail = grid >= 2.5
    np.testing.assert_allclose(erfc(grid[tail]), expected_c[tail], rtol=2e-14, atol=1e-305)
    assert np.isnan(erf(np.array([np.nan]))).all()


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_values_and_gradients_are_pytorchs(approximate):
    torch = pytest.importorskip("torch")
    z = np.linspace(-12, 12, 2401)
    gelu = nnkit.activation("gelu", approximate=approximate)
    tensor = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    values = torch.nn.functional.gelu(tensor, approximate=approximate)
    values.sum().backward()
    # PyTorch's 0.5 z (1 + erf(z / sqrt(2))) loses digits to cancellation for negative z.
    np.testing.assert_allclose(gelu.forward(z[None]), values.detach().numpy()[None],
                               rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(gelu.derivative(z[None]), tensor.grad.numpy()[None],
                               rtol=0, atol=1e-10)


def test_gelu_defaults_to_the_0_2_0_tanh_form():
    assert nnkit.activation("gelu").approximate == "tanh"
    old = nnkit.activation("gelu", **{})  # a 0.2.0 config has no arguments
    assert old.forward(np.array([[1.0]]))[0, 0] == pytest.approx(0.8411919906, rel=1e-9)
    exact = nnkit.activation("gelu", approximate="none")
    assert exact.forward(np.array([[1.0]]))[0, 0] == pytest.approx(
        0.5 * (1 + math.erf(1 / math.sqrt(2))), rel=1e-15
    )


def test_exact_gelu_is_accurate_in_the_far_negative_tail_and_keeps_float32():
    exact = nnkit.activation("gelu", approximate="none")
    z = np.array([[-30.0, -10.0, 10.0, 1e300]])
    expected = [-30.0 * 0.5 * math.erfc(30 / math.sqrt(2)),
                -10.0 * 0.5 * math.erfc(10 / math.sqrt(2)), 10.0, 1e300]
    np.testing.assert_allclose(exact.forward(z)[0], expected, rtol=1e-13)
    z32 = np.linspace(-5, 5, 11, dtype=np.float32)[None]
    assert exact.forward(z32).dtype == np.float32
    assert exact.derivative(z32).dtype == np.float32


def test_gelu_approximate_is_checked_and_both_forms_pass_the_conformance_kit():
    with pytest.raises(nnkit.ConfigurationError, match="'none', 'tanh', got 'erf'"):
        nnkit.activation("gelu", approximate="erf")
    for approximate in ("none", "tanh"):
        check_component(nnkit.activation("gelu", approximate=approximate))


@pytest.mark.parametrize("opset", [13, 21])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_exact_gelu_exports_to_onnx_as_nnkit_computes_it(dtype, opset):
    pytest.importorskip("onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    gelu = nnkit.activation("gelu", approximate="none")
    net = nnkit.Network([nnkit.Dense(40, activation=gelu)], dtype=dtype, seed=0)
    net.build(1)
    # One input fanned out to 40 units: weights from -40 to 40 reach both tails and
    # the switch between the series and the continued fraction at |z| = 2.5 sqrt(2).
    kernel, bias = (w.shape for w in net.get_weights())
    net.set_weights([np.linspace(-40, 40, 40).reshape(kernel), np.zeros(bias)])
    X = np.concatenate([np.linspace(-1, 1, 201), [1e-30, -1e-30, 1e3, -1e3]])[:, None]
    X = X.astype(dtype)
    model = net.to_onnx(opset=opset)
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    found = session.run(["Y"], {"X": X})[0]
    assert found.dtype == np.dtype(dtype)
    tolerance = {"float32": 1e-5, "float64": 1e-14}[dtype]
    np.testing.assert_allclose(found, net.predict(X), rtol=tolerance, atol=tolerance)


def test_a_saved_network_keeps_the_pytorch_options_and_resumes_exactly(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 4)), rng.integers(0, 2, size=60)
    net = nnkit.Network(
        [nnkit.Dense(6, activation=nnkit.activation("gelu", approximate="none")),
         nnkit.layer("batch_norm", momentum=0.9, running_variance="unbiased"),
         nnkit.Dense(2, activation="softmax")],
        loss="cross_entropy", optimizer=nnkit.optimizer("nadam", momentum_decay=0.004),
        seed=0,
    )
    net.fit(X, y, epochs=2, batch_size=16, verbose=0)
    net.save(tmp_path / "model.nnkit")
    loaded = nnkit.load(tmp_path / "model.nnkit")
    assert loaded.layers[0].activation.approximate == "none"
    assert loaded.layers[1].running_variance == "unbiased"
    assert loaded.optimizer.momentum_decay == 0.004
    np.testing.assert_array_equal(loaded.optimizer_state["mu_product"],
                                  net.optimizer_state["mu_product"])
    net.fit(X, y, epochs=1, batch_size=16, verbose=0, shuffle=False)
    loaded.fit(X, y, epochs=1, batch_size=16, verbose=0, shuffle=False)
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))
