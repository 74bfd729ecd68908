"""How ``nnkit train`` prepares a table: the kind of each column, the preprocessing
layers the model starts with, and one line per choice for the user to read and override.

The preprocessing is made of the standard set's layers, so it is part of the model:
``nnkit predict``, ``nnkit.load(file).predict(rows)`` and an exported model all apply it.
A column whose cells are all numbers (or missing) is numeric; a column of text is
categorical, encoded by a ``category_lookup`` first layer that reads the raw cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple

import numpy as np

import nnkit
from nnkit.errors import DataError
from nnkit.files.data_files import TableCells
from nnkit.files.table_cells import cell_key, listed

__all__ = ["ColumnPlan", "plan_columns", "preprocessing_layers", "model_input", "IMPUTE_CHOICES"]

#: What ``--impute`` takes.
IMPUTE_CHOICES: Final = ("mean", "median", "most_frequent", "none")


class ColumnPlan(NamedTuple):
    """What ``nnkit train`` decided about the feature columns."""

    #: The feature columns, in order.
    names: list[str]
    #: The positions of the categorical columns.
    categorical: list[int]
    #: Missing cells per column, for the columns that have any.
    missing: dict[str, int]

    def describe(self, impute: str, scale: bool, dropped: Sequence[str]) -> list[str]:
        """One line per choice made, with the option that changes it."""
        numeric = len(self.names) - len(self.categorical)
        lines = [
            f"columns: {numeric} numeric"
            + (", standardised (--no-scale keeps them as they are)" if scale else "")
            + (
                f"; {len(self.categorical)} categorical, one-hot encoded: "
                + ", ".join(self.names[i] for i in self.categorical)
                if self.categorical
                else "; no categorical"
            )
            + " (--categorical COLUMN treats a column of numbers as categories)"
        ]
        if self.missing:
            counts = ", ".join(f"{count} in {name}" for name, count in self.missing.items())
            fill = (
                f"numbers filled with the {impute.replace('_', ' ')}, with indicator columns"
                if impute != "none"
                else "left as they are"
            )
            lines.append(
                f"missing cells: {counts}; {fill} (--impute mean|median|most_frequent|none); "
                "in categorical columns they count as unknown"
            )
        if dropped:
            lines.append(f"dropped: {', '.join(dropped)} (--drop)")
        return lines


def plan_columns(
    table: TableCells, names: list[str], categorical: Sequence[str], source: str
) -> ColumnPlan:
    """The kind of each feature column of ``table``.

    Raises:
        DataError: ``categorical`` names a column that is not a feature, or a column of
            numbers holds a few text cells (a typo, most likely): every such cell is
            listed, with its line, at once.
    """
    unknown = [name for name in categorical if name not in names]
    if unknown:
        raise DataError(
            f"{source} has no feature column {unknown[0]!r} (given to --categorical); its "
            f"feature columns are: {', '.join(names[:20])}"
        )
    chosen, missing, problems = [], {}, []
    for column, name in enumerate(names):
        keys = [cell_key(cell) for cell in table.cells[:, column]]
        absent = sum(key is None for key in keys)
        if absent:
            missing[name] = absent
        if name in categorical:
            chosen.append(column)
            continue
        text = [row for row, key in enumerate(keys) if key is not None and not _is_number(key)]
        if not text:
            continue
        if len(text) * 2 <= len(keys) - absent:  # mostly numbers: the text is a mistake
            problems += [
                f"line {table.lines[row]}, column {name!r}: {keys[row]!r} is not a number"
                for row in text
            ]
        else:
            chosen.append(column)
    if problems:
        first = (
            problems[0] if len(problems) == 1 else f"{len(problems)} problems: {listed(problems)}"
        )
        separator = ", " if len(problems) == 1 else ": "
        raise DataError(
            f"{source}{separator}{first} (its column holds numbers otherwise; fix the cell, "
            "or give --categorical COLUMN if the column is a category)"
        )
    return ColumnPlan(list(names), chosen, missing)


def _is_number(key: str) -> bool:
    try:
        float(key)
    except ValueError:
        return False
    return True


def preprocessing_layers(plan: ColumnPlan | None, impute: str, scale: bool) -> list[nnkit.Layer]:
    """The layers that start the network: the category lookup, the imputer and the
    standardisation, as ``plan`` and the options ask (only the standardisation for data
    that is not a table, ``plan=None``)."""
    layers = []
    if plan is not None:
        if plan.categorical:
            layers.append(nnkit.layer("category_lookup", columns=plan.categorical))
        if impute != "none":
            layers.append(nnkit.layer("impute", strategy=impute, add_indicator=bool(plan.missing)))
    if scale:
        layers.append(nnkit.layer("standardize"))
    return layers


def model_input(table: TableCells, names: list[str], text: bool, source: str) -> np.ndarray:
    """The rows of ``table`` as a model takes them: the text cells themselves for a model
    whose first layer reads them (``text``), else numbers, missing cells as NaN.

    Raises:
        DataError: for a model of numbers, every cell that is not one, by line and column.
    """
    if text:
        return table.cells
    numbers = np.full(table.cells.shape, np.nan)
    problems = []
    for column, name in enumerate(names):
        for row, cell in enumerate(table.cells[:, column]):
            key = cell_key(cell)
            if key is None:
                continue
            try:
                numbers[row, column] = float(key)
            except ValueError:
                problems.append(
                    f"line {table.lines[row]}, column {name!r}: {key[:40]!r} is not a number"
                )
    if problems:
        if len(problems) == 1:
            raise DataError(f"{source}, {problems[0]}")
        raise DataError(f"{source}: {len(problems)} problems: {listed(problems)}")
    return numbers
