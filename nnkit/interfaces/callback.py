"""The callback interface: code that runs at the start and end of training, epochs and batches.

Callbacks watch training and steer it: stop early, change the learning rate, report
progress. The training loop tells each callback what it is about to run through
`Callback.set_context()` before the first batch, so a callback can reject a
setting that cannot work (a quantity that will never be logged) before any training.
"""

from __future__ import annotations

from abc import ABC
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nnkit.errors import ConfigurationError
from nnkit.interfaces.component import Component

if TYPE_CHECKING:
    from nnkit.engine.network import Network

__all__ = ["Callback", "TrainingContext"]


@dataclass(frozen=True)
class TrainingContext:
    """What a training run will do, handed to each callback before it starts.

    Attributes:
        network: the network being trained; set ``network.stop_training = True`` to stop
            after the current batch.
        epochs: the number of epochs asked for.
        steps_per_epoch: batches per epoch (``None`` when chunks of unknown size are
            read from a generator).
        logged: the name of every quantity each epoch will log (``loss``, metrics, and
            ``val_`` versions with validation data).
        higher_is_better: for each logged quantity, whether larger is better.
    """

    network: Network
    epochs: int
    steps_per_epoch: int | None
    logged: tuple[str, ...]
    higher_is_better: dict[str, bool]

    def check_logged(self, quantity: str, owner: str) -> None:
        """Raise `ConfigurationError` unless ``quantity`` will be logged."""
        if quantity not in self.logged:
            hint = ""
            if quantity.startswith("val_"):
                hint = " (validation quantities need validation_split or validation_data)"
            raise ConfigurationError(
                f"{owner} monitors {quantity!r}, which this training run does not log{hint}; "
                f"it logs: {', '.join(self.logged)}"
            )


class Callback(Component, ABC):  # noqa: B024 - every hook is optional
    """Hooks called by the training loop; override the ones you need.

    Epochs and batches are numbered from 1. ``logs`` maps each logged quantity to its
    value: the batch loss in `on_batch_end()`, the epoch's values in
    `on_epoch_end()`.
    """

    context: TrainingContext

    def set_context(self, context: TrainingContext) -> None:
        """Receive the run's `TrainingContext`; check settings against it here."""
        self.context = context

    @property
    def network(self) -> Network:
        """The network being trained."""
        return self.context.network

    def on_train_begin(self) -> None:
        """Before the first epoch."""

    def on_train_end(self, logs: dict[str, float]) -> None:
        """After the last epoch (or after training stopped), with the last epoch's logs."""

    def on_epoch_begin(self, epoch: int) -> None:
        """Before each epoch."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        """After each epoch and its validation."""

    def on_batch_begin(self, batch: int) -> None:
        """Before each batch. Only called for callbacks that override it."""

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        """After each batch's update, with its loss. Only called for callbacks that
        override it, so that the others add no cost per batch."""
