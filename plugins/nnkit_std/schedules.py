"""The standard learning-rate schedules. ``t`` is the number of completed epochs (or
steps, for a schedule run per step)."""

from __future__ import annotations

import math
from typing import Final

from nnkit import Schedule
from nnkit.arguments import (
    NON_NEGATIVE,
    POSITIVE,
    Interval,
    non_negative_int,
    positive_int,
    real_number,
)
from nnkit.errors import ConfigurationError
from nnkit.interfaces.schedule import UNITS
from nnkit.registry.factories import resolve

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
        self.reset()

    def reset(self) -> None:
        #: The product of the cuts so far: the rate is ``base_rate * scale``.
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


class LinearWarmup(Schedule):
    """Rise linearly to the base rate over ``warmup`` epochs (or steps), then hand over
    to ``after`` or hold the base rate.

    ``rate = base_rate * (t + 1) / warmup`` for ``t < warmup``, so the first update
    already moves; afterwards ``after`` runs as if training started there, over the
    ``total - warmup`` units that remain.

    Args:
        warmup: the number of epochs or steps to warm up over.
        after: the schedule (name or instance) that follows, or ``None`` to hold.
        per: ``"epoch"`` or ``"step"``; ``after`` counts in the same unit.
    """

    def __init__(
        self, warmup: int = 5, after: Schedule | str | None = None, per: str = "epoch"
    ) -> None:
        self.warmup = positive_int(warmup, "linear_warmup warmup")
        if per not in UNITS:
            raise ConfigurationError(f"linear_warmup per must be 'epoch' or 'step', got {per!r}")
        self.after: Schedule | None = None if after is None else resolve("schedule", after)
        if self.after is not None and self.after.monitored() is not None:
            raise ConfigurationError(
                "linear_warmup cannot hand over to a schedule that watches a logged quantity "
                "(plateau): give it its own lr_schedule callback instead"
            )
        self.per = per

    def reset(self) -> None:
        if self.after is not None:
            self.after.reset()

    def rate(self, epoch: int, base_rate: float, epochs: int) -> float:
        if epoch < self.warmup:
            return base_rate * (epoch + 1) / self.warmup
        if self.after is None:
            return base_rate
        return self.after.rate(epoch - self.warmup, base_rate, max(epochs - self.warmup, 1))


class OneCycle(Schedule):
    """The one-cycle policy (Smith and Topin), as PyTorch's ``OneCycleLR``, per step.

    The rate rises from ``max_lr / div_factor`` to ``max_lr`` over the first
    ``pct_start`` of ``total_steps``, then falls to ``max_lr / (div_factor *
    final_div_factor)`` by the last step, along half a cosine (``anneal="cos"``) or a
    line (``"linear"``); after ``total_steps`` it holds the final rate. Momentum is not
    cycled.

    Args:
        max_lr: the peak rate; the optimizer's own rate by default.
        total_steps: the length of the cycle; the run's epochs times its batches per
            epoch by default.
        pct_start: the share of the cycle spent rising.
        anneal: ``"cos"`` or ``"linear"``.
        div_factor: the starting rate is ``max_lr / div_factor``.
        final_div_factor: the final rate is the starting rate / ``final_div_factor``.
    """

    per = "step"

    def __init__(
        self,
        max_lr: float | None = None,
        total_steps: int | None = None,
        pct_start: float = 0.3,
        anneal: str = "cos",
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
    ) -> None:
        self.max_lr = None if max_lr is None else real_number(max_lr, "one_cycle max_lr", POSITIVE)
        if total_steps is not None and positive_int(total_steps, "one_cycle total_steps") < 2:
            raise ConfigurationError(
                f"one_cycle total_steps must be an integer >= 2 or None, got {total_steps!r}"
            )
        self.total_steps = None if total_steps is None else int(total_steps)
        self.pct_start = real_number(
            pct_start, "one_cycle pct_start", Interval(0, 1, closed_low=False, closed_high=False)
        )
        if anneal not in ("cos", "linear"):
            raise ConfigurationError(f"one_cycle anneal must be 'cos' or 'linear', got {anneal!r}")
        self.anneal = anneal
        self.div_factor = real_number(div_factor, "one_cycle div_factor", POSITIVE)
        self.final_div_factor = real_number(
            final_div_factor, "one_cycle final_div_factor", POSITIVE
        )

    def rate(self, epoch: int, base_rate: float, epochs: int) -> float:
        peak = base_rate if self.max_lr is None else self.max_lr
        start = peak / self.div_factor
        final = start / self.final_div_factor
        total = self.total_steps or epochs
        step = min(epoch, total - 1)
        # PyTorch's phase boundaries: the rise ends at step pct_start * total - 1.
        rise_end = self.pct_start * total - 1
        if step <= rise_end:
            return self._anneal(start, peak, step / rise_end if rise_end > 0 else 1.0)
        return self._anneal(peak, final, (step - rise_end) / (total - 1 - rise_end))

    def _anneal(self, begin: float, end: float, fraction: float) -> float:
        if self.anneal == "linear":
            return begin + (end - begin) * fraction
        return end + (begin - end) / 2 * (math.cos(math.pi * fraction) + 1)
