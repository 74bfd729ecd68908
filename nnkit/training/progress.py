"""What training prints: a progress bar per epoch in a terminal, a line per epoch otherwise.

The bar uses tqdm, an optional extra (``pip install "nnkit-numpy[progress]"``); without it, or
when the output is not a terminal (a log file, a pipe, CI), each epoch prints one plain
line instead.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from nnkit.errors import ConfigurationError
from nnkit.interfaces.callback import Callback

__all__ = ["progress_callback", "EpochLines", "ProgressBar", "format_logs"]


def format_logs(logs: dict[str, float]) -> str:
    """``"loss: 0.1234 - accuracy: 0.9700"``."""
    return " - ".join(f"{name}: {value:.4f}" for name, value in logs.items())


class EpochLines(Callback):
    """Prints ``epoch 3/20 - loss: ... - accuracy: ...`` after each epoch."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        print(
            f"epoch {epoch}/{self.context.epochs} - {format_logs(logs)}",
            file=self.stream,
            flush=True,
        )


class ProgressBar(Callback):
    """A tqdm bar per epoch, showing the running loss, then the epoch's logs."""

    def __init__(self, stream: TextIO, tqdm: Any) -> None:
        self.stream = stream
        self._tqdm = tqdm
        self._bar: Any = None
        self._loss_total = 0.0

    def on_epoch_begin(self, epoch: int) -> None:
        self._bar = self._tqdm(
            total=self.context.steps_per_epoch,
            desc=f"epoch {epoch}/{self.context.epochs}",
            file=self.stream,
            unit="batch",
            leave=True,
            dynamic_ncols=True,
        )
        self._loss_total = 0.0

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        self._loss_total += logs["loss"]
        self._bar.set_postfix_str(f"loss: {self._loss_total / batch:.4f}", refresh=False)
        self._bar.update(1)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self._bar.set_postfix_str(format_logs(logs), refresh=False)
        self._bar.close()

    def on_train_end(self, logs: dict[str, float]) -> None:
        if self._bar is not None:
            self._bar.close()  # training stopped mid-epoch


def progress_callback(verbose: int, stream: TextIO | None) -> Callback | None:
    """The reporter for ``fit(verbose=...)``: 0 silent, 1 a bar in a terminal (plain lines
    elsewhere), 2 plain lines always."""
    if verbose not in (0, 1, 2) or isinstance(verbose, float):
        raise ConfigurationError(f"verbose must be 0, 1 or 2, got {verbose!r}")
    if not verbose:
        return None
    stream = sys.stdout if stream is None else stream
    if verbose == 1 and getattr(stream, "isatty", lambda: False)():
        try:
            from tqdm.auto import tqdm
        except ImportError:
            pass
        else:
            return ProgressBar(stream, tqdm)
    return EpochLines(stream)
