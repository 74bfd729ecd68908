"""W4 and W5: language models over synthetic token sequences.

Both read 64 tokens of a 96-token vocabulary and predict the next token at every step:
``X`` holds tokens ``0 .. T-1`` of each sequence and ``y`` tokens ``1 .. T``. The tokens
come from a random first-order Markov chain drawn from a fixed seed, so there is
something to learn and every process that asks gets the same data.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

#: Sequences per batch when W4 and W5 measure inference.
SEQUENCE_INFERENCE_BATCH = 128


@dataclass(frozen=True)
class SequenceWorkload:
    """A next-token task and the shape of the model every system builds for it."""

    name: str
    X: np.ndarray  # (n_sequences, steps) int64 tokens
    y: np.ndarray  # (n_sequences, steps) int64: the next token at each step
    vocabulary: int
    model: str  # "gpt" (W4) or "lstm" (W5)
    d_model: int  # W4: the width of the residual stream; W5: the embedding's
    units: int  # W4: the MLP's width (4 d_model); W5: the LSTM's
    heads: int  # W4 only
    blocks: int  # W4 only
    batch_size: int
    epochs: int = 1
    learning_rate: float = 1e-3
    weight_decay: float = 0.0  # W4's AdamW: 0.01, PyTorch's default

    @property
    def steps(self) -> int:
        return int(self.X.shape[1])

    @property
    def tokens_per_sample(self) -> int:
        """What a throughput counts: every position of a sequence is a prediction."""
        return self.steps

    def head(self, n_samples: int) -> SequenceWorkload:
        """The same task on its first ``n_samples`` sequences."""
        return replace(self, X=self.X[:n_samples], y=self.y[:n_samples])


def markov_tokens(
    n_sequences: int, steps: int, vocabulary: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)``: ``n_sequences`` walks of ``steps + 1`` tokens through a random
    Markov chain whose rows are peaked (a Dirichlet of 0.1), split into inputs and the
    next token."""
    rng = np.random.default_rng(seed)
    transitions = rng.dirichlet(np.full(vocabulary, 0.1), size=vocabulary)
    cumulative = np.cumsum(transitions, axis=1)
    cumulative[:, -1] = 1.0
    tokens = np.empty((n_sequences, steps + 1), dtype=np.int64)
    tokens[:, 0] = rng.integers(0, vocabulary, n_sequences)
    draws = rng.random((n_sequences, steps))
    for t in range(steps):
        rows = cumulative[tokens[:, t]]
        tokens[:, t + 1] = (rows < draws[:, t : t + 1]).sum(axis=1)
    return tokens[:, :-1], tokens[:, 1:]


def tiny_gpt(n_sequences: int = 1024, seed: int = 0) -> SequenceWorkload:
    """W4: a tiny GPT; vocabulary 96, context 64, d_model 128, 4 heads, 2 pre-norm
    blocks (causal attention, GELU MLP 4x), batch 32, AdamW, one epoch of
    ``n_sequences / 32`` batches."""
    X, y = markov_tokens(n_sequences, 64, 96, seed)
    return SequenceWorkload(
        "W4",
        X,
        y,
        vocabulary=96,
        model="gpt",
        d_model=128,
        units=512,
        heads=4,
        blocks=2,
        batch_size=32,
        weight_decay=0.01,
    )


def lstm_language_model(n_sequences: int = 2048, seed: int = 0) -> SequenceWorkload:
    """W5: embedding 64, one LSTM of 128 units over 64 steps, dense to the vocabulary
    of 96 at every step, batch 32, Adam, one epoch of ``n_sequences / 32`` batches."""
    X, y = markov_tokens(n_sequences, 64, 96, seed)
    return SequenceWorkload(
        "W5",
        X,
        y,
        vocabulary=96,
        model="lstm",
        d_model=64,
        units=128,
        heads=0,
        blocks=0,
        batch_size=32,
    )


def build_sequence(name: str, n_sequences: int | None = None) -> SequenceWorkload:
    """W4 or W5 by name, on ``n_sequences`` sequences (each one's default otherwise)."""
    if name == "W4":
        return tiny_gpt(n_sequences or 1024)
    if name == "W5":
        return lstm_language_model(n_sequences or 2048)
    raise ValueError(f"unknown sequence workload {name!r}: expected W4 or W5")
