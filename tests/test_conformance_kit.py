"""The conformance kit passes every standard component and catches real mistakes."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

import nnkit
from nnkit.errors import ConfigurationError, DataError
from nnkit.testing import (
    LayerHarness,
    check_component,
    checked_kind,
    checks_for,
    installed_components,
    parametrize_with_checks,
)
from nnkit.testing.subject import subject_of


@parametrize_with_checks(installed_components(["nnkit-numpy"]))
def test_every_standard_component_passes_the_kit(component, check):
    check(component)


def test_the_standard_set_is_all_checked():
    kinds = {subject.kind for subject in installed_components(["nnkit-numpy"])}
    assert kinds == {c.kind for c in nnkit.components()}
    assert [c.name for c in checks_for("activation")][:3] == [
        "activation_inputs_unchanged",
        "activation_shape_and_dtype",
        "activation_gradient",
    ]
    assert checks_for("metric")[-1].name == "config_round_trip"


# -- deliberately broken components: each must be reported by the right check -------------


class WrongDerivative(nnkit.Activation):
    """tanh with the derivative of the logistic sigmoid."""

    def forward(self, Z):
        return np.tanh(Z)

    def derivative(self, Z):
        s = 1 / (1 + np.exp(-Z))
        return s * (1 - s)


class Float64Sigmoid(nnkit.Activation):
    """Right values, but always computed and returned in float64."""

    def forward(self, Z):
        return 1 / (1 + np.exp(-Z.astype(np.float64)))

    def derivative(self, Z):
        s = self.forward(Z)
        return s * (1 - s)


class BatchNormalisedTanh(nnkit.Activation):
    """Mixes the samples of a batch: each unit is centred over the batch."""

    def forward(self, Z):
        return np.tanh(Z - Z.mean(axis=0, keepdims=True))

    def backward(self, Z, A, dA):
        dZ = dA * (1 - A**2)
        return dZ - dZ.mean(axis=0, keepdims=True)


class InPlaceReLU(nnkit.Activation):
    """Overwrites its input."""

    def forward(self, Z):
        return np.maximum(Z, 0, out=Z)

    def derivative(self, Z):
        return (Z > 0).astype(Z.dtype)


class SoftplusClaimingInPlace(nnkit.Activation):
    """Claims to work in place, but its derivative needs Z, not A."""

    in_place = True

    def forward(self, Z):
        return np.logaddexp(0, Z)

    def derivative(self, Z):
        return 1 / (1 + np.exp(-Z))


class AliasingLeakyReLU(nnkit.Activation):
    """Claims to work in place, but its forward reads Z after writing out."""

    in_place = True

    def forward(self, Z, out=None):
        out = np.multiply(Z, 0.1, out=out)
        return np.maximum(Z, out, out=out)

    def backward(self, Z, A, dA, out=None):
        return np.multiply(dA, np.where(A > 0, 1, 0.1).astype(A.dtype), out=out)


class SignErrorSGD(nnkit.Optimizer):
    """Gradient ascent by mistake."""

    def update(self, params, grads, state):
        params += self.learning_rate * grads


class StatefulMomentum(nnkit.Optimizer):
    """Keeps its velocity on itself, where a model file cannot see it."""

    def __init__(self, learning_rate: float = 0.01) -> None:
        super().__init__(learning_rate)
        self.velocity = None

    def update(self, params, grads, state):
        if self.velocity is None:
            self.velocity = np.zeros_like(params)
        self.velocity = 0.9 * self.velocity - self.learning_rate * grads
        params += self.velocity


class DriftingOptimizer(nnkit.Optimizer):
    """Moves even when the gradients are zero."""

    def update(self, params, grads, state):
        params -= self.learning_rate * (grads + 1e-3)


class Float64Adagrad(nnkit.Optimizer):
    """Keeps its accumulator in float64 whatever the parameters' dtype."""

    def init_state(self, params):
        return {"sum": np.zeros(params.shape, dtype=np.float64)}

    def update(self, params, grads, state):
        state["sum"] += grads.astype(np.float64) ** 2
        params -= (self.learning_rate * grads / (np.sqrt(state["sum"]) + 1e-7)).astype(params.dtype)


class Scale(nnkit.Layer):
    """Multiplies each input by a learned scale: the base of the broken layers below."""

    def build(self, input_shape, rng):
        self.n_inputs = input_shape[0]
        return input_shape

    def parameter_shapes(self):
        return {"s": (self.n_inputs,)}

    def initialize(self, rng):
        self.params["s"][...] = rng.uniform(0.5, 1.5, size=self.n_inputs)

    def forward(self, x, ws, training=False):
        ws.x = x
        return x * self.params["s"]

    def backward(self, dy, ws, need_input_gradient=True):
        self.grads["s"][...] = np.sum(dy * ws.x, axis=0)
        return dy * self.params["s"] if need_input_gradient else None


