"""Cells of a table as people write them: numbers, text, and the many spellings of a
missing value. The command line and the standard set's preprocessing layers read cells
through these functions, so a CSV read by ``nnkit`` and the same rows given to
``Network.predict`` are read alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np

from nnkit.errors import DataError

__all__ = ["MISSING_CELLS", "PROBLEMS_SHOWN", "cell_key", "is_text", "as_table", "read_numbers"]

#: Cells read as missing, compared case-insensitively after stripping blanks: what
#: spreadsheets, R (``NA``), pandas and the UCI archive (``?``) write for a missing value.
MISSING_CELLS: Final = frozenset({"", "na", "nan", "n/a", "null", "none", "?"})
#: Problems listed in one error before the list is cut short.
PROBLEMS_SHOWN: Final = 20


def cell_key(value: Any) -> str | None:
    """A cell as a category: ``None`` when missing, a number in one spelling whatever
    its type (``3``, ``3.0`` and ``"3"`` are all ``"3"``), else the stripped text."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else _number_key(float(value))
    text = str(value).strip()
    if text.casefold() in MISSING_CELLS:
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return _number_key(number) if math.isfinite(number) else text


def _number_key(number: float) -> str:
    return str(int(number)) if number.is_integer() and abs(number) < 2**53 else repr(number)


def is_text(X: Any) -> bool:
    """Whether ``X`` holds cells that are not all numbers (text, or Python objects)."""
    if isinstance(X, np.ndarray):
        return X.dtype.kind in "USO"
    try:
        return np.asarray(X).dtype.kind in "USO"
    except (ValueError, TypeError):
        return True  # ragged rows: reading them as a table names the problem


def as_table(X: Any) -> np.ndarray:
    """``X`` as a 2-D object array of cells, one row per sample."""
    try:
        table = np.array(X, dtype=object)
    except (ValueError, TypeError) as error:
        raise DataError(f"X could not be read as a table of rows: {error}") from None
    if table.ndim != 2:
        raise DataError(
            f"X must be a table (n_samples, n_columns), got {table.ndim}-D with shape {table.shape}"
        )
    return table


def read_numbers(
    X: Any,
    skip: Sequence[int] = (),
    where: Callable[[int, int], str] | None = None,
) -> np.ndarray:
    """A table of cells (strings, numbers, ``None``) as float64: missing cells
    (`MISSING_CELLS`, ``None``, NaN) are NaN, and the columns in ``skip`` are left NaN
    for the caller to fill. ``where(row, column)`` names a cell in an error (by default
    ``row R, column C``, counted from 0).

    Raises:
        DataError: listing every cell (up to `PROBLEMS_SHOWN`) that is not a number.
    """
    table = as_table(X)
    numbers = np.full(table.shape, np.nan)
    skipped = set(skip)
    problems = []
    for column in range(table.shape[1]):
        if column in skipped:
            continue
        for row, value in enumerate(table[:, column]):
            key = cell_key(value)
            if key is None:
                continue
            try:
                numbers[row, column] = float(key)
            except ValueError:
                place = where(row, column) if where else f"row {row}, column {column}"
                problems.append(f"{place}: {key[:40]!r}")
    if problems:
        raise DataError(
            f"{len(problems)} cell(s) are not numbers: {listed(problems)}; encode text "
            "columns with a category_lookup as the network's first layer"
        )
    return numbers


def listed(problems: Sequence[str]) -> str:
    """Problems joined by semicolons, the first `PROBLEMS_SHOWN` of them."""
    shown = "; ".join(problems[:PROBLEMS_SHOWN])
    if len(problems) > PROBLEMS_SHOWN:
        shown += f"; and {len(problems) - PROBLEMS_SHOWN} more"
    return shown
