"""The initializer interface: the starting values of a weight matrix or bias vector."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from nnkit.interfaces.component import Component

__all__ = ["Initializer"]


class Initializer(Component, ABC):
    """Draws initial parameter values.

    For a weight matrix ``W^l`` of shape ``(n^l, n^{l-1})``, ``fan_in`` is ``n^{l-1}``
    and ``fan_out`` is ``n^l``.
    """

    @abstractmethod
    def sample(
        self,
        shape: tuple[int, ...],
        fan_in: int,
        fan_out: int,
        rng: np.random.Generator,
        dtype: np.dtype,
    ) -> np.ndarray:
        """An array of ``shape`` and ``dtype`` drawn from ``rng``."""

    def variance(self, fan_in: int, fan_out: int) -> float | None:
        """The variance of the values `sample()` promises (``None``: no promise).

        The conformance kit checks a large sample against it.
        """
        return None
