"""generate: sampling text from a language model, seeded, greedy at temperature 0,
restricted by top_k, safe to share between threads, and refusing bad arguments."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from nnkit_text import CharTokenizer, generate
from nnkit_text.generation import _draw

import nnkit
from nnkit.errors import ConfigurationError, DataError

PERIOD = "abcde"
CONTEXT = 8


def periodic_windows(n: int = 200) -> tuple[list[str], np.ndarray]:
    """Windows of the text "abcdeabcde..." starting at every offset, and their next
    characters' codes: the trivially periodic text a model must continue."""
    text = PERIOD * (n // len(PERIOD) + 4)
    windows = [text[i : i + CONTEXT] for i in range(n)]
    targets = np.array([[PERIOD.index(c) for c in text[i + 1 : i + CONTEXT + 1]] for i in range(n)])
    return windows, targets


def small_gpt(causal: bool = True) -> nnkit.Network:
    return nnkit.Network(
        [CharTokenizer(vocabulary=PERIOD),
         nnkit.layer("embedding", input_dim=len(PERIOD), output_dim=8),
         nnkit.layer("positional_embedding", max_length=CONTEXT, dim=8),
         nnkit.layer("multi_head_attention", heads=2, key_dim=4, causal=causal),
         nnkit.Dense(len(PERIOD), activation="softmax")],
        loss="cross_entropy", optimizer=nnkit.optimizer("adam", learning_rate=0.02), seed=0,
    )


@pytest.fixture(scope="module")
def periodic_model() -> nnkit.Network:
    windows, targets = periodic_windows()
    model = small_gpt()
    model.fit(windows, targets, epochs=30, batch_size=32, verbose=0)
    return model


def test_a_model_of_a_periodic_text_continues_the_period(periodic_model):
    assert generate(periodic_model, "ab", 12, temperature=0) == "cdeabcdeabcd"
    # Sampled, too: the model is sure of every next character.
    assert generate(periodic_model, "d", 20, seed=3) == ("eabcd" * 4)


def test_the_same_seed_gives_the_same_text(periodic_model):
    first = generate(periodic_model, "abc", 40, temperature=100.0, seed=7)
    assert generate(periodic_model, "abc", 40, temperature=100.0, seed=7) == first
    assert generate(periodic_model, "abc", 40, temperature=100.0, seed=8) != first
    assert len(first) == 40 and set(first) <= set(PERIOD)


def test_top_k_of_one_is_greedy(periodic_model):
    greedy = generate(periodic_model, "ea", 30, temperature=0)
    for seed in range(3):
        assert generate(periodic_model, "ea", 30, temperature=100.0, top_k=1, seed=seed) == greedy


def test_a_prompt_longer_than_the_context_is_cropped_to_its_end(periodic_model):
    prompt = "ccccccccccccccccabcdeabc"  # only the last 8 characters are read
    assert generate(periodic_model, prompt, 10, temperature=0) == generate(
        periodic_model, prompt[-CONTEXT:], 10, temperature=0
    )


def test_a_loaded_model_generates_the_same_text_from_a_string(periodic_model, tmp_path):
    periodic_model.save(tmp_path / "gpt.nnkit")
    loaded = nnkit.load(tmp_path / "gpt.nnkit")
    assert generate(loaded, "bc", 25, seed=1) == generate(periodic_model, "bc", 25, seed=1)


def test_threads_generating_from_one_model_get_what_one_thread_gets(periodic_model):
    def write(seed: int) -> str:
        return generate(periodic_model, "cd", 30, temperature=100.0, seed=seed)

    alone = [write(seed) for seed in range(8)]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(write, range(8))) == alone


def test_draws_follow_the_probabilities_sharpened_by_the_temperature():
    probabilities = np.array([0.5, 0.3, 0.2])
    rng = np.random.default_rng(0)
    for temperature in (1.0, 0.5, 2.0):
        draws = [_draw(probabilities, temperature, None, rng) for _ in range(20000)]
        expected = probabilities ** (1 / temperature)
        expected /= expected.sum()
        assert np.allclose(np.bincount(draws, minlength=3) / len(draws), expected, atol=0.015)
    kept = {_draw(probabilities, 1.0, 2, rng) for _ in range(2000)}
    assert kept == {0, 1}  # top_k=2: never the least likely
    assert {_draw(probabilities, 0.0, None, rng) for _ in range(50)} == {0}  # greedy
    tied = np.array([0.1, 0.45, 0.45])
    assert _draw(tied, 0.0, None, rng) == 1 == _draw(tied, 1.0, 1, rng)  # the first of ties


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        ({"length": -1}, ConfigurationError, "length must be an integer >= 0"),
        ({"length": 2.5}, ConfigurationError, "length"),
        ({"temperature": -0.5}, ConfigurationError, "temperature must be a finite number >= 0"),
        ({"top_k": 6}, ConfigurationError, r"top_k is 6, but the vocabulary has 5 .*1\.\.5"),
        ({"top_k": 0}, ConfigurationError, "top_k must be a positive integer"),
        ({"prompt": ""}, DataError, "at least one character"),
        ({"prompt": "abz"}, DataError, r"no code for 'z' \(position 2"),
    ],
)
def test_bad_arguments_say_what_is_wrong(periodic_model, arguments, error, message):
    call = {"prompt": "ab", "length": 5, **arguments}
    with pytest.raises(error, match=message):
        generate(periodic_model, **call)


def test_a_network_that_cannot_generate_is_told_why():
    with pytest.raises(ConfigurationError, match="needs a built network"):
        generate(small_gpt(), "ab", 3)
    untokenized = nnkit.Network(
        [nnkit.layer("embedding", input_dim=5, output_dim=4),
         nnkit.Dense(5, activation="softmax")], loss="cross_entropy")
    untokenized.build((CONTEXT,))
    with pytest.raises(ConfigurationError, match="first layer is Embedding: put"):
        generate(untokenized, "ab", 3)
    windows, targets = periodic_windows(40)
    seeing_ahead = small_gpt(causal=False)
    seeing_ahead.fit(windows, targets, epochs=1, verbose=0)
    with pytest.raises(ConfigurationError, match="not causal"):
        generate(seeing_ahead, "ab", 3)
    # A full window needs no padding: the model reads exactly what it was trained on.
    assert len(generate(seeing_ahead, "abcdeabc", 3)) == 3
