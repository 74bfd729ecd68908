"""A standardisation as nnkit 0.2.0's ``nnkit train`` kept it: a mean and a scale in the
model file's metadata, which only the command line applied.

``nnkit train`` now standardises with the standard set's ``standardize`` and
``rescale_output`` layers, which are part of the model, and ``nnkit.load`` turns the
metadata of a 0.2.0 file into those layers (`nnkit.engine.legacy_scaling`). This class
remains for `nnkit.files.onnx.to_onnx`'s ``feature_scaling`` and ``target_scaling``
arguments, which wrap a graph in such a scaling.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnkit.errors import ModelFileError

__all__ = ["Standardizer"]


@dataclass(frozen=True)
class Standardizer:
    """``(x - mean) / scale`` per feature (per element of a sample of any shape).

    Attributes:
        mean: the training data's mean, one value per element of a sample.
        scale: the training data's standard deviation, with 1 where it is 0 (a constant
            column is centred, not divided by zero).
    """

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> Standardizer:
        """The scaling that standardises ``values`` (samples along the first axis)."""
        values = np.asarray(values, dtype=np.float64)
        mean = values.mean(axis=0)
        scale = values.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        return cls(mean, scale)

    def transform(self, values: np.ndarray) -> np.ndarray:
        """``values`` standardised: ``(values - mean) / scale``, as float64."""
        return (np.asarray(values, dtype=np.float64) - self.mean) / self.scale

    def inverse(self, values: np.ndarray) -> np.ndarray:
        """``values`` mapped back to the original units: ``values * scale + mean``."""
        return np.asarray(values, dtype=np.float64) * self.scale + self.mean

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one sample this scaling applies to."""
        return self.mean.shape

    def to_json(self) -> dict[str, Any]:
        """The scaling as JSON-ready lists, for ``network.metadata``."""
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_json(cls, stored: Any, what: str) -> Standardizer:
        """The scaling saved by `to_json`.

        Raises:
            ModelFileError: the stored value is not a mean and a positive finite scale
                of one shape (a damaged or hand-edited model file).
        """
        problem = f"the model's {what} scaling is damaged"
        if not isinstance(stored, Mapping) or set(stored) != {"mean", "scale"}:
            raise ModelFileError(f"{problem}: expected {{'mean': [...], 'scale': [...]}}")
        arrays = []
        for key in ("mean", "scale"):
            try:
                array = np.array(stored[key], dtype=np.float64)
            except (TypeError, ValueError):
                raise ModelFileError(f"{problem}: {key!r} is not a list of numbers") from None
            if not np.isfinite(array).all():
                raise ModelFileError(f"{problem}: {key!r} holds NaN or infinite values")
            arrays.append(array)
        mean, scale = arrays
        if mean.shape != scale.shape:
            raise ModelFileError(f"{problem}: 'mean' and 'scale' differ in shape")
        if scale.size and not (scale > 0).all():
            raise ModelFileError(f"{problem}: 'scale' must be positive")
        return cls(mean, scale)
