"""The trainer: fit, evaluate and predict are made of steps a subclass can override."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import nnkit
from nnkit.training.trainer import Trainer

RNG = np.random.default_rng(0)
X = RNG.normal(size=(100, 4))
Y = (X[:, 0] > 0).astype(int)


def classifier(cls: type[nnkit.Network] = nnkit.Network) -> nnkit.Network:
    return cls(
        [nnkit.Dense(8, activation="relu"), nnkit.Dense(2, activation="softmax")],
        loss="cross_entropy",
        optimizer="adam",
        seed=0,
    )


def test_fit_takes_one_train_step_per_batch_through_the_model():
    batches = []

    class Recording(nnkit.Network):
        def train_step(self, X, Y, workspace, sample_weight=None, clip_norm=None, clip_value=None):
            batches.append(X.shape[0])
            return super().train_step(X, Y, workspace, sample_weight, clip_norm, clip_value)

    net = classifier(Recording)
    net.fit(X, Y, epochs=2, batch_size=32, verbose=0)
    assert batches == [32, 32, 32, 4] * 2


def test_an_overridden_train_step_changes_training():
    class Frozen(nnkit.Network):
        """Computes the loss but never steps: the weights must not move."""

        def train_step(self, X, Y, workspace, sample_weight=None, clip_norm=None, clip_value=None):
            return self.test_step(X, Y, workspace, sample_weight)

    net = classifier(Frozen)
    net.build(4)
    before = [w.copy() for w in net.get_weights()]
    history = net.fit(X, Y, epochs=3, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, net.get_weights()))
    assert history.history["loss"][0] == pytest.approx(history.history["loss"][-1])


def test_evaluate_and_validation_use_test_step_and_predict_uses_predict_step():
    seen = {"test": 0, "predict": 0}

    class Counting(nnkit.Network):
        def test_step(self, X, Y, workspace, sample_weight=None):
            seen["test"] += 1
            return super().test_step(X, Y, workspace, sample_weight)

        def predict_step(self, X, workspace):
            seen["predict"] += 1
            return super().predict_step(X, workspace)

    net = classifier(Counting)
    net.fit(X, Y, epochs=2, validation_split=0.2, verbose=0)
    assert seen["test"] == 2  # one validation batch per epoch
    net.evaluate(X, Y, batch_size=40)
    assert seen["test"] == 2 + 3
    net.predict(X, batch_size=50)
    assert seen["predict"] == 2


def test_fit_reports_the_scores_evaluate_gives_when_no_step_changes_the_weights():
    class Frozen(nnkit.Network):
        def train_step(self, X, Y, workspace, sample_weight=None, clip_norm=None, clip_value=None):
            return self.test_step(X, Y, workspace, sample_weight)

    net = classifier(Frozen)
    history = net.fit(X, Y, epochs=1, batch_size=16, verbose=0)
    scores = net.evaluate(X, Y)
    assert history.history["loss"][0] == pytest.approx(scores["loss"], rel=1e-6)
    assert history.history["accuracy"][0] == pytest.approx(scores["accuracy"])


def test_partial_fit_returns_the_model_it_was_called_on():
    class Mine(nnkit.Network):
        pass

    net = classifier(Mine)
    assert net.partial_fit(X, Y) is net


def test_the_fit_arguments_are_written_once():
    assert nnkit.Network.fit is Trainer.fit
    assert "clip_norm" in inspect.signature(nnkit.Network.fit).parameters
    import nnkit.training.loop as loop

    assert not hasattr(loop, "fit")
