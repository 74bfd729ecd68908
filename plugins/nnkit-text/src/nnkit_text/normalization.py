"""Layer normalisation: each sample's features standardised over the last axis, then
scaled and shifted by learnt ``gamma`` and ``beta`` (Ba, Kiros and Hinton, 2016)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from nnkit import Layer
from nnkit.arguments import POSITIVE, real_number
from nnkit.files.onnx import OnnxGraph
from nnkit.interfaces.workspace import Workspace

__all__ = ["LayerNorm"]


class LayerNorm(Layer):
    """``y = gamma * (x - mean) / sqrt(var + epsilon) + beta``, the mean and the (biased)
    variance taken over the last axis of each sample, for samples of any shape: a
    ``(T, d)`` sequence is normalised one time step at a time, as PyTorch's
    ``nn.LayerNorm(d)`` does.

    Unlike batch normalisation, nothing depends on the other samples of the batch and
    nothing is kept between calls: training and inference compute the same thing.

    The parameters are ``gamma`` (starts at ones) and ``beta`` (zeros), each of the last
    axis's length; PyTorch calls them ``weight`` and ``bias``.

    Args:
        epsilon: added to the variance before its square root, PyTorch's ``eps``.
    """

    example_input_shape: ClassVar[tuple[int, ...]] = (3, 4)
    supports_masking: ClassVar[bool] = True  # step by step: a mask passes on

    def __init__(self, epsilon: float = 1e-5) -> None:
        self.epsilon = real_number(epsilon, "layer_norm epsilon", POSITIVE)
        self.features: int | None = None

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        self.features = int(input_shape[-1])
        return tuple(input_shape)

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"gamma": (self.features,), "beta": (self.features,)}

    def initialize(self, rng: np.random.Generator) -> None:
        self.params["gamma"][...] = 1
        self.params["beta"][...] = 0

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)  # mu = (1/d) sum_j x_j
        centred = x - mean  # x - mu
        variance = np.mean(centred * centred, axis=-1, keepdims=True)  # var = mean((x-mu)^2)
        inverse_std = 1 / np.sqrt(variance + self.epsilon)  # 1 / sigma
        x_hat = centred * inverse_std  # x_hat = (x - mu) / sigma
        ws.x_hat, ws.inverse_std = x_hat, inverse_std
        return x_hat * self.params["gamma"] + self.params["beta"]  # y = gamma x_hat + beta

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        x_hat, inverse_std = ws.x_hat, ws.inverse_std
        samples_axes = tuple(range(dy.ndim - 1))
        self.grads["gamma"][...] = np.sum(dy * x_hat, axis=samples_axes)  # dgamma = sum dy x_hat
        self.grads["beta"][...] = np.sum(dy, axis=samples_axes)  # dbeta = sum dy
        if not need_input_gradient:
            return None
        dx_hat = dy * self.params["gamma"]  # dx_hat = dy gamma
        mean_dx_hat = dx_hat.mean(axis=-1, keepdims=True)
        mean_dx_hat_x_hat = np.mean(dx_hat * x_hat, axis=-1, keepdims=True)
        # dx = (dx_hat - mean(dx_hat) - x_hat mean(dx_hat x_hat)) / sigma
        return (dx_hat - mean_dx_hat - x_hat * mean_dx_hat_x_hat) * inverse_std

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """``LayerNormalization`` over the last axis from operator set 17; before it, the
        same formula spelt with ``ReduceMean``, ``Sub``, ``Mul``, ``Sqrt`` and ``Div``."""
        gamma = graph.weight(self.params["gamma"], "gamma")
        beta = graph.weight(self.params["beta"], "beta")
        if graph.opset >= 17:
            return graph.node(
                "LayerNormalization", [x, gamma, beta], axis=-1, epsilon=self.epsilon
            )
        mean = graph.node("ReduceMean", [x], axes=[-1], keepdims=1)
        centred = graph.node("Sub", [x, mean])
        variance = graph.node("ReduceMean", [graph.node("Mul", [centred, centred])],
                              axes=[-1], keepdims=1)
        std = graph.node("Sqrt", [graph.node("Add", [variance, graph.constant(self.epsilon)])])
        x_hat = graph.node("Div", [centred, std])
        return graph.node("Add", [graph.node("Mul", [x_hat, gamma]), beta])

    def get_config(self) -> dict[str, Any]:
        return {"epsilon": self.epsilon}
