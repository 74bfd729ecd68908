"""W4's and W5's systems: nnkit with the nnkit-text layers, PyTorch, the GEMM bound.

Each builds the workload's language model (`benchmarks.sequence_workloads`), trains it
one epoch on the same sequences in batches of 32 with per-token cross-entropy and
AdamW (W4) or Adam (W5), and predicts next-token probabilities at every step.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from benchmarks.nnkit_systems import NNKit, plugin_missing
from benchmarks.sequence_workloads import SEQUENCE_INFERENCE_BATCH, SequenceWorkload

#: The plugin distributions nnkit's W4 and W5 networks are built from: the sequence
#: layers, and (for W4's GELU) the extra activations.
SEQUENCE_PLUGINS = {"W4": ("nnkit_text", "nnkit_extras"), "W5": ("nnkit_text",)}

#: Adam's epsilon as PyTorch adds it, to the square root of the corrected second moment.
EPSILON = 1e-8


def plugins_missing(workload: str) -> str | None:
    """Why nnkit's network for ``workload`` cannot be built here, or None when it can."""
    for plugin in SEQUENCE_PLUGINS[workload]:
        why = plugin_missing(plugin)
        if why is not None:
            return f"{plugin} is {why}"
    return None


class NNKitSequence(NNKit):
    """The language model from nnkit's public API and the nnkit-text layers; trained as
    `NNKit` trains the MLP."""

    name = "nnkit"

    @staticmethod
    def network(workload: SequenceWorkload, seed: int | None = 0):
        import nnkit

        d, V = workload.d_model, workload.vocabulary
        if workload.model == "gpt":
            layers: list[Any] = [
                nnkit.layer("embedding", input_dim=V, output_dim=d),
                nnkit.layer("positional_embedding", max_length=workload.steps, dim=d),
            ]
            for _ in range(workload.blocks):  # pre-norm: x + f(layer_norm(x))
                attention = nnkit.layer(
                    "multi_head_attention",
                    heads=workload.heads,
                    key_dim=d // workload.heads,
                    causal=True,
                )
                mlp = [
                    nnkit.layer("layer_norm"),
                    nnkit.Dense(workload.units, activation=nnkit.activation("gelu")),
                    nnkit.Dense(d),
                ]
                layers += [
                    nnkit.layer("residual", layers=[nnkit.layer("layer_norm"), attention]),
                    nnkit.layer("residual", layers=mlp),
                ]
            layers += [nnkit.layer("layer_norm"), nnkit.Dense(V, activation="softmax")]
            optimizer = nnkit.optimizer(
                "adamw",
                learning_rate=workload.learning_rate,
                weight_decay=workload.weight_decay,
                epsilon=EPSILON,
                epsilon_on="v_hat",
            )
        else:
            layers = [
                nnkit.layer("embedding", input_dim=V, output_dim=d),
                nnkit.layer("lstm", units=workload.units, return_sequences=True),
                nnkit.Dense(V, activation="softmax"),
            ]
            optimizer = nnkit.optimizer(
                "adam", learning_rate=workload.learning_rate, epsilon=EPSILON, epsilon_on="v_hat"
            )
        return nnkit.Network(layers, loss="cross_entropy", optimizer=optimizer, seed=seed)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.net.predict(X, batch_size=SEQUENCE_INFERENCE_BATCH)


