"""Model files from nnkit 0.2.0 kept ``nnkit train``'s standardisation in their metadata,
where only the command line applied it: the same file gave other numbers in Python.
Loading such a file now turns that metadata into the standard set's ``standardize`` and
``rescale_output`` layers, first and last, so that every reader of the file gets the
model's own answer.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from nnkit.errors import ModelFileError
from nnkit.interfaces.layer import walk
from nnkit.registry.registry import default_registry

if TYPE_CHECKING:
    from nnkit.engine.network import Network

__all__ = ["with_scaling_layers"]


def with_scaling_layers(network: Network, source: str | os.PathLike[str]) -> Network:
    """``network`` with its metadata's ``"scaling"`` (written by nnkit 0.2.0) turned into
    layers: the same network when there is none, else a new one holding the same
    parameters, layer state, optimizer state and random states.

    Raises:
        ModelFileError: the scaling entry is damaged (the message names what is wrong).
    """
    scaling = network.metadata.get("scaling")
    if scaling is None:
        return network
    if not isinstance(scaling, Mapping) or not set(scaling) <= {"features", "target"}:
        raise ModelFileError(
            f"{source}: the metadata's 'scaling' should be {{'features': ..., 'target': ...}}"
        )
    assert network.input_shape is not None and network.store is not None, (
        "a loaded network is built"
    )
    registry = default_registry()
    layers = list(network.layers)
    features = _statistics(scaling.get("features"), network.input_shape, "feature", source)
    target = _statistics(scaling.get("target"), network.output_shape, "target", source)
    if features is not None:
        layers.insert(0, registry.create("layer", "standardize", mean=features[0], std=features[1]))
    if target is not None:
        layers.append(registry.create("layer", "rescale_output", mean=target[0], scale=target[1]))
    states = [
        {key: value.copy() for key, value in layer.state().items()} for layer in network.layers
    ]
    generators = [
        generator.bit_generator.state
        for layer in walk(network.layers)
        for generator in layer.inner_generators()
    ]
    layer_generators = [generator.bit_generator.state for generator in network.layer_rngs]
    upgraded = type(network)(
        layers,
        loss=network.loss,
        optimizer=network.optimizer,
        seed=network.seed,
        dtype=network.dtype,
    )
    upgraded.build(network.input_shape)
    assert upgraded.store is not None, "build() made the parameters"
    upgraded.store.values[...] = network.store.values  # the new layers hold no parameters
    upgraded.optimizer_state = network.optimizer_state
    for layer, state in zip(network.layers, states):
        if state:
            layer.load_state(state)
    offset = 1 if features is not None else 0
    for generator, saved in zip(upgraded.layer_rngs[offset:], layer_generators):
        generator.bit_generator.state = saved
    inner = [g for layer in walk(network.layers) for g in layer.inner_generators()]
    for generator, saved in zip(inner, generators):
        generator.bit_generator.state = saved
    upgraded.shuffle_rng = network.shuffle_rng
    upgraded.history = network.history
    upgraded.metadata = {key: value for key, value in network.metadata.items() if key != "scaling"}
    return upgraded


def _statistics(
    stored: Any, shape: tuple[int, ...] | None, what: str, source: str | os.PathLike[str]
) -> tuple[list[float], list[float]] | None:
    """The mean and scale saved for the features or the target, checked, as flat lists."""
    if stored is None:
        return None
    problem = f"{source}: the model's {what} scaling is damaged"
    if not isinstance(stored, Mapping) or set(stored) != {"mean", "scale"}:
        raise ModelFileError(f"{problem}: expected {{'mean': [...], 'scale': [...]}}")
    arrays = []
    for key in ("mean", "scale"):
        try:
            array = np.array(stored[key], dtype=np.float64)
        except (TypeError, ValueError):
            raise ModelFileError(f"{problem}: {key!r} is not a list of numbers") from None
        if not np.isfinite(array).all():
            raise ModelFileError(f"{problem}: {key!r} holds NaN or infinite values")
        if array.size != int(np.prod(shape or ())):
            raise ModelFileError(
                f"{problem}: {key!r} has {array.size} values for samples of shape {shape}"
            )
        arrays.append(array.reshape(-1))
    mean, scale = arrays
    if not (scale > 0).all():
        raise ModelFileError(f"{problem}: 'scale' must be positive")
    return mean.tolist(), scale.tolist()
