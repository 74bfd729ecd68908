"""The conformance kit's check that a layer's state changes only in the network's
atomic step (``commit_state``), never during a training forward or backward pass."""

from __future__ import annotations

import numpy as np
import pytest

import nnkit
from nnkit.testing.layer_checks import CHECKS, layer_state_changes_only_in_commit
from nnkit.testing.subject import subject_of


class Centred(nnkit.Layer):
    """Subtracts a running mean of its inputs, kept as state, as batch normalisation does."""

    example_input_shape = (3,)

    def __init__(self, momentum: float = 0.5) -> None:
        self.momentum = momentum

    def build(self, input_shape, rng):
        self.running_mean = np.zeros(input_shape)
        self._pending = None
        return input_shape

    def state(self):
        return {"running_mean": self.running_mean}

    def load_state(self, state):
        self.running_mean[...] = state["running_mean"]

    def forward(self, x, ws, training=False):
        if training:
            self._pending = x.mean(axis=0)
        return x - self.running_mean.astype(x.dtype)

    def commit_state(self):
        if self._pending is not None:
            self.running_mean *= self.momentum
            self.running_mean += (1 - self.momentum) * self._pending
            self._pending = None

    def backward(self, dy, ws, need_input_gradient=True):
        return dy.copy() if need_input_gradient else None


class EagerCentred(Centred):
    """Updates its running mean in the forward pass, where a reader may see it."""

    def forward(self, x, ws, training=False):
        y = super().forward(x, ws, training)
        self.commit_state()
        return y


def test_the_check_is_one_of_the_layer_checks():
    assert CHECKS[-1] is layer_state_changes_only_in_commit


def test_a_layer_updating_its_state_in_forward_fails_the_check():
    with pytest.raises(AssertionError, match=r"state 'running_mean' of EagerCentred .*commit_state"):
        layer_state_changes_only_in_commit(subject_of(EagerCentred()))


def test_a_layer_updating_its_state_in_commit_state_passes_and_the_network_commits():
    layer_state_changes_only_in_commit(subject_of(Centred()))
    net = nnkit.Network([Centred(), nnkit.Dense(1)], loss="mse", optimizer="sgd", seed=0)
    X = np.random.default_rng(0).normal(size=(16, 3)) + 5
    net.fit(X, X.sum(axis=1), epochs=1, batch_size=16, verbose=0)
    assert np.allclose(net.layers[0].running_mean, 0.5 * X.mean(axis=0))
