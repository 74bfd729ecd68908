"""The character tokenizer: text to codes and back, learnt or given, saved with the model."""

from __future__ import annotations

import numpy as np
import pytest
from nnkit_text import CharTokenizer

import nnkit
from nnkit.errors import ConfigurationError, DataError


def test_codes_are_the_vocabularys_positions_and_decode_back():
    tokenizer = CharTokenizer(vocabulary="ab c")
    codes = tokenizer.encode("a cab")
    assert codes.tolist() == [0, 2, 3, 0, 1]
    assert tokenizer.decode(codes) == "a cab"
    assert tokenizer.vocabulary_size == 4


def test_a_learnt_vocabulary_is_the_sorted_distinct_characters():
    tokenizer = CharTokenizer()
    assert tokenizer.needs_adapting() and tokenizer.vocabulary is None
    tokenizer.adapt("hello, world")
    assert tokenizer.vocabulary == " ,dehlorw"
    assert not tokenizer.needs_adapting()
    text = "world, hello"
    assert tokenizer.decode(tokenizer.encode(text)) == text


def test_unknown_characters_read_as_the_unknown_code():
    tokenizer = CharTokenizer(unknown="?")
    tokenizer.adapt(["abc", "cab"])
    assert tokenizer.vocabulary == "?abc"  # learnt with the unknown character among them
    assert tokenizer.decode(tokenizer.encode("abxc€")) == "ab?c?"


def test_a_character_outside_the_vocabulary_is_named_without_an_unknown_code():
    tokenizer = CharTokenizer(vocabulary="abc")
    with pytest.raises(DataError, match=r"no code for 'z' \(position 2 .*unknown="):
        tokenizer.encode("abzz")


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"vocabulary": "abca"}, "holds 'a' more than once"),
        ({"vocabulary": ""}, "non-empty string"),
        ({"vocabulary": ["a", "b"]}, "non-empty string"),
        ({"vocabulary": "abc", "unknown": "?"}, "'?' is not in the vocabulary"),
        ({"unknown": "??"}, "one character"),
    ],
)
def test_a_bad_configuration_says_what_is_wrong(arguments, message):
    with pytest.raises(ConfigurationError, match=message):
        CharTokenizer(**arguments)


def test_text_before_a_vocabulary_and_numbers_to_learn_from_are_refused():
    with pytest.raises(ConfigurationError, match=r"no vocabulary yet: call tokenizer.adapt"):
        CharTokenizer().encode("abc")
    with pytest.raises(ConfigurationError, match="learns its characters from text"):
        CharTokenizer().adapt(np.zeros((2, 3)))


def test_decode_refuses_codes_outside_the_vocabulary():
    tokenizer = CharTokenizer(vocabulary="ab")
    for codes in ([0, 2], [-1], [0.5]):
        with pytest.raises(DataError, match=r"whole-number codes 0\.\.1"):
            tokenizer.decode(codes)


def test_as_first_layer_it_reads_a_string_a_list_of_strings_or_codes():
    tokenizer = CharTokenizer(vocabulary="abc")
    assert tokenizer.encode_input("cab").tolist() == [[2, 0, 1]]
    assert tokenizer.encode_input(["ab", "ca"]).tolist() == [[0, 1], [2, 0]]
    assert tokenizer.encode_input(np.array(["ab", "ca"])).tolist() == [[0, 1], [2, 0]]
    codes = np.array([[0.0, 1.0]])
    assert tokenizer.encode_input(codes) is codes
    with pytest.raises(DataError, match="empty text"):
        tokenizer.encode_input("")
    with pytest.raises(DataError, match="texts of 2 lengths, from 2 to 3.*windows"):
        tokenizer.encode_input(["ab", "abc"])


def language_model(vocabulary: str | None = None, window: int = 4) -> nnkit.Network:
    """The smallest per-token language model: tokenizer, embedding, a softmax per step."""
    tokenizer = CharTokenizer(vocabulary=vocabulary)
    size = len(vocabulary) if vocabulary else 3
    return nnkit.Network(
        [tokenizer, nnkit.layer("embedding", input_dim=size, output_dim=4),
         nnkit.Dense(size, activation="softmax")],
        loss="cross_entropy", optimizer="adam", seed=0,
    )


def test_a_network_learns_the_vocabulary_from_the_texts_fit_is_given():
    net = language_model()
    texts = ["abca", "bcab", "cabc"]
    targets = [[1, 2, 0, 1], [2, 0, 1, 2], [0, 1, 2, 0]]
    net.fit(texts, targets, epochs=2, verbose=0)
    assert net.layers[0].vocabulary == "abc"
    assert net.predict("abca").shape == (1, 4, 3)


def test_the_vocabulary_is_saved_with_the_model_and_a_loaded_one_reads_text(tmp_path):
    net = language_model("xyz!")
    codes = np.array([[0, 1, 2, 3], [3, 2, 1, 0]], dtype=float)
    net.fit(codes, (codes + 1) % 4, epochs=3, verbose=0)
    net.save(tmp_path / "lm.nnkit")
    loaded = nnkit.load(tmp_path / "lm.nnkit")
    assert loaded.layers[0].vocabulary == "xyz!"
    assert np.array_equal(loaded.predict("xyz!"), net.predict(codes[:1]))
    assert loaded.layers[0].decode(loaded.predict_labels("xyz!")[0]) == net.layers[0].decode(
        net.predict_labels(codes[:1])[0]
    )


def test_codes_outside_the_vocabulary_are_refused_before_training():
    net = language_model("ab")
    with pytest.raises(DataError, match=r"codes 0\.\.1, but X holds 2\.0 in row 0, column 1"):
        net.fit(np.array([[0.0, 2.0]]), np.array([[1, 0]]), epochs=1, verbose=0)
