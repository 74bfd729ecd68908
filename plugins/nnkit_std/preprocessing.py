"""Preprocessing layers: what a model needs to take a raw table and answer in the
target's units, kept inside the model so that every reader of its file gets one answer.

- `Standardize`: ``(x - mean) / std`` per feature, the statistics learnt from data.
- `Impute`: missing cells (NaN) filled with a learnt mean, median or most frequent value,
  optionally with a missing-indicator column per feature.
- `CategoryLookup`: a table's category columns (text or numbers) to integer codes,
  one-hot or for an ``embedding``; as the network's first layer it reads raw cells.
- `RescaleOutput`: a regression's outputs mapped back to the target's units.

What each learns is part of its configuration (plain JSON in the model file), so the
learnt values are saved and loaded with the model. A layer learns them from
``layer.adapt(X)``, or, if never adapted, from the training part of the first ``fit``'s
data (never the validation part). Each replaces its statistics in one assignment, so a
prediction running in another thread sees either the old or the new ones, never a mix.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar, Final

import numpy as np

from nnkit import Layer
from nnkit.arguments import positive_int
from nnkit.errors import ConfigurationError, DataError
from nnkit.files.onnx import OnnxGraph
from nnkit.files.table_cells import as_table, cell_key, is_text, read_numbers
from nnkit.interfaces.workspace import Workspace

__all__ = ["Standardize", "Impute", "CategoryLookup", "RescaleOutput"]

class _ReadsText:
    """As the network's first layer, takes rows of text cells (as a CSV reader gives
    them): numbers are parsed, missing cells become NaN."""

    def encode_input(self, X: Any) -> Any:
        return read_numbers(X) if is_text(X) else X


def _mean_and_spread(
    mean: Sequence[float] | None, spread: Sequence[float] | None, layer: str, spread_name: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """A standardisation's saved statistics, checked: a mean and a positive spread of one
    length, or ``None`` for neither (not adapted yet)."""
    means, spreads = _flat(mean, layer, "mean"), _flat(spread, layer, spread_name)
    if (means is None) != (spreads is None) or (
        means is not None and spreads is not None and means.shape != spreads.shape
    ):
        raise ConfigurationError(
            f"{layer} takes a mean and a {spread_name} of the same length, or neither"
        )
    if spreads is not None and not (spreads > 0).all():
        raise ConfigurationError(f"{layer} {spread_name} must be positive")
    return None if means is None or spreads is None else (means, spreads)


def _flat(values: Any, name: str, what: str) -> np.ndarray | None:
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


def _check_width(stats: np.ndarray | None, size: int, name: str) -> None:
    if stats is not None and stats.size != size:
        raise ConfigurationError(
            f"{name} learnt statistics for {stats.size} features, but its input has {size}; "
            "adapt it again on data of this shape"
        )


def _rows(x: np.ndarray) -> np.ndarray:
    return x.reshape(x.shape[0], -1)


# -- standardize ---------------------------------------------------------------------


class Standardize(_ReadsText, Layer):
    """``(x - mean) / std`` per feature (per element of a sample of any shape).

    The mean and standard deviation are learnt by `adapt`, or, if it was never called,
    from the training part of the first ``fit``'s data, never from its validation part
    (as Keras' ``Normalization.adapt``); a constant feature is centred, not divided by
    zero. Until then the layer is the identity. They are statistics, not parameters:
    training does not change them. Its gradient passes through (``dx = dy / std``), so
    it can sit anywhere in a network. NaN is ignored when learning: put it after an
    `Impute`.

    Args:
        mean: the learnt means, flat (saved in the model's configuration).
        std: the learnt standard deviations, flat and positive.
    """

    example_arguments: ClassVar[dict[str, Any]] = {
        "mean": [0.5, -1.0, 2.0, 0.0],
        "std": [1.0, 2.0, 0.5, 3.0],
    }

    def __init__(
        self, mean: Sequence[float] | None = None, std: Sequence[float] | None = None
    ) -> None:
        self._stats = _mean_and_spread(mean, std, "standardize", "std")

    @property
    def mean(self) -> list[float] | None:
        """The learnt means, or ``None`` before adapting."""
        return None if self._stats is None else self._stats[0].tolist()

    @property
    def std(self) -> list[float] | None:
        """The learnt standard deviations, or ``None`` before adapting."""
        return None if self._stats is None else self._stats[1].tolist()

    def needs_adapting(self) -> bool:
        return self._stats is None

    def adapt(self, x: np.ndarray) -> None:
        """Learn the mean and standard deviation of each feature of ``x`` (samples
        first), ignoring NaN."""
        values = _rows(np.asarray(self.encode_input(x), dtype=np.float64))
        with np.errstate(all="ignore"):
            mean = np.nan_to_num(np.nanmean(values, axis=0))
            std = np.nan_to_num(np.nanstd(values, axis=0))
        if hasattr(self, "input_shape"):
            _check_width(mean, math.prod(self.input_shape), "standardize")
        self._stats = (mean, np.where(std > 0, std, 1.0))

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        self.input_shape = tuple(input_shape)
        if self._stats is not None:
            _check_width(self._stats[0], math.prod(input_shape), "standardize")
        return self.input_shape

    def _arrays(self, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
        stats = self._stats  # read once: adapt() replaces the pair in one assignment
        if stats is None:
            return np.zeros(self.input_shape, dtype), np.ones(self.input_shape, dtype)
        mean, std = stats
        return mean.reshape(self.input_shape).astype(dtype), std.reshape(self.input_shape).astype(
            dtype
        )

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        mean, std = self._arrays(x.dtype)
        ws.std = std
        y = np.subtract(x, mean, out=ws.buffer_like("y", x))
        y /= std
        return y

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        if not need_input_gradient:
            return None
        return np.divide(dy, ws.std, out=ws.buffer_like("dx", dy))

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        mean, std = self._arrays(graph.dtype)
        centred = graph.node("Sub", [x, graph.weight(mean, "mean")])
        return graph.node("Div", [centred, graph.weight(std, "std")])


# -- impute ----------------------------------------------------------------------------

#: The statistics `Impute` fills with.
STRATEGIES: Final = ("mean", "median", "most_frequent")


class Impute(_ReadsText, Layer):
    """Missing cells (NaN) filled with each feature's learnt mean, median or most
    frequent value, as scikit-learn's ``SimpleImputer``.

    As the network's first layer it lets NaN into the network (`Layer.accepts_nan`);
    infinity is still refused. With ``add_indicator``, one column per feature is
    appended, 1 where the cell was missing: every feature gets one, so the width does not
    depend on the data. The fill values are learnt by `adapt` or by the first ``fit``
    (from its training part); before that a missing cell becomes 0. A filled cell does
    not depend on the input, so its gradient is 0; the others pass through.

    Args:
        strategy: ``"mean"``, ``"median"`` or ``"most_frequent"`` (the smallest of
            equally frequent values).
        add_indicator: append a missing-indicator column per feature.
        statistics: the learnt fill values (saved in the model's configuration).
    """

    accepts_nan: ClassVar[bool] = True
    example_arguments: ClassVar[dict[str, Any]] = {
        "add_indicator": True,
        "statistics": [1.0, -2.0, 0.5, 3.0],
    }

    def __init__(
        self,
        strategy: str = "mean",
        add_indicator: bool = False,
        statistics: Sequence[float] | None = None,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ConfigurationError(
                f"impute strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}"
            )
        if not isinstance(add_indicator, (bool, np.bool_)):
            raise ConfigurationError(
                f"impute add_indicator must be True or False, got {add_indicator!r}"
            )
        self.strategy = strategy
        self.add_indicator = bool(add_indicator)
        self._statistics = _flat(statistics, "impute", "statistics")

    @property
    def statistics(self) -> list[float] | None:
        """The learnt fill values, or ``None`` before adapting."""
        return None if self._statistics is None else self._statistics.tolist()

    def needs_adapting(self) -> bool:
        return self._statistics is None

    def adapt(self, x: np.ndarray) -> None:
        """Learn each feature's fill value from ``x`` (samples first), ignoring NaN; a
        feature with no value at all is filled with 0."""
        values = _rows(np.asarray(self.encode_input(x), dtype=np.float64))
        fill = np.zeros(values.shape[1])
        for column in range(values.shape[1]):
            present = values[:, column][~np.isnan(values[:, column])]
            if not present.size:
                continue
            if self.strategy == "mean":
                fill[column] = present.mean()
            elif self.strategy == "median":
                fill[column] = np.median(present)
            else:
                counts = Counter(present.tolist())
                top = max(counts.values())
                fill[column] = min(value for value, count in counts.items() if count == top)
        if hasattr(self, "n_features"):
            _check_width(fill, self.n_features, "impute")
        self._statistics = fill

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        if len(input_shape) != 1:
            raise ConfigurationError(
                f"impute takes flat samples (features,), got {tuple(input_shape)}"
            )
        self.n_features = int(input_shape[0])
        _check_width(self._statistics, self.n_features, "impute")
        return (self.n_features * (2 if self.add_indicator else 1),)

    def _fill(self, dtype: np.dtype) -> np.ndarray:
        statistics = self._statistics
        if statistics is None:
            return np.zeros(self.n_features, dtype)
        return statistics.astype(dtype)

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        missing = np.isnan(x)
        ws.missing = missing
        n = self.n_features
        y = ws.buffer("y", (x.shape[0], n * (2 if self.add_indicator else 1)), x.dtype)
        np.copyto(y[:, :n], np.where(missing, self._fill(x.dtype), x))
        if self.add_indicator:
            y[:, n:] = missing
        return y

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        if not need_input_gradient:
            return None
        dx = np.copy(dy[:, : self.n_features])
        dx[ws.missing] = 0  # a filled cell is a constant
        return dx

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        missing = graph.node("IsNaN", [x])
        filled = graph.node("Where", [missing, graph.weight(self._fill(graph.dtype), "fill"), x])
        if not self.add_indicator:
            return filled
        elem = 1 if graph.dtype == np.float32 else 11  # ONNX FLOAT, DOUBLE
        indicator = graph.node("Cast", [missing], to=elem)
        return graph.node("Concat", [filled, indicator], axis=1)


# -- category lookup -------------------------------------------------------------------

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


# -- rescale output --------------------------------------------------------------------


class RescaleOutput(Layer):
    """The last layer of a regression: outputs mapped to the target's units,
    ``y = z * scale + mean``, at inference.

    Training follows scikit-learn's ``TransformedTargetRegressor``: ``fit`` standardises
    the targets with this layer's statistics (`training_targets`) and the network learns
    those, so it is well scaled whatever the target's units; this layer is then the
    identity. ``predict`` and ``evaluate`` (and a validation set's scores) give and
    compare values in the target's units. The statistics are the training targets' mean
    and standard deviation, learnt by ``adapt(y)`` or by the first ``fit`` (from its first
    chunk, when it trains on chunks: call ``adapt(y)`` on a sample first instead).

    Args:
        mean: the target's mean per output (saved in the model's configuration).
        scale: the target's standard deviation per output (positive).
    """

    example_arguments: ClassVar[dict[str, Any]] = {
        "mean": [100.0, -3.0, 0.5, 7.0],
        "scale": [20.0, 2.0, 0.1, 3.0],
    }

    def __init__(
        self, mean: Sequence[float] | None = None, scale: Sequence[float] | None = None
    ) -> None:
        self._stats = _mean_and_spread(mean, scale, "rescale_output", "scale")

    @property
    def mean(self) -> list[float] | None:
        """The target's learnt means, or ``None`` before adapting."""
        return None if self._stats is None else self._stats[0].tolist()

    @property
    def scale(self) -> list[float] | None:
        """The target's learnt standard deviations, or ``None`` before adapting."""
        return None if self._stats is None else self._stats[1].tolist()

    def adapt(self, y: np.ndarray) -> None:
        """Learn the mean and standard deviation of the targets ``y`` (samples first)."""
        values = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        if hasattr(self, "n_outputs"):
            _check_width(values[0], self.n_outputs, "rescale_output")
        std = values.std(axis=0)
        self._stats = (values.mean(axis=0), np.where(std > 0, std, 1.0))

    def training_targets(self, Y: np.ndarray) -> np.ndarray:
        """``Y`` standardised with this layer's statistics, learnt from ``Y`` first if
        never adapted: what the network learns to output before this layer."""
        if Y.dtype == np.bool_:
            raise ConfigurationError(
                "rescale_output maps a regression's outputs to the target's units, but the "
                "targets are class labels; remove it from a classifier"
            )
        if self._stats is None:
            self.adapt(Y)
        mean, scale = self._arrays(Y.dtype)
        return (Y - mean) / scale

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        if len(input_shape) != 1:
            raise ConfigurationError(f"rescale_output takes flat outputs, got {tuple(input_shape)}")
        self.n_outputs = int(input_shape[0])
        if self._stats is not None:
            _check_width(self._stats[0], self.n_outputs, "rescale_output")
        return tuple(input_shape)

    def _arrays(self, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
        stats = self._stats  # read once: adapt() replaces the pair in one assignment
        if stats is None:
            return np.zeros(self.n_outputs, dtype), np.ones(self.n_outputs, dtype)
        return stats[0].astype(dtype), stats[1].astype(dtype)

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        ws.training = training
        if training:
            return x  # training compares with standardised targets
        mean, scale = self._arrays(x.dtype)
        ws.scale = scale
        y = np.multiply(x, scale, out=ws.buffer_like("y", x))
        y += mean
        return y

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        if not need_input_gradient:
            return None
        if ws.training:
            return dy
        return np.multiply(dy, ws.scale, out=ws.buffer_like("dx", dy))

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        mean, scale = self._arrays(graph.dtype)
        scaled = graph.node("Mul", [x, graph.weight(scale, "scale")])
        return graph.node("Add", [scaled, graph.weight(mean, "mean")])
