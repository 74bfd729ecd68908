"""The standard activations.

Arrays are ``(samples, units)``, samples first; ``out`` buffers are filled in place.
"""

from __future__ import annotations

import numpy as np

from nnkit import Activation
from nnkit.errors import ConfigurationError
from nnkit.files.onnx import OnnxGraph
from nnkit.interfaces.buffers import BufferCache


class Sigmoid(Activation):
    """``g(z) = 1 / (1 + e^{-z})``, with ``g'`` computed from ``A`` as ``A (1 - A)``."""

    elementwise = True
    outputs_probabilities = True

    in_place = True

    def forward(self, Z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        # 1 / (1 + e^{-z}) = (1 + tanh(z / 2)) / 2, which cannot overflow for large |z|.
        out = np.multiply(Z, 0.5, out=out)
        np.tanh(out, out=out)
        out += 1
        out *= 0.5
        return out

    def derivative(self, Z: np.ndarray) -> np.ndarray:
        A = self.forward(Z)
        return A * (1 - A)

    def backward(
        self, Z: np.ndarray, A: np.ndarray, dA: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        out = np.subtract(1, A, out=out)  # dZ = dA * A * (1 - A)
        out *= A
        out *= dA
        return out

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        return graph.node("Sigmoid", [x])


class ReLU(Activation):
    """``g(z) = max(z, 0)``; ``g'(z)`` is 1 where ``z > 0`` and 0 elsewhere, which is
    where ``A > 0``: the backward pass needs only ``A``, so ReLU works in place."""

    elementwise = True
    outputs_probabilities = False

    default_initializer = "he_normal"
    in_place = True

    def __init__(self) -> None:
        self._zeros = BufferCache()

    def forward(self, Z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        # perf: NumPy's maximum is vectorised for two arrays but not for an array and a
        # scalar; against an array of zeros in the same memory order it runs about four
        # times faster. The zeros are kept per shape, so one instance can serve layers of
        # several widths.
        return np.maximum(Z, self._zeros.filled_like("zeros", Z, 0), out=out)

    def derivative(self, Z: np.ndarray) -> np.ndarray:
        return (Z > 0).astype(Z.dtype)

    def backward(
        self, Z: np.ndarray, A: np.ndarray, dA: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        if out is None or out is dA:
            return np.multiply(dA, A > 0, out=out)
        # perf: g'(Z) as numbers, 1 where A > 0 and 0 elsewhere, then a product of two
        # float arrays, faster than one of floats and booleans. As A >= 0, sign(A) is
        # g'(Z) too, and faster for small batches; NumPy compares large ones faster.
        if A.size <= 4096:
            np.sign(A, out=out)
        else:
            np.greater(A, 0.0, out=out)
        out *= dA
        return out

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        return graph.node("Relu", [x])


class LeakyReLU(Activation):
    """``g(z) = z`` for ``z > 0`` and ``alpha z`` otherwise.

    Args:
        alpha: the slope for negative inputs, in [0, 1).
    """

    elementwise = True
    outputs_probabilities = False

    default_initializer = "he_normal"

    def __init__(self, alpha: float = 0.01) -> None:
        if not 0 <= alpha < 1:
            raise ConfigurationError(f"leaky_relu alpha must be in [0, 1), got {alpha!r}")
        self.alpha = float(alpha)

    def forward(self, Z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        out = np.multiply(Z, self.alpha, out=out)
        return np.maximum(Z, out, out=out)  # max(z, alpha z) for 0 <= alpha < 1

    def derivative(self, Z: np.ndarray) -> np.ndarray:
        return np.where(Z > 0, 1, self.alpha).astype(Z.dtype)

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        if graph.runs_float32_only_operators:
            return graph.node("LeakyRelu", [x], alpha=self.alpha)
        # max(z, alpha z), as forward computes it.
        alpha_z = graph.node("Mul", [x, graph.constant(self.alpha, "alpha")])
        return graph.node("Max", [x, alpha_z])


class Tanh(Activation):
    """``g(z) = tanh(z)``, with ``g'`` computed from ``A`` as ``1 - A^2``."""

    elementwise = True
    outputs_probabilities = False

    in_place = True

    def forward(self, Z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return np.tanh(Z, out=out)

    def derivative(self, Z: np.ndarray) -> np.ndarray:
        return 1 - np.tanh(Z) ** 2

    def backward(
        self, Z: np.ndarray, A: np.ndarray, dA: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        out = np.multiply(A, A, out=out)  # dZ = dA * (1 - A^2)
        np.subtract(1, out, out=out)
        out *= dA
        return out

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        return graph.node("Tanh", [x])


class Softmax(Activation):
    """``g(z)_i = e^{z_i} / sum_j e^{z_j}`` over the units of each sample: the last axis.

    Not element-wise: its Jacobian is not diagonal, so it gives `backward()`
    ``dZ = A * (dA - sum(dA * A))`` instead of a derivative.
    """

    outputs_probabilities = True

    in_place = True

    def forward(self, Z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        if Z.ndim == 2:
            flags = Z.flags
            if flags.f_contiguous and (out is None or out is Z or out.flags.f_contiguous):
                # perf: the transposed view of a dense layer's columns (training): the
                # softmax of each column of Z^T as it lies in memory, every result
                # written C-ordered, which NumPy does faster than into a transposed view.
                columns = Z.T
                if out is None:
                    return _softmax_columns(columns, None).T
                _softmax_columns(columns, columns if out is Z else out.T)
                return out
            if flags.c_contiguous:
                # perf: stored a sample after a sample, each row's max and sum would be
                # a reduction over a few contiguous numbers, several times slower than
                # down the columns of the transposed copy, across the samples at once.
                A = _softmax_columns(np.ascontiguousarray(Z.T), None).T
                if out is None:
                    return A
                out[...] = A
                return out
        # Subtracting each sample's maximum leaves the result unchanged and keeps e^z finite.
        # perf: the reductions themselves (what Z.max and out.sum call) spare a Python
        # call each, per batch.
        out = np.subtract(Z, np.maximum.reduce(Z, axis=-1, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= np.add.reduce(out, axis=-1, keepdims=True)
        return out

    def backward(
        self, Z: np.ndarray, A: np.ndarray, dA: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        out = np.multiply(dA, A, out=out)
        inner = out.sum(axis=-1, keepdims=True)  # sum over units of dA * A, per sample
        np.subtract(dA, inner, out=out)
        out *= A
        return out

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        return graph.node("Softmax", [x], axis=1)  # the units (or channels) of each sample


def _softmax_columns(Z: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """The softmax of each column of ``Z`` ``(units, samples)``: `Softmax.forward` on its
    transpose, each column's maximum subtracted first to keep ``e^z`` finite."""
    out = np.subtract(Z, np.maximum.reduce(Z, axis=0, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= np.add.reduce(out, axis=0, keepdims=True)
    return out


class Identity(Activation):
    """``g(z) = z``: a linear output, for regression."""

    elementwise = True
    outputs_probabilities = False

    in_place = True

    def forward(self, Z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        if out is None:
            return Z.copy()
        np.copyto(out, Z)
        return out

    def derivative(self, Z: np.ndarray) -> np.ndarray:
        return np.ones_like(Z)

    def backward(
        self, Z: np.ndarray, A: np.ndarray, dA: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        if out is None:
            return dA.copy()
        np.copyto(out, dA)
        return out

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        return graph.node("Identity", [x])
