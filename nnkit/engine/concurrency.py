"""How calls on one network from several threads stay apart.

Inference only reads the parameters, so any number of ``predict`` and ``evaluate``
calls run at once (each in its own workspace). Training writes them, one optimizer step
at a time: a step waits until no call is reading, and a call that starts while a step
is waiting waits for that step. A call therefore sees the weights of whole steps only,
never half an update, and every batch of one call sees the same weights.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["ReadWriteLock"]


class ReadWriteLock:
    """Many readers or one writer; a waiting writer goes before new readers, so a
    stream of ``predict`` calls cannot stall training.

    perf: a writer that finds no reader (training alone, the common case) pays for one
    lock and one check of an event per optimizer step, a microsecond or less.
    """

    def __init__(self) -> None:
        # Held by a writer for its whole turn; readers pass through it to register, so
        # none registers while a writer holds or waits for it.
        self._gate = threading.Lock()
        self._count_lock = threading.Lock()
        self._readers = 0
        self._no_readers = threading.Event()
        self._no_readers.set()
        # perf: releasing the write lock is releasing the gate: bound here, once per
        # optimizer step costs no Python call (release_write below documents it).
        self.release_write = self._gate.release  # type: ignore[method-assign]

    def acquire_read(self) -> None:
        """Wait until no writer holds or waits for the lock, then read."""
        with self._gate, self._count_lock:
            self._readers += 1
            self._no_readers.clear()

    def release_read(self) -> None:
        with self._count_lock:
            self._readers -= 1
            if self._readers == 0:
                self._no_readers.set()

    def acquire_write(self) -> None:
        """Wait until no reader or writer holds the lock, then write."""
        self._gate.acquire()
        # perf: with the gate held no reader can register, only leave; so when none is
        # registered now, none can be, and waiting on the event (a Condition, several
        # Python calls) is skipped: training alone pays one lock per step.
        if self._readers:
            self._no_readers.wait()

    def release_write(self) -> None:
        self._gate.release()

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Hold the lock as a reader for a ``with`` block."""
        self.acquire_read()
        try:
            yield
        finally:
            self.release_read()

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the lock as the writer for a ``with`` block."""
        self.acquire_write()
        try:
            yield
        finally:
            self.release_write()
