"""Layers wired by hand as a network wires them, for tests that look inside one layer, and
the CNN of the documentation."""

from __future__ import annotations

import numpy as np

import nnkit
from nnkit.engine.parameters import ParameterStore
from nnkit.interfaces.workspace import Workspace
from nnkit.testing.numeric import numeric_gradient


def bound(layer, input_shape, dtype=np.float64, seed=0):
    """``layer`` built for samples of ``input_shape``, bound to its own parameter store
    and initialised; returns the layer and the store."""
    layer.build(tuple(input_shape), np.random.default_rng(seed))
    store = ParameterStore([layer.parameter_shapes()], np.dtype(dtype))
    layer.bind(store.value_views[0], store.grad_views[0])
    layer.initialize(np.random.default_rng(seed + 1))
    return layer, store


def finite_difference_gradients(layer, store, x, dy):
    """``(dx, dparams)`` of ``sum(dy * forward(x)) + penalty`` by central differences,
    as ``(indices, values)`` pairs into the flattened arrays."""

    def objective():
        return float(np.sum(dy * layer.forward(x, Workspace(), True)) + layer.penalty())

    return numeric_gradient(objective, x), numeric_gradient(objective, store.values)


def digits_cnn(seed=0):
    """The CNN of the documentation: two 3x3 convolutions, one 2x2 pooling, two dense."""
    return nnkit.Network(
        [
            nnkit.layer("conv2d", filters=32, kernel_size=3, padding="same", activation="relu"),
            nnkit.layer("conv2d", filters=32, kernel_size=3, padding="same", activation="relu"),
            nnkit.layer("max_pool2d", pool_size=2),
            nnkit.layer("flatten"),
            nnkit.Dense(64, activation="relu"),
            nnkit.Dense(10, activation="softmax"),
        ],
        loss="cross_entropy",
        optimizer=nnkit.optimizer("adam", learning_rate=3e-3),
        seed=seed,
    )