class MutatingScale(Scale):
    def forward(self, x, ws, training=False):
        ws.x = x.copy()
        x *= self.params["s"]  # writes into the previous layer's output
        return x


class Float64Scale(Scale):
    def forward(self, x, ws, training=False):
        ws.x = x
        return x * self.params["s"].astype(np.float64)


class WrongGradientScale(Scale):
    def backward(self, dy, ws, need_input_gradient=True):
        super().backward(dy, ws, need_input_gradient)
        self.grads["s"] *= 0.5  # forgot a factor
        return dy * self.params["s"]


class BatchCentredScale(Scale):
    """Consistent gradients, but each output depends on the whole batch."""

    def forward(self, x, ws, training=False):
        ws.centred = x - x.mean(axis=0, keepdims=True)
        return ws.centred * self.params["s"]

    def backward(self, dy, ws, need_input_gradient=True):
        self.grads["s"][...] = np.sum(dy * ws.centred, axis=0)
        dx = dy * self.params["s"]
        return dx - dx.mean(axis=0, keepdims=True)


class SelfStoringScale(Scale):
    """Right gradients one call at a time, but keeps the call's input on the layer (as
    layers did before workspaces), so two interleaved calls mix their arrays."""

    def forward(self, x, ws, training=False):
        self.x = x
        return x * self.params["s"]

    def backward(self, dy, ws, need_input_gradient=True):
        self.grads["s"][...] = np.sum(dy * self.x, axis=0)
        return dy * self.params["s"] if need_input_gradient else None


class ForgetfulChannelScale(Scale):
    """A scale starting at 1 whose backward forgets it: ``dx = dy``. Right at the
    initial parameters, wrong anywhere else."""

    def initialize(self, rng):
        self.params["s"][...] = 1.0

    def backward(self, dy, ws, need_input_gradient=True):
        self.grads["s"][...] = np.sum(dy * ws.x, axis=0)
        return dy.copy() if need_input_gradient else None  # forgot * s


class OutputBufferOnSelfScale(Scale):
    """Right results one call at a time, but keeps its output buffer on the layer, so
    another call (another thread's) overwrites or reshapes it."""

    def forward(self, x, ws, training=False):
        ws.x = x
        if getattr(self, "y", None) is None or self.y.shape != x.shape:
            self.y = np.empty_like(x)
        return np.multiply(x, self.params["s"], out=self.y)


class PenaltyWithoutGradientScale(Scale):
    """Counts ``l2/2 * sum(s^2)`` in its penalty but leaves ``l2 * s`` out of backward."""

    def __init__(self, l2: float = 0.1) -> None:
        self.l2 = l2

    def penalty(self):
        return 0.5 * self.l2 * float(np.sum(self.params["s"] ** 2))


class MissingBiasGradient(nnkit.Loss):
    """Squared error with the gradient not divided by the batch size."""

    def per_sample(self, A, Y):
        return 0.5 * np.sum((A - Y) ** 2, axis=-1)

    def gradient(self, A, Y):
        return A - Y


class SummingLoss(MissingBiasGradient):
    """Sums over the batch, where the interface promises the mean of per_sample; its
    gradient is consistent with that sum, so only the per-sample check sees it."""

    def value(self, A, Y):
        return float(np.sum(self.per_sample(A, Y)))

    def gradient(self, A, Y):
        return A - Y


class NarrowHe(nnkit.Initializer):
    """Promises He's variance 2/fan_in but draws with standard deviation 1/fan_in."""

    def sample(self, shape, fan_in, fan_out, rng, dtype):
        return (rng.standard_normal(shape) / fan_in).astype(dtype)

    def variance(self, fan_in, fan_out):
        return 2.0 / fan_in


class UnseededInitializer(nnkit.Initializer):
    """Ignores the generator it is given."""

    def sample(self, shape, fan_in, fan_out, rng, dtype):
        return np.random.default_rng().normal(size=shape).astype(dtype)


class ForgetfulLeakyReLU(nnkit.Activation):
    """Takes a slope but does not store it under its own name."""

    def __init__(self, slope: float = 0.1) -> None:
        self._slope = slope

    def forward(self, Z):
        return np.where(Z > 0, Z, self._slope * Z)

    def derivative(self, Z):
        return np.where(Z > 0, 1.0, self._slope).astype(Z.dtype)


