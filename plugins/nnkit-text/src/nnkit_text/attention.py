"""Multi-head self-attention (Vaswani et al., 2017), forward and backward written out.

For a batch of sequences ``x``, ``(m, T, d)``, with ``H`` heads of ``k`` dimensions::

    Q, K, V = x W_qkv + b_qkv            one product, split in three, each (m, H, T, k)
    S = Q Kᵀ / sqrt(k)                    (m, H, T, T), one score per pair of steps
    S[i, j] = -inf for j > i              causal only: a step sees none after it
    S[i, j] = -inf for a padded step j    with a mask: padded keys are never attended to
    P = softmax(S) along j
    O = P V                               (m, H, T, k), the heads then side by side
    y = O W_o + b_o                       (m, T, d)
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from nnkit import Layer
from nnkit.arguments import positive_int
from nnkit.errors import ConfigurationError
from nnkit.files.onnx import OnnxGraph
from nnkit.interfaces.workspace import Workspace
from nnkit_text.sequences import sequence_shape

__all__ = ["MultiHeadAttention"]


class MultiHeadAttention(Layer):
    """Self-attention of ``heads`` heads of ``key_dim`` dimensions over ``(T, d)``
    sequences, output ``(T, d)``: each step's output mixes the values of the steps it
    attends to (with ``causal=True``, only itself and those before it).

    The parameters are ``W_qkv``, ``(d, 3 H k)``: the query, key and value projections
    side by side, so that one product makes all three, and ``b_qkv``; then ``W_o``,
    ``(H k, d)``, and ``b_o``. With ``heads * key_dim == d`` this is PyTorch's
    ``nn.MultiheadAttention(d, heads, batch_first=True)`` with ``W_qkv =
    in_proj_weightᵀ``, ``b_qkv = in_proj_bias``, ``W_o = out_proj.weightᵀ`` and ``b_o =
    out_proj.bias``; here ``key_dim`` may also be chosen freely.

    Args:
        heads: how many heads attend side by side.
        key_dim: the size ``k`` of each head's queries, keys and values.
        causal: mask the scores of later steps, for a model that predicts each step
            from the ones before it.

    With a mask of padded positions (from an embedding's ``mask_zero``) the padded
    steps are left out as keys, as PyTorch's ``key_padding_mask`` does; the mask passes
    on to the output. A step that sees no key at all (a sequence of padding only, or
    a causal step with only padding before it) gets attention weights of 0, an output
    of ``b_o``, where PyTorch gives NaN.
    """

    example_arguments: ClassVar[dict[str, Any]] = {"heads": 2, "key_dim": 3, "causal": True}
    example_input_shape: ClassVar[tuple[int, ...]] = (4, 5)
    supports_masking: ClassVar[bool] = True

    def __init__(self, heads: int, key_dim: int, causal: bool = False) -> None:
        self.heads = positive_int(heads, "multi_head_attention heads")
        self.key_dim = positive_int(key_dim, "multi_head_attention key_dim")
        if not isinstance(causal, (bool, np.bool_)):
            raise ConfigurationError(
                f"multi_head_attention causal must be True or False, got {causal!r}"
            )
        self.causal = bool(causal)
        self.steps: int | None = None
        self.features: int | None = None

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        self.steps, self.features = sequence_shape(input_shape, "multi_head_attention")
        # Each projection uniform on [-r, r], r = sqrt(6 / (d + H k)) (Glorot's, with the
        # fans of one projection, as PyTorch draws them); biases at zero.
        d, inner = self.features, self.heads * self.key_dim
        self.add_parameter("W_qkv", (d, 3 * inner), "glorot_uniform", fans=(d, inner))
        self.add_parameter("b_qkv", (3 * inner,), "zeros")
        self.add_parameter("W_o", (inner, d), "glorot_uniform", fans=(inner, d))
        self.add_parameter("b_o", (d,), "zeros")
        return (self.steps, self.features)

    def _heads(self, flat: np.ndarray) -> np.ndarray:
        """``(m, T, H k)`` as ``(m, H, T, k)``: a view."""
        m = flat.shape[0]
        return flat.reshape(m, self.steps, self.heads, self.key_dim).transpose(0, 2, 1, 3)

    def _merged(self, heads: np.ndarray) -> np.ndarray:
        """``(m, H, T, k)`` as ``(m, T, H k)``: the heads side by side (a copy)."""
        m = heads.shape[0]
        return heads.transpose(0, 2, 1, 3).reshape(m, self.steps, self.heads * self.key_dim)

    def _future(self) -> np.ndarray:
        """True above the diagonal: the pairs ``(i, j)``, ``j > i``, a causal step hides."""
        return np.triu(np.ones((self.steps, self.steps), dtype=bool), k=1)

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        inner = self.heads * self.key_dim
        # One product over every step of every sequence: a batch of 2-D products (what
        # x @ W gives for a 3-D x) is slower.
        qkv = (x.reshape(-1, self.features) @ self.params["W_qkv"]).reshape(
            x.shape[0], self.steps, 3 * inner
        )
        qkv += self.params["b_qkv"]  # [Q K V] = x W_qkv + b_qkv
        Q, K, V = (self._heads(qkv[..., i * inner : (i + 1) * inner]) for i in range(3))
        S = Q @ K.transpose(0, 1, 3, 2)  # S = Q Kᵀ ...
        S *= 1 / math.sqrt(self.key_dim)  # ... / sqrt(k)
        if self.causal:  # softmax gives these pairs 0; adding is faster than indexing
            S += np.where(self._future(), -np.inf, 0).astype(S.dtype)
        if ws.mask is None:
            S -= S.max(axis=-1, keepdims=True)  # the same softmax, without overflow
            P = np.exp(S, out=S)
            P /= P.sum(axis=-1, keepdims=True)  # P = softmax(S)
        else:
            P = self._softmax_of_real_keys(S, ws.mask)
        mixed = self._merged(P @ V)  # O = P V, the heads side by side
        ws.x, ws.Q, ws.K, ws.V, ws.P, ws.mixed = x, Q, K, V, P, mixed
        y = (mixed.reshape(-1, inner) @ self.params["W_o"]).reshape(x.shape)
        y += self.params["b_o"]  # y = O W_o + b_o
        return y

    @staticmethod
    def _softmax_of_real_keys(S: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """``softmax(S)`` over the keys the mask keeps, in place of ``S``: padded keys
        get 0, and a row with no key left gets 0 throughout (not 0/0)."""
        S += np.where(mask, 0.0, -np.inf).astype(S.dtype)[:, None, None, :]
        top = S.max(axis=-1, keepdims=True)
        top[~np.isfinite(top)] = 0  # a row of -inf: exp gives zeros, not NaN
        S -= top
        P = np.exp(S, out=S)
        total = P.sum(axis=-1, keepdims=True)
        np.divide(P, total, out=P, where=total > 0)
        return P

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        x, Q, K, V, P, mixed = ws.x, ws.Q, ws.K, ws.V, ws.P, ws.mixed
        inner = self.heads * self.key_dim
        flat_dy = dy.reshape(-1, self.features)
        self.grads["W_o"][...] = mixed.reshape(-1, inner).T @ flat_dy  # dW_o = Oᵀ dy
        self.grads["b_o"][...] = flat_dy.sum(axis=0)  # db_o = Σ dy
        dO = self._heads((flat_dy @ self.params["W_o"].T).reshape(-1, self.steps, inner))  # dy W_oᵀ
        dV = P.transpose(0, 1, 3, 2) @ dO  # dV = Pᵀ dO
        dP = dO @ V.transpose(0, 1, 3, 2)  # dP = dO Vᵀ
        # dS = P (dP - Σ_j P dP): the softmax's Jacobian; 0 where P is (hidden pairs)
        dP -= np.sum(P * dP, axis=-1, keepdims=True)
        dS = np.multiply(dP, P, out=dP)
        dS *= 1 / math.sqrt(self.key_dim)  # through S = Q Kᵀ / sqrt(k)
        dQ = dS @ K  # dQ = dS K
        dK = dS.transpose(0, 1, 3, 2) @ Q  # dK = dSᵀ Q
        # [dQ dK dV], the heads side by side in each: one copy of each into place.
        dqkv = np.empty((dy.shape[0], self.steps, 3, self.heads, self.key_dim), dQ.dtype)
        for part, gradient in enumerate((dQ, dK, dV)):
            dqkv[:, :, part] = gradient.transpose(0, 2, 1, 3)
        flat_dqkv = dqkv.reshape(-1, 3 * inner)
        self.grads["W_qkv"][...] = x.reshape(-1, self.features).T @ flat_dqkv  # dW = xᵀ dqkv
        self.grads["b_qkv"][...] = flat_dqkv.sum(axis=0)  # db_qkv = Σ dqkv
        if not need_input_gradient:
            return None
        return (flat_dqkv @ self.params["W_qkv"].T).reshape(x.shape)  # dx = dqkv W_qkvᵀ

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """``MatMul``, ``Reshape``, ``Transpose``, ``Softmax``: the forward pass as
        written, a causal mask added to the scores as a constant of ``-inf`` above the
        diagonal."""
        inner, T, k = self.heads * self.key_dim, self.steps, self.key_dim
        W, b = self.params["W_qkv"], self.params["b_qkv"]
        heads_shape = graph.weight(np.array([0, T, self.heads, k], dtype=np.int64), "shape")
        parts = []
        for i in range(3):  # Q, K, V: (N, H, T, k)
            columns = slice(i * inner, (i + 1) * inner)
            flat = graph.node("Add", [graph.node("MatMul", [x, graph.weight(W[:, columns])]),
                                      graph.weight(b[columns])])
            parts.append(graph.node("Transpose", [graph.node("Reshape", [flat, heads_shape])],
                                    perm=[0, 2, 1, 3]))
        Q, K, V = parts
        S = graph.node("MatMul", [Q, graph.node("Transpose", [K], perm=[0, 1, 3, 2])])
        S = graph.node("Mul", [S, graph.constant(1 / math.sqrt(k), "scale")])
        if self.causal:
            mask = np.where(self._future(), -np.inf, 0).astype(graph.dtype)
            S = graph.node("Add", [S, graph.weight(mask, "causal_mask")])
        P = graph.node("Softmax", [S], axis=-1)
        mixed = graph.node("Transpose", [graph.node("MatMul", [P, V])], perm=[0, 2, 1, 3])
        merged = graph.weight(np.array([0, T, inner], dtype=np.int64), "shape")
        mixed = graph.node("Reshape", [mixed, merged])
        y = graph.node("MatMul", [mixed, graph.weight(self.params["W_o"], "W_o")])
        return graph.node("Add", [y, graph.weight(self.params["b_o"], "b_o")])

    def get_config(self) -> dict[str, Any]:
        return {"heads": self.heads, "key_dim": self.key_dim, "causal": self.causal}
