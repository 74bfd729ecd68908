"""The character GPT example: its pieces, its two spellings of the model, and a run at
the docs' size that beats the bigram model and writes a sample."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import nnkit

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "char_gpt.py"
#: The lesson the example's small size is: its printed losses are the example's.
LESSON = Path(__file__).resolve().parents[3] / "docs" / "text.md"


@pytest.fixture
def one_blas_thread():
    """The GPT's products are small: on a busy machine, BLAS threads would spend more
    time waiting for each other than computing (threadpoolctl comes with scikit-learn;
    without it, the test runs with the default threads)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        limits = contextlib.nullcontext()
    else:
        limits = threadpool_limits(1)
    with limits:
        yield


@pytest.fixture(scope="module")
def char_gpt():
    spec = importlib.util.spec_from_file_location("char_gpt", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["char_gpt"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("char_gpt", None)


def test_windows_pair_each_position_with_the_next_code(char_gpt):
    X, Y = char_gpt.windows(np.arange(10), length=3, stride=2)
    assert X.tolist() == [[0, 1, 2], [2, 3, 4], [4, 5, 6], [6, 7, 8]]
    assert np.array_equal(Y, X + 1)


def test_the_bigram_loss_is_the_cross_entropy_of_counted_pairs(char_gpt):
    train = np.array([0, 1, 0, 1, 1])  # pairs 01, 10, 01, 11
    valid = np.array([0, 1, 1])  # pairs 01, 11
    # With alpha=0: P(1|0) = 2/2, P(1|1) = 1/2.
    assert char_gpt.bigram_loss(train, valid, 2, alpha=0) == pytest.approx(np.log(2) / 2)


def test_the_list_and_the_graph_are_one_model(char_gpt):
    size = char_gpt.Size(modules=1, context=12, dim=8, heads=2, stride=6, epochs=1,
                         learning_rate=1e-2)  # fmt: skip
    tokenizer = nnkit.layer("char_tokenizer", vocabulary="abcdef ")
    as_list = char_gpt.char_gpt(tokenizer, size)
    as_graph = char_gpt.char_gpt_graph(tokenizer, size)
    as_list.build((12,))
    as_graph.build((12,))
    as_graph.set_weights(as_list.get_weights())  # the same parameters, in the same order
    text = ["abc def fedc", "fed cba abcd"]
    assert np.allclose(as_graph.predict(text), as_list.predict(text), rtol=0, atol=1e-12)
    # generate reads the graph's tokenizer as it reads the list's first layer.
    from nnkit_text import generate

    assert generate(as_graph, "ab", 10, seed=0) == generate(as_list, "ab", 10, seed=0)


def test_the_docs_size_beats_the_bigram_model_and_writes_a_sample(
    char_gpt, capsys, tmp_path, one_blas_thread
):
    from nnkit_text import generate

    losses = char_gpt.main(["--small", "--save", str(tmp_path / "gpt.nnkit")])
    assert losses["gpt"] < losses["bigram"] - 0.15, losses
    printed = capsys.readouterr().out.splitlines()
    assert printed[1].startswith(f"validation loss {losses['gpt']:.3f} (bigram ")
    assert printed[2].startswith("def ")
    # The lesson builds the same model on the same windows: it prints the same losses.
    assert f"# {losses['gpt']:.2f}, bigram {losses['bigram']:.2f}" in LESSON.read_text()
    loaded = nnkit.load(tmp_path / "gpt.nnkit")  # the tokenizer came with it
    assert len(generate(loaded, "import ", 40, seed=0)) == 40
