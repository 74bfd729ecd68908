"""The Huber loss: squared error near the target, absolute error far from it."""

from __future__ import annotations

import numpy as np

import nnkit

__all__ = ["Huber"]


class Huber(nnkit.Loss):
    """Per output, ``r^2 / 2`` for ``|r| <= delta`` and ``delta (|r| - delta / 2)``
    beyond, with ``r = A - Y``; averaged over the outputs and the samples, as PyTorch's
    ``HuberLoss`` and Keras' ``Huber``. It equals half the mean squared error (``mse``)
    for small residuals; outliers pull on the weights with a force of at most ``delta``."""

    default_metrics = ("mae",)

    def __init__(self, delta: float = 1.0) -> None:
        if not delta > 0:
            raise nnkit.ConfigurationError(f"huber delta must be positive, got {delta!r}")
        self.delta = float(delta)

    def per_sample(self, A, Y):
        r = np.abs(A - Y)
        quadratic = np.minimum(r, self.delta)
        return np.mean(0.5 * quadratic**2 + self.delta * (r - quadratic), axis=-1)

    def gradient(self, A, Y):
        return np.clip(A - Y, -self.delta, self.delta) / A.size
