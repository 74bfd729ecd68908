"""The metric interface: a number reported while training, such as accuracy."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from nnkit.component import Component

__all__ = ["Metric"]


class Metric(Component, ABC):
    """A per-sample mean over a batch; the epoch value is the sample-weighted mean of
    the batch values, so it equals the metric over the whole epoch's samples."""

    #: Whether a larger value is better (early stopping and model selection use it).
    higher_is_better: ClassVar[bool] = True

    @abstractmethod
    def value(self, A: np.ndarray, Y: np.ndarray) -> float:
        """The metric of outputs ``A`` against targets ``Y``, both ``(outputs, samples)``."""
