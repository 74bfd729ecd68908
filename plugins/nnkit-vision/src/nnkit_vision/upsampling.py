"""Upsampling: each image made ``size`` times taller and wider, by repeating its pixels
(``"nearest"``) or interpolating between them (``"bilinear"``).

Bilinear interpolation is separable: the output is ``A_h X A_wᵀ`` for each channel and
sample, ``A_h`` (``(out_height, height)``) and ``A_w`` the interpolation weights along
each axis, so the forward and backward passes are two matrix products each, over the
whole batch. The weights are PyTorch's ``nn.Upsample(mode="bilinear",
align_corners=False)``: output pixel ``o`` reads the input at ``(o + 0.5) / size - 0.5``,
clamped at 0, between its two neighbours.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from nnkit import Layer
from nnkit.errors import ConfigurationError
from nnkit.files.onnx import OnnxGraph
from nnkit.interfaces.workspace import Workspace
from nnkit_vision.images import image_shape, pair, samples_first, samples_last

__all__ = ["UpSampling2D", "interpolation_matrix"]

#: The interpolations ``upsampling2d`` takes.
INTERPOLATIONS = ("nearest", "bilinear")


def interpolation_matrix(length: int, size: int) -> np.ndarray:
    """The ``(length * size, length)`` matrix of linear interpolation along one axis,
    as PyTorch's ``align_corners=False``: each row has weights ``1 - t`` and ``t`` on
    the two input pixels around ``(row + 0.5) / size - 0.5`` (clamped to the image)."""
    out = np.arange(length * size)
    source = np.maximum((out + 0.5) / size - 0.5, 0.0)
    below = np.minimum(np.floor(source).astype(np.int64), length - 1)
    above = np.minimum(below + 1, length - 1)
    t = source - below
    matrix = np.zeros((length * size, length))
    np.add.at(matrix, (out, below), 1 - t)
    np.add.at(matrix, (out, above), t)
    return matrix


def _repetition(length: int, size: int) -> np.ndarray:
    """The ``(length * size, length)`` matrix that repeats each pixel ``size`` times."""
    return np.repeat(np.eye(length), size, axis=0)


class UpSampling2D(Layer):
    """Each image ``size`` times taller and wider: ``(channels, height, width)`` to
    ``(channels, height * sh, width * sw)``, as Keras's ``UpSampling2D`` and PyTorch's
    ``nn.Upsample(scale_factor=size)``.

    Args:
        size: the factors along height and width, one positive integer or a pair.
        interpolation: ``"nearest"`` repeats each pixel ``sh x sw`` times;
            ``"bilinear"`` interpolates as PyTorch's ``nn.Upsample(mode="bilinear",
            align_corners=False)``.
    """

    example_arguments: ClassVar[dict[str, Any]] = {"size": (2, 3), "interpolation": "bilinear"}
    example_input_shape: ClassVar[tuple[int, ...]] = (2, 3, 4)

    def __init__(self, size: int | tuple[int, int] = 2, interpolation: str = "nearest") -> None:
        self.size = pair(size, "upsampling2d size")
        if interpolation not in INTERPOLATIONS:
            raise ConfigurationError(
                f"upsampling2d interpolation must be one of "
                f"{', '.join(map(repr, INTERPOLATIONS))}, got {interpolation!r}"
            )
        self.interpolation = interpolation
        self.image: tuple[int, int, int] | None = None
        self.rows: np.ndarray | None = None
        self.columns: np.ndarray | None = None

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        self.image = image_shape(input_shape, "upsampling2d")
        (channels, height, width), (sh, sw) = self.image, self.size
        # Read-only after build: shared by every thread's calls. Nearest computes with
        # copies, but exports as products too: each row of its matrix is one 1.
        along = interpolation_matrix if self.interpolation == "bilinear" else _repetition
        self.rows = along(height, sh)  # A_h, (Ho, H)
        self.columns = along(width, sw)  # A_w, (Wo, W)
        return channels, height * sh, width * sw

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        (channels, height, width), (sh, sw), m = self.image, self.size, x.shape[0]
        xt = samples_last(x)  # (C, H, W, m)
        y = ws.buffer("y", (channels, height * sh, width * sw, m), x.dtype)
        if self.interpolation == "nearest":  # one broadcast copy: pixel (i, j) sh x sw times
            blocks = y.reshape(channels, height, sh, width, sw, m)
            np.copyto(blocks, xt[:, :, None, :, None, :])
            return samples_first(y)
        rows, columns = self._matrices(x.dtype)
        across = ws.buffer("across", (channels, height, width * sw, m), x.dtype)
        np.matmul(columns, xt, out=across)  # along the width: A_w X, (C, H, Wo, m)
        # along the height: A_h (A_w X), with (Wo, m) as the columns of one matrix
        np.matmul(rows, across.reshape(channels, height, -1), out=y.reshape(channels, -1,
                                                                            width * sw * m))
        return samples_first(y)

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        if not need_input_gradient:
            return None
        (channels, height, width), (sh, sw), m = self.image, self.size, dy.shape[0]
        dyt = samples_last(dy)  # (C, Ho, Wo, m)
        dx = ws.buffer("dx", (channels, height, width, m), dy.dtype)
        if self.interpolation == "nearest":  # each pixel gets the sum of its copies
            np.add.reduce(dyt.reshape(channels, height, sh, width, sw, m), axis=(2, 4), out=dx)
            return samples_first(dx)
        rows, columns = self._matrices(dy.dtype)
        back = ws.buffer("back", (channels, height * sh, width, m), dy.dtype)
        np.matmul(columns.T, dyt, out=back)  # A_wᵀ dY, (C, Ho, W, m)
        np.matmul(rows.T, back.reshape(channels, height * sh, -1),
                  out=dx.reshape(channels, height, -1))  # A_hᵀ (A_wᵀ dY)
        return samples_first(dx)

    def _matrices(self, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
        """``A_h`` and ``A_w`` in the batch's dtype (float32 networks stay float32)."""
        assert self.rows is not None and self.columns is not None, "build() sets them"
        return self.rows.astype(dtype, copy=False), self.columns.astype(dtype, copy=False)

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """``Resize`` by the layer's factors: ``nearest`` (``asymmetric`` coordinates,
        rounding down) or ``linear`` (``pytorch_half_pixel``). onnxruntime resizes
        float32 only, so a float64 graph multiplies by ``A_wᵀ`` and ``A_h``
        (``MatMul``), the bilinear layer's products (for nearest, matrices of ones
        that repeat each pixel)."""
        if graph.runs_float32_only_operators:
            scales = graph.weight(np.array([1, 1, *self.size], dtype=np.float32), "scales")
            if self.interpolation == "nearest":
                return graph.node("Resize", [x, "", scales], mode="nearest",
                                  coordinate_transformation_mode="asymmetric",
                                  nearest_mode="floor")
            return graph.node("Resize", [x, "", scales], mode="linear",
                              coordinate_transformation_mode="pytorch_half_pixel")
        assert self.rows is not None and self.columns is not None, "build() sets them"
        across = graph.node("MatMul", [x, graph.weight(self.columns.T, "columns")])
        return graph.node("MatMul", [graph.weight(self.rows, "rows"), across])

    def get_config(self) -> dict[str, Any]:
        return {"size": list(self.size), "interpolation": self.interpolation}
