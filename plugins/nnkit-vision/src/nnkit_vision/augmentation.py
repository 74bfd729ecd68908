"""Augmentation: images flipped, shifted, rotated or made noisy at random while
training, and passed through unchanged in `predict`, `evaluate` and the ONNX graph.

Each layer draws from its own generator, the one the network hands it at `build`
(seeded by the network's seed and saved with the model, as `dropout`'s), so a run is
reproducible and a resumed run draws what the uninterrupted one would. What a training
call drew stays in that call's workspace, for its `backward`, never on the layer, so
threads training and predicting at once share nothing. Every transform is a gather of
the whole batch at once (one index array per axis), never a loop over pixels, and each
is linear, so `backward` applies its adjoint to ``dy``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from nnkit import Layer
from nnkit.arguments import FRACTION, NON_NEGATIVE, real_number
from nnkit.errors import ConfigurationError
from nnkit.files.onnx import OnnxGraph
from nnkit.interfaces.workspace import Workspace
from nnkit_vision.images import image_shape

__all__ = ["RandomCrop", "RandomFlip", "RandomNoise", "RandomRotation", "RandomTranslation"]

#: The flips `random_flip` takes.
FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")


class Augmentation(Layer):
    """What every augmentation shares: images in and out at the same shape, the
    identity at inference (``ws.drawn`` is then None) and in ONNX, and a generator
    of its own."""

    example_input_shape: ClassVar[tuple[int, ...]] = (2, 5, 6)
    name: ClassVar[str] = "augmentation"

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        self.image = image_shape(input_shape, self.name)
        self.rng = rng
        return self.image

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        if not training:
            ws.drawn = None
            return x
        ws.drawn = self.draw(x)
        return self.apply(x, ws.drawn)

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        if not need_input_gradient:
            return None
        if ws.drawn is None:
            return dy
        return self.adjoint(dy, ws.drawn)

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        return x  # augmentation acts in training only

    def draw(self, x: np.ndarray) -> Any:
        """The random numbers of one training batch ``x``."""
        raise NotImplementedError

    def apply(self, x: np.ndarray, drawn: Any) -> np.ndarray:
        """The batch transformed as ``drawn`` says."""
        raise NotImplementedError

    def adjoint(self, dy: np.ndarray, drawn: Any) -> np.ndarray:
        """The input gradient: the transpose of `apply`, a linear map, applied to ``dy``."""
        raise NotImplementedError


class RandomFlip(Augmentation):
    """Mirror each image, with probability 1/2 per sample and axis: left to right
    (``"horizontal"``), top to bottom (``"vertical"``) or either
    (``"horizontal_and_vertical"``), as Keras' ``RandomFlip``."""

    name = "random_flip"

    def __init__(self, mode: str = "horizontal") -> None:
        if not isinstance(mode, str) or mode not in FLIP_MODES:
            raise ConfigurationError(
                f"random_flip mode must be one of {', '.join(map(repr, FLIP_MODES))}, "
                f"got {mode!r}"
            )
        self.mode = mode

    def draw(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = x.shape[0]
        flips = self.rng.random((2, m)) < 0.5
        flips[0] &= self.mode != "horizontal"  # up-down
        flips[1] &= self.mode != "vertical"  # left-right
        return flips[0], flips[1]

    def apply(self, x: np.ndarray, drawn: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        vertical, horizontal = drawn
        _, _, h, w = x.shape
        rows = np.where(vertical[:, None], np.arange(h)[::-1], np.arange(h))  # (m, h)
        cols = np.where(horizontal[:, None], np.arange(w)[::-1], np.arange(w))  # (m, w)
        samples = np.arange(x.shape[0])[:, None, None]
        gathered = x[samples, :, rows[:, :, None], cols[:, None, :]]  # (m, h, w, c)
        return np.ascontiguousarray(gathered.transpose(0, 3, 1, 2))

    def adjoint(self, dy: np.ndarray, drawn: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        return self.apply(dy, drawn)  # a flip is its own inverse and transpose


def _shifted(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``x`` moved by ``rows[i]`` pixels down and ``cols[i]`` right per sample ``i``,
    zeros filling the gap: a gather from the batch padded with zeros."""
    m, c, h, w = x.shape
    top, left = int(np.abs(rows).max(initial=0)), int(np.abs(cols).max(initial=0))
    padded = np.zeros((m, c, h + 2 * top, w + 2 * left), dtype=x.dtype)
    padded[:, :, top : top + h, left : left + w] = x
    r = (top - rows)[:, None] + np.arange(h)  # (m, h): the padded row each output row reads
    k = (left - cols)[:, None] + np.arange(w)
    samples = np.arange(m)[:, None, None]
    # Advanced indices on axes 0, 2, 3 around the slice of channels put the channel
    # axis last; moved back to second.
    gathered = padded[samples, :, r[:, :, None], k[:, None, :]]  # (m, h, w, c)
    return np.ascontiguousarray(gathered.transpose(0, 3, 1, 2))


class RandomTranslation(Augmentation):
    """Shift each image by a whole number of pixels, drawn uniformly per sample up to
    ``height_factor`` of its height up or down and ``width_factor`` of its width left or
    right, filling with zeros, as Keras' ``RandomTranslation(fill_mode="constant")``
    with nearest-pixel steps."""

    name = "random_translation"
    example_arguments: ClassVar[dict[str, Any]] = {"height_factor": 0.4, "width_factor": 0.2}

    def __init__(self, height_factor: float = 0.1, width_factor: float | None = None) -> None:
        self.height_factor = real_number(height_factor, "random_translation height_factor",
                                         FRACTION)
        if width_factor is None:
            width_factor = height_factor
        self.width_factor = real_number(width_factor, "random_translation width_factor",
                                        FRACTION)

    def limits(self) -> tuple[int, int]:
        """The largest shift along the height and along the width, in pixels."""
        _, h, w = self.image
        return int(self.height_factor * h), int(self.width_factor * w)

    def draw(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        most_rows, most_cols = self.limits()
        m = x.shape[0]
        rows = self.rng.integers(-most_rows, most_rows, size=m, endpoint=True)
        cols = self.rng.integers(-most_cols, most_cols, size=m, endpoint=True)
        return rows, cols

    def apply(self, x: np.ndarray, drawn: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        return _shifted(x, *drawn)

    def adjoint(self, dy: np.ndarray, drawn: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        rows, cols = drawn
        return _shifted(dy, -rows, -cols)  # a shift's transpose shifts back


class RandomCrop(RandomTranslation):
    """Pad each image with ``padding`` zeros on every side and cut a window of the
    input's size at a random place: the CIFAR augmentation (``padding=4``), and
    torchvision's ``RandomCrop(size, padding)`` with the output the input size. It is a
    shift of up to ``padding`` pixels each way."""

    name = "random_crop"
    example_arguments: ClassVar[dict[str, Any]] = {"padding": 2}

    def __init__(self, padding: int | tuple[int, int] = 4) -> None:
        items = (padding, padding) if isinstance(padding, (int, np.integer)) else padding
        try:
            rows, cols = items
        except (TypeError, ValueError):
            rows = cols = None
        if not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0
            for v in (rows, cols)
        ):
            raise ConfigurationError(
                f"random_crop padding must be a whole number of pixels >= 0, or a pair "
                f"(height, width) of them, got {padding!r}"
            )
        self.padding = (int(rows), int(cols))  # type: ignore[arg-type]

    def limits(self) -> tuple[int, int]:
        return self.padding


class RandomRotation(Augmentation):
    """Rotate each image by a random number of quarter turns, 0 to 3, counterclockwise
    (``np.rot90``'s direction): the symmetries of a square, which lose no pixel. The
    images must be square."""

    name = "random_rotation"
    example_input_shape: ClassVar[tuple[int, ...]] = (2, 4, 4)

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        shape = super().build(input_shape, rng)
        if shape[1] != shape[2]:
            raise ConfigurationError(
                f"random_rotation turns images by quarter turns, which needs them square, "
                f"got {shape[1]}x{shape[2]}; crop or pad them to a square first "
                f"(cropping2d, zero_padding2d)"
            )
        return shape

    def draw(self, x: np.ndarray) -> np.ndarray:
        return self.rng.integers(0, 4, size=x.shape[0])

    def apply(self, x: np.ndarray, drawn: np.ndarray) -> np.ndarray:
        n = x.shape[2]
        i, j = np.arange(n)[:, None], np.arange(n)[None, :]
        # Output pixel (i, j) of k quarter turns reads input (rows[k], cols[k]) there.
        rows = np.stack([np.broadcast_to(i, (n, n)), np.broadcast_to(j, (n, n)),
                         np.broadcast_to(n - 1 - i, (n, n)), np.broadcast_to(n - 1 - j, (n, n))])
        cols = np.stack([np.broadcast_to(j, (n, n)), np.broadcast_to(n - 1 - i, (n, n)),
                         np.broadcast_to(n - 1 - j, (n, n)), np.broadcast_to(i, (n, n))])
        samples = np.arange(x.shape[0])[:, None, None]
        gathered = x[samples, :, rows[drawn], cols[drawn]]  # (m, n, n, c)
        return np.ascontiguousarray(gathered.transpose(0, 3, 1, 2))

    def adjoint(self, dy: np.ndarray, drawn: np.ndarray) -> np.ndarray:
        return self.apply(dy, (4 - drawn) % 4)  # a rotation's transpose turns back


class RandomNoise(Augmentation):
    """Add Gaussian noise of standard deviation ``stddev`` to every pixel, as Keras'
    ``GaussianNoise``."""

    name = "random_noise"
    example_arguments: ClassVar[dict[str, Any]] = {"stddev": 0.3}

    def __init__(self, stddev: float = 0.1) -> None:
        self.stddev = real_number(stddev, "random_noise stddev", NON_NEGATIVE)

    def draw(self, x: np.ndarray) -> None:
        return None

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        ws.drawn = None  # adding noise leaves the gradient as it is
        if not training or self.stddev == 0:
            return x
        noise = self.rng.standard_normal(x.shape, dtype=x.dtype)
        noise *= self.stddev
        return x + noise
