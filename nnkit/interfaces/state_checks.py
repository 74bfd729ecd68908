"""Checks that saved state is possible, for the ``check_state`` of optimizers and layers.

A model file can hold state with the right shapes and dtypes that no training could
have produced: a negative second moment, a step counter below zero or at the edge of
``int64``. Resumed, it crashes or turns to NaN on the first step. Each check raises
`ValueError` naming the array and what it should be; the loader turns that into a
`ModelFileError`. NaN is left to the loader's own finiteness check (a NaN compares
false, so it never fails these).
"""

from __future__ import annotations

from typing import Final

import numpy as np

__all__ = ["MAX_STEP_COUNT", "require_non_negative", "require_step_count"]

#: The largest step counter a model file may hold: beyond any run (2**62 steps at a
#: billion a second take 146 years), and far enough below 2**63 - 1 that counting on
#: cannot overflow ``int64``.
MAX_STEP_COUNT: Final = 2**62


def require_non_negative(state: dict[str, np.ndarray], key: str, owner: str, meaning: str) -> None:
    """Refuse ``state[key]`` if any value is below 0.

    Args:
        owner: who keeps the state, for the message (``"adam"``).
        meaning: what the array is, for the message (``"a running mean of squared
            gradients"``).
    """
    values = np.asarray(state[key])
    negative = values < 0
    if negative.any():
        index = int(np.flatnonzero(negative.reshape(-1))[0])
        raise ValueError(
            f"{owner} state {key!r} has {int(np.count_nonzero(negative))} negative values "
            f"(the first, at index {index}, is {values.reshape(-1)[index].item()!r}), but it is "
            f"{meaning} and never below 0"
        )


def require_step_count(state: dict[str, np.ndarray], key: str, owner: str) -> None:
    """Refuse ``state[key]`` unless it is a 0-d integer step counter in
    ``[0, MAX_STEP_COUNT)``."""
    counter = np.asarray(state[key])
    if counter.shape != () or counter.dtype.kind not in "iu":
        raise ValueError(
            f"{owner} state {key!r} should be a 0-d integer step counter, got shape "
            f"{counter.shape} and dtype {counter.dtype}"
        )
    steps = int(counter)
    if not 0 <= steps < MAX_STEP_COUNT:
        raise ValueError(
            f"{owner} state {key!r} counts {steps} steps, but a step counter is in "
            f"[0, 2**62): it starts at 0 and adds 1 per step"
        )
