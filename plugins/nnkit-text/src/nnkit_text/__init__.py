"""nnkit-text: layers for sequences, ``(time_steps, features)``: layer normalisation,
recurrent layers, self-attention with positional embeddings, 1-D convolution and global
pooling over time; a character tokenizer saved with the model, and `generate`, which
samples text from a language model.

Registered through this distribution's ``[project.entry-points.nnkit]`` table only; nnkit
itself knows nothing of it.
"""

from __future__ import annotations

import nnkit
from nnkit.registry.hookspecs import Register
from nnkit_text.attention import MultiHeadAttention
from nnkit_text.convolution import Conv1D
from nnkit_text.generation import generate
from nnkit_text.normalization import LayerNorm
from nnkit_text.pooling import GlobalAvgPool1D, GlobalMaxPool1D
from nnkit_text.positions import PositionalEmbedding, SinusoidalEmbedding
from nnkit_text.recurrent import GRU, LSTM, SimpleRNN
from nnkit_text.tokenizer import CharTokenizer

__all__ = [
    "GRU",
    "LSTM",
    "CharTokenizer",
    "Conv1D",
    "GlobalAvgPool1D",
    "GlobalMaxPool1D",
    "LayerNorm",
    "MultiHeadAttention",
    "PositionalEmbedding",
    "SimpleRNN",
    "SinusoidalEmbedding",
    "generate",
]

__version__ = "0.1.0"


@nnkit.hookimpl
def register_layers(register: Register) -> None:
    register("layer_norm", LayerNorm)
    register("rnn", SimpleRNN)
    register("lstm", LSTM)
    register("gru", GRU)
    register("multi_head_attention", MultiHeadAttention)
    register("positional_embedding", PositionalEmbedding)
    register("sinusoidal_embedding", SinusoidalEmbedding)
    register("conv1d", Conv1D)
    register("global_max_pool1d", GlobalMaxPool1D)
    register("global_avg_pool1d", GlobalAvgPool1D)
    register("char_tokenizer", CharTokenizer)
