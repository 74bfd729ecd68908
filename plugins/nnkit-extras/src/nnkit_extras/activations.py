"""Smooth activations of recent networks: GELU, SiLU, ELU, SELU, softplus, mish.

Each gives ``g(Z)`` and ``g'(Z)`` element-wise, in the dtype of ``Z``, and writes the
same function into an ONNX graph (``to_onnx``) for `nnkit.Network.to_onnx`.
"""

from __future__ import annotations

import math

import numpy as np

import nnkit
from nnkit.files.onnx import OnnxGraph
from nnkit_extras.erf import normal_cdf, normal_pdf
from nnkit_extras.export import exact_gelu, exponential_linear, softplus

__all__ = ["GELU", "SiLU", "ELU", "SELU", "Softplus", "Mish"]


def _sigmoid(Z: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * Z))  # 1 / (1 + e^-z) without overflow


def _softplus(Z: np.ndarray) -> np.ndarray:
    return np.log1p(np.exp(-np.abs(Z))) + np.maximum(Z, 0)  # log(1 + e^z) without overflow


#: The forms of GELU: exact with the normal distribution function, or its tanh approximation.
GELU_FORMS = ("none", "tanh")


class GELU(nnkit.Activation):
    """``g(z) = z Phi(z)`` (Hendrycks and Gimpel, 2016), ``Phi`` the standard normal
    distribution function.

    ``approximate="tanh"`` (the default) is their tanh approximation,
    ``0.5 z (1 + tanh(c (z + 0.044715 z^3)))``, ``c = sqrt(2 / pi)``: nnkit 0.2.0's only
    form, kept as the default so that saved models, whose configuration predates the
    argument, compute exactly what they computed. ``approximate="none"`` is the exact
    ``z Phi(z)``, PyTorch's and Keras' default (``approximate="none"`` is PyTorch's
    spelling); the two differ by up to 4.8e-4. The exact form computes ``Phi`` in
    float64 with NumPy alone (`nnkit_extras.erf`), in about 1.5 times the tanh form's time.
    """

    elementwise = True
    outputs_probabilities = False

    default_initializer = "he_normal"
    C = math.sqrt(2 / math.pi)

    def __init__(self, approximate: str = "tanh") -> None:
        if not isinstance(approximate, str) or approximate not in GELU_FORMS:
            raise nnkit.ConfigurationError(
                f"gelu approximate must be one of {', '.join(map(repr, GELU_FORMS))}, "
                f"got {approximate!r}"
            )
        self.approximate = approximate

    def forward(self, Z):
        if self.approximate == "none":
            return (Z * normal_cdf(Z)).astype(Z.dtype, copy=False)
        # z^3 overflows only where tanh is already +-1. Z * Z * Z, not Z**3: NumPy's
        # float32 power by 3 calls powf per element, hundreds of times slower.
        with np.errstate(over="ignore"):
            return 0.5 * Z * (1 + np.tanh(self.C * (Z + 0.044715 * (Z * Z * Z))))

    def derivative(self, Z):
        if self.approximate == "none":  # Phi(z) + z phi(z); phi is 0 where z^2 overflows
            return (normal_cdf(Z) + np.clip(Z, -40, 40) * normal_pdf(Z)).astype(Z.dtype)
        # Beyond |z| = 10 tanh is +-1 to double precision and the second term 0 (it would
        # be 0 x inf = NaN where z^2 overflows): the derivative is the step (1 + t) / 2.
        Z_in_range = np.clip(Z, -10, 10)
        t = np.tanh(self.C * (Z_in_range + 0.044715 * (Z_in_range * Z_in_range * Z_in_range)))
        slope = 1 + 3 * 0.044715 * Z_in_range**2
        return 0.5 * (1 + t) + 0.5 * Z_in_range * (1 - t**2) * self.C * slope

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """The tanh approximation with ``Mul``, ``Add`` and ``Tanh``, in the order of
        `forward` (ONNX's own ``Gelu`` arrives only in operator set 20). Where ``z^3``
        overflows, ``tanh`` of the infinity is ``+-1`` and the result ``z`` or ``-0``,
        as in NumPy. The exact form as `nnkit_extras.export.exact_gelu` writes it."""
        if self.approximate == "none":
            return exact_gelu(graph, x)
        cube = graph.node("Mul", [graph.node("Mul", [x, x]), x])
        inner = graph.node("Add", [x, graph.node("Mul", [graph.constant(0.044715), cube])])
        t = graph.node("Tanh", [graph.node("Mul", [graph.constant(self.C, "c"), inner])])
        half_z = graph.node("Mul", [graph.constant(0.5, "half"), x])
        return graph.node("Mul", [half_z, graph.node("Add", [graph.constant(1.0, "one"), t])])


