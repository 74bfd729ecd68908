"""Where each step is: positional embeddings added to a ``(T, d)`` sequence, so that
attention, which treats its steps as a set, can tell them apart."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from nnkit import Layer
from nnkit.arguments import POSITIVE, positive_int, real_number
from nnkit.errors import ConfigurationError
from nnkit.files.onnx import OnnxGraph
from nnkit.interfaces.workspace import Workspace
from nnkit_text.sequences import sequence_shape

__all__ = ["PositionalEmbedding", "SinusoidalEmbedding", "sinusoids"]


class PositionalEmbedding(Layer):
    """``y_t = x_t + P_t``: a learnt vector per position, ``P``, ``(max_length, dim)``,
    added to each step of sequences of up to ``max_length`` steps of ``dim`` features
    (GPT's learnt positions). Only the first ``T`` rows of ``P`` are used (and learnt)
    by sequences of ``T`` steps.

    Args:
        max_length: the most steps a sequence may have.
        dim: the features of each step; the input's must match.
    """

    example_arguments: ClassVar[dict[str, Any]] = {"max_length": 6, "dim": 3}
    example_input_shape: ClassVar[tuple[int, ...]] = (4, 3)
    supports_masking: ClassVar[bool] = True  # adds a vector per step: a mask passes on

    def __init__(self, max_length: int, dim: int) -> None:
        self.max_length = positive_int(max_length, "positional_embedding max_length")
        self.dim = positive_int(dim, "positional_embedding dim")
        self.steps: int | None = None

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        steps, features = sequence_shape(input_shape, "positional_embedding")
        if steps > self.max_length or features != self.dim:
            raise ConfigurationError(
                f"positional_embedding(max_length={self.max_length}, dim={self.dim}) takes "
                f"sequences of at most {self.max_length} steps of {self.dim} features, got "
                f"{steps} steps of {features}; set max_length >= {steps} and dim={features}"
            )
        self.steps = steps
        return (steps, features)

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"P": (self.max_length, self.dim)}

    def initialize(self, rng: np.random.Generator) -> None:
        """Normal with standard deviation 0.02, as GPT-2 starts its positions."""
        self.params["P"][...] = rng.normal(scale=0.02, size=self.params["P"].shape)

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        return x + self.params["P"][: self.steps]  # y_t = x_t + P_t

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        dP = self.grads["P"]
        np.sum(dy, axis=0, out=dP[: self.steps])  # dP_t = Σ_samples dy_t
        dP[self.steps :] = 0  # positions past T were not used
        return dy if need_input_gradient else None  # dx = dy

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """``Add`` of the first ``T`` rows of ``P``."""
        return graph.node("Add", [x, graph.weight(self.params["P"][: self.steps], "P")])

    def get_config(self) -> dict[str, Any]:
        return {"max_length": self.max_length, "dim": self.dim}


def sinusoids(steps: int, dim: int, base: float = 10000.0) -> np.ndarray:
    """The fixed positions of Vaswani et al. (2017), ``(steps, dim)``: ``PE[t, 2i] =
    sin(t / base^(2i/dim))`` and ``PE[t, 2i+1] = cos(t / base^(2i/dim))``."""
    t = np.arange(steps)[:, None]
    rates = base ** (-(np.arange(dim) // 2 * 2) / dim)  # 1 / base^(2i/dim), twice each
    angles = t * rates
    return np.where(np.arange(dim) % 2 == 0, np.sin(angles), np.cos(angles))


class SinusoidalEmbedding(Layer):
    """``y_t = x_t + PE_t`` with the fixed sinusoids of `sinusoids`: nothing to learn,
    and any sequence length.

    Args:
        base: the longest wavelength's scale, 10000 in the original.
    """

    example_input_shape: ClassVar[tuple[int, ...]] = (4, 3)
    supports_masking: ClassVar[bool] = True  # adds a vector per step: a mask passes on

    def __init__(self, base: float = 10000.0) -> None:
        self.base = real_number(base, "sinusoidal_embedding base", POSITIVE)
        self.steps: int | None = None
        self.features: int | None = None

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        self.steps, self.features = sequence_shape(input_shape, "sinusoidal_embedding")
        return (self.steps, self.features)

    def _table(self, dtype: Any) -> np.ndarray:
        return sinusoids(self.steps, self.features, self.base).astype(dtype)

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        return x + self._table(x.dtype)  # y_t = x_t + PE_t

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        return dy if need_input_gradient else None  # dx = dy

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """``Add`` of the table, as a constant."""
        return graph.node("Add", [x, graph.weight(self._table(graph.dtype), "PE")])

    def get_config(self) -> dict[str, Any]:
        return {"base": self.base}
