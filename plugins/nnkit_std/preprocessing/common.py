"""What the preprocessing layers share: reading text cells, and checking the statistics
they learnt and saved."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nnkit.errors import ConfigurationError
from nnkit.files.table_cells import is_text, read_numbers

__all__ = ["ReadsText", "check_width", "flat_statistics", "mean_and_spread", "rows"]


class ReadsText:
    """As the network's first layer, takes rows of text cells (as a CSV reader gives
    them): numbers are parsed, missing cells become NaN."""

    def encode_input(self, X: Any) -> Any:
        return read_numbers(X) if is_text(X) else X


def mean_and_spread(
    mean: Sequence[float] | None, spread: Sequence[float] | None, layer: str, spread_name: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """A standardisation's saved statistics, checked: a mean and a positive spread of one
    length, or ``None`` for neither (not adapted yet)."""
    means, spreads = (
        flat_statistics(mean, layer, "mean"),
        flat_statistics(spread, layer, spread_name),
    )
    if (means is None) != (spreads is None) or (
        means is not None and spreads is not None and means.shape != spreads.shape
    ):
        raise ConfigurationError(
            f"{layer} takes a mean and a {spread_name} of the same length, or neither"
        )
    if spreads is not None and not (spreads > 0).all():
        raise ConfigurationError(f"{layer} {spread_name} must be positive")
    return None if means is None or spreads is None else (means, spreads)


def flat_statistics(values: Any, name: str, what: str) -> np.ndarray | None:
    """A configured list of statistics as a finite float64 vector (``None`` stays)."""
    if values is None:
        return None
    try:
        array = np.array(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"{name} {what} must be a list of numbers, got {values!r:.60}"
        ) from None
    if not np.isfinite(array).all():
        raise ConfigurationError(f"{name} {what} must be finite numbers")
    return array


def check_width(stats: np.ndarray | None, size: int, name: str) -> None:
    if stats is not None and stats.size != size:
        raise ConfigurationError(
            f"{name} learnt statistics for {stats.size} features, but its input has {size}; "
            "adapt it again on data of this shape"
        )


def rows(x: np.ndarray) -> np.ndarray:
    return x.reshape(x.shape[0], -1)
