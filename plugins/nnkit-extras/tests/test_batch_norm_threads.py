"""Batch normalisation under threads: a prediction made while another thread trains sees
the network as it was after some whole step, running statistics included."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

import nnkit
from nnkit.interfaces.workspace import Workspace

rng = np.random.default_rng(0)
X = rng.normal(size=(64, 4)) * 3 + 2
y = (X[:, 0] + X[:, 1] > 4).astype(int)
QUERY = rng.normal(size=(8, 4)) * 3 + 2


IMAGES = X.reshape(64, 1, 2, 2)  # the same numbers as one-channel 2x2 images
IMAGE_QUERY = QUERY.reshape(8, 1, 2, 2)


def network() -> nnkit.Network:
    return nnkit.Network(
        [nnkit.Dense(6), nnkit.layer("batch_norm", momentum=0.5),
         nnkit.layer("activation", activation="relu"), nnkit.Dense(2, activation="softmax")],
        loss="cross_entropy", optimizer="sgd", seed=0,
    ).build(4)


def image_network() -> nnkit.Network:
    """batch_norm of images, per channel over the batch and the pixels."""
    return nnkit.Network(
        [nnkit.layer("batch_norm", momentum=0.5), nnkit.layer("flatten"),
         nnkit.Dense(2, activation="softmax")],
        loss="cross_entropy", optimizer="sgd", seed=0,
    ).build((1, 2, 2))


@pytest.mark.parametrize("make, X, QUERY", [(network, X, QUERY),
                                             (image_network, IMAGES, IMAGE_QUERY)],
                         ids=["flat", "images"])
def test_predictions_during_partial_fit_match_a_whole_step(make, X, QUERY):
    net = make()
    snapshots = [net.predict(QUERY)]
    seen: list[np.ndarray] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.append(net.predict(QUERY))

    readers = [threading.Thread(target=read) for _ in range(3)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for reader in readers:
            reader.start()
        for _ in range(40):
            net.partial_fit(X, y, batch_size=len(X))  # one step per call
            snapshots.append(net.predict(QUERY))  # this thread is the only writer
    finally:
        done.set()
        for reader in readers:
            reader.join()
        sys.setswitchinterval(interval)
    assert len(seen) > 10
    mixed = [p for p in seen if not any(np.array_equal(p, s) for s in snapshots)]
    assert not mixed, f"{len(mixed)} of {len(seen)} predictions match no whole step"


def test_running_statistics_change_with_the_step_not_the_forward_pass():
    net = network()
    norm = net.layers[1]
    before = norm.running_mean.copy()
    hidden = net.layers[0].forward(X, Workspace(), training=False).copy()
    norm.forward(hidden, Workspace(), training=True)
    assert np.array_equal(norm.running_mean, before)  # readers still see the old state
    net.partial_fit(X, y, batch_size=len(X))
    assert not np.array_equal(norm.running_mean, before)
