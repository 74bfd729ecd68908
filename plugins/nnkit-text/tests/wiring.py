"""Layers wired by hand as a network wires them, for tests that look inside one layer."""

from __future__ import annotations

import numpy as np

from nnkit.engine.parameters import ParameterStore


def bound(layer, input_shape, dtype=np.float64, seed=0):
    """``layer`` built for samples of ``input_shape``, bound to its own parameter store
    and initialised; returns the layer and the store."""
    layer.build(tuple(input_shape), np.random.default_rng(seed))
    store = ParameterStore([layer.parameter_shapes()], np.dtype(dtype))
    layer.bind(store.value_views[0], store.grad_views[0])
    layer.initialize(np.random.default_rng(seed + 1))
    return layer, store


def randomised(layer, seed=2, scale=0.5):
    """Every parameter of ``layer`` redrawn at random, biases included, so that a
    comparison exercises all of them."""
    rng = np.random.default_rng(seed)
    for array in layer.params.values():
        array[...] = rng.normal(scale=scale, size=array.shape)
    return layer
