"""Where one forward/backward pass keeps its arrays, so that layers keep none.

A layer object holds its configuration and views of its parameters, nothing of any one
call. What a call computes (``Z``, ``A``, the input a gradient needs, scratch buffers)
lives in a `Workspace` that the caller owns and hands to each layer, as PyTorch's
``autograd.Function`` keeps what backward needs on ``ctx`` rather than on ``self``. The
network keeps a pool of workspaces: each call, on whichever thread, borrows one for its
duration, so concurrent calls never share arrays, while buffers are still reused from
one batch (and one call) to the next.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from nnkit.interfaces.buffers import BufferCache

__all__ = ["Workspace", "WorkspacePool"]


class Workspace:
    """The arrays of one pass through one layer: what `backward` needs from `forward`,
    and named scratch buffers kept from batch to batch.

    A layer saves what it needs as attributes (``ws.A_prev = A_prev``) and reads them
    back in `backward`; it asks for output and scratch arrays with `buffer()`. A layer
    that holds layers (a residual block) gives each inner layer its own `child()`.
    A workspace serves one call at a time; what it held is overwritten by its next user.
    """

    #: The mask of padded positions coming into this call's layer, ``(m, T)`` booleans
    #: (True at a real position), set by the network before `Layer.forward` when its
    #: layers make masks; None when there is none (a class default, so that an unset
    #: mask reads None and a network without masks pays nothing).
    mask: np.ndarray | None = None
    #: The mask of the network's output after a forward pass (None: no mask), for the
    #: loss and the metrics to leave masked positions out.
    output_mask: np.ndarray | None = None
    #: The targets of this call's batch when their rows are one-hot (class labels that
    #: `fit` encoded), else None. The training loop sets it; the network then lets a
    #: fused loss skip what only other targets need (`Loss.fused_gradient`'s
    #: ``one_hot``). It is the array itself, so targets a `train_step` override makes
    #: anew are never taken for one-hot.
    one_hot_targets: np.ndarray | None = None

    def __init__(self) -> None:
        # perf: set on the instance too, where CPython reads an attribute fastest
        self.mask = self.output_mask = self.one_hot_targets = None
        self._buffers = BufferCache()
        self._children: list[Workspace] = []
        # perf: a layer asks for several buffers per batch; the cache's own methods,
        # bound here, spare a call through the methods below (which document them).
        self.buffer = self._buffers.get  # type: ignore[method-assign]
        self.buffer_like = self._buffers.like  # type: ignore[method-assign]
        self.filled = self._buffers.filled  # type: ignore[method-assign]

    if TYPE_CHECKING:  # layers save arrays under names of their choosing (ws.Z = Z)

        def __setattr__(self, name: str, value: Any) -> None: ...

        # perf: declared for type checkers only. A class with __getattr__ makes every
        # attribute read take CPython's slow path, a few hundred instructions each, and
        # a training step reads a workspace some twenty times. A name no forward() saved
        # raises the usual AttributeError, which names it.
        def __getattr__(self, name: str) -> Any: ...

    def buffer(self, name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """An uninitialised C-contiguous array for ``name``, reused by the next call that
        asks for the same name (grown if that call needs more)."""
        return self._buffers.get(name, shape, dtype)

    def buffer_like(self, name: str, array: np.ndarray) -> np.ndarray:
        """An uninitialised array with the shape and dtype of ``array`` and, when
        ``array`` is Fortran-ordered (a transposed view), the same memory order, so an
        element-wise operation between the two runs over contiguous memory."""
        return self._buffers.like(name, array)

    def filled(self, name: str, shape: tuple[int, ...], dtype: Any, value: float) -> np.ndarray:
        """An array of ``value``, filled once and never to be written by the caller
        (the ones a bias gradient sums against, for example)."""
        return self._buffers.filled(name, shape, dtype, value)

    def child(self, index: int) -> Workspace:
        """The workspace of inner layer ``index`` of a layer that holds layers."""
        while len(self._children) <= index:
            self._children.append(Workspace())
        return self._children[index]

    def children(self, count: int) -> list[Workspace]:
        """The workspaces of inner layers ``0 .. count - 1`` (at least), in order."""
        if len(self._children) < count:
            self.child(count - 1)
        return self._children

    def clear(self) -> None:
        """Forget every array: buffers, children and whatever layers saved here."""
        saved = [name for name in vars(self) if not name.startswith("_") and name not in _BOUND]
        for name in saved:
            delattr(self, name)
        self.mask = self.output_mask = self.one_hot_targets = None
        self._buffers.clear()
        self._children.clear()


#: The cache methods `Workspace.__init__` binds as attributes, which `clear` keeps.
_BOUND = frozenset({"buffer", "buffer_like", "filled"})


class WorkspacePool:
    """Workspaces for the calls running on one network, one per concurrent call.

    `borrow()` hands a call a workspace no other call is using (a new one if all are
    busy) and takes it back afterwards, so buffers are reused across calls without ever
    being shared by two at once. At most ``keep`` idle workspaces are kept.
    """

    def __init__(self, keep: int = 8) -> None:
        self.keep = keep
        self._idle: list[Workspace] = []
        self._lock = threading.Lock()

    @contextmanager
    def borrow(self) -> Iterator[Workspace]:
        """A workspace for the duration of a ``with`` block."""
        with self._lock:
            workspace = self._idle.pop() if self._idle else Workspace()
        try:
            yield workspace
        finally:
            with self._lock:
                if len(self._idle) < self.keep:
                    self._idle.append(workspace)

    def clear(self) -> None:
        """Drop the idle workspaces (after the network's dtype or shapes change)."""
        with self._lock:
            self._idle.clear()
