"""Leaving the masked positions of a network's output out of its loss and metrics.

A network whose output carries a mask (``(m, T)`` booleans, True at a real position)
compares only its real positions with the targets: each masked position gets an
all-zero target row, which a loss that `Loss.skips_empty_targets` (the cross-entropy)
leaves out of its value, its mean and its gradient, as it does a position labelled
``ignore_index``, and which the classification metrics skip. Sample weights still
weigh whole sequences.
"""

from __future__ import annotations

import numpy as np

from nnkit.errors import ConfigurationError
from nnkit.interfaces.loss import Loss
from nnkit.interfaces.workspace import Workspace

__all__ = ["masked_targets"]


def masked_targets(
    loss: Loss, Y: np.ndarray, mask: np.ndarray | None, workspace: Workspace | None = None
) -> np.ndarray:
    """``Y`` with the rows of masked positions zeroed (a buffer of ``workspace`` if
    given, else a new array; ``Y`` itself is never written), or ``Y`` when there is no
    mask.

    Raises:
        ConfigurationError: the loss does not leave all-zero rows out, or the mask does
            not fit the targets' positions.
    """
    if mask is None:
        return Y
    if not loss.skips_empty_targets:
        raise ConfigurationError(
            f"the network's output carries a mask of padded positions, but the loss "
            f"{type(loss).__name__} cannot leave masked positions out; use "
            "'cross_entropy' for outputs per position, or end with a layer that drops "
            "the mask (global_avg_pool1d, a recurrent layer without return_sequences)"
        )
    if Y.ndim != mask.ndim + 1 or Y.shape[:-1] != mask.shape:
        raise ConfigurationError(
            f"the network's output mask has shape {mask.shape}, which does not fit "
            f"targets of shape {Y.shape}: a mask has one entry per position of the output"
        )
    out = None if workspace is None else workspace.buffer("masked Y", Y.shape, Y.dtype)
    return np.multiply(Y, mask[..., None], out=out)
