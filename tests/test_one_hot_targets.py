"""Targets made from class labels are one-hot, and the fused softmax gradient may skip the
sums only other targets need: for the loop's own one-hot targets, never for others."""

from __future__ import annotations

import numpy as np
import pytest
from nnkit_std.losses import CrossEntropy

import nnkit
from nnkit.interfaces.workspace import Workspace

rng = np.random.default_rng(11)


@pytest.mark.parametrize("name", ["cross_entropy", "kl_divergence", "binary_cross_entropy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_hot_gives_the_general_gradient_to_the_last_bit(name, dtype):
    loss = nnkit.loss(name)
    A = nnkit.activation(loss.fused_activation).forward(rng.normal(size=(7, 4)).astype(dtype))
    Y = np.eye(4, dtype=dtype)[rng.integers(0, 4, size=7)]
    np.testing.assert_array_equal(
        loss.fused_gradient(A, Y, one_hot=True), loss.fused_gradient(A, Y)
    )


def _network() -> nnkit.Network:
    return nnkit.Network(
        [nnkit.Dense(3, activation="softmax")], loss="cross_entropy", seed=0, dtype="float64"
    ).build(2)


def test_targets_not_named_one_hot_keep_the_exact_gradient():
    # A multi-hot row and an all-zero row, with the workspace naming other targets one-hot.
    net = _network()
    X = np.array([[0.5, -1.0], [1.0, 2.0]])
    Y = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    workspace = Workspace()
    workspace.one_hot_targets = Y.copy()
    A = net.forward(X, workspace, training=True)
    expected = (A * Y.sum(axis=1, keepdims=True) - Y) / 2
    net.backward(A, Y, workspace)
    np.testing.assert_allclose(net.layers[0].grads["b"], expected.sum(axis=0), atol=1e-15)


class _Spy(CrossEntropy):
    """The cross-entropy, recording the ``one_hot`` of each fused gradient."""

    def __init__(self) -> None:
        self.calls: list[bool] = []

    def fused_gradient(self, A, Y, out=None, one_hot=False):  # type: ignore[override]
        self.calls.append(one_hot)
        return super().fused_gradient(A, Y, out, one_hot)


def test_fit_on_class_labels_names_its_targets_one_hot_and_not_others():
    X, y = rng.normal(size=(40, 2)), rng.integers(0, 3, size=40)
    spy = _Spy()
    net = nnkit.Network([nnkit.Dense(3, activation="softmax")], loss=spy, seed=0)
    net.fit(X, y, epochs=2, batch_size=16, verbose=0)
    assert net._fused_output and spy.calls == [True] * 6
    spy.calls.clear()
    net.fit(X, np.eye(3)[y], epochs=1, batch_size=16, verbose=0)  # targets given as rows
    assert spy.calls == [False] * 3


class _Relabelling(nnkit.Network):
    """A step that hands the trainer targets of its own: a sample's row set to zero."""

    def train_step(self, X, Y, workspace, *args):
        Y = Y.copy()
        Y[0] = 0
        return super().train_step(X, Y, workspace, *args)


def test_targets_a_train_step_makes_anew_get_the_exact_gradient():
    X, y = rng.normal(size=(8, 2)), rng.integers(0, 3, size=8)
    spy = _Spy()
    net = _Relabelling([nnkit.Dense(3, activation="softmax")], loss=spy, seed=0)
    net.fit(X, y, epochs=1, batch_size=8, verbose=0)
    assert spy.calls == [False]


class _WrittenBefore(CrossEntropy):
    """A loss whose fused gradient was written before ``one_hot`` existed."""

    def fused_gradient(self, A, Y, out=None):  # type: ignore[override]
        return super().fused_gradient(A, Y, out)


def test_a_fused_gradient_without_one_hot_is_called_without_it():
    X, y = rng.normal(size=(40, 2)), rng.integers(0, 3, size=40)
    old = nnkit.Network([nnkit.Dense(3, activation="softmax")], loss=_WrittenBefore(), seed=0)
    new = nnkit.Network([nnkit.Dense(3, activation="softmax")], loss="cross_entropy", seed=0)
    old.fit(X, y, epochs=2, batch_size=16, verbose=0)
    new.fit(X, y, epochs=2, batch_size=16, verbose=0)
    assert old._fused_output
    np.testing.assert_array_equal(old.store.values, new.store.values)
