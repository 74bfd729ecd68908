"""A character-level GPT trained on the source of Python's standard library.

Every machine with Python has the corpus: the text of a fixed list of standard library
modules, read at run time (the same text for a given Python version). The model is a
small decoder-only transformer, written with nnkit's layers: a ``char_tokenizer`` (saved
with the model), an embedding of each character plus a learnt embedding of its position,
two pre-norm transformer blocks, a last layer normalisation and a softmax over the
characters at every position, trained with the per-token cross-entropy and AdamW. It
prints its validation loss beside that of a bigram model counted from the same training
characters, and a sample of text it writes.

    python plugins/nnkit-text/examples/char_gpt.py           # about a minute of one core
    python plugins/nnkit-text/examples/char_gpt.py --small   # the docs' size, seconds

Needs nnkit-text and nnkit-extras (for ``gelu``) installed.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

import nnkit

#: Modules of one file each in every Python from 3.11 on; their text is the corpus.
MODULES = (
    "textwrap", "string", "heapq", "bisect", "fnmatch", "shlex", "glob", "colorsys",
    "base64", "copy", "queue", "sched", "calendar", "difflib", "dataclasses", "enum",
    "functools", "argparse", "tokenize", "statistics",
)  # fmt: skip


@dataclass(frozen=True)
class Size:
    """How large a model, on how much text, for how long."""

    modules: int  # the first this many of MODULES
    context: int  # T: characters per window, the model's context
    dim: int  # d: each character's vector
    heads: int
    stride: int  # a training window starts every `stride` characters
    epochs: int
    learning_rate: float


FULL = Size(modules=20, context=64, dim=64, heads=4, stride=32, epochs=3, learning_rate=3e-3)
SMALL = Size(modules=4, context=32, dim=32, heads=4, stride=16, epochs=3, learning_rate=1e-2)


def corpus(modules: Sequence[str] = MODULES) -> str:
    """The source text of ``modules``, one after the other."""
    return "\n".join(inspect.getsource(importlib.import_module(name)) for name in modules)


def windows(codes: np.ndarray, length: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows of ``length`` codes starting every ``stride`` codes, ``X (m, length)``,
    and at each position the code that follows it, ``Y (m, length)``: the targets of
    a language model are its inputs shifted by one."""
    starts = np.arange(0, len(codes) - length, stride)
    rows = codes[starts[:, None] + np.arange(length + 1)]
    return rows[:, :-1], rows[:, 1:]


def bigram_loss(train: np.ndarray, valid: np.ndarray, vocabulary: int, alpha: float = 0.1) -> float:
    """The validation cross-entropy of the model that predicts each character from the
    one before it alone: pairs counted in the training codes, plus ``alpha`` each."""
    counts = np.full((vocabulary, vocabulary), alpha)
    np.add.at(counts, (train[:-1], train[1:]), 1)
    probabilities = counts / counts.sum(axis=1, keepdims=True)
    return float(-np.log(probabilities[valid[:-1], valid[1:]]).mean())


def transformer_block(dim: int, heads: int) -> list[nnkit.Layer]:
    """A pre-norm block: causal self-attention, then a feed-forward layer 4 times as
    wide, each added to its input (``x + f(layer_norm(x))``)."""
    return [
        nnkit.layer("residual", layers=[
            nnkit.layer("layer_norm"),
            nnkit.layer("multi_head_attention", heads=heads, key_dim=dim // heads,
                        causal=True)]),
        nnkit.layer("residual", layers=[
            nnkit.layer("layer_norm"),
            nnkit.Dense(4 * dim, activation="gelu"),
            nnkit.Dense(dim)]),
    ]  # fmt: skip


def char_gpt(tokenizer: nnkit.Layer, size: Size, blocks: int = 2) -> nnkit.Network:
    """The GPT as a list of layers."""
    vocabulary = tokenizer.vocabulary_size
    layers = [
        tokenizer,
        nnkit.layer("embedding", input_dim=vocabulary, output_dim=size.dim),
        nnkit.layer("positional_embedding", max_length=size.context, dim=size.dim),
    ]
    for _ in range(blocks):
        layers += transformer_block(size.dim, size.heads)
    layers += [nnkit.layer("layer_norm"), nnkit.Dense(vocabulary, activation="softmax")]
    return nnkit.Network(
        layers, loss="cross_entropy", seed=0,
        optimizer=nnkit.optimizer("adamw", learning_rate=size.learning_rate),
    )  # fmt: skip


def char_gpt_graph(tokenizer: nnkit.Layer, size: Size, blocks: int = 2) -> nnkit.Network:
    """The same GPT drawn with the functional API: each block's two additions are
    ``add`` calls on the values they join."""
    vocabulary = tokenizer.vocabulary_size
    text = nnkit.Input(shape=(size.context,), name="text")
    own = nnkit.layer("char_tokenizer", vocabulary=tokenizer.vocabulary)  # a layer per network
    x = nnkit.layer("embedding", input_dim=vocabulary, output_dim=size.dim)(own(text))
    x = nnkit.layer("positional_embedding", max_length=size.context, dim=size.dim)(x)
    for _ in range(blocks):
        attention = nnkit.layer("multi_head_attention", heads=size.heads,
                                key_dim=size.dim // size.heads, causal=True)
        x = nnkit.layer("add")([x, attention(nnkit.layer("layer_norm")(x))])
        wide = nnkit.Dense(4 * size.dim, activation="gelu")(nnkit.layer("layer_norm")(x))
        x = nnkit.layer("add")([x, nnkit.Dense(size.dim)(wide)])
    probabilities = nnkit.Dense(vocabulary, activation="softmax")(
        nnkit.layer("layer_norm")(x))
    return nnkit.Network(
        inputs=text, outputs=probabilities, loss="cross_entropy", seed=0,
        optimizer=nnkit.optimizer("adamw", learning_rate=size.learning_rate),
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Train the GPT, print its validation loss beside the bigram's and a sample;
    return both losses."""
    from nnkit_text import generate  # the plugin's own function, not a registered name

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="the docs' size: seconds")
    parser.add_argument("--save", metavar="FILE", help="save the trained model there")
    arguments = parser.parse_args(argv)
    size = SMALL if arguments.small else FULL
    started = time.perf_counter()

    text = corpus(MODULES[: size.modules])
    tokenizer = nnkit.layer("char_tokenizer")
    tokenizer.adapt(text)  # the characters of the corpus, sorted
    codes = tokenizer.encode(text)
    cut = int(0.9 * len(codes))  # the last tenth is held out
    train, valid = codes[:cut], codes[cut:]
    X, Y = windows(train, size.context, size.stride)
    X_valid, Y_valid = windows(valid, size.context, size.context)
    print(f"{len(text):,} characters, {tokenizer.vocabulary_size} distinct; "
          f"{len(X):,} training windows of {size.context}")  # fmt: skip

    gpt = char_gpt(tokenizer, size)
    gpt.fit(X, Y, epochs=size.epochs, batch_size=32, verbose=0)
    losses = {
        "gpt": gpt.evaluate(X_valid, Y_valid)["loss"],
        "bigram": bigram_loss(train, valid, tokenizer.vocabulary_size),
    }
    print(f"validation loss {losses['gpt']:.3f} (bigram {losses['bigram']:.3f}), "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    prompt = "def "
    print(prompt + generate(gpt, prompt, 300, temperature=0.8, seed=0))
    if arguments.save:
        gpt.save(arguments.save)
    return losses


if __name__ == "__main__":
    main()
