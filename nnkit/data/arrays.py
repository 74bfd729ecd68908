"""Checking and converting the arrays users hand to ``fit``, ``predict`` and ``evaluate``.

Users give samples as rows, ``X`` of shape ``(n_samples, n_features)``, as in NumPy,
scikit-learn and Keras. Everything is checked once, up front, so that a mistake is
reported in the user's terms rather than as a broadcasting error deep in a layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from nnkit.errors import DataError
from nnkit.interfaces.loss import Loss

__all__ = [
    "as_features",
    "as_targets",
    "as_sample_weight",
    "class_weights_for",
    "check_finite",
    "checked_targets",
    "target_rows",
]


def _as_numeric(values: Any, name: str, dtype: DTypeLike) -> np.ndarray:
    try:
        array = np.asarray(values)
    except Exception as error:  # ragged nested lists and the like
        raise DataError(f"{name} could not be read as an array: {error}") from None
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_
    ):
        raise DataError(
            f"{name} must be numeric, got values of type {array.dtype}; convert or encode "
            "them to numbers first"
        )
    if np.iscomplexobj(array):
        raise DataError(f"{name} must be real-valued, got complex numbers")
    return np.ascontiguousarray(array, dtype=dtype)


#: Rows checked for NaN and infinity at a time: a bounded temporary, kept in cache.
FINITE_CHECK_ROWS = 1024


def check_finite(
    array: np.ndarray, name: str, first_row: int = 0, allow_nan: bool = False
) -> None:
    """Raise :class:`~nnkit.errors.DataError` naming the first NaN or infinity in
    ``array``, whose first row is row ``first_row`` of what the user passed. With
    ``allow_nan`` (a first layer that imputes missing cells), only infinity is refused."""
    if array.ndim > 2 and array.flags.c_contiguous:  # one row per sample, as a view
        array = array.reshape(array.shape[0], -1)
    contiguous = array.flags.c_contiguous or array.flags.f_contiguous
    if array.dtype.kind == "f" and array.size and contiguous:
        # perf: NaN or infinity anywhere makes the sum of squares NaN or infinite, so a
        # finite one clears the array; BLAS computes it in one pass with no temporary,
        # several times faster than np.isfinite. (A sum that overflows, from values
        # beyond about 1e19 in float32, is looked at element by element.)
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(np.vdot(array, array)):
                return
    # perf: chunk by chunk, so the boolean temporary stays small and in cache.
    for start in range(0, array.shape[0], FINITE_CHECK_ROWS):
        chunk = array[start : start + FINITE_CHECK_ROWS]
        if np.isinf(chunk).any() if allow_nan else not np.isfinite(chunk).all():
            _raise_non_finite(array, name, first_row, allow_nan)


def _raise_non_finite(
    array: np.ndarray, name: str, first_row: int = 0, allow_nan: bool = False
) -> None:
    if allow_nan:
        bad = np.argwhere(np.isinf(array))[0]
        where = f"row {first_row + bad[0]}" + (f", column {bad[1]}" if len(bad) > 1 else "")
        raise DataError(f"{name} holds an infinite value at {where}; replace it first")
    bad = np.argwhere(~np.isfinite(array))[0]
    where = f"row {first_row + bad[0]}" + (f", column {bad[1]}" if len(bad) > 1 else "")
    kind = "NaN" if np.isnan(array[tuple(bad)]) else "infinite"
    count = int((~np.isfinite(array)).sum())
    total = "" if first_row == 0 else " (at least)"
    raise DataError(
        f"{name} contains {count}{total} NaN or infinite value(s), the first {kind} at "
        f"{where}; remove or impute them first"
    )


def as_features(
    X: Any,
    dtype: np.dtype,
    sample_shape: int | tuple[int, ...] | None = None,
    name: str = "X",
    finite: bool = True,
    allow_nan: bool = False,
) -> np.ndarray:
    """``X`` as a C-contiguous ``(n_samples, *sample_shape)`` array of ``dtype``, checked.

    ``sample_shape`` is the shape of one sample the network takes (an ``int`` means
    ``(n_features,)``); ``None`` accepts any. Raises `DataError` for anything but a
    non-empty, finite, numeric array of at least two dimensions with that sample shape
    (``allow_nan`` lets NaN through, for a first layer that imputes it).
    """
    array = _as_numeric(X, name, dtype)
    if array.ndim < 2:
        hint = (
            f"; use {name}.reshape(-1, 1) for a single feature or {name}.reshape(1, -1) for "
            "a single sample"
            if array.ndim == 1
            else ""
        )
        raise DataError(
            f"{name} must be 2-D with shape (n_samples, n_features) (or have more "
            f"dimensions, (n_samples, *sample_shape)), got {array.ndim}-D with shape "
            f"{array.shape}{hint}"
        )
    if array.shape[0] == 0:
        raise DataError(f"{name} is empty: it has no samples (shape {array.shape})")
    if 0 in array.shape[1:]:
        raise DataError(f"{name} has no features (shape {array.shape})")
    if isinstance(sample_shape, (int, np.integer)):
        sample_shape = (int(sample_shape),)
    if sample_shape is not None and array.shape[1:] != tuple(sample_shape):
        if array.ndim == 2 and len(sample_shape) == 1:
            raise DataError(
                f"{name} has {array.shape[1]} features but the network takes {sample_shape[0]}"
            )
        raise DataError(
            f"{name} has samples of shape {array.shape[1:]} but the network takes samples of "
            f"shape {tuple(sample_shape)}: {name} must have shape (n_samples, "
            f"{', '.join(map(str, sample_shape))})"
        )
    if finite:  # callers that pass False check each batch with check_finite instead
        check_finite(array, name, allow_nan=allow_nan)
    return array


def as_targets(
    y: Any,
    n_samples: int,
    n_outputs: int,
    loss: Loss,
    dtype: np.dtype,
    name: str = "y",
    compact: bool = False,
) -> np.ndarray:
    """Targets as an ``(n_samples, n_outputs)`` array of ``dtype``.

    Integer class labels (a 1-D array) are one-hot encoded when the loss accepts them and
    the output layer has more than one unit (as booleans with ``compact``, a quarter of
    the memory, for the training loop to convert batch by batch); a 1-D array for a
    single output becomes one column.
    """
    raw = target_rows(y, n_samples, name, "class names")
    if raw.ndim == 2 and raw.shape[1] == 1 and n_outputs > 1:
        raw = raw[:, 0]
    if raw.ndim == 1 and n_outputs > 1:
        return _one_hot(raw, n_outputs, loss, np.dtype(bool) if compact else dtype, name)
    targets = _as_numeric(raw, name, dtype)
    if targets.ndim == 1:
        targets = targets.reshape(-1, 1)
    if targets.ndim != 2 or targets.shape[1] != n_outputs:
        raise DataError(
            f"{name} has shape {raw.shape} but the output layer has {n_outputs} unit(s); "
            f"targets must have shape ({n_samples}, {n_outputs})"
        )
    return checked_targets(targets, loss, name)


def checked_targets(targets: np.ndarray, loss: Loss, name: str) -> np.ndarray:
    """``targets``, once they are found finite and inside the loss's ``target_range``."""
    check_finite(targets, name)
    low, high = loss.target_range
    if targets.min() < low or targets.max() > high:
        raise DataError(
            f"{name} has values from {targets.min():g} to {targets.max():g}, but "
            f"{type(loss).__name__} needs targets in [{low:g}, {high:g}]"
        )
    return targets