class FlatWritingTanh(nnkit.Activation):
    """tanh written through ``out.reshape(-1)``: a view of a C-ordered buffer, but a copy
    of a Fortran-ordered one, so a transposed ``out`` keeps its old contents."""

    def forward(self, Z, out=None):
        out = np.empty_like(Z) if out is None else out
        np.tanh(Z.reshape(-1), out=out.reshape(-1))
        return out

    def derivative(self, Z):
        return 1 - np.tanh(Z) ** 2


class SoftmaxClaimingElementwise(nnkit.Activation):
    """Softmax over the units of each sample, claiming it acts on each number alone: a
    dense layer would then normalise its columns over the samples."""

    elementwise = True

    def forward(self, Z, out=None):
        e = np.exp(Z - Z.max(axis=-1, keepdims=True))
        return np.divide(e, e.sum(axis=-1, keepdims=True), out=out)

    def backward(self, Z, A, dA, out=None):
        return np.multiply(A, dA - np.sum(dA * A, axis=-1, keepdims=True), out=out)


class BatchMeanMedian(nnkit.Metric):
    """The median absolute error of each batch, averaged over batches: not the median of
    the whole set."""

    def value(self, A, Y):
        return float(np.median(np.abs(A - Y)))


class SharedStateMaximum(nnkit.Metric):
    """The largest output, kept on the metric object instead of the state."""

    def init_state(self):
        self.largest = -np.inf
        return {}

    def update(self, state, A, Y):
        self.largest = max(self.largest, float(A.max()))

    def result(self, state):
        return self.largest


class KeepsBufferViews(nnkit.Metric):
    """The mean first output, from views of batches it does not copy."""

    def init_state(self):
        return {"batches": []}

    def update(self, state, A, Y):
        state["batches"].append(A)

    def result(self, state):
        return float(np.concatenate(state["batches"], axis=0)[:, 0].mean())


BROKEN = [
    (WrongDerivative(), "activation_gradient", "against finite differences"),
    (Float64Sigmoid(), "activation_shape_and_dtype", "expected dtype float32, found float64"),
    (BatchNormalisedTanh(), "activation_samples_independent", "sample 0 alone"),
    (InPlaceReLU(), "activation_inputs_unchanged", "forward(Z) changed Z"),
    (SoftplusClaimingInPlace(), "activation_in_place", "backward(A, A, dA)"),
    (AliasingLeakyReLU(), "activation_in_place", "forward(Z, out=Z)"),
    (FlatWritingTanh(), "activation_memory_orders", "Fortran-ordered Z"),
    (SoftmaxClaimingElementwise(), "activation_elementwise", "set elementwise = False"),
    (SignErrorSGD(), "optimizer_descends", "expected f to fall below"),
    (StatefulMomentum(), "optimizer_state_round_trip", "after resuming from the saved state"),
    (DriftingOptimizer(), "optimizer_still_on_zero_gradients", "zero gradients"),
    (Float64Adagrad(), "optimizer_keeps_dtype", "state 'sum' of float32 parameters"),
    (MutatingScale(), "layer_inputs_unchanged", "changed x"),
    (Float64Scale(), "layer_shape_and_dtype", "expected dtype float32, found float64"),
    (WrongGradientScale(), "layer_gradients", "parameter gradients (training)"),
    (BatchCentredScale(), "layer_samples_independent", "sample 0 alone"),
    (SelfStoringScale(), "layer_interleaved_calls", "when interleaved"),
    (ForgetfulChannelScale(), "layer_gradients_at_random_parameters", "at random parameters"),
    (OutputBufferOnSelfScale(), "layer_interleaved_calls", "in its workspace"),
    (PenaltyWithoutGradientScale(), "layer_penalty_gradient", "leaves out the gradient of penalty()"),
    (MissingBiasGradient(), "loss_gradient", "gradient(A, Y) against finite differences"),
    (SummingLoss(), "loss_per_sample", "value against per_sample mean"),
    (NarrowHe(), "initializer_variance", "expected 0.00666667 (within 10%)"),
    (UnseededInitializer(), "initializer_same_seed_same_result", "same seed"),
    (BatchMeanMedian(), "metric_batches_equal_whole_set", "batches of 1"),
    (KeepsBufferViews(), "metric_batches_equal_whole_set", "copy arrays you keep"),
    (SharedStateMaximum(), "metric_states_are_independent", "another state was updated"),
    (ForgetfulLeakyReLU(), "config_round_trip", "does not store it as self.slope"),
    (Scale(), "config_round_trip", "not registered by any plugin"),
]


