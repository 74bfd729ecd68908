"""Spatial dropout: whole channels of an image dropped at once, as Keras'
``SpatialDropout2D`` and PyTorch's ``Dropout2d``.

Neighbouring pixels of a feature map are strongly correlated, so dropping single pixels
(``dropout``) regularises a convolution little: the dropped value is all but restored by
its neighbours. Dropping a channel of a sample removes the feature entirely.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from nnkit import Layer
from nnkit.arguments import FRACTION, real_number
from nnkit.files.onnx import OnnxGraph
from nnkit.interfaces.workspace import Workspace
from nnkit_vision.images import image_shape

__all__ = ["SpatialDropout2D"]


class SpatialDropout2D(Layer):
    """Inverted dropout of channels: while training, zero each channel of each sample
    with probability ``rate`` and scale the kept ones by ``1 / (1 - rate)``; at
    inference, in `predict`, `evaluate` and the ONNX graph, the identity.

    The mask, ``(m, channels, 1, 1)``, is drawn from the layer's own generator (seeded
    by the network's seed and saved with it, as `dropout`'s) and kept in the call's
    workspace, so threads training or predicting at once do not share it.
    """

    example_arguments: ClassVar[dict[str, Any]] = {"rate": 0.5}
    example_input_shape: ClassVar[tuple[int, ...]] = (3, 4, 5)

    def __init__(self, rate: float = 0.5) -> None:
        self.rate = real_number(rate, "spatial_dropout2d rate", FRACTION)

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        shape = image_shape(input_shape, "spatial_dropout2d")
        self.rng = rng
        return shape

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        if not training or self.rate == 0:
            ws.mask = None
            return x
        keep = self.rng.random((x.shape[0], x.shape[1], 1, 1)) >= self.rate
        ws.mask = keep.astype(x.dtype) * (1 / (1 - self.rate))
        return x * ws.mask

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        return x  # the identity at inference

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        if not need_input_gradient:
            return None
        if ws.mask is None:
            return dy
        return dy * ws.mask
