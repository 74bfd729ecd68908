"""Training hands the loss, the metrics and the fused gradient its outputs as rows
(C order, one sample after another), as inference does, so none of them copies a
strided view first; the values are those of the columns the layers compute."""

from __future__ import annotations

import numpy as np
import pytest

import nnkit
from nnkit.interfaces.workspace import Workspace

rng = np.random.default_rng(5)


@pytest.mark.parametrize("activation", ["softmax", "relu", None])
def test_training_outputs_are_rows_with_the_values_of_inference(activation):
    net = nnkit.Network(
        [nnkit.Dense(6, activation="tanh"), nnkit.Dense(4, activation=activation)],
        loss="cross_entropy" if activation == "softmax" else "mse",
        seed=0,
        dtype="float64",
    ).build(3)
    X = rng.normal(size=(9, 3))
    A = net.forward(X, Workspace(), training=True)
    assert A.flags.c_contiguous and A.shape == (9, 4)
    np.testing.assert_allclose(A, net.predict(X), rtol=1e-12, atol=1e-15)


class _Recording(nnkit.Network):
    """Keeps the memory order of each batch's outputs and targets."""

    def train_step(self, X, Y, workspace, *args):
        A, loss = super().train_step(X, Y, workspace, *args)
        self.orders.append((A.flags.c_contiguous, Y.flags.c_contiguous))
        return A, loss


def test_fit_gives_the_loss_outputs_and_class_targets_in_the_same_order():
    X, y = rng.normal(size=(20, 3)), rng.integers(0, 3, size=20)
    net = _Recording([nnkit.Dense(3, activation="softmax")], loss="cross_entropy", seed=0)
    net.orders = []
    net.fit(X, y, epochs=1, batch_size=8, verbose=0)
    assert net.orders == [(True, True)] * 3
