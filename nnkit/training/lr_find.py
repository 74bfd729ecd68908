"""The learning-rate range test: train a copy of a network while the rate grows
exponentially, and see where the loss falls fastest (Smith, "Cyclical Learning Rates").
"""

from __future__ import annotations

import copy
import math
import os
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nnkit.arguments import positive_int
from nnkit.errors import ConfigurationError, DivergenceWarning, MissingExtraError
from nnkit.interfaces.callback import Callback

if TYPE_CHECKING:
    from nnkit.engine.network import Network

__all__ = ["lr_find", "RangeTestResult"]

#: The weight of the past in the smoothed loss (an exponential moving average): about
#: ten steps' memory, enough to calm batch noise without lagging far behind the rate.
SMOOTHING = 0.9
#: The share of the first steps the suggestion ignores: the average is still settling.
SETTLING = 0.1
#: The test stops once the smoothed loss exceeds this multiple of its lowest value.
DIVERGENCE_FACTOR = 4.0


@dataclass(frozen=True)
class RangeTestResult:
    """What a range test measured, one entry per optimizer step.

    Attributes:
        rates: the learning rate of each step, growing exponentially.
        losses: each step's batch loss.
        smoothed: the losses smoothed by an exponential moving average (bias-corrected).
        suggestion: the rate where the smoothed loss falls fastest against the logarithm
            of the rate; a good starting rate (NaN if the loss never fell).
    """

    rates: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestion: float

    def plot(self, path: str | os.PathLike[str] | None = None) -> Any:
        """Draw the loss (raw and smoothed) against the rate on a logarithmic axis, with
        the suggested rate marked; save to ``path`` if given. Returns the matplotlib
        ``Figure``. Needs matplotlib: ``pip install "nnkit[plot]"``."""
        try:
            from matplotlib.figure import Figure
        except ImportError:
            raise MissingExtraError(
                'lr_find plotting needs matplotlib, an optional extra: pip install "nnkit[plot]"'
            ) from None
        figure = Figure(figsize=(5.5, 3.8), layout="constrained")
        axes = figure.subplots()
        axes.plot(self.rates, self.losses, alpha=0.35, label="batch loss")
        axes.plot(self.rates, self.smoothed, label="smoothed")
        if math.isfinite(self.suggestion):
            axes.axvline(
                self.suggestion,
                color="tab:red",
                linestyle="--",
                label=f"suggested {self.suggestion:.2g}",
            )
        axes.set_xscale("log")
        axes.set_xlabel("learning rate")
        axes.set_ylabel("loss")
        axes.grid(alpha=0.3)
        axes.legend()
        if path is not None:
            figure.savefig(os.fspath(path), dpi=110)
        return figure


class _RangeTest(Callback):
    """Sets each step's rate and records its loss; stops when done or diverged."""

    def __init__(self, rates: np.ndarray) -> None:
        self.rates = rates
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self._average = 0.0

    def on_batch_begin(self, batch: int) -> None:
        self.network.optimizer.learning_rate = float(self.rates[len(self.losses)])

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        loss = logs["loss"]
        self.losses.append(loss)
        self._average = SMOOTHING * self._average + (1 - SMOOTHING) * loss
        smoothed = self._average / (1 - SMOOTHING ** len(self.losses))
        self.smoothed.append(smoothed)
        diverged = not math.isfinite(smoothed) or smoothed > DIVERGENCE_FACTOR * min(self.smoothed)
        if len(self.losses) == len(self.rates) or diverged:
            self.network.stop_training = True


def lr_find(
    network: Network,
    X: Any,
    y: Any,
    start: float = 1e-7,
    end: float = 10.0,
    steps: int = 100,
    batch_size: int = 32,
    plot: str | os.PathLike[str] | None = None,
    **fit_options: Any,
) -> RangeTestResult:
    """Run a learning-rate range test on a copy of ``network`` (the network itself is
    never trained): ``steps`` optimizer steps on batches of ``X`` and ``y``, the rate
    growing exponentially from ``start`` to ``end``, stopping early once the loss
    diverges.

    Args:
        network: the network to test; it is copied, and the copy is trained.
        X: training features, as for `Network.fit`.
        y: training targets, as for `Network.fit`.
        start: the first learning rate.
        end: the last learning rate.
        steps: the number of steps (and of rates tried).
        batch_size: samples per step.
        plot: a file to draw the loss against the rate in (needs matplotlib).
        fit_options: passed on to `Network.fit` (``sample_weight``, ``clip_norm``...).

    Returns:
        A `RangeTestResult` with the rates, the losses and the suggested rate.
    """
    steps = positive_int(steps, "steps")
    if steps < 2:
        raise ConfigurationError(f"lr_find needs steps >= 2, got {steps}")
    for name, value in (("start", start), ("end", end)):
        if not (isinstance(value, (int, float)) and 0 < value < math.inf):
            raise ConfigurationError(f"lr_find {name} must be a positive number, got {value!r}")
    if not start < end:
        raise ConfigurationError(f"lr_find needs start < end, got start={start!r}, end={end!r}")
    for refused in ("epochs", "callbacks", "validation_split", "validation_data", "metrics"):
        if refused in fit_options:
            raise ConfigurationError(f"lr_find sets {refused} itself; leave it out")
    trial = copy.deepcopy(network)
    rates = start * (end / start) ** (np.arange(steps) / (steps - 1))
    test = _RangeTest(rates)
    n_samples = len(X)
    epochs = -(-steps // max(-(-n_samples // batch_size), 1))
    with warnings.catch_warnings():
        # The test drives the rate until the loss blows up: that is its point.
        warnings.simplefilter("ignore", DivergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        trial.fit(
            X,
            y,
            epochs=epochs,
            batch_size=batch_size,
            callbacks=[test],
            metrics=[],
            verbose=0,
            **fit_options,
        )
    losses = np.asarray(test.losses)
    smoothed = np.asarray(test.smoothed)
    result = RangeTestResult(
        rates=rates[: len(losses)].copy(),
        losses=losses,
        smoothed=smoothed,
        suggestion=_steepest_descent(rates[: len(losses)], smoothed),
    )
    if plot is not None:
        result.plot(plot)
    return result


def _steepest_descent(rates: np.ndarray, smoothed: np.ndarray) -> float:
    """The rate where the smoothed loss falls fastest per unit of ``log(rate)``."""
    settled = int(len(rates) * SETTLING)
    rates, smoothed = rates[settled:], smoothed[settled:]
    finite = np.isfinite(smoothed)
    if np.count_nonzero(finite) < 3:
        return float("nan")
    rates, smoothed = rates[finite], smoothed[finite]
    slope = np.gradient(smoothed, np.log(rates))
    best = int(np.argmin(slope))
    return float(rates[best]) if slope[best] < 0 else float("nan")
