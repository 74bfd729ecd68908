"""Reading a user's data file for the command line: CSV (or TSV) with a header, or ``.npz``.

Every problem is reported in the file's terms (which file, which line, which column),
because the person reading the message is looking at the file, not at an array. CSV rows
are read in chunks, so a file of any length can be streamed through a model
(`CsvTable.chunks`) in bounded memory.
"""

from __future__ import annotations

import csv
import difflib
import threading
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final, NamedTuple

import numpy as np

from nnkit.errors import DataError
from nnkit.files.table_cells import MISSING_CELLS, listed

__all__ = ["DataFile", "TableCells", "CsvTable", "read_data_file", "delimiter_for"]

#: Cells parsed per chunk: about 16 MB of float64, whatever the number of columns.
CHUNK_CELLS: Final = 1 << 21
#: Header names that mark a first column as a row index: pandas' ``to_csv`` leaves it
#: unnamed, and reading such a file back and writing it again names it ``Unnamed: 0``.
INDEX_NAMES: Final = frozenset({"", "Unnamed: 0"})
#: Column names listed in full in an error message before the list is cut short.
NAMES_SHOWN: Final = 20

_BOM: Final = b"\xef\xbb\xbf"
_FIELD_LIMIT_LOCK: Final = threading.Lock()


class DataFile(NamedTuple):
    """Features, the target column if there is one, the names of both, and notes for
    the reader (such as an index column that was left out)."""

    X: np.ndarray
    y: np.ndarray | None
    feature_names: list[str] | None
    target: str | None
    notes: tuple[str, ...] = ()


class TableCells(NamedTuple):
    """Rows of a CSV table as text cells, for data with text columns and missing values."""

    #: The feature cells, stripped, ``(rows, features)``: an object array of ``str``.
    cells: np.ndarray
    #: The target cells, or ``None`` without a target column.
    labels: list[str] | None
    #: The file line of each row.
    lines: np.ndarray


def delimiter_for(path: str | Path, delimiter: str | None = None) -> str:
    """The cell delimiter: ``delimiter`` if given, a tab for ``.tsv``, else a comma."""
    if delimiter is not None:
        if len(delimiter) != 1 or delimiter in '"\r\n':
            raise DataError(
                f"--delimiter must be one character other than a quote or newline, got "
                f"{delimiter!r}; write a tab as $'\\t' in the shell"
            )
        return delimiter
    return "\t" if Path(path).suffix.lower() == ".tsv" else ","


def read_data_file(
    path: str | Path, target: str | None = None, delimiter: str | None = None
) -> DataFile:
    """Read ``path``: ``.npz`` with arrays ``X`` (and ``y``), or CSV with a header row.

    For a CSV, ``target`` names the column to predict; every other column is a feature,
    except an unnamed first column, which is taken for a row index and left out (with a
    note). Target values may be numbers or class names; features must be finite numbers.
    ``delimiter`` defaults to a tab for ``.tsv`` files and a comma otherwise.

    Raises:
        DataError: naming the file, and for a CSV the line and column, of the problem.
    """
    path = _existing(path)
    if path.suffix.lower() == ".npz":
        return _read_npz(path)
    return CsvTable(path, target, delimiter).read()


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a data file")
    return path


def _read_npz(path: Path) -> DataFile:
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise DataError(f"{path} is not a readable .npz file: {error}") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):  # a .npy file under an .npz name
        raise DataError(
            f"{path} holds one .npy array, not an .npz archive; save the data with "
            "numpy.savez(path, X=X, y=y)"
        )
    try:
        with loaded as archive:
            if "X" not in archive.files:
                raise DataError(
                    f"{path} has arrays {archive.files} but needs one named 'X' (and 'y' for "
                    "targets)"
                )
            X = _member(archive, path, "X")
            y = _member(archive, path, "y") if "y" in archive.files else None
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"{path} is not a readable .npz file: {error}") from None
    _check_features(path, X)
    if y is not None and y.dtype.kind in "cmMV":
        raise DataError(f"{path}: y must hold numbers or class names, got values of type {y.dtype}")
    if y is not None and (y.ndim == 0 or y.shape[0] != X.shape[0]):
        raise DataError(f"{path}: X has {X.shape[0]} rows but y has shape {y.shape}")
    names = [f"x{i}" for i in range(X.shape[1])] if X.ndim == 2 else None
    return DataFile(X, y, names, "y" if y is not None else None)


