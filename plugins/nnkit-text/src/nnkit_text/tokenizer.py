"""A character tokenizer kept inside the model: text in, one integer code per character.

As a network's first layer, `CharTokenizer` turns what the user passes, a string or a
list of strings of one length, into codes (`Layer.encode_input`, as the standard
``category_lookup`` turns a table's text cells into codes), and passes codes on
unchanged. Its vocabulary is its configuration, plain JSON in the model file: a loaded
model reads and writes text with no other file beside it, which is what lets
`nnkit_text.generate` continue a string prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from nnkit import Layer
from nnkit.errors import ConfigurationError, DataError
from nnkit.files.onnx import OnnxGraph
from nnkit.interfaces.workspace import Workspace

__all__ = ["CharTokenizer"]


@dataclass(frozen=True)
class _Table:
    """A vocabulary and what encoding needs of it, replaced as one object (so a thread
    encoding text meanwhile sees the old table or the new one, never a mix)."""

    characters: str
    #: The characters' code points, sorted, and the code of each, for a vectorised lookup.
    sorted_points: np.ndarray
    codes_of_sorted: np.ndarray

    @classmethod
    def of(cls, characters: str) -> _Table:
        points = _code_points(characters)
        order = np.argsort(points, kind="stable")
        return cls(characters, points[order], order)


def _code_points(text: str) -> np.ndarray:
    """The Unicode code point of each character of ``text``, as an array (one pass in C)."""
    return np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.int64)


class CharTokenizer(Layer):
    """Text to integer codes, one per character, and back: code ``i`` is
    ``vocabulary[i]``.

    As the network's first layer it takes what the user passes, a string (one sample)
    or a list of strings of one length (a batch of windows), and gives the layers after
    it their codes, ``(m, T)``, ready for an ``embedding``; codes pass through
    unchanged, so ``fit`` may be given either. The vocabulary is saved in the model
    file, so a loaded model encodes and decodes text alone (`encode`, `decode`,
    `nnkit_text.generate`).

    The vocabulary is given, or learnt from a corpus by `adapt` (or from the texts of
    the first ``fit``): its distinct characters, sorted by code point. A character
    outside it is an error naming the character, unless ``unknown`` names a character
    of the vocabulary that stands for every such one (learnt vocabularies include it).

    Codes are not differentiable: the input gradient is 0.

    Args:
        vocabulary: the characters, each once, in code order; ``None`` to learn them.
        unknown: the character that any character outside the vocabulary is read as;
            ``None`` to refuse such characters.
    """

    differentiable_input: ClassVar[bool] = False
    example_input_shape: ClassVar[tuple[int, ...]] = (5,)
    example_arguments: ClassVar[dict[str, Any]] = {"vocabulary": "abc ?", "unknown": "?"}

    def __init__(self, vocabulary: str | None = None, unknown: str | None = None) -> None:
        if unknown is not None and (not isinstance(unknown, str) or len(unknown) != 1):
            raise ConfigurationError(
                f"char_tokenizer unknown must be one character (or None), got {unknown!r}"
            )
        self.unknown = unknown
        self._table: _Table | None = None
        if vocabulary is not None:
            self._table = _Table.of(self._checked(vocabulary))

    def _checked(self, vocabulary: Any) -> str:
        if not isinstance(vocabulary, str) or not vocabulary:
            raise ConfigurationError(
                "char_tokenizer vocabulary must be a non-empty string of characters, code i "
                f"being its i-th character (or None to learn it), got {vocabulary!r:.60}"
            )
        if len(set(vocabulary)) != len(vocabulary):
            repeated = next(c for c in vocabulary if vocabulary.count(c) > 1)
            raise ConfigurationError(
                f"char_tokenizer vocabulary holds {repeated!r} more than once: give each "
                "character once"
            )
        if self.unknown is not None and self.unknown not in vocabulary:
            raise ConfigurationError(
                f"char_tokenizer unknown {self.unknown!r} is not in the vocabulary: add it, "
                "as the code unknown characters are read as"
            )
        return vocabulary

    @property
    def vocabulary(self) -> str | None:
        """The characters, in code order, or ``None`` before adapting."""
        table = self._table
        return None if table is None else table.characters

    @property
    def vocabulary_size(self) -> int | None:
        """How many codes there are (an ``embedding``'s ``input_dim``, a language model's
        outputs), or ``None`` before adapting."""
        table = self._table
        return None if table is None else len(table.characters)

    def needs_adapting(self) -> bool:
        return self._table is None

    def adapt(self, x: Any) -> None:
        """Learn the vocabulary from text: a string (a corpus) or a list of strings; the
        distinct characters sorted by code point, with ``unknown`` among them."""
        texts = [x] if isinstance(x, str) else _texts(x)
        if texts is None:
            raise ConfigurationError(
                "char_tokenizer learns its characters from text, but was given numbers: call "
                "tokenizer.adapt(corpus) with the text itself before training on its codes, "
                "or give vocabulary="
            )
        characters = set().union(*map(set, texts))
        if self.unknown is not None:
            characters.add(self.unknown)
        if not characters:
            raise DataError("char_tokenizer cannot learn a vocabulary from empty text")
        self._table = _Table.of("".join(sorted(characters)))

    def _table_or_error(self) -> _Table:
        table = self._table
        if table is None:
            raise ConfigurationError(
                "char_tokenizer has no vocabulary yet: call tokenizer.adapt(corpus) first, or "
                "give vocabulary="
            )
        return table

    def encode(self, text: str) -> np.ndarray:
        """The codes of ``text``'s characters, a 1-D integer array as long as the text.

        Raises:
            DataError: ``text`` is not a string, or holds a character outside the
                vocabulary and there is no ``unknown`` character.
        """
        if not isinstance(text, str):
            raise DataError(f"char_tokenizer encodes a string, got {type(text).__name__}")
        return self._encode(text, self._table_or_error())

    def _encode(self, text: str, table: _Table) -> np.ndarray:
        points = _code_points(text)
        where = np.searchsorted(table.sorted_points, points)
        where = np.minimum(where, len(table.sorted_points) - 1)
        known = table.sorted_points[where] == points
        codes = table.codes_of_sorted[where]
        if not known.all():
            if self.unknown is None:
                position = int(np.flatnonzero(~known)[0])
                raise DataError(
                    f"char_tokenizer has no code for {text[position]!r} (position {position} "
                    f"of the text): its vocabulary is {len(table.characters)} characters. "
                    "Adapt it on text that holds the character, or give unknown= a character "
                    "of the vocabulary to read such characters as"
                )
            codes[~known] = table.characters.index(self.unknown)
        return codes

    def decode(self, codes: Sequence[int] | np.ndarray) -> str:
        """The text of ``codes`` (whole numbers ``0..vocabulary_size-1``), one character
        per code.

        Raises:
            DataError: a code is not a whole number in range.
        """
        table = self._table_or_error()
        array = np.asarray(codes).reshape(-1)
        size = len(table.characters)
        if (
            array.dtype.kind not in "iuf"
            or not ((array >= 0) & (array < size) & (array == np.floor(array))).all()
        ):
            raise DataError(
                f"char_tokenizer decodes whole-number codes 0..{size - 1}, got "
                f"{np.asarray(codes).tolist()!r:.80}"
            )
        return "".join(table.characters[int(code)] for code in array)

    def encode_input(self, X: Any) -> Any:
        """A string as one sample of codes ``(1, T)``; a list of strings of one length as
        ``(m, T)``; anything else (codes) unchanged."""
        if isinstance(X, str):
            texts: list[str] | None = [X]
        else:
            texts = _texts(X)
        if texts is None:
            return X
        lengths = sorted({len(text) for text in texts})
        if lengths[0] == 0:
            raise DataError("char_tokenizer was given an empty text: give at least one character")
        if len(lengths) > 1:
            raise DataError(
                f"char_tokenizer was given texts of {len(lengths)} lengths, from {lengths[0]} "
                f"to {lengths[-1]}, but a batch is windows of one length: cut the text into "
                "windows as long as the network's input"
            )
        table = self._table_or_error()  # one table for the batch, whatever adapt does
        return np.stack([self._encode(text, table) for text in texts])

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        if len(input_shape) != 1:
            raise ConfigurationError(
                f"char_tokenizer takes windows of text (or of codes), samples of shape (T,), "
                f"got {tuple(input_shape)}"
            )
        return tuple(input_shape)

    def check_input(self, X: np.ndarray) -> None:
        table = self._table
        if table is None:
            return  # nothing to check codes against yet; the embedding checks its range
        size = len(table.characters)
        bad = ~((X >= 0) & (X < size) & (X == np.floor(X)))
        if bad.any():
            row, column = (int(i) for i in np.argwhere(bad)[0][:2])
            raise DataError(
                f"char_tokenizer takes text or codes 0..{size - 1}, but X holds "
                f"{float(X[row, column])!r} in row {row}, column {column}; give the network "
                "the text, which it encodes"
            )

    def example_input(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return rng.integers(0, self.vocabulary_size or 1, size=shape).astype(float)

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        ws.input_shape = x.shape
        return x  # the codes: text became codes in encode_input

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        if not need_input_gradient:
            return None
        return np.zeros(ws.input_shape, dtype=dy.dtype)  # codes: nothing to differentiate

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """The exported graph takes the codes (`encode` them first): ONNX has no text."""
        return graph.node("Identity", [x])


def _texts(X: Any) -> list[str] | None:
    """``X`` as a list of strings if it is a non-empty sequence of strings (a list, a
    tuple, an array of text), else ``None`` (numbers)."""
    if isinstance(X, np.ndarray):
        if X.dtype.kind == "U" or (X.dtype.kind == "O" and X.size and isinstance(X.flat[0], str)):
            items = X.reshape(-1).tolist()
        else:
            return None
    elif isinstance(X, (list, tuple)) and X and all(isinstance(item, str) for item in X):
        items = list(X)
    else:
        return None
    if not all(isinstance(item, str) for item in items):
        raise DataError("char_tokenizer was given a mix of text and other values: give text")
    return items
