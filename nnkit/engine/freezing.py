"""Frozen layers: an optimizer step over the trainable parameters only.

The optimizer updates the whole flat parameter vector in a few NumPy calls, which is
what keeps small networks fast, so a network with every layer trainable calls it as
before. With some layers frozen, the trainable parameters, their gradients and the
optimizer's per-parameter state are gathered into vectors of their own, stepped, and
scattered back: the frozen slices, and the optimizer's state for them, are never
written, and weight decay never reaches them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from nnkit.interfaces.layer import Layer
from nnkit.interfaces.optimizer import Optimizer

__all__ = ["effective_trainable", "update_trainable"]


def effective_trainable(layers: Sequence[Layer]) -> list[bool]:
    """One flag per layer in store order (each layer, then those it holds): whether it
    and every layer holding it are trainable."""
    return list(_flags(layers, True))


def _flags(layers: Sequence[Layer], holder: bool) -> Iterator[bool]:
    for layer in layers:
        flag = holder and layer.trainable
        yield flag
        yield from _flags(layer.sublayers(), flag)


def update_trainable(
    optimizer: Optimizer,
    values: np.ndarray,
    grads: np.ndarray,
    state: dict[str, np.ndarray],
    positions: np.ndarray,
) -> None:
    """One step of ``optimizer`` over ``values[positions]`` alone; state arrays shaped
    as ``values`` are stepped at the same positions, other state (a step count) whole."""
    if positions.size == 0:
        return  # everything frozen: not even the step count moves
    gathered = {
        key: array[positions] if array.shape == values.shape else array
        for key, array in state.items()
    }
    part = values[positions]
    optimizer.update(part, grads[positions], gathered)
    values[positions] = part
    for key, array in gathered.items():
        if state[key].shape == values.shape:
            state[key][positions] = array
        else:
            state[key] = array
