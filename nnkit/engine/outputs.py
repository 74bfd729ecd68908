"""The outputs of a network drawn as a graph: their names, and the loss of several.

``Network(inputs=..., outputs={"kind": a, "size": b}, loss={"kind": ..., "size": ...},
loss_weights={"size": 0.5})`` names its outputs by the dict's keys (``"output_1"``,
``"output_2"``, ... by position for a list). One output keeps its loss as it is; several
are trained under `nnkit.training.outputs.OutputsLoss`, the weighted sum of theirs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nnkit.errors import ConfigurationError
from nnkit.interfaces.loss import Loss
from nnkit.interfaces.symbolic import SymbolicTensor
from nnkit.registry.registry import Registry
from nnkit.training.outputs import OutputsLoss

__all__ = ["named_outputs", "outputs_loss"]


def named_outputs(outputs: Any) -> tuple[list[SymbolicTensor], list[str]]:
    """The output values and their names: a dict's keys, or ``output_<k>`` by position."""
    if isinstance(outputs, SymbolicTensor):
        return [outputs], ["output_1"]
    if isinstance(outputs, Mapping):
        names = list(outputs)
        if not all(isinstance(name, str) and name for name in names):
            raise ConfigurationError(
                f"outputs given as a dict are named by non-empty strings, got {names!r}"
            )
        return list(outputs.values()), names
    values = list(outputs)
    return values, [f"output_{index + 1}" for index in range(len(values))]


def outputs_loss(
    registry: Registry,
    names: Sequence[str],
    loss: Any,
    loss_weights: Mapping[str, float] | Sequence[float] | None,
) -> Loss:
    """The loss of a network whose outputs are ``names``: ``loss`` resolved for one
    output; for several, an `OutputsLoss` of one loss per output (``loss`` a dict by
    output name, a list in output order, or one loss for all) weighted by
    ``loss_weights`` (1 for an output not named)."""
    if len(names) == 1:
        if loss_weights is not None:
            raise ConfigurationError(
                "loss_weights weighs the losses of several outputs; this network has one"
            )
        if isinstance(loss, Mapping):
            loss = _by_name(loss, names, "loss", required=True)[0]
        return registry.resolve("loss", loss)
    if isinstance(loss, Mapping):
        specs = _by_name(loss, names, "loss", required=True)
    elif isinstance(loss, (list, tuple)):
        if len(loss) != len(names):
            raise ConfigurationError(
                f"loss lists {len(loss)} losses for the {len(names)} outputs {names}"
            )
        specs = list(loss)
    else:
        specs = [loss] * len(names)
    if loss_weights is None:
        weights: list[Any] = [1.0] * len(names)
    elif isinstance(loss_weights, Mapping):
        given = _by_name(loss_weights, names, "loss_weights")
        weights = [1.0 if w is None else w for w in given]
    else:
        weights = list(loss_weights)
        if len(weights) != len(names):
            raise ConfigurationError(
                f"loss_weights lists {len(weights)} weights for the {len(names)} outputs "
                f"{names}"
            )
    for name, weight in zip(names, weights):
        if isinstance(weight, bool) or not isinstance(weight, (int, float, np.number)) or not (
            np.isfinite(weight) and weight >= 0
        ):
            raise ConfigurationError(
                f"loss_weights[{name!r}] must be a finite number >= 0, got {weight!r}"
            )
    losses = [registry.resolve("loss", spec) for spec in specs]
    return OutputsLoss(names, losses, [float(w) for w in weights])


def _by_name(
    given: Mapping[str, Any], names: Sequence[str], what: str, required: bool = False
) -> list[Any]:
    """``given``'s entries in output order; a key that is no output's name is refused,
    and so is a missing one if ``required``."""
    unknown = [key for key in given if key not in names]
    missing = [name for name in names if name not in given]
    if unknown or (required and missing):
        problems = [f"no output is called {unknown}"] if unknown else []
        problems += [f"{missing} missing"] if required and missing else []
        raise ConfigurationError(
            f"{what} is a dict by output name, but the outputs are {list(names)}: "
            + "; ".join(problems)
        )
    return [given.get(name) for name in names]
