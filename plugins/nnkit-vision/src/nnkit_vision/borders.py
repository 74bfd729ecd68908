"""Borders of images: zeros added around them (``zero_padding2d``) or rows and columns
cut from their edges (``cropping2d``), as Keras's layers of the same names.

Either is a copy of the image into a buffer of the call's workspace, and its gradient
the same copy the other way round: one strided copy per batch, no arithmetic.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from nnkit import Layer
from nnkit.errors import ConfigurationError
from nnkit.files.onnx import OnnxGraph
from nnkit.interfaces.workspace import Workspace
from nnkit_vision.images import image_shape, margins, margins_config, samples_first, samples_last

__all__ = ["Cropping2D", "ZeroPadding2D"]


class _Border(Layer):
    """What padding and cropping share: the margins ``(top, bottom, left, right)`` and
    the window of the larger image (the padded output, the uncropped input) that the
    smaller one fills."""

    #: The registry name the errors use.
    kind: ClassVar[str]
    #: The constructor's argument: ``padding`` or ``cropping``.
    _argument: ClassVar[str]
    example_input_shape: ClassVar[tuple[int, ...]] = (2, 5, 6)

    def __init__(
        self, margin: int | tuple[int, int] | tuple[tuple[int, int], tuple[int, int]]
    ) -> None:
        self.margin = margins(margin, f"{self.kind} {self._argument}")
        self.image: tuple[int, int, int] | None = None

    def _inside(self, large: np.ndarray) -> np.ndarray:
        """The part of ``large`` (``(channels, height, width, m)``, the larger of the
        two images) that the smaller image covers: a view."""
        top, bottom, left, right = self.margin
        return large[:, top : large.shape[1] - bottom, left : large.shape[2] - right]

    def _to_larger(self, small: np.ndarray, ws: Workspace, shape: tuple[int, ...]) -> np.ndarray:
        """``small`` (samples last) with the margins of zeros around it, in a buffer
        of ``ws`` shaped ``shape``: the padded image, or a cropped image's gradient."""
        large = ws.buffer("large", shape, small.dtype)
        top, bottom, left, right = self.margin
        # The buffer is reused by batches of other sizes: clear its border each time.
        large[:, :top] = 0
        large[:, shape[1] - bottom :] = 0
        large[:, :, :left] = 0
        large[:, :, shape[2] - right :] = 0
        np.copyto(self._inside(large), small)
        return large

    def _to_smaller(self, large: np.ndarray, ws: Workspace, shape: tuple[int, ...]) -> np.ndarray:
        """The inside of ``large`` (samples last) copied into a buffer of ``ws``: the
        cropped image, or a padded image's gradient."""
        small = ws.buffer("small", shape, large.dtype)
        np.copyto(small, self._inside(large))
        return small

    def get_config(self) -> dict[str, Any]:
        return {self._argument: margins_config(self.margin)}


class ZeroPadding2D(_Border):
    """Zeros around each image: ``(channels, height, width)`` to ``(channels, top +
    height + bottom, left + width + right)``, as Keras's ``ZeroPadding2D``.

    Args:
        padding: one integer for every side, a pair ``(height, width)`` for both sides
            of each axis, or ``((top, bottom), (left, right))``.
    """

    kind = "zero_padding2d"
    _argument = "padding"
    example_arguments: ClassVar[dict[str, Any]] = {"padding": ((1, 0), (2, 1))}

    def __init__(
        self, padding: int | tuple[int, int] | tuple[tuple[int, int], tuple[int, int]] = 1
    ) -> None:
        super().__init__(padding)

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        self.image = image_shape(input_shape, self.kind)
        (channels, height, width), (top, bottom, left, right) = self.image, self.margin
        return channels, top + height + bottom, left + width + right

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        (channels, height, width), (top, bottom, left, right) = self.image, self.margin
        shape = (channels, top + height + bottom, left + width + right, x.shape[0])
        return samples_first(self._to_larger(samples_last(x), ws, shape))

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        if not need_input_gradient:
            return None
        dx = self._to_smaller(samples_last(dy), ws, (*self.image, dy.shape[0]))
        return samples_first(dx)  # the gradient of the zeros goes nowhere

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """``Pad`` with zeros (its default ``constant`` mode)."""
        top, bottom, left, right = self.margin
        pads = np.array([0, 0, top, left, 0, 0, bottom, right], dtype=np.int64)
        return graph.node("Pad", [x, graph.weight(pads, "pads")])


class Cropping2D(_Border):
    """Rows and columns cut from the edges of each image: ``(channels, height, width)``
    to ``(channels, height - top - bottom, width - left - right)``, as Keras's
    ``Cropping2D``; often paired with a transposed convolution or an upsampling to
    bring two images to the same size.

    Args:
        cropping: one integer for every side, a pair ``(height, width)`` for both sides
            of each axis, or ``((top, bottom), (left, right))``.
    """

    kind = "cropping2d"
    _argument = "cropping"
    example_arguments: ClassVar[dict[str, Any]] = {"cropping": ((1, 0), (2, 1))}

    def __init__(
        self, cropping: int | tuple[int, int] | tuple[tuple[int, int], tuple[int, int]] = 1
    ) -> None:
        super().__init__(cropping)

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        self.image = image_shape(input_shape, self.kind)
        (channels, height, width), (top, bottom, left, right) = self.image, self.margin
        if top + bottom >= height or left + right >= width:
            raise ConfigurationError(
                f"cropping2d cannot cut {top}+{bottom} rows and {left}+{right} columns from "
                f"{height}x{width} images: nothing would be left; crop less"
            )
        return channels, height - top - bottom, width - left - right

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        (channels, height, width), (top, bottom, left, right) = self.image, self.margin
        shape = (channels, height - top - bottom, width - left - right, x.shape[0])
        return samples_first(self._to_smaller(samples_last(x), ws, shape))

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        if not need_input_gradient:
            return None
        dx = self._to_larger(samples_last(dy), ws, (*self.image, dy.shape[0]))
        return samples_first(dx)  # the pixels cut off had no effect: gradient 0

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """``Slice`` of the rows and columns kept."""
        (_, height, width), (top, bottom, left, right) = self.image, self.margin
        starts = graph.weight(np.array([top, left], dtype=np.int64), "starts")
        ends = graph.weight(np.array([height - bottom, width - right], dtype=np.int64), "ends")
        axes = graph.weight(np.array([2, 3], dtype=np.int64), "axes")
        return graph.node("Slice", [x, starts, ends, axes])
