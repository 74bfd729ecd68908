"""The standard layers besides Dense."""

from __future__ import annotations

import numpy as np

from nnkit import Layer
from nnkit.buffers import BufferCache
from nnkit.errors import ConfigurationError


class Dropout(Layer):
    """Inverted dropout: while training, zero each input with probability ``rate`` and
    scale the rest by ``1 / (1 - rate)``, so inference is the identity.

    The mask is drawn from the layer's own generator, seeded by the network's seed.
    """

    def __init__(self, rate: float = 0.5) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ConfigurationError(f"dropout rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self._buffers = BufferCache()
        self._mask: np.ndarray | None = None

    def build(self, n_inputs: int, rng: np.random.Generator) -> int:
        self.rng = rng
        return n_inputs

    def forward(self, A_prev: np.ndarray, training: bool = False) -> np.ndarray:
        if not training or self.rate == 0:
            self._mask = None
            return A_prev
        mask = self._buffers.get("mask", A_prev.shape, A_prev.dtype)
        self.rng.random(out=mask, dtype=A_prev.dtype)
        np.greater_equal(mask, self.rate, out=mask)  # keep with probability 1 - rate
        mask *= 1 / (1 - self.rate)
        self._mask = mask
        return np.multiply(A_prev, mask, out=self._buffers.get("A", A_prev.shape, A_prev.dtype))

    def backward(self, dA: np.ndarray, need_input_gradient: bool = True) -> np.ndarray | None:
        if not need_input_gradient:
            return None
        if self._mask is None:
            return dA
        return np.multiply(dA, self._mask, out=self._buffers.get("dA", dA.shape, dA.dtype))
