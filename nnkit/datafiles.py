"""Reading a user's data file for the command line: CSV with a header, or ``.npz``.

Every problem is reported in the file's terms (which file, which line, which column),
because the person reading the message is looking at the file, not at an array.
"""

from __future__ import annotations

import csv
import warnings
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from nnkit.errors import DataError

__all__ = ["DataFile", "read_data_file"]


class DataFile(NamedTuple):
    """Features, the target column if there is one, and the names of both."""

    X: np.ndarray
    y: np.ndarray | None
    feature_names: list[str]
    target: str | None


def read_data_file(path: str | Path, target: str | None = None) -> DataFile:
    """Read ``path``: ``.npz`` with arrays ``X`` (and ``y``), or CSV with a header row.

    For a CSV, ``target`` names the column to predict; every other column is a feature.
    Target values may be numbers or class names; features must be numbers.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a data file")
    if path.suffix.lower() == ".npz":
        return _read_npz(path)
    return _read_csv(path, target)


def _read_npz(path: Path) -> DataFile:
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "X" not in archive.files:
                raise DataError(
                    f"{path} has arrays {archive.files} but needs one named 'X' (and 'y' for "
                    "targets)"
                )
            X = archive["X"]
            y = archive["y"] if "y" in archive.files else None
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise DataError(f"{path} is not a readable .npz file: {error}") from None
    if X.ndim != 2:
        raise DataError(f"{path}: X must be 2-D (samples, features), got shape {X.shape}")
    if y is not None and y.shape[0] != X.shape[0]:
        raise DataError(f"{path}: X has {X.shape[0]} rows but y has {y.shape[0]}")
    names = [f"x{i}" for i in range(X.shape[1])]
    return DataFile(X, y, names, "y" if y is not None else None)


def _read_csv(path: Path, target: str | None) -> DataFile:
    header, header_line = _read_header(path)
    if len(set(header)) != len(header):
        repeated = sorted({name for name in header if header.count(name) > 1})
        raise DataError(f"{path}: the header repeats column names {repeated}")
    if target is not None and target not in header:
        raise DataError(f"{path} has no column {target!r}; its columns are: {', '.join(header)}")
    target_index = header.index(target) if target is not None else None
    features = [i for i in range(len(header)) if i != target_index]
    if not features:
        raise DataError(f"{path}: no feature columns besides the target {target!r}")
    try:
        X, labels = _parse_fast(path, header_line, features, target_index)
    except ValueError:  # a bad cell, a ragged row, no rows: find it and say where
        X, labels = _parse_checked(path, header, header_line, features, target_index)
    y = None if labels is None else _target_values(labels, path, target)
    return DataFile(X, y, [header[i] for i in features], target)


def _read_header(path: Path) -> tuple[list[str], int]:
    """The column names, and the number of the line that holds them."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            reader = csv.reader(file)
            for row in reader:
                if any(cell.strip() for cell in row):
                    return [name.strip() for name in row], reader.line_num
    except UnicodeDecodeError:
        raise DataError(f"{path} is not a UTF-8 text file; is it really a CSV?") from None
    raise DataError(f"{path} is empty")


def _parse_fast(
    path: Path, header_line: int, features: list[int], target_index: int | None
) -> tuple[np.ndarray, list[str] | None]:
    """Parse a well-formed file with NumPy's C reader; ``ValueError`` for anything else."""
    options = {
        "delimiter": ",",
        "skiprows": header_line,
        "quotechar": '"',
        "comments": None,
        "encoding": "utf-8-sig",
        "ndmin": 2,
    }
    with warnings.catch_warnings():
        # Blank lines are fine; a file with no data rows goes to the careful reader.
        warnings.filterwarnings("ignore", message="Input line .* contained no data")
        warnings.filterwarnings("error", message=".*input contained no data")
        try:
            X = np.loadtxt(path, usecols=features, dtype=np.float64, **options)
            labels = None
            if target_index is not None:
                column = np.loadtxt(path, usecols=[target_index], dtype=str, **options)
                labels = [label.strip() for label in column[:, 0]]
        except UserWarning as warning:
            raise ValueError(str(warning)) from None
    if X.shape[0] == 0 or (labels is not None and "" in labels):
        raise ValueError("no rows, or an empty target")
    return X, labels


def _parse_checked(
    path: Path,
    header: list[str],
    header_line: int,
    features: list[int],
    target_index: int | None,
) -> tuple[np.ndarray, list[str] | None]:
    """Parse cell by cell, naming the line and column of the first problem."""
    rows: list[tuple[int, list[str]]] = []
    with path.open(newline="", encoding="utf-8-sig") as file:
        reader = csv.reader(file)
        for row in reader:
            if reader.line_num > header_line and any(cell.strip() for cell in row):
                rows.append((reader.line_num, row))
    if not rows:
        raise DataError(f"{path} has a header but no data rows")
    X = np.empty((len(rows), len(features)), dtype=np.float64)
    labels: list[str] = []
    for position, (line, row) in enumerate(rows):
        if len(row) != len(header):
            raise DataError(
                f"{path}, line {line}: {len(row)} cells, but the header has {len(header)}"
            )
        for column, index in enumerate(features):
            cell = row[index].strip()
            try:
                X[position, column] = float(cell)
            except ValueError:
                raise DataError(
                    f"{path}, line {line}, column {header[index]!r}: {cell!r} is not a number"
                ) from None
        if target_index is not None:
            label = row[target_index].strip()
            if not label:
                raise DataError(
                    f"{path}, line {line}, column {header[target_index]!r}: the target is empty"
                )
            labels.append(label)
    return X, labels if target_index is not None else None


def _target_values(labels: list[str], path: Path, target: str | None) -> np.ndarray:
    try:
        return np.array([float(label) for label in labels])
    except ValueError:
        return np.array(labels)  # class names