class PyTorchSequence:
    """The same model in PyTorch, float32: ``nn.Embedding``, a learnt position table,
    pre-norm blocks of ``nn.LayerNorm``, ``nn.MultiheadAttention`` (causal) and a
    ``nn.GELU(approximate="tanh")`` MLP with ``torch.optim.AdamW`` for W4;
    ``nn.Embedding``, ``nn.LSTM`` and ``nn.Linear`` with ``torch.optim.Adam`` for W5."""

    name = "pytorch"

    def __init__(self) -> None:
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        self.torch = torch

    def model(self, workload: SequenceWorkload):
        if workload.model == "gpt":
            return _gpt(self.torch, workload)
        return _lstm_model(self.torch, workload)

    def optimizer(self, workload: SequenceWorkload, parameters):
        optim = self.torch.optim
        if workload.model == "gpt":
            return optim.AdamW(
                parameters,
                lr=workload.learning_rate,
                weight_decay=workload.weight_decay,
                eps=EPSILON,
            )
        return optim.Adam(parameters, lr=workload.learning_rate, eps=EPSILON)

    def train(self, workload: SequenceWorkload, seed: int = 0) -> None:
        torch = self.torch
        torch.manual_seed(seed)
        self.net = self.model(workload)
        self.epochs(self.net, workload, shuffle=True, seed=seed)

    def epochs(self, net: Any, workload: SequenceWorkload, shuffle: bool, seed: int = 0) -> None:
        """Train ``net`` the workload's epochs in its batches, the order shuffled or not."""
        torch = self.torch
        optimizer = self.optimizer(workload, net.parameters())
        loss_function = torch.nn.CrossEntropyLoss()
        X, y = torch.from_numpy(workload.X), torch.from_numpy(workload.y)
        generator = torch.Generator().manual_seed(seed)
        for _ in range(workload.epochs):
            order = torch.randperm(len(X), generator=generator) if shuffle else None
            for start in range(0, len(X), workload.batch_size):
                if order is None:
                    rows: Any = slice(start, start + workload.batch_size)
                else:
                    rows = order[start : start + workload.batch_size]
                optimizer.zero_grad()
                logits = net(X[rows])
                loss = loss_function(logits.reshape(-1, workload.vocabulary), y[rows].reshape(-1))
                loss.backward()
                optimizer.step()

    def predict(self, X: np.ndarray) -> np.ndarray:
        torch, step = self.torch, SEQUENCE_INFERENCE_BATCH
        with torch.no_grad():
            tokens = torch.from_numpy(X)
            return np.concatenate(
                [
                    torch.softmax(self.net(tokens[start : start + step]), -1).numpy()
                    for start in range(0, len(X), step)
                ]
            )


def _gpt(torch: Any, workload: SequenceWorkload):
    nn = torch.nn
    d, T = workload.d_model, workload.steps

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm1 = nn.LayerNorm(d)
            self.attention = nn.MultiheadAttention(d, workload.heads, batch_first=True)
            self.norm2 = nn.LayerNorm(d)
            self.fc1 = nn.Linear(d, workload.units)
            self.gelu = nn.GELU(approximate="tanh")
            self.fc2 = nn.Linear(workload.units, d)
            self.register_buffer("future", torch.triu(torch.ones(T, T, dtype=torch.bool), 1))

        def forward(self, x):
            h = self.norm1(x)
            mixed, _ = self.attention(
                h, h, h, attn_mask=self.future, need_weights=False, is_causal=True
            )
            x = x + mixed
            return x + self.fc2(self.gelu(self.fc1(self.norm2(x))))

    class GPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tokens = nn.Embedding(workload.vocabulary, d)
            self.positions = nn.Parameter(torch.randn(T, d) * 0.02)
            self.blocks = nn.Sequential(*(Block() for _ in range(workload.blocks)))
            self.norm = nn.LayerNorm(d)
            self.head = nn.Linear(d, workload.vocabulary)

        def forward(self, tokens):
            x = self.tokens(tokens) + self.positions[: tokens.shape[1]]
            return self.head(self.norm(self.blocks(x)))

    return GPT()


def _lstm_model(torch: Any, workload: SequenceWorkload):
    nn = torch.nn

    class LSTMModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tokens = nn.Embedding(workload.vocabulary, workload.d_model)
            self.lstm = nn.LSTM(workload.d_model, workload.units, batch_first=True)
            self.head = nn.Linear(workload.units, workload.vocabulary)

        def forward(self, tokens):
            states, _ = self.lstm(self.tokens(tokens))
            return self.head(states)

    return LSTMModel()


#: A matrix product ``(batch, rows, inner, columns, repeats)``: ``repeats`` times
#: ``A (batch, rows, inner) @ B (batch, inner, columns)``; batch 0 for a plain 2-D one.
Product = tuple[int, int, int, int, int]


