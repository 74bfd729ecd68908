"""The standard callbacks: early stopping, stopping on a non-finite loss, learning-rate
schedules, checkpoints and a CSV log."""

from __future__ import annotations

import csv
import math
import os
import warnings
from typing import TextIO

import numpy as np

from nnkit import Callback, Schedule
from nnkit.arguments import NON_NEGATIVE, non_negative_int, real_number
from nnkit.errors import ConfigurationError
from nnkit.interfaces.callback import TrainingContext
from nnkit.interfaces.schedule import UNITS
from nnkit.registry.factories import resolve


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
    """Set the optimizer's learning rate from a schedule, before each epoch or before
    each batch, and log it as ``learning_rate``.

    Args:
        schedule: a schedule name (``"cosine"``) or instance
            (``nnkit.schedule("step", step_size=10, factor=0.5)``).
        per: ``"epoch"`` or ``"step"``, overriding the schedule's own ``per``; per step,
            the schedule counts optimizer steps and its length is the run's epochs times
            its batches per epoch.
    """

    def __init__(self, schedule: str | Schedule = "constant", per: str | None = None) -> None:
        self.schedule: Schedule = resolve("schedule", schedule)
        if per is not None and per not in UNITS:
            raise ConfigurationError(f"lr_schedule per must be 'epoch' or 'step', got {per!r}")
        self.per = per
        if self._unit == "step" and self.schedule.monitored() is not None:
            raise ConfigurationError(
                f"schedule {type(self.schedule).__name__} reacts to a logged quantity, which "
                "is only known at the end of an epoch: run it per='epoch'"
            )
        self._optimizer: object = None  # the optimizer whose base rate is remembered
        self._base_rate = 0.0
        self._last_rate: float | None = None

    @property
    def _unit(self) -> str:
        return self.per or self.schedule.per

    def set_context(self, context: TrainingContext) -> None:
        super().set_context(context)
        monitored = self.schedule.monitored()
        if monitored is not None:
            context.check_logged(monitored, f"schedule {type(self.schedule).__name__}")

    def on_train_begin(self) -> None:
        optimizer = self.network.optimizer
        # A rate this callback set is not a base rate: a second fit of the same network
        # starts again from the rate the optimizer had before the first.
        if optimizer is not self._optimizer or optimizer.learning_rate != self._last_rate:
            self._optimizer, self._base_rate = optimizer, optimizer.learning_rate
        self._last_rate = None
        self.schedule.reset()
        self._epoch = 0

    def on_epoch_begin(self, epoch: int) -> None:
        self._epoch = epoch
        if self._unit == "epoch":
            self._set(epoch - 1, self.context.epochs, f"epoch {epoch}")

    def on_batch_begin(self, batch: int) -> None:
        if self._unit == "step":
            steps = self.context.steps_per_epoch
            if steps is None:
                raise ConfigurationError(
                    "a per-step schedule needs the number of batches per epoch, which a "
                    "generator of chunks does not tell; give nnkit.chunks(X, y) instead, or "
                    "run the schedule per='epoch'"
                )
            step = (self._epoch - 1) * steps + batch - 1
            self._set(step, self.context.epochs * steps, f"step {step + 1}")

    def _set(self, t: int, total: int, when: str) -> None:
        rate = self.schedule.rate(t, self._base_rate, total)
        if not (math.isfinite(rate) and rate >= 0):
            raise ConfigurationError(f"the schedule gave learning rate {rate!r} for {when}")
        self.network.optimizer.learning_rate = self._last_rate = rate

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        logs["learning_rate"] = self.network.optimizer.learning_rate
        self.schedule.observe(epoch, logs)


def _improvement_sign(mode: str, monitor: str, context: TrainingContext) -> float:
    """+1 if larger values of ``monitor`` are better, -1 if smaller ones are."""
    higher = mode == "max" or (mode == "auto" and context.higher_is_better[monitor])
    return 1.0 if higher else -1.0


