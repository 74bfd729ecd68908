"""Scratch arrays reused from one batch to the next, so steady-state training allocates nothing."""

from __future__ import annotations

from typing import Final

import numpy as np

__all__ = ["BufferCache"]

# Training uses two batch sizes (full and last) and prediction two more; beyond this
# many shapes the cache starts over rather than grow without bound.
MAX_BUFFERS: Final = 32


class BufferCache:
    """Named arrays of a given shape and dtype, allocated on first request and then reused.

    Whatever a buffer held is overwritten by its next user: callers keep a buffer only
    until the next batch.
    """

    def __init__(self) -> None:
        self._arrays: dict[tuple[str, tuple[int, ...], np.dtype], np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """An uninitialised array for ``name`` with ``shape`` and ``dtype``."""
        key = (name, shape, dtype)
        array = self._arrays.get(key)
        if array is None:
            if len(self._arrays) >= MAX_BUFFERS:
                self._arrays.clear()
            array = self._arrays[key] = np.empty(shape, dtype=dtype)
        return array

    def clear(self) -> None:
        """Drop every buffer (after the parameters' dtype changes, or to free memory)."""
        self._arrays.clear()
