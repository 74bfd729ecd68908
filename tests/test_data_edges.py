"""Legitimate data at the edges: a zero-length chunk, a long quoted CSV field."""

from __future__ import annotations

import numpy as np

import nnkit
from nnkit.files.data_files import read_data_file


class ChunkedArray:
    """An array with a Dask array's ``chunks`` (row chunks first), one of them empty, as
    Dask leaves after a filter or a rechunk."""

    def __init__(self, array: np.ndarray, row_chunks: tuple[int, ...]) -> None:
        self.array = array
        self.shape = array.shape
        self.chunks = (row_chunks, *((n,) for n in array.shape[1:]))

    def __getitem__(self, index):
        return self.array[index]

    def __len__(self) -> int:
        return len(self.array)


def test_a_zero_length_chunk_is_skipped():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, 40)
    source = nnkit.chunks(ChunkedArray(X, (15, 0, 25)), ChunkedArray(y, (15, 0, 25)))
    assert [len(x) for x, _ in source] == [15, 25]
    net = nnkit.Network([nnkit.Dense(2, activation="softmax")], loss="cross_entropy", seed=0)
    history = net.fit(source, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()


def test_a_long_quoted_field_is_read_as_the_same_field_unquoted(tmp_path):
    label = "a" * 200_000
    for name, cell in (("plain.csv", label), ("quoted.csv", f'"{label}"')):
        (tmp_path / name).write_text(f"x,label\n1,{cell}\n2,b\n")
    plain = read_data_file(tmp_path / "plain.csv", target="label")
    quoted = read_data_file(tmp_path / "quoted.csv", target="label")
    assert list(quoted.y) == list(plain.y) == [label, "b"]
    np.testing.assert_array_equal(quoted.X, plain.X)
