"""Turning a classifier's outputs into class labels, by the names the model keeps."""

from __future__ import annotations

from typing import Any

import numpy as np

from nnkit.errors import ModelFileError

__all__ = ["class_labels"]


def class_labels(outputs: np.ndarray, classes: Any = None) -> np.ndarray:
    """The class of each row of ``outputs`` ``(m, n_outputs)``: the arg-max of the
    probabilities (for one sigmoid unit, the second class when above 0.5), named by
    ``classes`` when given (a list, as ``nnkit train`` records the target's names), else
    the class indices as integers. Per-token outputs ``(m, T, k)`` give a class per
    position, ``(m, T)``.

    Raises:
        ModelFileError: ``classes`` is not one name per class (a damaged model file).
    """
    if outputs.shape[-1] == 1:
        index = (outputs[..., 0] > 0.5).astype(np.intp)
    else:
        index = outputs.argmax(-1)
    if classes is None:
        return index
    n_classes = max(outputs.shape[-1], 2)
    if not isinstance(classes, list) or len(classes) != n_classes:
        raise ModelFileError(
            f"the model's metadata 'classes' should list {n_classes} class names, got "
            f"{classes!r:.60}"
        )
    return np.asarray(classes)[index]