def target_rows(y: Any, n_samples: int, name: str, labels: str) -> np.ndarray:
    """``y`` as an array of one row per sample, refusing text (``labels`` names what to
    encode as integers first) and a number of rows other than ``n_samples``."""
    raw = np.asarray(y) if not isinstance(y, np.ndarray) else y
    if raw.dtype.kind in "USO":
        raise DataError(
            f"{name} must be numeric, got {raw.dtype} values such as {raw.flat[0]!r}; "
            f"encode {labels} as integers 0..k-1 first"
        )
    if raw.ndim == 0 or raw.shape[0] != n_samples:
        length = "a scalar" if raw.ndim == 0 else f"{raw.shape[0]} rows"
        raise DataError(f"{name} has {length} but X has {n_samples} samples; they must match")
    return raw


def as_sample_weight(weights: Any, n_samples: int, dtype: np.dtype) -> np.ndarray | None:
    """Per-sample weights as a ``(n_samples,)`` array, or ``None`` if not given."""
    if weights is None:
        return None
    array = _as_numeric(weights, "sample_weight", dtype)
    if array.shape != (n_samples,):
        raise DataError(
            f"sample_weight has shape {array.shape} but there are {n_samples} samples; give "
            f"one weight per sample, shape ({n_samples},)"
        )
    check_finite(array, "sample_weight")
    if array.min() < 0:
        raise DataError("sample_weight has negative values; weights must be 0 or more")
    return array