class GemmBoundSequence:
    """Only the matrix products of one training step of the model, on preallocated
    arrays: every forward product ``A B`` and, for each, ``dA = dC Bᵀ`` and ``dB = Aᵀ
    dC``. For W4 per block the ``qkv`` projection, the scores ``Q Kᵀ`` and ``P V`` of
    every head, the output projection and the MLP's two layers, then the head to the
    vocabulary; for W5 the input's product for all steps, 64 recurrent products forward
    and 64 back, the recurrent weights' gradient as one product over all steps, and the
    head. No NumPy implementation of the same step can take less time."""

    name = "GEMM bound"

    @staticmethod
    def products(workload: SequenceWorkload, m: int) -> tuple[list[Product], list[Product]]:
        """The forward products of a batch of ``m`` sequences, and the backward ones."""
        T, d, F, V = workload.steps, workload.d_model, workload.units, workload.vocabulary
        rows = m * T
        if workload.model == "gpt":
            H = workload.heads
            k = d // H
            block = [
                (0, rows, d, 3 * d, 1),  # [Q K V] = x W_qkv
                (m * H, T, k, T, 1),  # S = Q Kᵀ
                (m * H, T, T, k, 1),  # O = P V
                (0, rows, d, d, 1),  # O W_o
                (0, rows, d, F, 1),  # MLP in
                (0, rows, F, d, 1),  # MLP out
            ]
            forward = block * workload.blocks + [(0, rows, d, V, 1)]
            backward = [
                grad
                for b, r, i, c, n in forward
                for grad in ((b, r, c, i, n), (b, i, r, c, n))  # dA = dC Bᵀ, dB = Aᵀ dC
            ]
            return forward, backward
        gates = 4 * F
        forward = [
            (0, rows, d, gates, 1),  # x W for all steps
            (0, m, F, gates, T),  # h_{t-1} U, one step at a time
            (0, rows, F, V, 1),  # the head
        ]
        backward = [
            (0, rows, V, F, 1),  # dh from the head
            (0, F, rows, V, 1),  # dW of the head
            (0, m, gates, F, T),  # dh_{t-1} = dz_t Uᵀ, one step at a time
            (0, F, rows, gates, 1),  # dU over all steps
            (0, d, rows, gates, 1),  # dW over all steps
            (0, rows, gates, d, 1),  # dx, into the embedding
        ]
        return forward, backward

    def _arrays(self, products: list[Product], seed: int = 0) -> list[tuple[Any, ...]]:
        rng = np.random.default_rng(seed)
        arrays = []
        for b, r, i, c, n in products:
            lead = (b,) if b else ()
            arrays.append(
                (
                    np.ones((*lead, r, i), np.float32),
                    rng.standard_normal((*lead, i, c), dtype=np.float32),
                    np.empty((*lead, r, c), np.float32),
                    n,
                )
            )
        return arrays

    def train(self, workload: SequenceWorkload, seed: int = 0) -> None:
        forward, backward = self.products(workload, workload.batch_size)
        arrays = self._arrays(forward + backward, seed)
        steps = -(-len(workload.X) // workload.batch_size) * workload.epochs
        for _ in range(steps):
            for A, B, C, repeats in arrays:
                for _ in range(repeats):
                    np.matmul(A, B, out=C)
        self.workload = workload

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The forward products of each inference batch (the last one may be shorter)."""
        arrays_of: dict[int, list[tuple[Any, ...]]] = {}
        for start in range(0, len(X), SEQUENCE_INFERENCE_BATCH):
            m = min(SEQUENCE_INFERENCE_BATCH, len(X) - start)
            if m not in arrays_of:
                arrays_of[m] = self._arrays(self.products(self.workload, m)[0])
            for A, B, C, repeats in arrays_of[m]:
                for _ in range(repeats):
                    np.matmul(A, B, out=C)
        return C


def available_sequence_systems(workload: str) -> tuple[list[Any], list[str]]:
    """The systems that can run ``workload`` (W4 or W5) here, and notes on the others."""
    systems: list[Any] = []
    notes = []
    missing = plugins_missing(workload)
    if missing is None:
        systems.append(NNKitSequence())
    else:
        notes.append(
            f"{workload}: {missing}, so nnkit was skipped: "
            "pip install ./plugins/nnkit-text ./plugins/nnkit-extras"
        )
    systems.append(GemmBoundSequence())
    try:
        systems.append(PyTorchSequence())
    except ImportError:
        notes.append(f"{workload}: PyTorch is not installed, so it was skipped: pip install torch")
    return systems, notes
