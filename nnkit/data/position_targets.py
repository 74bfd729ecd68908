"""Checking the targets of outputs that keep a time axis: ``(m, T, k)``, a class (or k
values) per position, as a language model predicts the next token at every position.

Targets come as an array of the output's shape, or, for a loss that takes class labels,
as integer labels ``(m, T)``, one per position, as PyTorch's ``cross_entropy`` takes
them. Labels are one-hot encoded here, once; a position labelled with the loss's
``ignore_index`` becomes an all-zero row, which the loss leaves out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnkit.data.arrays import _as_numeric as as_numeric
from nnkit.data.arrays import check_finite, checked_targets, target_rows
from nnkit.errors import DataError
from nnkit.interfaces.loss import Loss

__all__ = ["as_position_targets"]


def as_position_targets(
    y: Any,
    n_samples: int,
    output_shape: tuple[int, ...],
    loss: Loss,
    dtype: np.dtype,
    name: str = "y",
    compact: bool = False,
) -> np.ndarray:
    """Targets as an ``(n_samples, *output_shape)`` array of ``dtype`` for outputs of
    more than one axis (``output_shape`` is ``(T, k)`` for per-token outputs).

    Integer labels of shape ``(n_samples, *output_shape[:-1])`` are one-hot encoded
    when the loss takes class labels and the outputs have more than one unit per
    position (as booleans with ``compact``, for the training loop to convert batch by
    batch); for one unit per position they become that unit's targets.

    Raises:
        DataError: the targets have another shape, labels are not whole numbers or lie
            outside ``0..k-1`` (and are not the loss's ``ignore_index``), or values lie
            outside the loss's ``target_range``.
    """
    raw = target_rows(y, n_samples, name, "tokens or class names")
    positions, units = output_shape[:-1], output_shape[-1]
    if raw.shape[1:] == positions:
        if units > 1:
            return _one_hot_positions(raw, units, loss, np.dtype(bool) if compact else dtype, name)
        raw = raw.reshape(*raw.shape, 1)
    if raw.shape[1:] != output_shape:
        labels = f" (or class labels of shape ({n_samples}, {', '.join(map(str, positions))}))"
        raise DataError(
            f"{name} has shape {raw.shape} but the network's outputs have samples of shape "
            f"{output_shape}: give targets of shape ({n_samples}, "
            f"{', '.join(map(str, output_shape))})"
            f"{labels if loss.accepts_class_labels and units > 1 else ''}; or, for one "
            "output per sample, end with flatten(), and a dense() after it if need be"
        )
    return checked_targets(as_numeric(raw, name, dtype), loss, name)


def _one_hot_positions(
    labels: np.ndarray, units: int, loss: Loss, dtype: np.dtype, name: str
) -> np.ndarray:
    """``(m, T)`` labels as ``(m, T, units)`` one-hot rows; ``ignore_index`` as zero rows."""
    if not loss.accepts_class_labels:
        raise DataError(
            f"{name} has one value per position, shape {labels.shape}, but the outputs have "
            f"{units} units per position and {type(loss).__name__} does not take class "
            f"labels; give targets of shape {(*labels.shape, units)} or use a "
            "classification loss such as 'cross_entropy'"
        )
    if labels.dtype.kind in "iu":  # already whole numbers: no float copy to check
        numeric: np.ndarray = labels
    else:
        numeric = as_numeric(labels, name, np.float64)
        check_finite(numeric, name)
        if not np.array_equal(numeric, np.round(numeric)):
            bad = numeric[numeric != np.round(numeric)][0]
            raise DataError(
                f"{name} holds class labels per position, which must be whole numbers "
                f"0..{units - 1}, got {bad:g}"
            )
    ignore = loss.ignore_index
    kept = np.ones(labels.shape, dtype=bool) if ignore is None else numeric != ignore
    outside = kept & ((numeric < 0) | (numeric >= units))
    if outside.any():
        where = tuple(int(i) for i in np.argwhere(outside)[0])
        skip = "" if ignore is None else f" (or {ignore}, the loss's ignore_index, for none)"
        raise DataError(
            f"{name} has label {numeric[where]:g} at sample {where[0]}, position "
            f"{where[1:] if len(where) > 2 else where[1]}, outside the output's {units} "
            f"units: labels must be 0..{units - 1}{skip}"
        )
    one_hot = np.zeros((*labels.shape, units), dtype=dtype)
    index = np.nonzero(kept)
    one_hot[(*index, numeric[index].astype(np.intp))] = 1
    return one_hot
