"""Text from a language model: `generate` continues a prompt one character at a time.

The model is a network whose first layer is a `CharTokenizer` and whose outputs are the
probabilities of the next character at every position, ``(T, vocabulary)``, as a
character GPT trained with the per-token ``cross_entropy`` gives them. Each step feeds
the last ``T`` characters (the model's context) and samples the next one from the
probabilities at the last of them; repeated ``length`` times.

A prompt shorter than the context is padded on the right. That is exact for a causal
model, whose output at a position depends on that position and the ones before it only
(causal attention, recurrent layers, causal convolutions): the padding comes after the
position read. `generate` checks it once, on the first padded window, and refuses a
model that is not causal rather than continue text it reads with padding mixed in.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnkit.arguments import NON_NEGATIVE, non_negative_int, positive_int, real_number
from nnkit.errors import ConfigurationError, DataError
from nnkit_text.tokenizer import CharTokenizer

__all__ = ["generate"]

#: How far the next-character probabilities of a causal model may move when only the
#: padding after the position read changes: rounding, never a dependence.
_CAUSAL_TOLERANCE = 1e-6


def generate(
    network: Any,
    prompt: str,
    length: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | np.random.Generator | None = None,
) -> str:
    """The ``length`` characters a language model writes after ``prompt``, sampled one
    at a time.

    Each character is drawn from the model's probabilities of the next one, given the
    last ``T`` characters so far (``T``, the context, is the length of the windows the
    network was built for; a longer prompt is cropped to its last ``T``). ``temperature``
    divides the log-probabilities before they are normalised again: below 1 the likely
    characters gain, above 1 the unlikely ones; ``temperature=0`` takes the most likely
    character every time (greedy decoding, the first of ties), with no randomness, and
    a small positive value approaches it. ``top_k`` keeps only the ``k`` most likely
    characters at each step (``top_k=1`` is greedy too).

    The same ``seed`` gives the same text. Nothing is kept between calls, and the
    network's ``predict`` is safe to share: threads may generate from one model at once.

    Args:
        network: a built network whose first layer is a ``char_tokenizer`` and whose
            outputs are probabilities per position, ``(T, vocabulary)``.
        prompt: the text to continue, at least one character of the vocabulary.
        length: how many characters to write (0 gives ``""``).
        temperature: 0 for greedy, else a positive number (1 samples the model's own
            probabilities).
        top_k: sample among the ``k`` most likely characters only, ``1..vocabulary``;
            ``None`` for all.
        seed: an integer (or a NumPy generator) for reproducible sampling; ``None``
            draws fresh randomness.

    Raises:
        ConfigurationError: a bad argument, or a network that cannot generate (no
            tokenizer first, not built, outputs not one probability per character per
            position, not causal).
        DataError: an empty prompt, or one with a character outside the vocabulary.
    """
    tokenizer = _tokenizer_of(network)
    context, vocabulary = _window_and_vocabulary(network, tokenizer)
    length = non_negative_int(length, "generate length")
    temperature = real_number(temperature, "generate temperature", NON_NEGATIVE)
    if top_k is not None:
        top_k = positive_int(top_k, "generate top_k")
        if top_k > vocabulary:
            raise ConfigurationError(
                f"generate top_k is {top_k}, but the vocabulary has {vocabulary} characters: "
                f"give 1..{vocabulary}, or None to sample among all"
            )
    if not isinstance(prompt, str) or not prompt:
        raise DataError(
            f"generate continues a prompt of at least one character, got {prompt!r:.40}: "
            "start from a character of the text the model learnt"
        )
    codes = tokenizer.encode(prompt).tolist()
    rng = np.random.default_rng(seed)
    written: list[int] = []
    checked_causal = False
    for _ in range(length):
        window = codes[-context:]
        if len(window) < context and not checked_causal and vocabulary > 1:
            probabilities = _next_probabilities_checking_causality(network, window, context)
            checked_causal = True
        else:
            probabilities = _next_probabilities(network, window, context)
        code = _draw(probabilities, temperature, top_k, rng)
        codes.append(code)
        written.append(code)
    return tokenizer.decode(written)


def _tokenizer_of(network: Any) -> CharTokenizer:
    layers = getattr(network, "layers", None)
    first = layers[0] if layers else None
    if not isinstance(first, CharTokenizer):
        raise ConfigurationError(
            "generate reads and writes text through the network's first layer, a "
            "char_tokenizer, but the first layer is "
            f"{type(first).__name__ if first is not None else 'missing'}: put "
            "nnkit.layer('char_tokenizer', ...) first, before the embedding"
        )
    if first.vocabulary_size is None:
        raise ConfigurationError(
            "the network's char_tokenizer has no vocabulary yet: adapt it on the corpus and "
            "train the model before generating"
        )
    return first


def _window_and_vocabulary(network: Any, tokenizer: CharTokenizer) -> tuple[int, int]:
    """The model's context ``T`` and its vocabulary, checked against each other."""
    if not network.built:
        raise ConfigurationError(
            "generate needs a built network, whose windows have a length: train it (or "
            "build it for windows of T characters) first"
        )
    output_shape = tuple(network.output_shape)
    if len(network.input_shape) != 1 or len(output_shape) != 2:
        raise ConfigurationError(
            f"generate needs a language model, windows of T characters (T,) in and a "
            f"probability per character at every position (T, vocabulary) out; this network "
            f"takes {tuple(network.input_shape)} and gives {output_shape}"
        )
    if output_shape[1] != tokenizer.vocabulary_size:
        raise ConfigurationError(
            f"the network gives {output_shape[1]} probabilities per position, but its "
            f"char_tokenizer has {tokenizer.vocabulary_size} characters: end with "
            f"dense({tokenizer.vocabulary_size}, activation='softmax')"
        )
    return int(network.input_shape[0]), int(output_shape[1])


