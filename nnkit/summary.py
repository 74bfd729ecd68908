"""The text table ``Network.summary()`` prints: layers, shapes, parameters, suppliers."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from nnkit.registry import default_registry
from nnkit.tables import format_table

if TYPE_CHECKING:
    from nnkit.network import Network

__all__ = ["format_summary", "describe_component"]


def describe_component(component: Any) -> str:
    """``"name (distribution version)"`` for a registered component, else its class name."""
    if component is None:
        return "-"
    info = default_registry().info_of(component)
    if info is None:
        return f"{type(component).__name__} (not registered)"
    if info.distribution is None:
        return f"{info.name} ({info.plugin.name})"
    return f"{info.name} ({info.distribution} {info.version})"


def format_summary(network: Network) -> str:
    """The summary table of ``network`` as text."""
    headers = ("#", "layer", "output shape", "params", "activation")
    rows = []
    store = network.store
    for index, layer in enumerate(network.layers):
        if store is None:
            shape, params = "?", "?"
        else:
            shape = f"(None, {network.layer_widths[index]})"
            count = sum(math.prod(s) for s in store.shapes[index].values())
            params = f"{count:,}"
        activation = describe_component(getattr(layer, "activation", None))
        rows.append((str(index + 1), describe_component(layer), shape, params, activation))
    lines = format_table(headers, rows, rule=True).splitlines()
    lines.append("-" * len(lines[1]))
    if store is None:
        lines.append("not built yet: call fit, predict or build(n_inputs) to size the layers")
    else:
        lines.append(
            f"inputs: {network.n_inputs}    parameters: {network.n_parameters:,}    "
            f"dtype: {network.dtype}"
        )
    lines.append(f"loss: {describe_component(network.loss)}")
    lines.append(f"optimizer: {describe_component(network.optimizer)}")
    return "\n".join(lines)
