"""The text table ``Network.summary()`` prints: layers and their names, shapes, parameters,
suppliers."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from nnkit.engine.tables import format_table
from nnkit.interfaces.layer import walk
from nnkit.registry.registry import describe_component
from nnkit.training.outputs import OutputsLoss

if TYPE_CHECKING:
    from nnkit.engine.network import Network

__all__ = ["format_summary"]


def format_summary(network: Network) -> str:
    """The summary table of ``network`` as text."""
    graph = network.graph
    chain = graph.is_chain
    # A graph's rows say what each call reads: an input by name, or call "#k".
    # The name goes after the registry name's columns, which keep the width they had.
    headers: tuple[str, ...] = ("#", "layer", "output shape", "params", "activation", "name")
    headers += () if chain else ("reads",)
    rows = []
    store = network.store
    first_call: dict[int, int] = {}
    names = {id(layer): name for layer, name in zip(network.layers, network.layer_names)}
    for index, node in enumerate(graph.nodes):
        layer = node.layer
        if store is None:
            shape, params = "?", "?"
        else:
            shape = "(" + ", ".join(["None", *map(str, network.layer_shapes[index])]) + ")"
            params = f"{_parameter_count(layer):,}"
        if id(layer) in first_call:
            params = f"shared with #{first_call[id(layer)] + 1}"
        first_call.setdefault(id(layer), index)
        activation = describe_component(getattr(layer, "activation", None))
        name = describe_component(layer)
        row: tuple[str, ...] = (str(index + 1), name, shape, params, activation, names[id(layer)])
        if not chain:
            first = graph.n_inputs
            reads = [
                graph.input_names[slot] if slot < first else f"#{slot - first + 1}"
                for slot in node.inputs
            ]
            row += (", ".join(reads),)
        rows.append(row)
    lines = format_table(headers, rows, rule=True).splitlines()
    lines.append("-" * len(lines[1]))
    if store is None:
        lines.append("not built yet: call fit, predict or build(input_shape) to size the layers")
    else:
        assert network.input_shape is not None, "a built network knows its input shape"
        inputs = ", ".join(map(str, network.input_shape))
        inputs = inputs if len(network.input_shape) == 1 else f"({inputs})"
        lines.append(
            f"inputs: {inputs}    parameters: {network.n_parameters:,}    dtype: {network.dtype}"
        )
        frozen = network.n_parameters - network.n_trainable_parameters
        lines.append(
            f"trainable parameters: {network.n_trainable_parameters:,}    frozen: {frozen:,}"
        )
    loss = network.loss
    if isinstance(loss, OutputsLoss):  # each output's loss and weight, by output name
        for name, each, weight in zip(loss.names, loss.losses, loss.weights):
            lines.append(f"loss of {name!r}: {describe_component(each)}, weight {weight:g}")
    else:
        lines.append(f"loss: {describe_component(loss)}")
    lines.append(f"optimizer: {describe_component(network.optimizer)}")
    return "\n".join(lines)


def _parameter_count(layer: Any) -> int:
    """The parameters of ``layer`` and of every layer it holds."""
    return sum(
        math.prod(shape) for node in walk([layer]) for shape in node.parameter_shapes().values()
    )
