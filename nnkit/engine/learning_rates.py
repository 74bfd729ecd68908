"""Per-layer learning-rate multipliers: each layer's optimizer step scaled by its own
factor (``layer.learning_rate_multiplier = 0.1``), as per-group learning rates do.

The optimizer steps the whole flat parameter vector in a few NumPy calls; a network
with no multiplier set calls it exactly as before. With some set, the step is taken
whole and then scaled position by position, ``p <- p0 + s * (p - p0)``: for SGD (with
momentum) and Adam that is the step a learning rate ``s`` times larger or smaller
gives, weight decay included, at the price of a copy of the parameters per step.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from nnkit.interfaces.layer import Layer

__all__ = ["step_scales", "scale_step"]


def step_scales(
    layers: Sequence[Layer], shapes: Sequence[Mapping[str, tuple[int, ...]]], dtype: np.dtype
) -> np.ndarray | None:
    """The factor of every parameter position in store order (a held layer's factor is
    its own times its holders'), or ``None`` when every factor is 1."""
    factors = list(_factors(layers, 1.0))
    if all(factor == 1.0 for factor in factors):
        return None
    sizes = [sum(math.prod(shape) for shape in node.values()) for node in shapes]
    return np.repeat(np.asarray(factors, dtype=dtype), sizes)


def _factors(layers: Sequence[Layer], holder: float) -> Iterator[float]:
    for layer in layers:
        factor = holder * layer.learning_rate_multiplier
        yield factor
        yield from _factors(layer.sublayers(), factor)


def scale_step(values: np.ndarray, before: np.ndarray, scales: np.ndarray) -> None:
    """Turn the step from ``before`` to ``values`` into ``scales`` times that step, in place."""
    values -= before
    values *= scales
    values += before