class SiLU(nnkit.Activation):
    """Swish / SiLU (Ramachandran et al., 2017): ``g(z) = z sigmoid(z)``."""

    elementwise = True
    outputs_probabilities = False

    default_initializer = "he_normal"

    def forward(self, Z):
        return Z * _sigmoid(Z)

    def derivative(self, Z):
        s = _sigmoid(Z)
        return s * (1 + Z * (1 - s))

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """``x Sigmoid(x)``: ONNX's own ``Swish`` arrives only in operator set 24."""
        return graph.node("Mul", [x, graph.node("Sigmoid", [x])])


class ELU(nnkit.Activation):
    """``g(z) = z`` for ``z > 0``, ``alpha (e^z - 1)`` otherwise (Clevert et al., 2016)."""

    elementwise = True
    outputs_probabilities = False

    default_initializer = "he_normal"

    def __init__(self, alpha: float = 1.0) -> None:
        if not alpha > 0:
            raise nnkit.ConfigurationError(f"elu alpha must be positive, got {alpha!r}")
        self.alpha = float(alpha)

    def forward(self, Z):
        return np.where(Z > 0, Z, self.alpha * np.expm1(np.minimum(Z, 0)))

    def derivative(self, Z):
        return np.where(Z > 0, 1, self.alpha * np.exp(np.minimum(Z, 0))).astype(Z.dtype)

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """``Elu`` in float32; in float64, which onnxruntime has no ``Elu`` for, the
        formula with ``Where`` and ``Tanh`` (see `exponential_linear`)."""
        if graph.runs_float32_only_operators:
            return graph.node("Elu", [x], alpha=self.alpha)
        return exponential_linear(graph, x, self.alpha)


class SELU(nnkit.Activation):
    """Scaled ELU (Klambauer et al., 2017) with the constants that make a deep stack of
    dense layers, started from ``lecun_normal``, keep zero mean and unit variance."""

    elementwise = True
    outputs_probabilities = False

    default_initializer = "lecun_normal"
    ALPHA = 1.6732632423543772
    SCALE = 1.0507009873554805

    def forward(self, Z):
        return self.SCALE * np.where(Z > 0, Z, self.ALPHA * np.expm1(np.minimum(Z, 0)))

    def derivative(self, Z):
        negative = self.ALPHA * np.exp(np.minimum(Z, 0))
        return (self.SCALE * np.where(Z > 0, 1, negative)).astype(Z.dtype)

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """``Selu`` with these constants in float32; in float64, which onnxruntime has no
        ``Selu`` for (and whose attributes are float32), ``SCALE`` times the ELU formula
        (see `exponential_linear`) with float64 constants."""
        if graph.runs_float32_only_operators:
            return graph.node("Selu", [x], alpha=self.ALPHA, gamma=self.SCALE)
        elu = exponential_linear(graph, x, self.ALPHA)
        return graph.node("Mul", [graph.constant(self.SCALE, "scale"), elu])


class Softplus(nnkit.Activation):
    """``g(z) = log(1 + e^z)``, a smooth ReLU whose derivative is the sigmoid."""

    elementwise = True
    outputs_probabilities = False

    def forward(self, Z):
        return _softplus(Z)

    def derivative(self, Z):
        return _sigmoid(Z)

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """``Softplus`` in float32, the overflow-free formula in float64 (see
        `nnkit_extras.export.softplus`)."""
        return softplus(graph, x)


class Mish(nnkit.Activation):
    """``g(z) = z tanh(softplus(z))`` (Misra, 2019)."""

    elementwise = True
    outputs_probabilities = False

    default_initializer = "he_normal"

    def forward(self, Z):
        return Z * np.tanh(_softplus(Z))

    def derivative(self, Z):
        t = np.tanh(_softplus(Z))
        return t + Z * _sigmoid(Z) * (1 - t**2)

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """``x Tanh(softplus(x))``, with softplus as `Softplus` exports it (ONNX's own
        ``Mish`` arrives only in operator set 18)."""
        return graph.node("Mul", [x, graph.node("Tanh", [softplus(graph, x)])])
