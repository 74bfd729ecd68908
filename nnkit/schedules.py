"""The learning-rate schedule interface: the learning rate as a function of the epoch.

A schedule is used by the ``lr_schedule`` callback, which sets the optimizer's
``learning_rate`` before each epoch, so it works with every optimizer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from nnkit.component import Component

__all__ = ["Schedule"]


class Schedule(Component, ABC):
    """The learning rate for an epoch, from the rate training started with."""

    @abstractmethod
    def rate(self, epoch: int, base_rate: float, epochs: int) -> float:
        """The learning rate after ``epoch`` completed epochs (0 for the first epoch),
        given the initial rate ``base_rate`` and the run's total ``epochs``."""

    def observe(self, epoch: int, logs: dict[str, float]) -> None:
        """Receive the logs of each finished epoch (for schedules that react to them,
        such as reducing the rate on a plateau). Nothing by default."""

    def monitored(self) -> str | None:
        """The logged quantity this schedule reacts to, if any (checked before training)."""
        return None
