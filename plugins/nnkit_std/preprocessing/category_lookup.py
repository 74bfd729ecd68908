"""`CategoryLookup`: a table's category columns (text or numbers) to integer codes, one-hot
or for an ``embedding``; as the network's first layer it reads raw cells."""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar, Final

import numpy as np

from nnkit import Layer
from nnkit.arguments import positive_int
from nnkit.errors import ConfigurationError, DataError
from nnkit.files.onnx import OnnxGraph
from nnkit.files.table_cells import as_table, cell_key, read_numbers
from nnkit.interfaces.workspace import Workspace

__all__ = ["CategoryLookup"]


#: What `CategoryLookup` gives for each category column.
OUTPUTS: Final = ("one_hot", "code")


class CategoryLookup(Layer):
    """Category columns of a table (text or numbers) to integer codes: one-hot columns,
    or the codes themselves for an ``embedding``, as Keras' ``StringLookup``.

    It must be the network's first layer: there it reads the raw table the user gives
    (`encode_input`), rows of cells such as a CSV reader returns, strings and numbers
    mixed, and turns each category cell into its code, and every other cell into a
    number (missing cells, ``NA`` or empty, into NaN for an `Impute` after it). The
    network's arrays stay numbers; ``forward`` takes codes.

    Codes ``0..oov_buckets-1`` are for values not in the vocabulary (and missing ones,
    which take code 0); the vocabulary's values follow in order. A number is one
    category whatever its spelling (``3``, ``3.0``, ``"3"``; see `cell_key`). The
    vocabulary is learnt by `adapt` on raw rows (most frequent first) or by the first
    ``fit``, from its training part.

    With ``output="one_hot"``, each sample is its other columns, in order, followed by
    one block of ``oov_buckets + len(vocabulary)`` indicator columns per category column.
    With ``output="code"``, the codes stay in their columns (follow with an
    ``embedding``). Codes are not differentiable: the input gradient is 0.

    Args:
        columns: the positions of the category columns; ``None`` for all.
        vocabulary: one list of values per category column (saved in the model's
            configuration); ``None`` to learn it.
        oov_buckets: codes shared by unknown values, chosen by a hash of the value.
        output: ``"one_hot"`` or ``"code"``.
    """

    differentiable_input: ClassVar[bool] = False
    accepts_nan: ClassVar[bool] = True  # numeric columns pass through to an imputer
    example_input_shape: ClassVar[tuple[int, ...]] = (4,)
    example_arguments: ClassVar[dict[str, Any]] = {
        "columns": [1, 3],
        "vocabulary": [["a", "b"], ["x", "y", "z"]],
    }

    def __init__(
        self,
        columns: Sequence[int] | None = None,
        vocabulary: Sequence[Sequence[Any]] | None = None,
        oov_buckets: int = 1,
        output: str = "one_hot",
    ) -> None:
        if columns is not None:
            if (
                isinstance(columns, (str, bytes))
                or not isinstance(columns, Sequence)
                or any(
                    isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 0
                    for c in columns
                )
                or len(set(columns)) != len(columns)
                or not columns
            ):
                raise ConfigurationError(
                    f"category_lookup columns must be distinct column positions (0, 1, ...), "
                    f"got {columns!r}"
                )
            columns = [int(c) for c in columns]
        self.columns = columns
        self.oov_buckets = positive_int(oov_buckets, "category_lookup oov_buckets")
        if output not in OUTPUTS:
            raise ConfigurationError(
                f"category_lookup output must be one of {OUTPUTS}, got {output!r}"
            )
        self.output = output
        self._vocabulary = None if vocabulary is None else self._checked(vocabulary)

    def _checked(self, vocabulary: Any) -> tuple[tuple[str, ...], ...]:
        if (
            isinstance(vocabulary, (str, bytes))
            or not isinstance(vocabulary, Sequence)
            or any(isinstance(v, (str, bytes)) or not isinstance(v, Sequence) for v in vocabulary)
        ):
            raise ConfigurationError(
                "category_lookup vocabulary must be one list of values per category column, "
                f"got {vocabulary!r:.60}"
            )
        if self.columns is not None and len(vocabulary) != len(self.columns):
            raise ConfigurationError(
                f"category_lookup has {len(self.columns)} columns but {len(vocabulary)} "
                "vocabularies: give one list of values per column"
            )
        checked = []
        for values in vocabulary:
            keys = [cell_key(value) for value in values]
            if None in keys or len(set(keys)) != len(keys):
                raise ConfigurationError(
                    "a category_lookup vocabulary holds a missing or repeated value: "
                    f"{list(values)!r:.60}"
                )
            checked.append(tuple(str(key) for key in keys))
        return tuple(checked)

    @property
    def vocabulary(self) -> list[list[str]] | None:
        """The learnt values of each category column, or ``None`` before adapting."""
        return None if self._vocabulary is None else [list(v) for v in self._vocabulary]

    def needs_adapting(self) -> bool:
        return self._vocabulary is None

    def _lookup_columns(self, width: int) -> list[int]:
        columns = list(range(width)) if self.columns is None else self.columns
        if columns and max(columns) >= width:
            raise DataError(
                f"category_lookup reads column {max(columns)}, but the table has {width} columns"
            )
        return columns

    def adapt(self, x: Any) -> None:
        """Learn each category column's values from ``x``, raw rows of cells (samples
        first): the most frequent first, ties in sorted order; missing cells are not
        values."""
        table = as_table(x)
        columns = self._lookup_columns(table.shape[1])
        vocabulary = []
        for column in columns:
            counts = Counter(key for key in map(cell_key, table[:, column]) if key is not None)
            vocabulary.append(tuple(sorted(counts, key=lambda k: (-counts[k], k))))
        if hasattr(self, "n_features") and self._widths(tuple(vocabulary)) != self._widths():
            raise ConfigurationError(
                "category_lookup learnt a vocabulary of another size after the network was "
                "built, which would change its output width; adapt it before building"
            )
        self._vocabulary = tuple(vocabulary)

    def _widths(self, vocabulary: tuple[tuple[str, ...], ...] | None = None) -> list[int]:
        vocabulary = self._vocabulary if vocabulary is None else vocabulary
        columns = self._lookup_columns(self.n_features)
        if vocabulary is None:
            return [self.oov_buckets] * len(columns)
        return [self.oov_buckets + len(values) for values in vocabulary]

    def _code(self, key: str | None, table: dict[str, int]) -> int:
        if key is None:
            return 0
        code = table.get(key)
        if code is not None:
            return code
        return zlib.crc32(key.encode()) % self.oov_buckets

    def encode_input(self, X: Any) -> np.ndarray:
        """Raw rows of cells as numbers: category cells as their codes, others parsed
        (missing ones as NaN)."""
        table = as_table(X)
        columns = self._lookup_columns(table.shape[1])
        numbers = read_numbers(table, skip=columns)
        vocabulary = self._vocabulary or tuple(() for _ in columns)
        for column, values in zip(columns, vocabulary):
            codes = {key: self.oov_buckets + index for index, key in enumerate(values)}
            numbers[:, column] = [self._code(cell_key(v), codes) for v in table[:, column]]
        return numbers

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        if len(input_shape) != 1:
            raise ConfigurationError(
                f"category_lookup takes table rows (columns,), got {tuple(input_shape)}"
            )
        self.n_features = int(input_shape[0])
        columns = self._lookup_columns(self.n_features)
        if self._vocabulary is not None and len(self._vocabulary) != len(columns):
            raise ConfigurationError(
                f"category_lookup has {len(self._vocabulary)} vocabularies for "
                f"{len(columns)} columns"
            )
        if self.output == "code":
            return (self.n_features,)
        return (self.n_features - len(columns) + sum(self._widths()),)

    def check_input(self, X: np.ndarray) -> None:
        columns = self._lookup_columns(X.shape[1])
        for column, width in zip(columns, self._widths()):
            codes = X[:, column]
            bad = (codes < 0) | (codes >= width) | (codes != np.floor(codes)) | np.isnan(codes)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise DataError(
                    f"category_lookup column {column} holds {codes[row]!r} in row {row}, not a "
                    f"code 0..{width - 1}; give the network the raw cells, which it encodes"
                )

    def example_input(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        x = rng.normal(size=shape)  # called once built, so the code widths are known
        for column, width in zip(self._lookup_columns(shape[1]), self._widths()):
            x[:, column] = rng.integers(0, width, size=shape[0])
        return x

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        ws.input_shape = x.shape
        if self.output == "code":
            return x
        columns = self._lookup_columns(self.n_features)
        others = [c for c in range(self.n_features) if c not in set(columns)]
        widths = self._widths()
        y = ws.buffer("y", (x.shape[0], len(others) + sum(widths)), x.dtype)
        y[...] = 0
        y[:, : len(others)] = x[:, others]
        offset, rows = len(others), np.arange(x.shape[0])
        for column, width in zip(columns, widths):
            y[rows, offset + x[:, column].astype(np.intp)] = 1
            offset += width
        return y

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        if not need_input_gradient:
            return None
        return np.zeros(ws.input_shape, dtype=dy.dtype)  # the first layer: never needed

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        raise ConfigurationError(
            "category_lookup reads raw table cells, text among them, which an ONNX graph of "
            "numbers cannot take: a model with category columns is served by nnkit "
            "(nnkit predict, or nnkit.load(file).predict(rows)); to export, train without "
            "category columns (nnkit train --drop COLUMN)"
        )
