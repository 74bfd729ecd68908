"""Images as the layers of this package take them, and the layout they compute in.

Between layers a batch of images is ``(m, channels, height, width)``, channels first,
as nnkit and PyTorch pass them. Inside, every layer of this package works on the same
batch with the sample axis last, ``(channels, height, width, m)``: the layout of the
seed's columns, in which a convolution is one matrix product over the whole batch and
an activation sees its usual ``(units, ..., m)`` arrays. Each layer returns its output as
a transposed *view* of such an array, so the next layer of this package (and a
``flatten`` followed by ``dense``) reads it back without a copy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from nnkit.errors import ConfigurationError

__all__ = ["image_shape", "margins", "margins_config", "pair", "samples_first", "samples_last"]


def image_shape(input_shape: Sequence[int], layer: str) -> tuple[int, int, int]:
    """``(channels, height, width)`` from a sample shape, or an error that says how to
    reshape the data when the samples are not images."""
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 3:
        raise ConfigurationError(
            f"{layer} takes images (channels, height, width), got samples of shape "
            f"{shape}; reshape them, e.g. {_reshape_hint(shape)}"
        )
    return shape  # type: ignore[return-value]


def _reshape_hint(shape: tuple[int, ...]) -> str:
    """A reshape that would turn samples of ``shape`` into images, when one is obvious."""
    if len(shape) == 2:  # one grey image per sample
        return f"reshape((1, {shape[0]}, {shape[1]}))"
    size = math.prod(shape)
    side = math.isqrt(size)
    if side * side == size:  # flat square images, as the bundled digits are
        return f"reshape((1, {side}, {side}))"
    return "reshape((channels, height, width))"


def pair(value: Any, name: str, minimum: int = 1) -> tuple[int, int]:
    """A size or stride as ``(along height, along width)``: one integer of at least
    ``minimum`` for both, or two (``minimum=0`` for paddings)."""
    items = (value, value) if isinstance(value, (int, np.integer)) else value
    try:
        first, second = items
    except (TypeError, ValueError):
        first = second = None
    if not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= minimum
        for v in (first, second)
    ):
        wanted = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ConfigurationError(
            f"{name} must be {wanted} or a pair of them (height, width), got {value!r}"
        )
    return int(first), int(second)


def margins(value: Any, name: str) -> tuple[int, int, int, int]:
    """Zeros (or pixels) at the ``(top, bottom, left, right)`` of an image, from one
    non-negative integer for all four, a pair ``(height, width)`` (each on both sides),
    or a pair of pairs ``((top, bottom), (left, right))``, as Keras spells them."""

    def count(v: Any) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0

    if count(value):
        return (int(value),) * 4
    try:
        first, second = value
        if count(first) and count(second):
            return int(first), int(first), int(second), int(second)
        (top, bottom), (left, right) = first, second
        if all(count(v) for v in (top, bottom, left, right)):
            return int(top), int(bottom), int(left), int(right)
    except (TypeError, ValueError):
        pass
    raise ConfigurationError(
        f"{name} must be an integer >= 0, a pair of them (height, width) or a pair of "
        f"pairs ((top, bottom), (left, right)), got {value!r}"
    )


def margins_config(margin: tuple[int, int, int, int]) -> list[int] | list[list[int]]:
    """``(top, bottom, left, right)`` as `margins` takes it back, as short as it goes:
    ``[height, width]`` when each axis has the same on both sides, else
    ``[[top, bottom], [left, right]]``."""
    top, bottom, left, right = margin
    if top == bottom and left == right:
        return [top, left]
    return [[top, bottom], [left, right]]


def samples_last(x: np.ndarray) -> np.ndarray:
    """``(m, *sample_shape)`` as ``(*sample_shape, m)``: a view, no copy."""
    return x.transpose(*range(1, x.ndim), 0)


def samples_first(a: np.ndarray) -> np.ndarray:
    """``(*sample_shape, m)`` as ``(m, *sample_shape)``: a view, no copy."""
    return a.transpose(a.ndim - 1, *range(a.ndim - 1))
