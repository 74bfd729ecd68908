"""Parameters declared with `Layer.add_parameter`: shapes, initial values, the penalty and
its gradient follow from one line per parameter; the standard layers built on it draw
the same parameters as before; the ones and constant initializers."""

from __future__ import annotations

import numpy as np
import pytest

import nnkit
from nnkit.errors import ConfigurationError, UnknownComponentError
from nnkit.testing import LayerHarness, check_component


class Scale(nnkit.Layer):
    """y = gamma * x + beta, per feature, gamma penalised."""

    example_arguments = {"l2": 0.3}

    def __init__(self, l2: float = 0.0) -> None:
        self.l2 = l2

    def build(self, input_shape, rng):
        self.add_parameter("gamma", input_shape, "ones", l2=self.l2)
        self.add_parameter("beta", input_shape, nnkit.initializer("constant", value=0.25))
        return input_shape

    def forward(self, x, ws, training=False):
        ws.x = x
        return x * self.params["gamma"] + self.params["beta"]

    def backward(self, dy, ws, need_input_gradient=True):
        np.sum(dy * ws.x, axis=0, out=self.grads["gamma"])
        np.sum(dy, axis=0, out=self.grads["beta"])
        self.add_penalty_gradients()
        return dy * self.params["gamma"] if need_input_gradient else None


def test_declarations_give_shapes_initial_values_and_the_penalty():
    harness = LayerHarness(Scale(l2=0.5), input_shape=(3,), dtype=np.float64, seed=0)
    assert harness.layer.parameter_shapes() == {"gamma": (3,), "beta": (3,)}
    assert np.array_equal(harness.parameters["gamma"], np.ones(3))
    assert np.array_equal(harness.parameters["beta"], np.full(3, 0.25))
    harness.set_parameters({"gamma": np.array([1.0, 2.0, -2.0])})
    assert harness.penalty() == pytest.approx(0.5 * 0.5 * 9.0)
    x = np.ones((2, 3))
    harness.backward(np.zeros_like(harness.forward(x, training=True)))
    assert np.allclose(harness.gradients["gamma"], 0.5 * np.array([1.0, 2.0, -2.0]))
    assert np.array_equal(harness.gradients["beta"], np.zeros(3))  # not penalised


# A class of this module is registered by no plugin, so it has no name to save by.
LOCAL = {"config_round_trip"}


def test_a_declared_layer_passes_the_conformance_kit_with_a_penalty():
    check_component(Scale(l2=0.3), exclude=LOCAL)


def test_declared_initializers_are_resolved_once_at_build():
    layer = Scale()
    layer.build((2,), np.random.default_rng(0))
    specs = layer.declared_parameters()
    assert isinstance(specs["gamma"].initializer, nnkit.Initializer)
    assert specs["gamma"].fans == (2, 2) and specs["beta"].l2 == 0.0
    layer.build((2,), np.random.default_rng(0))  # building again redeclares, not duplicates
    assert list(layer.declared_parameters()) == ["gamma", "beta"]


def test_default_fans_read_out_in_and_kernel_dimensions():
    layer = Scale()
    layer.add_parameter("K", (8, 3, 5, 5), "he_normal")
    assert layer.declared_parameters()["K"].fans == (3 * 25, 8 * 25)


@pytest.mark.parametrize(
    "name, shape, initializer, l2, message",
    [
        ("", (3,), "ones", 0.0, "non-empty string"),
        ("0/W", (3,), "ones", 0.0, "without '/'"),
        ("W", 3, "ones", 0.0, "tuple of positive integers"),
        ("W", (3, 0), "ones", 0.0, "parameter 'W' size"),
        ("W", (3,), "ones", -1.0, "parameter 'W' l2"),
        ("W", (3,), "onez", 0.0, "onez"),
    ],
)
def test_bad_declarations_say_what_is_wrong(name, shape, initializer, l2, message):
    with pytest.raises((ConfigurationError, UnknownComponentError), match=message):
        Scale().add_parameter(name, shape, initializer, l2=l2)


def test_ones_and_constant_initializers():
    rng = np.random.default_rng(0)
    ones = nnkit.initializer("ones").sample((2, 3), 3, 2, rng, np.float32)
    assert ones.dtype == np.float32 and np.array_equal(ones, np.ones((2, 3)))
    constant = nnkit.initializer("constant", value=-1.5).sample((4,), 4, 4, rng, np.float64)
    assert np.array_equal(constant, np.full(4, -1.5))
    with pytest.raises(ConfigurationError, match="constant initializer value"):
        nnkit.initializer("constant", value=float("nan"))


def test_dense_draws_the_parameters_it_drew_before_declarations():
    # nnkit 0.2: W from the kernel initializer with fans (n_inputs, units), then b, from
    # one generator; the same seed must give the same network.
    harness = LayerHarness(nnkit.Dense(4, activation="relu", bias_initializer="he_uniform"),
                           input_shape=(3,), dtype=np.float64, seed=5)
    rng = np.random.default_rng(5 + 1)
    W = nnkit.initializer("he_normal").sample((4, 3), 3, 4, rng, np.float64)
    b = nnkit.initializer("he_uniform").sample((4,), 3, 4, rng, np.float64)
    assert np.array_equal(harness.parameters["W"], W)
    assert np.array_equal(harness.parameters["b"], b)


def test_embedding_draws_the_table_it_drew_before_declarations():
    harness = LayerHarness(nnkit.layer("embedding", input_dim=6, output_dim=2,
                                       embeddings_initializer="he_normal"),
                           input_shape=(3,), dtype=np.float64, seed=2)
    expected = nnkit.initializer("he_normal").sample(
        (6, 2), 6, 2, np.random.default_rng(2 + 1), np.float64)
    assert np.array_equal(harness.parameters["E"], expected)


class LegacyWeighted(nnkit.WeightedLayer):
    """A WeightedLayer as nnkit 0.2 wrote one: parameter_shapes by hand, add_l2_gradient."""

    example_arguments = {"l2": 0.2}

    def __init__(self, l2: float = 0.0) -> None:
        self.configure_weights("legacy", None, None, "zeros", l2)

    def build(self, input_shape, rng):
        self.n = input_shape[0]
        return (2,)

    def parameter_shapes(self):
        return {"W": (2, self.n), "b": (2,)}

    def fans(self):
        return self.n, 2

    def forward(self, x, ws, training=False):
        ws.x = x
        return x @ self.params["W"].T + self.params["b"]

    def backward(self, dy, ws, need_input_gradient=True):
        np.matmul(dy.T, ws.x, out=self.grads["W"])
        np.sum(dy, axis=0, out=self.grads["b"])
        self.add_l2_gradient()
        return dy @ self.params["W"] if need_input_gradient else None


def test_a_weighted_layer_written_for_0_2_keeps_working():
    check_component(LegacyWeighted(l2=0.2), exclude=LOCAL)
    harness = LayerHarness(LegacyWeighted(), input_shape=(3,), dtype=np.float64, seed=1)
    assert harness.layer.parameter_shapes() == {"W": (2, 3), "b": (2,)}
    assert np.abs(harness.parameters["W"]).max() > 0  # drawn, not left at zero
