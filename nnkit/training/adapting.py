"""Preprocessing layers that learn from data before training: a standardisation's mean
and spread, an imputer's fill values, a category lookup's vocabulary.

`fit` adapts each layer that has not been adapted yet (`Layer.needs_adapting`) on the
training part of its data, never on the validation part, as Keras'
``Normalization.adapt`` is meant to be used. A layer whose output width depends on what
it learns (a lookup's one-hot columns) must learn before the network is built, so the
leading run of parameter-free layers is adapted, built and run first; a layer further
down is adapted once the network is built, on the output of the layers before it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from nnkit.errors import ConfigurationError
from nnkit.interfaces.workspace import Workspace

if TYPE_CHECKING:
    from nnkit.training.trainer import TrainableModel

__all__ = ["adapt_first_layer", "adapt_layers", "refuse_unadapted"]


def adapt_first_layer(network: TrainableModel, X: Any, training_share: float) -> None:
    """Adapt the first layer, if it needs it, on the raw rows the user gave (a category
    lookup learns its vocabulary from text, before it turns the text into numbers): the
    first ``training_share`` of them, the part that trains."""
    first = network.layers[0]
    if network.graph.n_inputs > 1 or not first.needs_adapting():
        return  # several inputs: adapt_layers asks for each layer's own adapt(x)
    try:
        rows = len(X)
    except TypeError:
        return  # not rows: the network's own check of X names the problem
    with network.writing():
        first.adapt(X[: int(rows * training_share) or rows])


def adapt_layers(network: TrainableModel, X: np.ndarray) -> None:
    """Adapt every layer of ``network`` that needs it on ``X``, the training samples,
    and build the network for them if it is not built yet."""
    layers = network.layers
    if not network.graph.is_chain and any(layer.needs_adapting() for layer in layers):
        raise ConfigurationError(
            "a network drawn as a graph does not adapt its preprocessing layers during fit: "
            "call layer.adapt(x) on each with the samples it will read, then fit"
        )
    if not network.built:
        x = X
        for index, layer in enumerate(layers):
            if layer.needs_adapting():
                layer.adapt(x)
            later = layers[index + 1 :]
            if not any(other.needs_adapting() for other in later):
                break
            # Preprocessing layers hold no parameters and draw no numbers: built here on
            # their own, then again (the same way) with the network.
            layer.build(tuple(x.shape[1:]), np.random.default_rng(0))
            if layer.parameter_shapes():
                break
            x = layer.forward(x, Workspace(), False)
        network.ensure_built(X.shape[1:])
    if not any(layer.needs_adapting() for layer in layers):
        return
    x = X
    workspace = Workspace()
    for index, layer in enumerate(layers):
        if layer.needs_adapting():
            with network.writing():  # predictions see it before or after
                layer.adapt(x)
        if not any(other.needs_adapting() for other in layers[index + 1 :]):
            return
        x = np.array(layer.forward(x, workspace.child(index), False))


def refuse_unadapted(network: TrainableModel) -> None:
    """Chunks arrive one at a time, so no layer can learn its statistics from the whole
    training set: refuse a network that still needs to, saying what to do instead."""
    waiting = [type(layer).__name__ for layer in network.layers if layer.needs_adapting()]
    if waiting:
        raise ConfigurationError(
            f"{', '.join(waiting)} must learn from the data before training on chunks; "
            "call layer.adapt(X_sample) on a representative sample first"
        )
