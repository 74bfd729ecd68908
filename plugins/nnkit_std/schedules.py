"""The standard learning-rate schedules. ``t`` is the number of completed epochs."""

from __future__ import annotations

import math

from nnkit import Schedule
from nnkit.errors import ConfigurationError


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigurationError(message)


class Constant(Schedule):
    """``rate = base_rate``."""

    def rate(self, epoch: int, base_rate: float, epochs: int) -> float:
        return base_rate


class Step(Schedule):
    """``rate = base_rate * factor ** floor(t / step_size)``: drop by ``factor`` every
    ``step_size`` epochs."""

    def __init__(self, step_size: int = 10, factor: float = 0.5) -> None:
        _check(
            isinstance(step_size, int) and step_size >= 1,
            f"step schedule step_size must be an integer >= 1, got {step_size!r}",
        )
        _check(0 < factor <= 1, f"step schedule factor must be in (0, 1], got {factor!r}")
        self.step_size = step_size
        self.factor = float(factor)

    def rate(self, epoch: int, base_rate: float, epochs: int) -> float:
        return base_rate * self.factor ** (epoch // self.step_size)


class Exponential(Schedule):
    """``rate = base_rate * decay_rate ** (t / decay_epochs)``."""

    def __init__(self, decay_rate: float = 0.96, decay_epochs: float = 1.0) -> None:
        _check(
            0 < decay_rate <= 1,
            f"exponential schedule decay_rate must be in (0, 1], got {decay_rate!r}",
        )
        _check(
            decay_epochs > 0,
            f"exponential schedule decay_epochs must be positive, got {decay_epochs!r}",
        )
        self.decay_rate = float(decay_rate)
        self.decay_epochs = float(decay_epochs)

    def rate(self, epoch: int, base_rate: float, epochs: int) -> float:
        return base_rate * self.decay_rate ** (epoch / self.decay_epochs)


class Cosine(Schedule):
    """Cosine annealing: ``rate = min_rate + (base_rate - min_rate) (1 + cos(pi t / T)) / 2``
    with ``T = decay_epochs`` (the run's epochs by default), then ``min_rate``."""

    def __init__(self, decay_epochs: int | None = None, min_rate: float = 0.0) -> None:
        _check(
            decay_epochs is None or (isinstance(decay_epochs, int) and decay_epochs >= 1),
            f"cosine schedule decay_epochs must be an integer >= 1, got {decay_epochs!r}",
        )
        _check(min_rate >= 0, f"cosine schedule min_rate must be >= 0, got {min_rate!r}")
        self.decay_epochs = decay_epochs
        self.min_rate = float(min_rate)

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
        _check(0 < factor < 1, f"plateau schedule factor must be in (0, 1), got {factor!r}")
        _check(
            isinstance(patience, int) and patience >= 0,
            f"plateau schedule patience must be an integer >= 0, got {patience!r}",
        )
        _check(
            isinstance(cooldown, int) and cooldown >= 0,
            f"plateau schedule cooldown must be an integer >= 0, got {cooldown!r}",
        )
        _check(
            min_delta >= 0 and min_rate >= 0, "plateau schedule min_delta and min_rate must be >= 0"
        )
        _check(
            mode in ("min", "max"), f"plateau schedule mode must be 'min' or 'max', got {mode!r}"
        )
        self.monitor = monitor
        self.factor = float(factor)
        self.patience = patience
        self.min_delta = float(min_delta)
        self.cooldown = cooldown
        self.min_rate = float(min_rate)
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
