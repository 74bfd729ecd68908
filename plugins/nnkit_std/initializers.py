"""The standard initializers: the variance-preserving schemes of Glorot and of He, and
the fixed starts zeros, ones and constant."""

from __future__ import annotations

import math

import numpy as np

from nnkit import Initializer
from nnkit.arguments import real_number


class GlorotUniform(Initializer):
    """Uniform on ``[-r, r]`` with ``r = sqrt(6 / (fan_in + fan_out))`` (Glorot and Bengio,
    2010): variance ``2 / (fan_in + fan_out)``, for sigmoid, tanh and softmax layers."""

    def sample(self, shape, fan_in, fan_out, rng, dtype):
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=shape).astype(dtype, copy=False)

    def variance(self, fan_in, fan_out):
        return 2.0 / (fan_in + fan_out)


def _scaled_normal(rng: np.random.Generator, shape, std: float, dtype) -> np.ndarray:
    """Normal draws of standard deviation ``std``, scaled in place (perf: one array of
    the draws' size fewer, which a wide first layer notices when a network is built)."""
    draws = rng.standard_normal(size=shape)
    draws *= std
    return draws.astype(dtype, copy=False)


class GlorotNormal(Initializer):
    """Normal with variance ``2 / (fan_in + fan_out)``."""

    def sample(self, shape, fan_in, fan_out, rng, dtype):
        std = math.sqrt(2.0 / (fan_in + fan_out))
        return _scaled_normal(rng, shape, std, dtype)

    def variance(self, fan_in, fan_out):
        return 2.0 / (fan_in + fan_out)


class HeNormal(Initializer):
    """Normal with variance ``2 / fan_in`` (He et al., 2015), for ReLU layers."""

    def sample(self, shape, fan_in, fan_out, rng, dtype):
        std = math.sqrt(2.0 / fan_in)
        return _scaled_normal(rng, shape, std, dtype)

    def variance(self, fan_in, fan_out):
        return 2.0 / fan_in


class HeUniform(Initializer):
    """Uniform with variance ``2 / fan_in``: on ``[-r, r]`` with ``r = sqrt(6 / fan_in)``."""

    def sample(self, shape, fan_in, fan_out, rng, dtype):
        limit = math.sqrt(6.0 / fan_in)
        return rng.uniform(-limit, limit, size=shape).astype(dtype, copy=False)

    def variance(self, fan_in, fan_out):
        return 2.0 / fan_in


class Zeros(Initializer):
    """All zeros: the usual start for biases."""

    def sample(self, shape, fan_in, fan_out, rng, dtype):
        return np.zeros(shape, dtype=dtype)

    def variance(self, fan_in, fan_out):
        return 0.0


class Ones(Initializer):
    """All ones: the usual start for a scale (the gamma of a normalisation), so that the
    layer begins as the identity."""

    def sample(self, shape, fan_in, fan_out, rng, dtype):
        return np.ones(shape, dtype=dtype)

    def variance(self, fan_in, fan_out):
        return None  # a fixed value, not a zero-mean draw: no variance to promise


class Constant(Initializer):
    """Every entry ``value``: a fixed start such as a forget-gate bias of 1."""

    example_arguments = {"value": 0.5}

    def __init__(self, value: float = 0.0) -> None:
        self.value = real_number(value, "constant initializer value")

    def sample(self, shape, fan_in, fan_out, rng, dtype):
        return np.full(shape, self.value, dtype=dtype)

    def variance(self, fan_in, fan_out):
        return None  # a fixed value, not a zero-mean draw: no variance to promise
