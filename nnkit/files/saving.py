"""Writing a model file, atomically: a temporary file beside the target, then a rename,
so a crash or a full disk never leaves a damaged file where a good one was."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from nnkit.errors import ConfigurationError, NonFiniteWeightsError
from nnkit.files.atomic import write_atomically
from nnkit.files.model_format import (
    ARRAY_DIRECTORY,
    CHAIN_FORMAT_VERSION,
    DESCRIPTION,
    FORMAT,
    FORMAT_VERSION,
    inner_generators,
)
from nnkit.files.serialization import component_spec
from nnkit.registry.registry import default_registry, describe_component
from nnkit.version import __version__

if TYPE_CHECKING:
    from nnkit.engine.network import Network
    from nnkit.interfaces.loss import Loss

__all__ = ["graph_record", "save"]


def save(
    network: Network,
    path: str | os.PathLike[str],
    include_optimizer: bool = True,
    *,
    allow_non_finite: bool = False,
) -> None:
    """Write ``network`` to ``path`` atomically.

    The file holds every component by registry name with its configuration and the
    distribution that supplied it, nnkit's version, the weights, the layers' state and
    the random generators' states, and (with ``include_optimizer``) the optimizer's
    state, so that training resumes exactly where it stopped.

    Weights or state holding NaN or infinity (a diverged run) raise
    `NonFiniteWeightsError` and leave the file at ``path`` as it was, unless
    ``allow_non_finite`` is true; such a file loads only with ``allow_non_finite`` too.
    """
    store = network.store
    if store is None:
        raise ConfigurationError(
            "nothing to save yet: the network has no weights; fit it or call build(input_shape)"
        )
    assert network.input_shape is not None, "a built network knows its input shape"
    if not allow_non_finite:
        _refuse_non_finite(network, include_optimizer, path)
    registry = default_registry()
    arrays: dict[str, np.ndarray] = {"parameters": store.values}
    for index, layer in enumerate(network.layers):
        for key, array in layer.state().items():
            arrays[f"layers/{index}/{key}"] = array
    if include_optimizer:
        for key, array in network.optimizer_state.items():
            arrays[f"optimizer/{key}"] = array
    description = {
        "format": FORMAT,
        "format_version": CHAIN_FORMAT_VERSION if network.graph.is_chain else FORMAT_VERSION,
        "nnkit_version": __version__,
        "network": {
            "input_shape": list(network.input_shape),
            "dtype": network.dtype.name,
            "seed": network.seed,
            "layers": [
                {
                    **component_spec("layer", layer, registry),
                    "trainable": layer.trainable,
                    "learning_rate_multiplier": layer.learning_rate_multiplier,
                    "layer_name": name,
                }
                for name, layer in zip(network.layer_names, network.layers)
            ],
            "loss": component_spec("loss", _first_loss(network.loss), registry),
            "optimizer": component_spec("optimizer", network.optimizer, registry),
            **({} if network.graph.is_chain else {"graph": graph_record(network)}),
        },
        "random_state": {
            "shuffle": network.shuffle_rng.bit_generator.state,
            "layers": [rng.bit_generator.state for rng in network.layer_rngs],
            "inner_layers": [rng.bit_generator.state for rng in inner_generators(network)],
        },
        "includes_optimizer_state": include_optimizer,
        "metadata": network.metadata,
        "arrays": {
            name: {"shape": list(array.shape), "dtype": array.dtype.name}
            for name, array in arrays.items()
        },
    }
    try:
        text = json.dumps(description, indent=2, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ConfigurationError(f"the network's metadata cannot be saved: {error}") from None
    write_atomically(Path(path), lambda file: _write_archive(file, text, arrays))


def graph_record(network: Network) -> dict[str, Any]:
    """The graph of a network drawn as one, for its file: each input's name and sample
    shape, each call as ``[layer, [slots read]]`` (the layer by its position in
    ``layers``, the values by slot: the inputs first, then each call's output in order),
    and the slots of the outputs."""
    graph = network.graph
    position = {id(layer): index for index, layer in enumerate(network.layers)}
    shapes = graph.input_shapes or []
    return {
        "inputs": [
            {"name": name, "shape": list(shape)} for name, shape in zip(graph.input_names, shapes)
        ],
        "calls": [[position[id(node.layer)], list(node.inputs)] for node in graph.nodes],
        "outputs": list(graph.outputs),
        "output_names": list(network.output_names),
        **_outputs_losses(network.loss),
    }


def _first_loss(loss: Loss) -> Loss:
    """The loss the description's ``"loss"`` names: the first output's, for several
    (whose losses the graph records)."""
    losses = getattr(loss, "losses", None)  # nnkit.training.outputs.OutputsLoss
    return loss if losses is None else losses[0]


def _outputs_losses(loss: Loss) -> dict[str, Any]:
    """For several outputs, each one's loss and loss weight, in output order."""
    losses = getattr(loss, "losses", None)  # nnkit.training.outputs.OutputsLoss
    if losses is None:
        return {}
    registry = default_registry()
    return {
        "losses": [component_spec("loss", each, registry) for each in losses],
        "loss_weights": list(getattr(loss, "weights")),  # noqa: B009 - set with losses
    }


def _refuse_non_finite(network: Network, include_optimizer: bool, path: Any) -> None:
    """Raise `NonFiniteWeightsError` naming the first array that holds NaN or infinity."""
    culprit = None
    store = network.store
    assert store is not None, "save() refuses an unbuilt network first"
    if not np.isfinite(store.values).all():
        bad = int(np.count_nonzero(~np.isfinite(store.values)))
        culprit = f"the weights hold {bad:,} NaN or infinite values"
        for layer, views in zip(network.all_layers, store.value_views):
            name = next((k for k, v in views.items() if not np.isfinite(v).all()), None)
            if name is not None:
                culprit += f" (the first in {name!r} of layer {describe_component(layer)})"
                break
    states = [(f"layer {i + 1}", layer.state()) for i, layer in enumerate(network.layers)]
    if include_optimizer:
        states.append(("the optimizer", network.optimizer_state))
    for owner, state in states:
        for key, array in state.items():
            if culprit is None and array.dtype.kind == "f" and not np.isfinite(array).all():
                culprit = f"{owner}'s state {key!r} holds NaN or infinite values"
    if culprit is not None:
        raise NonFiniteWeightsError(
            f"refusing to save {os.fspath(path)}: {culprit}, so training diverged. Try a "
            "smaller learning_rate, scaled features or clip_norm; any file already there is "
            "left as it was. To save the network anyway (to inspect the run), pass "
            "allow_non_finite=True"
        )




def _write_archive(file: IO[bytes], description: str, arrays: dict[str, np.ndarray]) -> None:
    # Stored, not compressed: an array's size is then bounded by the file's size, and the
    # loader refuses compressed members.
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(DESCRIPTION, description)
        for name, array in arrays.items():
            with archive.open(f"{ARRAY_DIRECTORY}{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(array, order="C"), allow_pickle=False)
