"""The standard learning-rate schedules. ``t`` is the number of completed epochs."""

from __future__ import annotations

import math
from typing import Final

from nnkit import Schedule
from nnkit.data import (
    NON_NEGATIVE,
    POSITIVE,
    Interval,
    non_negative_int,
    positive_int,
    real_number,
)
from nnkit.errors import ConfigurationError

#: A factor that shrinks the rate, or leaves it: (0, 1].
SHRINKING: Final = Interval(0, 1, closed_low=False, closed_high=True)
#: A factor that strictly shrinks the rate: (0, 1).
STRICTLY_SHRINKING: Final = Interval(0, 1, closed_low=False)


class Constant(Schedule):
    """``rate = base_rate``."""

    def rate(self, epoch: int, base_rate: float, epochs: int) -> float:
        return base_rate


class Step(Schedule):
    """``rate = base_rate * factor ** floor(t / step_size)``: drop by ``factor`` every
    ``step_size`` epochs."""

    def __init__(self, step_size: int = 10, factor: float = 0.5) -> None:
        self.step_size = positive_int(step_size, "step schedule step_size")
        self.factor = real_number(factor, "step schedule factor", SHRINKING)

    def rate(self, epoch: int, base_rate: float, epochs: int) -> float:
        return base_rate * self.factor ** (epoch // self.step_size)


class Exponential(Schedule):
    """``rate = base_rate * decay_rate ** (t / decay_epochs)``."""

    def __init__(self, decay_rate: float = 0.96, decay_epochs: float = 1.0) -> None:
        self.decay_rate = real_number(decay_rate, "exponential schedule decay_rate", SHRINKING)
        self.decay_epochs = real_number(decay_epochs, "exponential schedule decay_epochs", POSITIVE)

    def rate(self, epoch: int, base_rate: float, epochs: int) -> float:
        return base_rate * self.decay_rate ** (epoch / self.decay_epochs)


class Cosine(Schedule):
    """Cosine annealing: ``rate = min_rate + (base_rate - min_rate) (1 + cos(pi t / T)) / 2``
    with ``T = decay_epochs`` (the run's epochs by default), then ``min_rate``."""

    def __init__(self, decay_epochs: int | None = None, min_rate: float = 0.0) -> None:
        self.decay_epochs = (
            None
            if decay_epochs is None
            else positive_int(decay_epochs, "cosine schedule decay_epochs")
        )
        self.min_rate = real_number(min_rate, "cosine schedule min_rate", NON_NEGATIVE)

    def rate(self, epoch: int, base_rate: float, epochs: int) -> float:
        period = self.decay_epochs or epochs
        progress = min(epoch, period) / period
        return self.min_rate + (base_rate - self.min_rate) * (1 + math.cos(math.pi * progress)) / 2


class Plateau(Schedule):
    """Multiply the rate by ``factor`` when ``monitor`` has not improved for ``patience``
    epochs, waiting ``cooldown`` epochs after each reduction, never below ``min_rate``."""

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_rate: float = 0.0,
        mode: str = "min",
    ) -> None:
        if mode not in ("min", "max"):
            raise ConfigurationError(f"plateau schedule mode must be 'min' or 'max', got {mode!r}")
        self.monitor = monitor
        self.factor = real_number(factor, "plateau schedule factor", STRICTLY_SHRINKING)
        self.patience = non_negative_int(patience, "plateau schedule patience")
        self.min_delta = real_number(min_delta, "plateau schedule min_delta", NON_NEGATIVE)
        self.cooldown = non_negative_int(cooldown, "plateau schedule cooldown")
        self.min_rate = real_number(min_rate, "plateau schedule min_rate", NON_NEGATIVE)
        self.mode = mode
        self.scale = 1.0
        self._best = math.inf
        self._wait = 0
        self._cooling = 0

    def monitored(self) -> str:
        return self.monitor

    def rate(self, epoch: int, base_rate: float, epochs: int) -> float:
        return max(base_rate * self.scale, self.min_rate)

    def observe(self, epoch: int, logs: dict[str, float]) -> None:
        value = logs[self.monitor] * (1 if self.mode == "min" else -1)
        if self._cooling:
            self._cooling -= 1
        if value < self._best - self.min_delta:
            self._best, self._wait = value, 0
        elif not self._cooling:
            self._wait += 1
            if self._wait >= max(self.patience, 1):
                self.scale *= self.factor
                self._wait, self._cooling = 0, self.cooldown