def _member(archive: Any, path: Path, name: str) -> np.ndarray:
    """The array ``name`` of the archive; numpy hands back the raw bytes of a member that
    is not an array file, which would fail far from here."""
    value = archive[name]
    if not isinstance(value, np.ndarray):
        raise DataError(
            f"{path}: member {name}.npy is not a NumPy array file; write the archive with "
            "numpy.savez"
        )
    return value


def _check_features(path: Path, X: np.ndarray) -> None:
    """Refuse what the API refuses (`nnkit.data.arrays`): non-numeric and complex X (whose
    imaginary part the scaling would drop), and X without a feature axis or rows."""
    if X.dtype.kind == "c":
        raise DataError(f"{path}: X must be real-valued, got complex numbers")
    if X.dtype.kind not in "biuf":
        raise DataError(
            f"{path}: X must be numeric, got values of type {X.dtype}; convert or encode "
            "them to numbers first"
        )
    if X.ndim < 2:
        raise DataError(
            f"{path}: X must have a samples axis and at least one feature axis, got shape {X.shape}"
        )
    if X.shape[0] == 0:
        raise DataError(f"{path}: X has no rows; the file holds no samples")


class CsvTable:
    """A CSV file's header, read and checked at once, and its rows, read in chunks.

    Args:
        path: the file.
        target: the column to predict, or ``None`` for features only.
        delimiter: the cell delimiter (see `delimiter_for`).
        target_required: when false, a ``target`` missing from the header is not an
            error: the table then has no target (predicting ignores a target column
            that happens to be there).
    """

    def __init__(
        self,
        path: str | Path,
        target: str | None = None,
        delimiter: str | None = None,
        target_required: bool = True,
    ) -> None:
        self.path = _existing(path)
        self.delimiter = delimiter_for(self.path, delimiter)
        header, self.header_line = self._read_header()
        self.header = header
        notes = []
        index_column = len(header) > 1 and header[0] in INDEX_NAMES
        if index_column:
            notes.append(
                f"{self.path}: the first column is unnamed, so it is taken for a row index "
                "(as pandas' to_csv writes) and left out"
            )
        _check_unique(self.path, header)
        if target is not None and target not in header:
            if target_required:
                raise DataError(self._no_column(target))
            target = None
        self.target = target
        self.target_index = header.index(target) if target is not None else None
        self.features = [i for i in range(index_column, len(header)) if i != self.target_index]
        if not self.features:
            raise DataError(f"{self.path}: no feature columns besides the target {target!r}")
        self.feature_names = [header[i] for i in self.features]
        self.notes = tuple(notes)

    def read(self) -> DataFile:
        """The whole file, as one `DataFile`."""
        blocks, labels, label_lines = [], [], []
        for X, chunk_labels, lines in self.chunks():
            blocks.append(X)
            if chunk_labels is not None:
                labels.extend(chunk_labels)
                label_lines.append(lines)
        if not blocks:
            raise DataError(f"{self.path} has a header but no data rows")
        X = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
        y = None
        if self.target is not None:
            y = self._target_values(labels, np.concatenate(label_lines))
        return DataFile(X, y, self.feature_names, self.target, self.notes)

    def chunks(
        self, rows: int | None = None
    ) -> Iterator[tuple[np.ndarray, list[str] | None, np.ndarray]]:
        """The data rows in chunks of at most ``rows`` (by default about `CHUNK_CELLS`
        cells): each chunk's features, its target cells (``None`` without a target) and
        the file line of each row. Blank lines are skipped."""
        if rows is None:
            rows = max(1, CHUNK_CELLS // len(self.header))
        for lines in self._line_chunks(rows):
            yield self._parse(lines)

    def drop(self, names: Sequence[str]) -> None:
        """Leave the feature columns ``names`` out (``nnkit train --drop``)."""
        unknown = [name for name in names if name not in self.feature_names]
        if unknown:
            raise DataError(f"{self._no_column(unknown[0])} (given to --drop)")
        self.features = [i for i in self.features if self.header[i] not in set(names)]
        if not self.features:
            raise DataError(f"{self.path}: --drop leaves no feature columns")
        self.feature_names = [self.header[i] for i in self.features]

    def read_cells(self) -> TableCells:
        """The whole file as text cells, every problem found first: rows with another
        number of cells than the header and missing target cells are reported together
        (the first 20, by line and column)."""
        chunk = self._cell_rows(list(self._data_lines()))
        if not len(chunk.lines):
            raise DataError(f"{self.path} has a header but no data rows")
        return chunk

    def cell_chunks(self, rows: int) -> Iterator[TableCells]:
        """The data rows as text cells, in chunks of at most ``rows``."""
        for lines in self._line_chunks(rows):
            yield self._cell_rows(lines)

    def _data_lines(self) -> Iterator[tuple[int, str]]:
        """``(line number, text)`` of each data row: after the header, blank lines left
        out."""
        for number, text in self._lines():
            if number > self.header_line and text.strip():
                yield number, text

    def _line_chunks(self, rows: int) -> Iterator[list[tuple[int, str]]]:
        """The data rows' lines, in lists of at most ``rows``."""
        pending: list[tuple[int, str]] = []
        for line in self._data_lines():
            pending.append(line)
            if len(pending) == rows:
                yield pending
                pending = []
        if pending:
            yield pending

    def _cell_rows(self, lines: list[tuple[int, str]]) -> TableCells:
        rows, labels, numbers, problems = [], [], [], []
        width = len(self.header)
        for number, text in lines:
            cells = self._cells(number, text)
            if len(cells) != width:
                problems.append(f"line {number}: {len(cells)} cells, but the header has {width}")
                continue
            if self.target_index is not None:
                label = cells[self.target_index].strip()
                if label.casefold() in MISSING_CELLS:
                    problems.append(
                        f"line {number}, column {self.target!r}: the target is missing "
                        f"({label!r}); fill it in or leave the row out"
                    )
                    continue
                labels.append(label)
            rows.append([cells[i].strip() for i in self.features])
            numbers.append(number)
        if problems:
            raise self._problems(problems)
        table = np.empty((len(rows), len(self.features)), dtype=object)
        if rows:
            table[...] = rows
        return TableCells(
            table, labels if self.target_index is not None else None, np.array(numbers, dtype=int)
        )

    def _problems(self, problems: list[str]) -> DataError:
        """One error for every problem found (the first 20 listed)."""
        if len(problems) == 1:
            return DataError(f"{self.path}, {problems[0]}")
        return DataError(f"{self.path}: {len(problems)} problems: {listed(problems)}")

    # -- reading lines --------------------------------------------------------------

    def _lines(self) -> Iterator[tuple[int, str]]:
        """Each line's number and text, decoded as UTF-8 one line at a time so that a
        bad byte is reported by its line."""
        with self.path.open("rb") as file:
            for number, raw in enumerate(file, start=1):
                if number == 1 and raw.startswith(_BOM):
                    raw = raw[len(_BOM) :]
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as error:
                    raise DataError(
                        f"{self.path}, line {number}: byte {raw[error.start]:#04x} at "
                        f"character {error.start + 1} is not UTF-8 text; save the file as "
                        "UTF-8"
                    ) from None
                yield number, text.rstrip("\r\n")

    def _read_header(self) -> tuple[list[str], int]:
        """The column names, and the number of the line that holds them."""
        for number, text in self._lines():
            if text.strip():
                return [name.strip() for name in self._cells(number, text)], number
        raise DataError(f"{self.path} is empty")

    def _cells(self, number: int, text: str) -> list[str]:
        _allow_fields_of(len(text))
        try:
            return next(csv.reader([text], delimiter=self.delimiter), [])
        except csv.Error as error:  # a stray quote
            raise DataError(f"{self.path}, line {number}: cannot be read as CSV: {error}") from None

    def _no_column(self, target: str) -> str:
        header = self.header
        shown = ", ".join(header[:NAMES_SHOWN])
        if len(header) > NAMES_SHOWN:
            shown += f", ... ({len(header)} in all)"
        message = f"{self.path} has no column {target!r}"
        if len(header) == 1:
            for name, character in (("a tab", "\t"), ("a semicolon", ";")):
                if character in header[0] and character != self.delimiter:
                    return (
                        f"{message}: its header is one column holding {name}; give "
                        f"--delimiter {character!r}"
                    )
        folded = {name.casefold(): name for name in header}
        close = [folded[target.casefold()]] if target.casefold() in folded else []
        close = close or difflib.get_close_matches(target, header, n=1)
        if close:
            return f"{message}; did you mean {close[0]!r}? Its columns are: {shown}"
        return f"{message}; its columns are: {shown}"

    # -- parsing a chunk --------------------------------------------------------------

    def _parse(
        self, lines: list[tuple[int, str]]
    ) -> tuple[np.ndarray, list[str] | None, np.ndarray]:
        numbers = np.array([number for number, _ in lines])
        texts = [text for _, text in lines]
        self._check_widths(lines)
        options: dict[str, Any] = {
            "delimiter": self.delimiter, "quotechar": '"', "comments": None, "ndmin": 2
        }
        try:
            X = np.loadtxt(texts, usecols=self.features, dtype=np.float64, **options)
            labels = None
            if self.target_index is not None:
                column = np.loadtxt(texts, usecols=[self.target_index], dtype=str, **options)
                labels = [label.strip() for label in column[:, 0]]
        except ValueError:  # a bad cell: find it and say where
            X, labels = self._parse_checked(lines)
        if labels is not None and "" in labels:
            line = numbers[labels.index("")]
            raise DataError(
                f"{self.path}, line {line}, column {self.target!r}: the target is empty"
            )
        finite = np.isfinite(X)
        if not finite.all():
            row, column = np.argwhere(~finite)[0]
            raise DataError(
                f"{self.path}, line {numbers[row]}, column {self.feature_names[column]!r}: "
                f"{X[row, column]} is not a finite number; fill in a value or drop the row"
            )
        return X, labels, numbers

    def _check_widths(self, lines: list[tuple[int, str]]) -> None:
        """Every row has as many cells as the header: a row with an extra cell would
        otherwise be read with its columns shifted."""
        width, delimiter = len(self.header), self.delimiter
        problems = []
        for number, text in lines:
            cells = len(self._cells(number, text)) if '"' in text else text.count(delimiter) + 1
            if cells != width:
                problems.append(f"line {number}: {cells} cells, but the header has {width}")
        if problems:
            raise self._problems(problems)

    def _parse_checked(self, lines: list[tuple[int, str]]) -> tuple[np.ndarray, list[str] | None]:
        """Parse cell by cell, naming the line and column of the first problem."""
        X = np.empty((len(lines), len(self.features)), dtype=np.float64)
        labels: list[str] = []
        problems = []
        for position, (number, text) in enumerate(lines):
            row = self._cells(number, text)
            for column, index in enumerate(self.features):
                cell = row[index].strip()
                try:
                    X[position, column] = float(cell)
                except ValueError:
                    shown = cell if len(cell) <= 40 else cell[:40] + "..."
                    problems.append(
                        f"line {number}, column {self.header[index]!r}: {shown!r} is not a number"
                    )
            if self.target_index is not None:
                labels.append(row[self.target_index].strip())
        if problems:
            raise self._problems(problems)
        return X, labels if self.target_index is not None else None

    def target_values(self, labels: list[str], lines: np.ndarray) -> np.ndarray:
        """The target cells as numbers if they all are, else as class names; ``lines``
        are their file lines, for the error about a non-finite target."""
        return self._target_values(labels, lines)

    def _target_values(self, labels: list[str], lines: np.ndarray) -> np.ndarray:
        try:
            values = np.array([float(label) for label in labels])
        except ValueError:
            return np.array(labels)  # class names
        finite = np.isfinite(values)
        if not finite.all():
            row = int(np.argmin(finite))
            raise DataError(
                f"{self.path}, line {lines[row]}, column {self.target!r}: the target "
                f"{labels[row]!r} is not a finite number"
            )
        return values


def _allow_fields_of(length: int) -> None:
    """Let the csv module read a field of ``length`` characters. Its limit (131,072 by
    default) applies only to quoted fields here, since unquoted lines are split without
    it, so a long field was refused or accepted by its quotes alone. The limit is the
    process's; it is only ever raised, under a lock, so no reader sees it lowered."""
    if length > csv.field_size_limit():
        with _FIELD_LIMIT_LOCK:
            csv.field_size_limit(max(length, csv.field_size_limit()))


def _check_unique(path: Path, header: list[str]) -> None:
    """Refuse repeated column names, in time linear in the number of columns."""
    counts = Counter(header)
    if len(counts) != len(header):
        repeated = sorted(name for name, count in counts.items() if count > 1)
        shown = repeated[:NAMES_SHOWN] + (["..."] if len(repeated) > NAMES_SHOWN else [])
        raise DataError(f"{path}: the header repeats column names {shown}")
