"""The fully connected layer: ``Z = W A + b``, ``A = g(Z)`` and their gradients, as written."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from nnkit.arguments import positive_int
from nnkit.errors import ConfigurationError
from nnkit.files.onnx import OnnxGraph, export_component
from nnkit.interfaces.activation import Activation
from nnkit.interfaces.initializer import Initializer
from nnkit.interfaces.layer import Shape
from nnkit.interfaces.workspace import Workspace
from nnkit.layers.weighted import WeightedLayer

__all__ = ["Dense"]


class Dense(WeightedLayer):
    """A fully connected layer of ``units`` neurons with an activation.

    Samples of any shape ``(..., n)`` are mapped on their last axis to ``(..., units)``,
    as Keras' ``Dense`` does: a sequence ``(T, d)`` becomes ``(T, units)``, the same
    weights applied at every position. Inside, every position is one more column of the
    classic formulation.

    Args:
        units: the number of neurons ``n^l``.
        activation: an activation name or instance; ``None`` means none (``A = Z``).
        kernel_initializer: initializer of ``W``; by default the one the activation names.
        bias_initializer: initializer of ``b``.
        l2: weight of the L2 penalty ``l2/2 * sum(W^2)`` added to the loss (biases are
            not penalised); it adds ``l2 * W`` to ``dW``.
    """

    example_arguments: ClassVar[dict[str, Any]] = {"units": 3, "activation": "tanh"}
    #: Position by position on sequences: a mask of padded positions passes on.
    supports_masking: ClassVar[bool] = True

    def __init__(
        self,
        units: int,
        activation: str | Activation | None = None,
        kernel_initializer: str | Initializer | None = None,
        bias_initializer: str | Initializer = "zeros",
        l2: float = 0.0,
    ) -> None:
        self.units = positive_int(units, "Dense units")
        self.configure_weights("Dense", activation, kernel_initializer, bias_initializer, l2)
        self.n_inputs: int | None = None
        #: The sample shape it was built for, whose last axis it maps.
        self.input_shape: Shape | None = None

    def build(self, input_shape: Shape, rng: np.random.Generator) -> Shape:
        if len(input_shape) < 1:
            raise ConfigurationError("dense needs samples of at least one axis")
        self.input_shape = tuple(input_shape)
        self.n_inputs = int(input_shape[-1])
        # W^l is (n^l, n^{l-1}) as in the classic formulation; b^l is the vector (n^l,), as
        # every bias in nnkit is, and is read as the column (n^l, 1) in the formulas.
        self.declare_weights((self.units, self.n_inputs), (self.units,))
        return (*input_shape[:-1], self.units)

    def fans(self) -> tuple[int, int]:
        assert self.n_inputs is not None, "build() sets n_inputs"
        return self.n_inputs, self.units

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        if x.ndim != 2:  # samples (..., n): every position is a column, (n, m T ...), then back
            y = self.forward(x.reshape(-1, x.shape[-1]), ws, training)
            return y.reshape(*x.shape[:-1], self.units)
        W, b = self.params["W"], self.params["b"]
        m = x.shape[0]
        activation = self.activation
        if training:  # Z^l = W^l A^{l-1} + b^l, in columns, as back-propagation reads it
            A_prev = x.T  # the classic layout: one column per sample, (n^{l-1}, m)
            Z = np.matmul(W, A_prev, out=ws.buffer("Z", (self.units, m), W.dtype))
            Z += b[:, None]  # b^l broadcast over the m columns
            if activation is not None and activation.elementwise:
                # A^l = g^l(Z^l) on the columns as they lie in memory (perf: NumPy runs
                # element-wise operations faster on them than on a transposed view)
                out = Z if activation.in_place else ws.buffer("A", Z.shape, Z.dtype)
                A = activation.forward(Z, out=out)
                # Kept as rows, (A^{l-1})^T, (Z^l)^T and (A^l)^T, as prediction keeps them;
                # the next layer takes the rows too.
                rows = A.T
                ws.A_prev, ws.Z, ws.A = x, rows if A is Z else Z.T, rows
                return rows
            Z = Z.T  # the rows (Z^l)^T, as activations take samples first
        else:
            # perf: the same product through its transpose, (Z^l)^T = (A^{l-1})^T (W^l)^T,
            # stored a sample after a sample. BLAS runs it faster on rows that arrive that
            # way, and the next layer takes them as they are.
            Z = np.matmul(x, W.T, out=ws.buffer("Z rows", (m, self.units), W.dtype))
            Z += b  # b added to each sample's row of (Z^l)^T
        if activation is None:
            A = Z
        else:  # A^l = g^l(Z^l), written over Z^l when the activation works in place
            out = Z if activation.in_place else ws.buffer_like("A", Z)
            A = activation.forward(Z, out=out)  # activations take samples first
        # Kept as rows, (A^{l-1})^T, (Z^l)^T and (A^l)^T: as the weights' gradient and
        # the activation's backward read them.
        ws.A_prev, ws.Z, ws.A = x, Z, A
        return A

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        if dy.ndim > 2:  # positions as columns, as forward took them, then back
            dx = self.backward(dy.reshape(-1, self.units), ws, need_input_gradient)
            return None if dx is None else dx.reshape(*dy.shape[:-1], -1)
        activation = self.activation
        if activation is None:
            return self._backward_columns(dy.T, ws, need_input_gradient)
        dZ = ws.buffer("dZ", (self.units, dy.shape[0]), dy.dtype)
        if activation.elementwise:  # dZ^l = dA^l * g^l'(Z^l), on the columns (perf)
            Z, A = ws.Z, ws.A
            A_columns = A.T
            Z_columns = A_columns if Z is A else Z.T  # the same array, in place
            dZ = activation.backward(Z_columns, A_columns, dy.T, out=dZ)
            return self._backward_columns(dZ, ws, need_input_gradient)
        # dZ^l = dA^l * g^l'(Z^l), the activation taking rows, (dA^l)^T = dy
        out = dZ.T
        rows = activation.backward(ws.Z, ws.A, dy, out=out)
        return self._backward_columns(dZ if rows is out else rows.T, ws, need_input_gradient)

    def fusable_activation(self) -> Activation | None:
        """This layer's activation: Dense back-propagates from ``dZ^l`` as well as from
        ``dA^l``, so a loss fused with the activation skips its backward pass."""
        return self.activation

    def backward_from_dZ(
        self, dZ: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        """The rest of back-propagation once the gradient with respect to ``Z^l`` is
        known (directly, for a loss fused with this layer's activation): ``dZ`` has one
        row per sample, ``(m, n^l)``, as the loss computes it."""
        if dZ.ndim > 2:
            dx = self.backward_from_dZ(dZ.reshape(-1, self.units), ws, need_input_gradient)
            return None if dx is None else dx.reshape(*dZ.shape[:-1], -1)
        return self._backward_columns(dZ.T, ws, need_input_gradient)

    def _backward_columns(
        self, dZ: np.ndarray, ws: Workspace, need_input_gradient: bool
    ) -> np.ndarray | None:
        """``dW^l``, ``db^l`` and ``dA^{l-1}`` from ``dZ^l`` in columns, ``(n^l, m)``."""
        np.matmul(dZ, ws.A_prev, out=self.grads["W"])  # dW^l = dZ^l (A^{l-1})^T, as rows
        if self._l2_terms:  # + l2 W^l (perf: no call for the usual l2 of 0)
            self.add_penalty_gradients()
        # perf: the row sums as a product with a vector of ones, which BLAS runs several
        # times faster than a reduction along rows.
        m, dtype = dZ.shape[1], dZ.dtype
        ones = ws.filled("ones", (m,), dtype, 1)
        np.matmul(dZ, ones, out=self.grads["b"])  # db^l = dZ^l 1, the row sums of dZ^l
        if not need_input_gradient:
            return None
        W = self.params["W"]
        out = ws.buffer("dA_prev", (W.shape[1], m), dtype)
        dA_prev = np.matmul(W.T, dZ, out=out)  # dA^{l-1} = (W^l)^T dZ^l
        return dA_prev.T

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """``Gemm``: ``x W^T + b^T`` on rows (the transposed ``Z = W A + b``), then the
        activation's own ONNX form. Samples ``(..., n)`` are reshaped to one row per
        position and back, so the activation sees ``(positions, units)`` as in `forward`."""
        W, b = self.params["W"], self.params["b"]
        lead = () if self.input_shape is None else tuple(self.input_shape[:-1])
        if lead:
            x = graph.node("Reshape", [x, graph.weight(np.array([-1, W.shape[1]]), "rows")])
        z = graph.node("Gemm", [x, graph.weight(W, "W"), graph.weight(b, "b")], transB=1)
        if self.activation is not None:
            z = export_component(self.activation, graph, z, "the activation of dense")
        if lead:
            shape = np.array([-1, *lead, self.units])
            z = graph.node("Reshape", [z, graph.weight(shape, "samples")])
        return z

    def get_config(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "activation": self.activation,
            "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer,
            "l2": self.l2,
        }
