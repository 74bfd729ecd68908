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
        self.add_parameter("gamma", (self.features,), "ones")  # the scale, 1 at first
        self.add_parameter("beta", (self.features,), "zeros")  # the shift, 0 at first
        return tuple(input_shape)

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)  # mu = (1/d) sum_j x_j
        centred = x - mean  # x - mu
        variance = np.mean(centred * centred, axis=-1, keepdims=True)  # var = mean((x-mu)^2)
        inverse_std = 1 / np.sqrt(variance + self.epsilon)  # 1 / sigma
        x_hat = np.multiply(centred, inverse_std, out=centred)  # x_hat = (x - mu) / sigma
        ws.x_hat, ws.inverse_std = x_hat, inverse_std
        y = x_hat * self.params["gamma"]
        y += self.params["beta"]  # y = gamma x_hat + beta
        return y

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        x_hat, inverse_std = ws.x_hat, ws.inverse_std
        gamma, d = self.params["gamma"], self.features
        # Over all positions as rows, (N, d): the sums over rows and the means over a
        # row's features against gamma are then BLAS products, not reductions.
        flat_dy, flat_x_hat = dy.reshape(-1, d), x_hat.reshape(-1, d)
        dy_x_hat = flat_dy * flat_x_hat
        ones = np.ones(flat_dy.shape[0], dy.dtype)
        self.grads["gamma"][...] = ones @ dy_x_hat  # dgamma = sum dy x_hat
        self.grads["beta"][...] = ones @ flat_dy  # dbeta = sum dy
        if not need_input_gradient:
            return None
        dx = dy * gamma  # dx_hat = dy gamma
        mean_dx_hat = (flat_dy @ gamma).reshape(inverse_std.shape) / d  # mean(dx_hat)
        # mean(dx_hat x_hat) = mean(dy x_hat gamma)
        mean_dx_hat_x_hat = (dy_x_hat @ gamma).reshape(inverse_std.shape) / d
        # dx = (dx_hat - mean(dx_hat) - x_hat mean(dx_hat x_hat)) / sigma
        dx -= mean_dx_hat
        dx -= x_hat * mean_dx_hat_x_hat
        dx *= inverse_std
        return dx

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
