"""Weights from another model file, layer by layer: what `Network.load_weights` copies.

The file is read whole by the model reader (`nnkit.files.loading.read_network`), so it
passes the same checks and limits as `nnkit.load` and nothing in it can run code; its
layers' parameters are then matched with the network's, by position or by layer name,
and every match is checked before the caller writes anything.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from nnkit.errors import DataError
from nnkit.files.loading import read_network
from nnkit.interfaces.layer import Layer, walk
from nnkit.warning_location import warn_at_caller

if TYPE_CHECKING:
    from nnkit.engine.network import Network

__all__ = [
    "LayerWeights",
    "WeightsMismatchWarning",
    "WeightsPlan",
    "plan_weights",
    "read_layer_weights",
]

#: One layer's parameters, its own then those of the layers it holds, each labelled
#: ``"W"`` or, for a held layer's, ``"<position>/W"``, in the order the network stores them.
LayerWeights = list[tuple[str, np.ndarray]]
#: The copies to make: each target array of the network with the array to write into it.
WeightsPlan = list[tuple[np.ndarray, np.ndarray]]


class WeightsMismatchWarning(UserWarning):
    """``load_weights(..., by_name=True, skip_mismatch=True)`` left layers whose shapes
    differ from the file's layer of the same name as they were."""


def layer_weights(layer: Layer) -> LayerWeights:
    """The parameters of ``layer`` and of the layers it holds, labelled (views, not copies)."""
    found: LayerWeights = []
    for position, node in enumerate(walk([layer])):
        prefix = "" if position == 0 else f"{position}/"
        found.extend((prefix + key, array) for key, array in node.params.items())
    return found


def read_layer_weights(
    path: str | os.PathLike[str], network_class: type[Network]
) -> list[tuple[str, LayerWeights]]:
    """Each layer of the model file at ``path``, by its name in that network, with its
    parameters; raises what `nnkit.load` raises for a file it cannot read."""
    saved = read_network(path, network_class)
    return [(name, layer_weights(layer)) for name, layer in zip(saved.layer_names, saved.layers)]


def plan_weights(
    targets: list[tuple[str, Layer]],
    saved: list[tuple[str, LayerWeights]],
    source: str,
    *,
    by_name: bool,
    skip_mismatch: bool,
) -> WeightsPlan:
    """Match the network's named layers ``targets`` with the file's layers ``saved`` and
    return the copies to make, or raise `DataError` naming the first layer that does not
    fit. Nothing is written here, so a refusal leaves the network as it was."""
    if by_name:
        pairs = _by_name(targets, saved)
    else:
        if len(targets) != len(saved):
            raise DataError(
                f"{source} holds {len(saved)} layers but the network has {len(targets)}; "
                "load_weights by position needs the same layers: pass by_name=True to copy "
                "the layers of matching names only"
            )
        pairs = [(name, layer, weights) for (name, layer), (_, weights) in zip(targets, saved)]
    plan: WeightsPlan = []
    skipped = []
    for name, layer, weights in pairs:
        own = layer_weights(layer)
        own_shapes = [(key, array.shape) for key, array in own]
        saved_shapes = [(key, array.shape) for key, array in weights]
        if own_shapes != saved_shapes:
            if by_name and skip_mismatch:
                here, there = _shapes(own_shapes), _shapes(saved_shapes)
                skipped.append(f"{name!r} ({here} here, {there} in the file)")
                continue
            advice = (
                "pass skip_mismatch=True to leave it as it is"
                if by_name
                else "load_weights by position needs the same layers; pass by_name=True "
                "to copy the layers of matching names only"
            )
            raise DataError(
                f"layer {name!r} has parameters {_shapes(own_shapes)}, but the layer it "
                f"takes weights from in {source} has {_shapes(saved_shapes)}; {advice}"
            )
        plan.extend((target, array) for (_, target), (_, array) in zip(own, weights))
    if skipped:
        warn_at_caller(
            WeightsMismatchWarning(
                f"load_weights skipped {len(skipped)} layer(s) whose shapes differ from "
                f"{source}'s: {'; '.join(skipped)}"
            )
        )
    return plan


def _by_name(
    targets: list[tuple[str, Layer]], saved: list[tuple[str, LayerWeights]]
) -> list[tuple[str, Layer, LayerWeights]]:
    """The network's layers that the file names, each with the file's weights of its name."""
    by_name = dict(saved)
    return [(name, layer, by_name[name]) for name, layer in targets if name in by_name]


def _shapes(shapes: list[tuple[str, tuple[int, ...]]]) -> str:
    """``W (10, 64), b (10,)``, or ``none`` for a layer without parameters."""
    return ", ".join(f"{key} {shape}" for key, shape in shapes) or "none"
