"""Checking the numbers users give as settings: a learning rate, a dropout rate, a penalty.

Settings may be Python or NumPy numbers alike; `real_number`, `positive_int` and
`non_negative_int` check them and name the setting in the error.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from nnkit.errors import ConfigurationError

__all__ = [
    "positive_int",
    "non_negative_int",
    "real_number",
    "Interval",
    "POSITIVE",
    "NON_NEGATIVE",
    "FRACTION",
    "FINITE",
]


def positive_int(value: Any, name: str) -> int:
    """``value`` as an ``int`` if it is a positive integer; a clear error otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def non_negative_int(value: Any, name: str) -> int:
    """``value`` as an ``int`` if it is an integer >= 0 (a patience, a count of epochs);
    a clear error otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ConfigurationError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Interval:
    """A range of numbers, closed or open at each end, that a setting must lie in."""

    low: float = -math.inf
    high: float = math.inf
    closed_low: bool = True
    closed_high: bool = False

    def __contains__(self, number: float) -> bool:
        above = number >= self.low if self.closed_low else number > self.low
        below = number <= self.high if self.closed_high else number < self.high
        return above and below

    def describe(self) -> str:
        """The requirement in words, as an error message states it."""
        if math.isinf(self.low) and math.isinf(self.high):
            return "a finite number"
        if math.isinf(self.high):
            return f"a finite number {'>=' if self.closed_low else '>'} {self.low:g}"
        if math.isinf(self.low):
            return f"a finite number {'<=' if self.closed_high else '<'} {self.high:g}"
        opening, closing = "[" if self.closed_low else "(", "]" if self.closed_high else ")"
        return f"in {opening}{self.low:g}, {self.high:g}{closing}"


#: Numbers above 0: learning rates, epsilons, clipping norms.
POSITIVE: Final = Interval(0, math.inf, closed_low=False)
#: Numbers 0 or above: penalties, tolerances, floors.
NON_NEGATIVE: Final = Interval(0, math.inf)
#: Numbers in [0, 1): rates, fractions, momenta, decays.
FRACTION: Final = Interval(0, 1)
#: Any finite number.
FINITE: Final = Interval()


def real_number(value: Any, name: str, within: Interval = FINITE) -> float:
    """``value`` as a ``float`` if it is a finite real number in ``within``.

    Python and NumPy numbers alike are accepted (``0.1``, ``np.float32(0.1)``, ``1``,
    ``np.int64(1)``); bools, strings, NaN and infinity are not. Raises
    `ConfigurationError` naming the setting, the requirement and the value.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ConfigurationError(f"{name} must be {within.describe()}, got {value!r}")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        number = math.inf
    if not math.isfinite(number) or number not in within:
        raise ConfigurationError(f"{name} must be {within.describe()}, got {value!r}")
    return number