class ModelCheckpoint(Callback):
    """Save the network after each epoch, or only when ``monitor`` improves, through the
    atomic `Network.save` (a crash mid-write never damages the last good file).

    Args:
        path: the file to write; ``{epoch}`` and logged names in it are filled in
            (``"model-{epoch:03d}-{val_loss:.3f}.nnkit"``) for a file per epoch.
        monitor: the logged quantity that decides which epoch is best.
        save_best_only: save only epochs that improve on the best so far.
        mode: ``"min"``, ``"max"``, or ``"auto"`` (from the quantity).
        include_optimizer: save the optimizer's state too, so training can resume.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = "model.nnkit",
        monitor: str = "val_loss",
        save_best_only: bool = True,
        mode: str = "auto",
        include_optimizer: bool = True,
    ) -> None:
        if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
            raise ConfigurationError(f"model_checkpoint path must be a file path, got {path!r}")
        if mode not in ("auto", "min", "max"):
            raise ConfigurationError(
                f"model_checkpoint mode must be 'auto', 'min' or 'max', got {mode!r}"
            )
        self.path = os.fspath(path)
        self.monitor = monitor
        self.save_best_only = bool(save_best_only)
        self.mode = mode
        self.include_optimizer = bool(include_optimizer)
        #: The best value of ``monitor`` so far, the epoch it came from (0 if none),
        #: and the file last written.
        self.best = math.nan
        self.best_epoch = 0
        self.last_saved: str | None = None

    def set_context(self, context: TrainingContext) -> None:
        super().set_context(context)
        if self.save_best_only:
            context.check_logged(self.monitor, "model_checkpoint")
            self._sign = _improvement_sign(self.mode, self.monitor, context)

    def on_train_begin(self) -> None:
        self.best = math.nan
        self.best_epoch = 0
        self.last_saved = None

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self.save_best_only:
            value = logs[self.monitor]
            if not math.isfinite(value):
                return
            if self.best_epoch and self._sign * value <= self._sign * self.best:
                return
            self.best, self.best_epoch = value, epoch
        try:
            path = self.path.format(epoch=epoch, **logs)
        except (KeyError, IndexError, ValueError) as error:
            raise ConfigurationError(
                f"model_checkpoint path {self.path!r} cannot be filled in: {error!r}; it may "
                f"name {{epoch}} and the logged quantities: {', '.join(logs)}"
            ) from None
        self.network.save(path, include_optimizer=self.include_optimizer)
        self.last_saved = path


class CSVLogger(Callback):
    """Write one row per epoch to a CSV file: the epoch and every logged value.

    The header comes from the first epoch's logs. List it after callbacks that add to
    the logs (``lr_schedule`` adds ``learning_rate``) to have their values too.

    Args:
        path: the CSV file.
        append: add to an existing file (its header is kept) instead of replacing it.
        separator: the field separator.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = "training.csv",
        append: bool = False,
        separator: str = ",",
    ) -> None:
        if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
            raise ConfigurationError(f"csv_logger path must be a file path, got {path!r}")
        if not isinstance(separator, str) or len(separator) != 1:
            raise ConfigurationError(
                f"csv_logger separator must be one character, got {separator!r}"
            )
        self.path = os.fspath(path)
        self.append = bool(append)
        self.separator = separator
        self._file: TextIO | None = None

    def on_train_begin(self) -> None:
        self.close()
        continuing = self.append and os.path.exists(self.path) and os.path.getsize(self.path)
        self._columns: list[str] | None = None
        if continuing:
            with open(self.path, newline="", encoding="utf-8") as existing:
                self._columns = next(csv.reader(existing, delimiter=self.separator), None)
        self._file = open(self.path, "a" if self.append else "w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file, delimiter=self.separator)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self._file is None:
            return
        if self._columns is None:
            self._columns = ["epoch", *logs]
            self._writer.writerow(self._columns)
        elif set(self._columns[1:]) != set(logs):
            raise ConfigurationError(
                f"csv_logger cannot append to {self.path}: its columns are "
                f"{', '.join(self._columns)}, but this run logs epoch, {', '.join(logs)}; "
                "write to another file or pass append=False"
            )
        self._writer.writerow([epoch, *(logs[name] for name in self._columns[1:])])
        self._file.flush()  # each row is on disk as soon as its epoch ends

    def on_train_end(self, logs: dict[str, float]) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (training's end does; so does the next training's start)."""
        if self._file is not None:
            self._file.close()
            self._file = None
