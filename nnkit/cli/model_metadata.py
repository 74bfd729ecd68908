"""What ``nnkit train`` records about the data in a model's metadata, and checking it.

A model file's metadata is JSON anyone can edit, so ``evaluate``, ``predict`` and
``summary`` read it through `read_metadata`, which turns a value of the wrong type into
one clear `ModelFileError` instead of a crash deep in the command.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Final, NamedTuple

from nnkit.engine.network import Network
from nnkit.errors import ModelFileError

__all__ = ["ModelMetadata", "read_metadata"]

#: The tasks ``nnkit train`` records.
TASKS: Final = ("classification", "regression")


class ModelMetadata(NamedTuple):
    """The data a model was trained on, as ``nnkit train`` recorded it; every field is
    ``None`` for a model saved from Python without it.

    The preprocessing (standardisation, imputation, category codes, the target's units)
    is not here: it is the model's own layers, which every reader of the file applies.
    """

    features: list[str] | None
    target: str | None
    task: str | None
    classes: list[Any] | None
    #: The columns read as categories, whose text cells the model takes as they are.
    categorical: list[str] | None = None
    #: The columns ``--drop`` left out, left out again when predicting.
    dropped: list[str] | None = None


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
    names = {}
    for key in ("categorical", "dropped"):
        value = metadata.get(key)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(name, str) for name in value)
        ):
            raise damaged(key, "a list of column names")
        names[key] = value
    return ModelMetadata(features, target, task, classes, names["categorical"], names["dropped"])


def _is_class_name(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, (str, int))


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
