"""The positional embeddings: the sinusoids' values, and which rows a learnt table uses."""

from __future__ import annotations

import math

import numpy as np
from nnkit_text.positions import sinusoids
from wiring import bound

import nnkit
from nnkit.interfaces.workspace import Workspace


def test_the_sinusoids_are_the_transformers():
    table = sinusoids(7, 6)
    for t in (0, 3, 6):
        for i in range(3):
            rate = 10000 ** (2 * i / 6)
            assert math.isclose(table[t, 2 * i], math.sin(t / rate), abs_tol=1e-15)
            assert math.isclose(table[t, 2 * i + 1], math.cos(t / rate), abs_tol=1e-15)


def test_the_sinusoidal_embedding_adds_the_table_to_every_sample():
    layer, _ = bound(nnkit.layer("sinusoidal_embedding"), (5, 4))
    x = np.random.default_rng(0).normal(size=(3, 5, 4))
    assert np.allclose(layer.forward(x, Workspace()) - x, sinusoids(5, 4))


def test_a_learnt_embedding_uses_and_learns_only_the_first_rows():
    layer, _ = bound(nnkit.layer("positional_embedding", max_length=9, dim=2), (4, 2))
    x = np.zeros((3, 4, 2))
    ws = Workspace()
    assert np.array_equal(layer.forward(x, ws, True), np.broadcast_to(layer.params["P"][:4],
                                                                      (3, 4, 2)))
    dy = np.ones((3, 4, 2))
    assert np.array_equal(layer.backward(dy, ws), dy)
    assert np.all(layer.grads["P"][:4] == 3) and np.all(layer.grads["P"][4:] == 0)
