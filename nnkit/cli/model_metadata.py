"""What ``nnkit train`` records about the data in a model's metadata, and checking it.

A model file's metadata is JSON anyone can edit, so ``evaluate``, ``predict`` and
``summary`` read it through `read_metadata`, which turns a value of the wrong type into
one clear `ModelFileError` instead of a crash deep in the command.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Final, NamedTuple

import numpy as np

from nnkit.cli.scaling import Standardizer
from nnkit.engine.network import Network
from nnkit.errors import DataError, ModelFileError

__all__ = ["ModelMetadata", "read_metadata", "scaling_metadata"]

#: The tasks ``nnkit train`` records.
TASKS: Final = ("classification", "regression")


class ModelMetadata(NamedTuple):
    """The data a model was trained on, as ``nnkit train`` recorded it; every field is
    ``None`` for a model saved from Python without it."""

    features: list[str] | None
    target: str | None
    task: str | None
    classes: list[Any] | None
    feature_scaling: Standardizer | None
    target_scaling: Standardizer | None

    def scale_features(self, X: np.ndarray, source: str) -> np.ndarray:
        """``X`` as the network saw it in training: standardised if it was."""
        if self.feature_scaling is None:
            return X
        if X.shape[1:] != self.feature_scaling.shape:
            raise DataError(
                f"{source}: samples of shape {X.shape[1:]}, but the model was trained on "
                f"{self.feature_scaling.shape}"
            )
        return self.feature_scaling.transform(X)

    def unscale_outputs(self, outputs: np.ndarray) -> np.ndarray:
        """A regression's outputs in the target's own units."""
        if self.target_scaling is None:
            return outputs
        return self.target_scaling.inverse(outputs)


def scaling_metadata(
    features: Standardizer | None, target: Standardizer | None
) -> dict[str, Any] | None:
    """The ``"scaling"`` entry of the metadata, or ``None`` when nothing is scaled."""
    if features is None and target is None:
        return None
    return {
        "features": None if features is None else features.to_json(),
        "target": None if target is None else target.to_json(),
    }


def read_metadata(network: Network, path: str | Path) -> ModelMetadata:
    """The checked metadata of ``network``, loaded from ``path``.

    Raises:
        ModelFileError: a recorded value of the wrong type or size, naming the key.
    """
    metadata = network.metadata

    def damaged(key: str, expected: str) -> ModelFileError:
        return ModelFileError(
            f"{path}: the metadata's {key!r} should be {expected}, got "
            f"{_shown(metadata[key])}; the file was altered after nnkit train saved it"
        )

    features = metadata.get("features")
    if features is not None and not (
        isinstance(features, list) and features and all(isinstance(name, str) for name in features)
    ):
        raise damaged("features", "a non-empty list of column names")
    target = metadata.get("target")
    if target is not None and not isinstance(target, str):
        raise damaged("target", "a column name")
    task = metadata.get("task")
    if task is not None and task not in TASKS:
        raise damaged("task", " or ".join(repr(t) for t in TASKS))
    classes = metadata.get("classes")
    if classes is not None:
        if not (isinstance(classes, list) and len(classes) >= 2):
            raise damaged("classes", "a list of two or more class names")
        if not all(_is_class_name(c) for c in classes) or len(set(map(str, classes))) < len(
            classes
        ):
            raise damaged("classes", "distinct class names (text or numbers)")
        outputs = network.n_outputs
        if (
            outputs is not None
            and outputs != len(classes)
            and not (outputs == 1 and len(classes) == 2)
        ):
            raise damaged("classes", f"one class per output unit ({outputs})")
    scaling = metadata.get("scaling")
    feature_scaling = target_scaling = None
    if scaling is not None:
        if not isinstance(scaling, dict) or not set(scaling) <= {"features", "target"}:
            raise damaged("scaling", "{'features': ..., 'target': ...}")
        try:
            if scaling.get("features") is not None:
                feature_scaling = Standardizer.from_json(scaling["features"], "feature")
            if scaling.get("target") is not None:
                target_scaling = Standardizer.from_json(scaling["target"], "target")
        except ModelFileError as error:
            raise ModelFileError(f"{path}: {error}") from None
        if target_scaling is not None and target_scaling.shape != (network.n_outputs,):
            raise damaged("scaling", "one mean and scale per output unit")
    return ModelMetadata(features, target, task, classes, feature_scaling, target_scaling)


def _is_class_name(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, (str, int))


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