@pytest.mark.parametrize(
    ("component", "check", "detail"), BROKEN, ids=[type(c).__name__ for c, _, _ in BROKEN]
)
def test_the_kit_reports_each_broken_component_by_the_right_check(component, check, detail):
    with pytest.raises(AssertionError) as caught:
        check_component(component)
    message = str(caught.value)
    assert message.startswith(f"check {check} failed for ")
    assert type(component).__name__ in message and "not registered by any plugin" in message
    assert detail in message


def test_a_failure_names_the_distribution_that_supplied_the_component(
    fake_distribution, isolated_registry
):
    fake_distribution(
        "acme-nn",
        """
        import numpy as np
        import nnkit

        class Cube(nnkit.Activation):
            def forward(self, Z):
                return Z ** 3
            def derivative(self, Z):
                return 2 * Z ** 2   # should be 3 Z^2

        @nnkit.hookimpl
        def register_activations(register):
            register("acme.cube", Cube)
        """,
        version="2.3",
    )
    isolated_registry()
    with pytest.raises(AssertionError) as caught:
        check_component("acme.cube")
    message = str(caught.value)
    assert message.startswith("check activation_gradient failed for activation 'acme.cube'")
    assert "(acme-nn 2.3)" in message and "expected" in message and "found" in message


def test_names_classes_and_instances_are_all_accepted():
    check_component("relu")
    check_component(nnkit.Dense)  # built from its example arguments
    check_component(nnkit.optimizer("sgd", momentum=0.9, nesterov=True))
    with pytest.raises(ValueError, match="no component is registered as 'rleu'"):
        check_component("rleu")
    with pytest.raises(TypeError, match="implements none of the interfaces"):
        check_component(object())


def test_parametrize_with_checks_gives_one_readable_test_per_check():
    mark = parametrize_with_checks(["relu", "adam"])
    ids = [case.id for case in mark.args[1]]
    assert "activation-relu-activation_gradient" in ids
    assert "optimizer-adam-optimizer_descends" in ids
    assert len(ids) == len(checks_for("activation")) + len(checks_for("optimizer"))


def test_the_pytest_plugin_runs_the_kit_on_request(tmp_path):
    def pytest_in(*options):
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )

    (tmp_path / "test_nothing.py").write_text("def test_ok():\n    assert True\n")
    plain = pytest_in()
    assert "1 passed" in plain.stdout  # without the option the plugin adds nothing
    checked = pytest_in("--nnkit-check=nnkit-numpy")
    subjects = installed_components(["nnkit-numpy"])
    expected = sum(len(checks_for(checked_kind(s))) for s in subjects) + 1
    assert f"{expected} passed" in checked.stdout, checked.stdout[-500:]
    unknown = pytest_in("--nnkit-check=no-such-dist")
    assert unknown.returncode != 0 and "no loaded plugin is called" in unknown.stderr


# -- what the initial parameters, copies and a single thread hide ---------------------------


def run_check(name, component):
    """Run the one check ``name`` on ``component``, as the kit does."""
    (check,) = [c for c in checks_for("layer") if c.name == name]
    check(subject_of(component))


def test_a_backward_that_forgets_a_scale_starting_at_one_passes_only_at_the_initial_parameters():
    run_check("layer_gradients", ForgetfulChannelScale())  # what the kit checked before
    with pytest.raises(AssertionError, match=r"input gradient \(training\) at random parameters"):
        run_check("layer_gradients_at_random_parameters", ForgetfulChannelScale())


class StateScale(Scale):
    """A scale by ``s * factor``, where ``factor`` is layer state starting at 1; the
    broken subclass below forgets the factor in backward."""

    def bind(self, params, grads):
        super().bind(params, grads)
        self.factor = np.ones(self.n_inputs, dtype=params["s"].dtype)

    def state(self):
        return {"factor": self.factor}

    def load_state(self, state):
        self.factor[...] = state["factor"]

    def forward(self, x, ws, training=False):
        ws.x = x
        return x * self.params["s"] * self.factor

    def backward(self, dy, ws, need_input_gradient=True):
        self.grads["s"][...] = np.sum(dy * ws.x, axis=0) * self.factor
        return dy * self.params["s"] * self.factor if need_input_gradient else None


class StateForgettingScale(StateScale):
    def backward(self, dy, ws, need_input_gradient=True):
        self.grads["s"][...] = np.sum(dy * ws.x, axis=0)  # forgot * factor
        return dy * self.params["s"] if need_input_gradient else None


