"""The learning-rate schedule interface: the learning rate as a function of training time.

A schedule is driven by the ``lr_schedule`` callback, which sets the optimizer's
``learning_rate`` before each epoch (``per = "epoch"``) or before each batch
(``per = "step"``), so it works with every optimizer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Final

from nnkit.interfaces.component import Component

__all__ = ["Schedule", "UNITS"]

#: What a schedule's time counts, and so when its rate is set.
UNITS: Final = (
    "epoch",  # completed epochs; the rate is set before each epoch
    "step",  # completed optimizer steps (batches); the rate is set before each batch
)


class Schedule(Component, ABC):
    """The learning rate after ``t`` units of training, from the rate training started with.

    ``per`` says what ``t`` counts: ``"epoch"`` (the default) or ``"step"``. The
    ``lr_schedule`` callback may override it for one run (``per="step"`` turns a cosine
    over epochs into a cosine over steps).
    """

    #: The unit of time this schedule is written in; see `UNITS`.
    per: str = "epoch"

    @abstractmethod
    def rate(self, epoch: int, base_rate: float, epochs: int) -> float:
        """The learning rate after ``epoch`` completed units (0 for the first), given the
        initial rate ``base_rate`` and the run's total ``epochs`` of those units (epochs,
        or steps when the schedule runs per step)."""

    def reset(self) -> None:
        """Forget what earlier runs taught it (a plateau's cuts): called when training
        begins, so a reused schedule behaves the same in every `fit`."""

    def observe(self, epoch: int, logs: dict[str, float]) -> None:
        """Receive the logs of each finished epoch (for schedules that react to them,
        such as reducing the rate on a plateau). Nothing by default."""

    def monitored(self) -> str | None:
        """The logged quantity this schedule reacts to, if any (checked before training)."""
        return None
