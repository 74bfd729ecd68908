"""The learning-rate range test trains a copy, never the network it is given."""

from __future__ import annotations

import copy
import pickle
import sys

import numpy as np
import pytest

import nnkit


def regression():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.normal(size=256)
    net = nnkit.Network([nnkit.Dense(1)], loss="mse", optimizer="sgd", seed=0)
    return net, X, y


def test_lr_find_leaves_the_network_untouched_and_suggests_a_rate_where_the_loss_falls():
    net, X, y = regression()
    net.fit(X[:32], y[:32], epochs=1, verbose=0)
    weights, rate = net.store.values.copy(), net.optimizer.learning_rate
    history, shuffle_state = net.history, net.shuffle_rng.bit_generator.state
    # Full batches: the loss is a smooth function of the rate alone.
    result = nnkit.training.lr_find(net, X, y, start=1e-5, end=1e3, steps=80, batch_size=256)
    np.testing.assert_array_equal(net.store.values, weights)
    assert net.optimizer.learning_rate == rate and net.history is history
    assert net.shuffle_rng.bit_generator.state == shuffle_state
    assert result.rates[0] == pytest.approx(1e-5)
    np.testing.assert_allclose(np.diff(np.log(result.rates)), np.log(1e8) / 79, rtol=1e-9)
    assert len(result.rates) == len(result.losses) == len(result.smoothed) <= 80
    # The loss falls fastest below 1 (it diverges above 2 / largest curvature, about 2).
    assert 1e-3 < result.suggestion < 1.0
    assert result.smoothed[-1] > 2 * result.smoothed.min()
    assert len(result.rates) < 80  # stopped once the loss diverged


@pytest.mark.parametrize(
    "duplicate",
    [copy.deepcopy, lambda net: pickle.loads(pickle.dumps(net))],
    ids=["deepcopy", "pickle"],
)
def test_a_copy_of_a_built_network_trains_its_own_parameters(duplicate):
    # A copy's layers held copies of the parameter views, so its training changed nothing.
    net, X, y = regression()
    net.build(4)
    trial = duplicate(net)
    before = trial.predict(X)
    trial.fit(X, y, epochs=2, verbose=0)
    assert not np.allclose(trial.predict(X), before)
    np.testing.assert_array_equal(net.predict(X), before)


def test_lr_find_on_an_unbuilt_network_leaves_it_unbuilt():
    net, X, y = regression()
    result = nnkit.training.lr_find(net, X, y, steps=20)
    assert not net.built and len(result.losses) >= 2


def test_lr_find_draws_loss_against_rate(tmp_path):
    pytest.importorskip("matplotlib")
    net, X, y = regression()
    result = nnkit.training.lr_find(net, X, y, start=1e-4, end=1.0, steps=30, plot=tmp_path / "lr.png")
    assert (tmp_path / "lr.png").read_bytes()[:4] == b"\x89PNG"
    axes = result.plot().axes[0]
    assert axes.get_xscale() == "log" and axes.get_xlabel() == "learning rate"


def test_lr_find_plot_without_matplotlib_names_the_extra(monkeypatch):
    net, X, y = regression()
    result = nnkit.training.lr_find(net, X, y, steps=10)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(nnkit.MissingExtraError, match=r'pip install "nnkit\[plot\]"'):
        result.plot()


@pytest.mark.parametrize(
    "options, message",
    [
        ({"steps": 1}, "needs steps >= 2"),
        ({"start": 1.0, "end": 0.1}, "needs start < end"),
        ({"start": 0}, "start must be a positive number"),
        ({"epochs": 3}, "lr_find sets epochs itself"),
    ],
)
def test_lr_find_refuses_impossible_settings(options, message):
    net, X, y = regression()
    with pytest.raises(nnkit.ConfigurationError, match=message):
        nnkit.training.lr_find(net, X, y, **options)