def test_the_gradients_are_also_checked_at_a_random_state():
    run_check("layer_gradients_at_random_parameters", StateScale())
    run_check("layer_gradients", StateForgettingScale())
    with pytest.raises(AssertionError, match="use the current value of each"):
        run_check("layer_gradients_at_random_parameters", StateForgettingScale())


def test_the_gradient_check_counts_the_penalty_in_its_objective():
    with pytest.raises(AssertionError) as caught:
        check_component(PenaltyWithoutGradientScale(), exclude={"layer_penalty_gradient"})
    assert str(caught.value).startswith("check layer_gradients failed for ")
    assert "parameter gradients (training) against finite differences" in str(caught.value)


@pytest.mark.parametrize("layer", [OutputBufferOnSelfScale(), SelfStoringScale()], ids=type)
def test_the_threaded_check_catches_a_call_s_arrays_kept_on_the_layer(layer):
    with pytest.raises(AssertionError) as caught:
        run_check("layer_concurrent_calls", layer)
    message = str(caught.value)
    assert message.startswith("check layer_concurrent_calls failed for layer ")
    assert type(layer).__name__ in message and "never on self" in message


def test_the_threaded_check_keeps_to_its_time_and_restores_the_switch_interval():
    interval = sys.getswitchinterval()
    started = time.perf_counter()
    run_check("layer_concurrent_calls", Scale())
    assert time.perf_counter() - started < 1.5
    assert sys.getswitchinterval() == interval


# -- configurations: equality and test ids ----------------------------------------------


def test_components_are_equal_by_class_and_configuration_and_unhashable():
    assert nnkit.Dense(3, activation="tanh") == nnkit.Dense(3, activation="tanh")
    assert nnkit.Dense(3) != nnkit.Dense(4)
    assert nnkit.optimizer("sgd") != nnkit.optimizer("adam")
    assert nnkit.Dense(3) != "dense"
    with pytest.raises(TypeError, match="unhashable"):
        hash(nnkit.Dense(3))
    # the registry and a network tell equal instances apart by identity, not equality
    network = nnkit.Network([nnkit.Dense(3), nnkit.Dense(3), nnkit.Dense(1)], loss="mse")
    network.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=1, batch_size=2)
    assert nnkit.activation("relu") == nnkit.activation("relu")


def test_configurations_of_one_component_get_readable_ids_of_their_own():
    mark = parametrize_with_checks(
        [nnkit.optimizer("sgd"), nnkit.optimizer("sgd", momentum=0.9), nnkit.Dense(3, activation="tanh")]
    )
    ids = [case.id for case in mark.args[1]]
    assert "optimizer-sgd-optimizer_descends" in ids
    assert "optimizer-sgd(momentum=0.9)-optimizer_descends" in ids
    assert "layer-dense(units=3,activation=tanh)-layer_gradients" in ids
    assert len(set(ids)) == len(ids)


# -- a layer driven by hand ---------------------------------------------------------------


def test_the_harness_drives_one_dense_layer_as_a_network_would():
    harness = LayerHarness(nnkit.Dense(2), input_shape=(3,), seed=0)
    assert sorted(harness.parameters) == ["W", "b"]
    W = np.arange(6.0).reshape(harness.parameters["W"].shape)
    harness.set_parameters({"W": W, "b": np.zeros_like(harness.parameters["b"])})
    x = np.array([[1.0, 2.0, 3.0]])
    y = harness.forward(x, training=True)
    np.testing.assert_allclose(y, x @ W.T)  # W is (units, inputs), as in the matrix form
    dx = harness.backward(np.ones_like(y))
    np.testing.assert_allclose(dx, np.ones((1, 2)) @ W)
    np.testing.assert_allclose(harness.gradients["W"], np.ones((2, 1)) @ x)
    np.testing.assert_allclose(harness.gradients["b"].ravel(), [1.0, 1.0])


def test_the_harness_names_inner_layers_and_refuses_bad_input():
    harness = LayerHarness(nnkit.layer("residual", layers=[nnkit.Dense(4), nnkit.Dense(4)]))
    assert sorted(harness.parameters) == ["0/W", "0/b", "1/W", "1/b"]
    with pytest.raises(ConfigurationError, match="no parameter 'W'; its parameters are"):
        harness.set_parameters({"W": np.zeros((4, 4))})
    with pytest.raises(ConfigurationError, match=r"'0/W' has shape \(4, 4\), got \(2,\)"):
        harness.set_parameters({"0/W": np.zeros(2)})
    with pytest.raises(DataError, match=r"built for samples of shape \(4,\)"):
        harness.forward(np.zeros((2, 3)))
