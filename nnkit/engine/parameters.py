"""All parameters of a network in one contiguous array, all gradients in another.

Each layer sees its own parameters as views (``W`` and ``b`` in the matrix shapes), while
an optimizer sees two flat vectors: one step is then a few NumPy calls whatever the
depth of the network, which is what bounds the speed of small networks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from nnkit.interfaces.layer import Layer, Shape, walk

__all__ = ["ParameterStore", "layer_spans"]


class ParameterStore:
    """A flat parameter vector, a flat gradient vector, and per-layer named views of both."""

    def __init__(self, shapes: Sequence[dict[str, tuple[int, ...]]], dtype: np.dtype) -> None:
        self.shapes = [dict(layer_shapes) for layer_shapes in shapes]
        total = sum(math.prod(shape) for layer in self.shapes for shape in layer.values())
        self.values = np.zeros(total, dtype=dtype)
        self.grads = np.zeros(total, dtype=dtype)
        self.value_views = self._views(self.values)
        self.grad_views = self._views(self.grads)

    def __setstate__(self, state: dict[str, object]) -> None:
        # A copy (deepcopy, pickle) copies each view as an array of its own: make them
        # views of the copied flat arrays again, or updates would never reach the layers.
        self.__dict__.update(state)
        self.value_views = self._views(self.values)
        self.grad_views = self._views(self.grads)

    def _views(self, flat: np.ndarray) -> list[dict[str, np.ndarray]]:
        return self.views_of(flat)

    def views_of(self, flat: np.ndarray) -> list[dict[str, np.ndarray]]:
        """Per-layer named views of ``flat``, a vector laid out as `values` (a gradient
        buffer of a call's own, for instance)."""
        if flat.shape != (self.size,):
            raise ValueError(f"expected a flat vector of {self.size} values, got {flat.shape}")
        views, offset = [], 0
        for layer in self.shapes:
            named = {}
            for name, shape in layer.items():
                size = math.prod(shape)
                named[name] = flat[offset : offset + size].reshape(shape)
                offset += size
            views.append(named)
        return views

    def trainable_positions(self, trainable: Sequence[bool]) -> np.ndarray | None:
        """The positions in `values` of the parameters of the layers flagged True in
        ``trainable`` (one flag per layer, in store order); None when every layer is."""
        if all(trainable):
            return None
        sizes = [sum(math.prod(shape) for shape in layer.values()) for layer in self.shapes]
        starts = np.cumsum([0, *sizes[:-1]])
        ranges = [
            np.arange(start, start + size)
            for start, size, flag in zip(starts, sizes, trainable)
            if flag
        ]
        return np.concatenate(ranges) if ranges else np.zeros(0, dtype=np.intp)

    def arrays(self) -> list[np.ndarray]:
        """Every parameter view in network order: ``[W1, b1, W2, b2, ...]`` for Dense layers."""
        return [view for layer in self.value_views for view in layer.values()]

    @property
    def size(self) -> int:
        """The total number of parameters."""
        return self.values.size


def layer_spans(
    layers: Sequence[Layer], shapes_of: Sequence[Mapping[str, Shape]], flat: np.ndarray
) -> dict[int, np.ndarray]:
    """Each layer's part of ``flat`` (its parameters', then those of the layers it
    holds), by ``id``: the store lays them out in that order, one after the other."""
    spans, offset, position = {}, 0, 0
    for layer in layers:
        size = 0
        for _ in walk([layer]):
            size += sum(math.prod(shape) for shape in shapes_of[position].values())
            position += 1
        spans[id(layer)] = flat[offset : offset + size]
        offset += size
    return spans
