"""The standard callbacks: early stopping, stopping on a non-finite loss, LR schedules."""

from __future__ import annotations

import math
import warnings

import numpy as np

from nnkit import Callback, Schedule
from nnkit.callbacks import TrainingContext
from nnkit.data import NON_NEGATIVE, non_negative_int, real_number
from nnkit.errors import ConfigurationError
from nnkit.registry import resolve


class EarlyStopping(Callback):
    """Stop when a logged quantity has not improved for ``patience`` epochs.

    Args:
        monitor: the logged quantity to watch (``val_loss``, ``val_accuracy``, ``loss``...).
        patience: epochs without improvement to wait before stopping.
        min_delta: the smallest change that counts as an improvement.
        mode: ``"min"``, ``"max"``, or ``"auto"`` (from the quantity: losses fall,
            accuracies rise).
        restore_best_weights: put back the weights of the best epoch when stopping, and
            at the end of training if the last epoch was not the best.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = True,
    ) -> None:
        patience = non_negative_int(patience, "early_stopping patience")
        min_delta = real_number(min_delta, "early_stopping min_delta", NON_NEGATIVE)
        if mode not in ("auto", "min", "max"):
            raise ConfigurationError(
                f"early_stopping mode must be 'auto', 'min' or 'max', got {mode!r}"
            )
        self.monitor = monitor
        self.patience = patience
        self.min_delta = float(min_delta)
        self.mode = mode
        self.restore_best_weights = bool(restore_best_weights)
        #: The epoch whose value was best, and the epoch training stopped at (0 if none).
        self.best_epoch = 0
        self.stopped_epoch = 0

    def set_context(self, context: TrainingContext) -> None:
        super().set_context(context)
        context.check_logged(self.monitor, "early_stopping")
        higher = self.mode == "max" or (
            self.mode == "auto" and context.higher_is_better[self.monitor]
        )
        self._sign = 1.0 if higher else -1.0  # compare sign * value, larger is better

    def on_train_begin(self) -> None:
        self.best = -math.inf
        self.best_epoch = 0
        self.stopped_epoch = 0
        self._wait = 0
        self._best_weights: np.ndarray | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        value = self._sign * logs[self.monitor]
        if value > self.best + self.min_delta or self.best_epoch == 0:
            self.best, self.best_epoch, self._wait = value, epoch, 0
            if self.restore_best_weights:
                self._best_weights = self.network.store.values.copy()
            return
        self._wait += 1
        if self._wait >= max(self.patience, 1):  # as Keras: stop after `patience` bad epochs
            self.stopped_epoch = epoch
            self.network.stop_training = True

    def on_train_end(self, logs: dict[str, float]) -> None:
        if self._best_weights is not None:
            self.network.store.values[...] = self._best_weights


class TerminateOnNaN(Callback):
    """Stop as soon as a batch's loss is NaN or infinite, saying at which epoch and batch.

    The message is issued as a `RuntimeWarning` and kept in `message`.
    """

    def __init__(self) -> None:
        self.message: str | None = None

    def on_train_begin(self) -> None:
        self.message = None
        self._epoch = 0

    def on_epoch_begin(self, epoch: int) -> None:
        self._epoch = epoch

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        loss = logs["loss"]
        if not math.isfinite(loss):
            self.message = (
                f"training stopped: the loss became {loss} at epoch {self._epoch}, batch "
                f"{batch}; try a smaller learning rate, gradient clipping (clip_norm), or "
                "check the data for extreme values"
            )
            warnings.warn(self.message, RuntimeWarning, stacklevel=2)
            self.network.stop_training = True


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate before each epoch from a schedule, and log it
    as ``learning_rate``.

    Args:
        schedule: a schedule name (``"cosine"``) or instance
            (``nnkit.schedule("step", step_size=10, factor=0.5)``).
    """

    def __init__(self, schedule: str | Schedule = "constant") -> None:
        self.schedule: Schedule = resolve("schedule", schedule)
        self._base_rate: float | None = None

    def set_context(self, context: TrainingContext) -> None:
        super().set_context(context)
        monitored = self.schedule.monitored()
        if monitored is not None:
            context.check_logged(monitored, f"schedule {type(self.schedule).__name__}")

    def on_train_begin(self) -> None:
        if self._base_rate is None:  # the rate the optimizer was built with
            self._base_rate = self.network.optimizer.learning_rate

    def on_epoch_begin(self, epoch: int) -> None:
        rate = self.schedule.rate(epoch - 1, self._base_rate, self.context.epochs)
        if not (math.isfinite(rate) and rate >= 0):
            raise ConfigurationError(f"the schedule gave learning rate {rate!r} for epoch {epoch}")
        self.network.optimizer.learning_rate = rate

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        logs["learning_rate"] = self.network.optimizer.learning_rate
        self.schedule.observe(epoch, logs)