def _padded(windows: list[list[int]], context: int, fillers: list[int]) -> np.ndarray:
    """The windows as one batch of ``context`` codes each, each padded on the right with
    its filler code."""
    batch = np.empty((len(windows), context))
    for row, (window, filler) in enumerate(zip(windows, fillers)):
        batch[row, : len(window)] = window
        batch[row, len(window) :] = filler
    return batch


def _next_probabilities(network: Any, window: list[int], context: int) -> np.ndarray:
    """The model's probabilities of the character after ``window``."""
    outputs = network.predict(_padded([window], context, [0]))
    return _checked_probabilities(outputs[0, len(window) - 1])


def _next_probabilities_checking_causality(
    network: Any, window: list[int], context: int
) -> np.ndarray:
    """`_next_probabilities`, computed twice in one batch with different padding (the
    first and the last code): a causal model gives the same answer for both."""
    last = int(network.output_shape[1]) - 1
    outputs = network.predict(_padded([window, window], context, [0, last]))
    first, other = outputs[0, len(window) - 1], outputs[1, len(window) - 1]
    if not np.allclose(first, other, rtol=0, atol=_CAUSAL_TOLERANCE):
        raise ConfigurationError(
            "generate pads a prompt shorter than the context on the right, which must not "
            "change the next character's probabilities, but this network's outputs at a "
            "position depend on later positions: it is not causal. Use "
            "multi_head_attention(causal=True) (and conv1d(padding='causal')), or give a "
            f"prompt of at least {context} characters"
        )
    return _checked_probabilities(first)


def _checked_probabilities(row: np.ndarray) -> np.ndarray:
    row = np.asarray(row, dtype=np.float64)
    if not (np.all(row >= 0) and abs(row.sum() - 1.0) < 1e-3):
        raise ConfigurationError(
            "generate samples from the probabilities the network predicts, but its outputs "
            "at a position are not probabilities summing to 1: end the network with "
            "activation='softmax'"
        )
    return row


def _draw(
    probabilities: np.ndarray, temperature: float, top_k: int | None, rng: np.random.Generator
) -> int:
    """One code drawn from ``probabilities`` sharpened (or flattened) by ``temperature``
    and restricted to the ``top_k`` most likely; the arg-max for ``temperature == 0``."""
    if temperature == 0:
        return int(np.argmax(probabilities))
    # The most likely first, ties in code order, so that top_k=1 is the arg-max.
    candidates = np.argsort(-probabilities, kind="stable")[:top_k]
    with np.errstate(divide="ignore"):  # a probability of 0 has log -inf: never drawn
        scores = np.log(probabilities[candidates]) / temperature
    scores -= scores[0]  # the largest is the first: exp() cannot overflow
    weights = np.exp(scores)
    cumulative = np.cumsum(weights)
    index = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
    return int(candidates[min(index, len(candidates) - 1)])