def class_weights_for(class_weight: Any, Y: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Per-sample weights from a ``{class: weight}`` mapping, for targets ``Y`` of shape
    ``(n_samples, n_outputs)`` (the class of a sample is its arg-max, or its 0/1 value for a
    single output). Classes left out weigh 1, as in Keras and scikit-learn."""
    if not isinstance(class_weight, dict):
        raise DataError(
            f"class_weight must be a dict mapping class labels to weights, got "
            f"{type(class_weight).__name__}"
        )
    if Y.ndim > 2:
        raise DataError(
            "class_weight weighs samples by their class, but these targets hold a class per "
            "position; give sample_weight (one weight per sequence) instead"
        )
    n_classes = 2 if Y.shape[1] == 1 else Y.shape[1]
    table = np.ones(n_classes, dtype=dtype)
    for label, weight in class_weight.items():
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
            raise DataError(f"class_weight keys must be integer class labels, got {label!r}")
        if not 0 <= label < n_classes:
            raise DataError(
                f"class_weight names class {label}, but the targets have classes 0..{n_classes - 1}"
            )
        if not (isinstance(weight, (int, float, np.number)) and 0 <= weight < np.inf):
            raise DataError(f"class_weight for class {label} must be a number >= 0, got {weight!r}")
        table[label] = weight
    labels = (Y[:, 0] > 0.5).astype(np.intp) if Y.shape[1] == 1 else Y.argmax(axis=1)
    return table[labels]


def _one_hot(
    labels: np.ndarray, n_outputs: int, loss: Loss, dtype: np.dtype, name: str
) -> np.ndarray:
    if not loss.accepts_class_labels:
        raise DataError(
            f"{name} is 1-D but the output layer has {n_outputs} units and "
            f"{type(loss).__name__} does not take class labels; pass targets of shape "
            f"(n_samples, {n_outputs}) or use a classification loss such as 'cross_entropy'"
        )
    if labels.dtype.kind in "iu":  # already whole numbers: no float copy to check
        numeric = labels
    else:
        numeric = _as_numeric(labels, name, np.float64)
        check_finite(numeric, name)
        if not np.array_equal(numeric, np.round(numeric)):
            raise DataError(
                f"{name} holds class labels, which must be whole numbers 0..{n_outputs - 1}"
            )
    if numeric.min() < 0 or numeric.max() >= n_outputs:
        bad = numeric[(numeric < 0) | (numeric >= n_outputs)][0]
        raise DataError(
            f"{name} has label {bad:g}, outside the output layer's {n_outputs} units: labels "
            f"must be 0..{n_outputs - 1}; give the last layer as many units as classes"
        )
    one_hot = np.zeros((labels.shape[0], n_outputs), dtype=dtype)
    one_hot[np.arange(labels.shape[0]), numeric.astype(np.intp)] = 1
    return one_hot
