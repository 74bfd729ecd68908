"""Scratch arrays reused from one batch to the next, so steady-state training allocates nothing."""

from __future__ import annotations

import functools
import math

import numpy as np

__all__ = ["BufferCache", "constant"]


@functools.lru_cache(maxsize=256)
def constant(value: float, dtype: np.dtype) -> np.ndarray:
    """``value`` as a read-only 0-d array of ``dtype``, made once and shared: NumPy runs
    an operation with it faster than with a Python number, which it converts on every
    call (a learning rate, a clamp, a ``1/m`` per step). Give the dtype of the array it
    meets: a 0-d array of another float dtype would change the result's."""
    array = np.array(value, dtype=dtype)
    array.flags.writeable = False
    return array


class BufferCache:
    """Named scratch arrays, allocated on first request and then reused.

    Each name owns one flat block of memory, grown only when a larger shape is asked
    for; a request returns a C-contiguous view of its first elements. The last, smaller
    batch of an epoch therefore reuses the full batches' memory instead of allocating
    its own. Whatever a buffer held is overwritten by its next user: callers keep a
    buffer only until the next batch.
    """

    def __init__(self) -> None:
        self._blocks: dict[tuple[str, np.dtype], np.ndarray] = {}
        # perf: the view handed out for each shape, so a repeated request is one lookup.
        self._views: dict[tuple[str, tuple[int, ...], np.dtype], np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """An uninitialised C-contiguous array for ``name`` with ``shape`` and ``dtype``."""
        view = self._views.get((name, shape, dtype))
        return view if view is not None else self._view(name, shape, dtype, None)

    def filled(
        self, name: str, shape: tuple[int, ...], dtype: np.dtype, value: float
    ) -> np.ndarray:
        """An array of ``value`` for ``name``; callers must not write into it, which makes
        it safe to hand out to several threads at once."""
        view = self._views.get((name, shape, dtype))
        return view if view is not None else self._view(name, shape, dtype, value)

    def filled_like(self, name: str, array: np.ndarray, value: float) -> np.ndarray:
        """`filled` with the shape, dtype and memory order of ``array`` (see `like`)."""
        return self._in_order_of(name, array, value)

    def like(self, name: str, array: np.ndarray) -> np.ndarray:
        """An uninitialised array with the shape and dtype of ``array`` and, when ``array``
        is a transposed view of a contiguous block (Fortran-ordered, or nnkit-vision's
        images, ``(m, C, H, W)`` views of ``(C, H, W, m)`` blocks), the same memory order:
        an element-wise operation between arrays of different orders strides through
        memory and runs many times slower."""
        return self._in_order_of(name, array, None)

    def _in_order_of(self, name: str, array: np.ndarray, fill: float | None) -> np.ndarray:
        """`like` (``fill`` None) or `filled_like`: the block laid out as ``array`` is in
        memory, handed out as a view with ``array``'s axes."""
        flags = array.flags
        axes: tuple[int, ...] | None
        if flags.c_contiguous:
            shape, axes = array.shape, None
        elif array.ndim == 2 and flags.f_contiguous:  # perf: a Dense output in columns
            shape, axes = array.shape[::-1], (1, 0)
        else:
            axes = _memory_axes(array)
            shape = array.shape if axes is None else tuple(array.shape[a] for a in axes)
        view = self._views.get((name, shape, array.dtype))
        if view is None:
            view = self._view(name, shape, array.dtype, fill)
        return view if axes is None else view.transpose(_inverse(axes))

    def _view(
        self, name: str, shape: tuple[int, ...], dtype: np.dtype, fill: float | None
    ) -> np.ndarray:
        size = math.prod(shape)
        key = (name, np.dtype(dtype))
        block = self._blocks.get(key)
        if block is None or block.size < size:
            block = np.empty(size, dtype=dtype)
            if fill is not None:
                block.fill(fill)
            # Published only once filled, and the old block never written again: a
            # filled array may be shared by networks on several threads.
            self._blocks[key] = block
            # Views of the old block would keep it alive: forget them.
            for stale in [k for k in list(self._views) if (k[0], np.dtype(k[2])) == key]:
                self._views.pop(stale, None)
        view = self._views[name, shape, dtype] = block[:size].reshape(shape)
        return view

    def __getstate__(self) -> dict:
        # Scratch space is not state: a pickled network carries none of it.
        return {"_blocks": {}, "_views": {}}

    def clear(self) -> None:
        """Drop every buffer (after the parameters' dtype changes, or to free memory)."""
        self._blocks.clear()
        self._views.clear()


def _memory_axes(array: np.ndarray) -> tuple[int, ...] | None:
    """The axes of ``array`` from the slowest-varying in memory to the fastest, when it
    is a transposition of a C-contiguous block other than the block itself (a Fortran
    order reverses them); None for a C-contiguous array or a strided view."""
    if array.ndim < 2 or array.flags.c_contiguous:
        return None
    axes = tuple(sorted(range(array.ndim), key=lambda axis: -array.strides[axis]))
    return axes if array.transpose(axes).flags.c_contiguous else None


def _inverse(axes: tuple[int, ...]) -> tuple[int, ...]:
    """The transposition that undoes ``axes``."""
    return tuple(sorted(range(len(axes)), key=axes.__getitem__))
