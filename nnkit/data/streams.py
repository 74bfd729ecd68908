"""Data larger than memory: training from chunks of samples, one chunk in memory at a time.

`Network.fit` takes, instead of ``X`` and ``y``, a source of chunks ``(X_chunk,
y_chunk)`` (or ``(X_chunk, y_chunk, sample_weight_chunk)``): a generator, a function
that returns a new iterator for each epoch, or `chunks()`, which cuts anything that
slices like an array (a ``numpy.memmap``, a Dask array, an HDF5 dataset) into row
ranges and reads one at a time. Each chunk is split into mini-batches as an in-memory
``X`` would be, so memory is bounded by the chunk, not the data set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from nnkit.arguments import positive_int
from nnkit.errors import ConfigurationError, DataError

__all__ = ["Chunks", "chunks", "ChunkSource"]

#: Rows per chunk when `chunks()` is not told and the data has no chunking of its own.
DEFAULT_CHUNK_ROWS = 8192


class Chunks:
    """Row ranges of ``X`` and ``y`` (and ``sample_weight``), read one at a time.

    Iterating yields ``(X[a:b], y[a:b])`` as NumPy arrays, so a Dask array computes
    one chunk at a time and a memory map reads one range at a time. Iterable any number
    of times: one pass per epoch. ``X`` may be a dict of such arrays by input name, for
    a network of several inputs, and ``y`` a dict by output name, for a network of
    several outputs: each chunk is then a dict of their row ranges.
    """

    def __init__(
        self, X: Any, y: Any, sample_weight: Any = None, rows: int | None = None
    ) -> None:
        n = _rows(X, "X")
        if _rows(y, "y") != n:
            raise DataError(f"X has {n} samples but y has {_rows(y, 'y')}; they must match")
        if sample_weight is not None and _length(sample_weight, "sample_weight") != n:
            raise DataError(f"X has {n} samples but sample_weight has a different number")
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self.n_samples = n
        first = next(iter(X.values())) if isinstance(X, Mapping) else X
        self.boundaries = _boundaries(
            first, n, None if rows is None else positive_int(rows, "rows")
        )

    def __len__(self) -> int:
        return len(self.boundaries) - 1

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        for start, stop in zip(self.boundaries[:-1], self.boundaries[1:]):
            chunk: list[Any] = [_slice(self.X, start, stop), _slice(self.y, start, stop)]
            if self.sample_weight is not None:
                chunk.append(np.asarray(self.sample_weight[start:stop]))
            yield tuple(chunk)


def chunks(X: Any, y: Any, sample_weight: Any = None, rows: int | None = None) -> Chunks:
    """``X`` and ``y`` as chunks of ``rows`` samples for `Network.fit` (by default a Dask
    array's own row chunks, else 8,192 rows).

    Examples:
        >>> X = np.load("features.npy", mmap_mode="r")          # never read whole
        >>> y = np.load("labels.npy", mmap_mode="r")
        >>> net.fit(nnkit.chunks(X, y, rows=10_000), epochs=5)   # doctest: +SKIP
    """
    return Chunks(X, y, sample_weight, rows)


class ChunkSource:
    """What `fit` iterates once per epoch: chunks checked as they arrive."""

    def __init__(self, source: Any, epochs: int) -> None:
        if isinstance(source, np.ndarray) or not (callable(source) or isinstance(source, Iterable)):
            raise DataError(
                "y is missing: give fit(X, y), or, for data larger than memory, a source "
                "of (X_chunk, y_chunk) pairs as fit(nnkit.chunks(X, y))"
            )
        self._make: Callable[[], Iterable[Any]]
        if callable(source) and not isinstance(source, Iterable):
            self._make = source
        else:
            if iter(source) is source and epochs > 1:  # a generator: one pass only
                raise ConfigurationError(
                    f"a generator can be read only once, but epochs={epochs}: pass a "
                    "function that returns a new generator for each epoch, or "
                    "nnkit.chunks(X, y)"
                )
            self._make = lambda: source

    def __iter__(self) -> Iterator[tuple[Any, Any, Any]]:
        for index, chunk in enumerate(self._make()):
            if not isinstance(chunk, (tuple, list)) or len(chunk) not in (2, 3):
                raise DataError(
                    f"chunk {index} is a {type(chunk).__name__}, not a pair (X_chunk, "
                    "y_chunk) or a triple (X_chunk, y_chunk, sample_weight_chunk)"
                )
            yield chunk[0], chunk[1], chunk[2] if len(chunk) == 3 else None


def _slice(data: Any, start: int, stop: int) -> Any:
    """Rows ``start:stop`` of an array, or of each array of a dict, as NumPy arrays."""
    if isinstance(data, Mapping):
        return {name: np.asarray(part[start:stop]) for name, part in data.items()}
    return np.asarray(data[start:stop])


def _rows(X: Any, what: str) -> int:
    """The samples of ``X``: an array's rows, or those every array of a dict (by input
    name for ``X``, by output name for ``y``) holds (they must agree)."""
    if not isinstance(X, Mapping):
        return _length(X, what)
    counts = {name: _length(part, f"{what}[{name!r}]") for name, part in X.items()}
    if not counts or len(set(counts.values())) != 1:
        raise DataError(
            f"{what} is a dict by name, so each of its arrays needs the same number of "
            f"samples, got {counts}"
        )
    return next(iter(counts.values()))


def _length(array: Any, name: str) -> int:
    shape = getattr(array, "shape", None)
    if shape is not None and len(shape) and shape[0] is not None and not np.isnan(shape[0]):
        return int(shape[0])
    try:
        return len(array)
    except TypeError:
        raise DataError(f"{name} must be an array-like with a length") from None


def _boundaries(X: Any, n: int, rows: int | None) -> list[int]:
    """Chunk edges: every ``rows`` samples, or a Dask array's own row chunks."""
    own = getattr(X, "chunks", None)
    if rows is None and isinstance(own, tuple) and own and isinstance(own[0], tuple):
        # A zero-length chunk (Dask leaves them after a filter) holds no samples: skip
        # it, rather than hand fit an empty batch.
        return [0, *np.cumsum([size for size in own[0] if size]).tolist()]
    step = rows or DEFAULT_CHUNK_ROWS
    return [*range(0, n, step), n]
