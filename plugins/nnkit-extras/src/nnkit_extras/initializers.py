"""LeCun's normal initializer, the start SELU's self-normalisation assumes."""

from __future__ import annotations

import math

import nnkit

__all__ = ["LecunNormal"]


class LecunNormal(nnkit.Initializer):
    """Normal with variance ``1 / fan_in`` (LeCun et al., 1998)."""

    def sample(self, shape, fan_in, fan_out, rng, dtype):
        return (rng.standard_normal(size=shape) * math.sqrt(1.0 / fan_in)).astype(dtype)

    def variance(self, fan_in, fan_out):
        return 1.0 / fan_in
