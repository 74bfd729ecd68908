"""The standard metrics, each a mean over the samples of a batch."""

from __future__ import annotations

import numpy as np

from nnkit import Metric


class Accuracy(Metric):
    """The fraction of samples whose predicted class is the target class: the arg-max
    unit for several outputs, a 0.5 threshold for a single one."""

    def value(self, A: np.ndarray, Y: np.ndarray) -> float:
        if A.shape[0] == 1:
            return float(np.count_nonzero((A > 0.5) == (Y > 0.5))) / A.shape[1]
        return float(np.count_nonzero(A.argmax(axis=0) == Y.argmax(axis=0))) / A.shape[1]


class BinaryAccuracy(Metric):
    """The fraction of output units on the right side of 0.5, averaged over samples."""

    def value(self, A: np.ndarray, Y: np.ndarray) -> float:
        return float(np.mean((A > 0.5) == (Y > 0.5)))


class MeanAbsoluteError(Metric):
    """The mean absolute difference between outputs and targets."""

    higher_is_better = False

    def value(self, A: np.ndarray, Y: np.ndarray) -> float:
        return float(np.mean(np.abs(A - Y)))
