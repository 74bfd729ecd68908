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
    stream of ``predict`` calls cannot stall training."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    def acquire_read(self) -> None:
        """Wait until no writer holds or waits for the lock, then read."""
        with self._condition:
            while self._writing or self._writers_waiting:
                self._condition.wait()
            self._readers += 1

    def release_read(self) -> None:
        with self._condition:
            self._readers -= 1
            if self._readers == 0:
                self._condition.notify_all()

    def acquire_write(self) -> None:
        """Wait until no reader or writer holds the lock, then write."""
        with self._condition:
            self._writers_waiting += 1
            try:
                while self._writing or self._readers:
                    self._condition.wait()
            finally:
                self._writers_waiting -= 1
            self._writing = True

    def release_write(self) -> None:
        with self._condition:
            self._writing = False
            self._condition.notify_all()

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
