"""The standard losses agree with scikit-learn and SciPy, and a probability loss is refused
after an output that gives no probabilities."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import rel_entr
from sklearn.metrics import hinge_loss, mean_absolute_error, mean_poisson_deviance

import nnkit
from nnkit.errors import ConfigurationError
from nnkit.testing import check_component

rng = np.random.default_rng(0)


def test_mae_and_l1_are_one_loss_that_equals_scikit_learns():
    A, Y = rng.normal(size=(40, 1)), rng.normal(size=(40, 1))
    mae, l1 = nnkit.loss("mae"), nnkit.loss("l1")
    assert type(mae) is type(l1)
    assert mae.value(A, Y) == pytest.approx(mean_absolute_error(Y, A), rel=1e-12)
    assert np.array_equal(mae.gradient(A, Y), np.sign(A - Y) / 40)


def test_hinge_takes_minus_one_and_one_or_zero_and_one_and_equals_scikit_learns():
    scores = rng.normal(size=(50, 1))
    labels = rng.integers(0, 2, size=50)
    hinge = nnkit.loss("hinge")
    expected = hinge_loss(labels, scores[:, 0])
    assert hinge.value(scores, labels[:, None].astype(float)) == pytest.approx(expected)
    assert hinge.value(scores, 2.0 * labels[:, None] - 1) == pytest.approx(expected)
    several = rng.normal(size=(50, 3))
    one_hot = np.eye(3)[rng.integers(0, 3, size=50)]
    per_output = [hinge.value(several[:, i : i + 1], one_hot[:, i : i + 1]) for i in range(3)]
    assert hinge.value(several, one_hot) == pytest.approx(sum(per_output))


def test_kl_divergence_equals_scipys_and_is_zero_at_the_target():
    A = rng.dirichlet(np.ones(4), size=30)
    Y = rng.dirichlet(np.ones(4), size=30)
    Y[:5, 0] = 0.0  # a target of zero contributes nothing
    kl = nnkit.loss("kl_divergence")
    assert kl.value(A, Y) == pytest.approx(rel_entr(Y, A).sum(axis=1).mean(), rel=1e-9)
    assert kl.value(Y, Y) == pytest.approx(0.0, abs=1e-12)


def test_poisson_is_half_scikit_learns_mean_poisson_deviance():
    counts = rng.poisson(3.0, size=(60, 1)).astype(float)
    rates = rng.uniform(0.5, 6.0, size=(60, 1))
    poisson = nnkit.loss("poisson")
    expected = 0.5 * mean_poisson_deviance(counts[:, 0], rates[:, 0])
    assert poisson.value(rates, counts) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("name", ["mae", "l1", "hinge", "kl_divergence", "poisson"])
def test_the_new_losses_pass_the_conformance_kit(name):
    check_component(name, kind="loss")  # raises AssertionError naming the failed check


def test_a_network_with_mae_or_poisson_trains_down():
    X = rng.uniform(-1, 1, size=(200, 2))
    counts = rng.poisson(np.exp(X @ [0.8, -0.5]))
    for loss, y, activation in (("mae", X @ [1.0, 2.0], None), ("poisson", counts, "sigmoid")):
        net = nnkit.Network(
            [nnkit.Dense(8, activation="tanh"), nnkit.Dense(1, activation=activation)],
            loss=loss,
            optimizer="adam",
            seed=0,
        )
        history = net.fit(X, y.reshape(-1, 1), epochs=30, verbose=0)
        assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.parametrize("loss", ["cross_entropy", "binary_cross_entropy", "kl_divergence"])
@pytest.mark.parametrize("activation", ["relu", "identity", None])
def test_a_probability_loss_after_an_unbounded_output_is_refused_at_build(loss, activation):
    net = nnkit.Network(
        [nnkit.Dense(4, activation="tanh"), nnkit.Dense(3, activation=activation)],
        loss=loss,
        seed=0,
    )
    with pytest.raises(
        ConfigurationError,
        match=rf"loss '{loss}' reads the output as "
        "probabilities, but the last layer .* which does not give probabilities",
    ):
        net.build(2)


def test_the_refusal_stops_the_negative_loss_that_training_would_chase():
    X = rng.normal(size=(60, 2))
    labels = rng.integers(0, 3, size=60)
    net = nnkit.Network([nnkit.Dense(3, activation="relu")], loss="cross_entropy", seed=0)
    with pytest.raises(ConfigurationError, match="activation='softmax'"):
        net.fit(X, labels, epochs=5, verbose=0)


def test_probability_outputs_and_activations_that_do_not_say_are_accepted():
    class Squash(nnkit.Activation):  # a third party's activation of unknown range
        def forward(self, Z):
            return 0.5 * (np.tanh(Z) + 1)

        def derivative(self, Z):
            return 0.5 * (1 - np.tanh(Z) ** 2)

    for loss, activation in (
        ("cross_entropy", "softmax"),
        ("binary_cross_entropy", "sigmoid"),
        ("kl_divergence", "softmax"),
        ("binary_cross_entropy", Squash()),
    ):
        net = nnkit.Network([nnkit.Dense(3, activation=activation)], loss=loss, seed=0)
        assert net.build(2).built
    assert nnkit.activation("softmax").outputs_probabilities is True
    assert nnkit.activation("relu").outputs_probabilities is False
    assert Squash.outputs_probabilities is None
