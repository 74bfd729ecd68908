"""Recurrent layers: ``rnn``, ``lstm`` and ``gru``, unrolled over the time steps of
``(m, T, d)`` sequences, with back-propagation through time written out step by step.

Every layer computes the input's share of all its gates, at every time step, as one
matrix product before the loop, ``XW = x W + b``, ``(m, T, G h)``: only the recurrent
product ``h_{t-1} U`` is left inside the loop. Backward likewise gathers the gradients
of all steps' gate inputs, ``dA``, ``(m, T, G h)``, and turns them into ``dW``, ``db``
and the input gradient ``dA Wᵀ`` with one product each after the loop. The LSTM keeps
these buffers time-major, ``(T, m, G h)``, so that each step's rows are contiguous.

Weights are laid out to multiply from the right, ``x W``: ``W`` is ``(d, G h)`` and
``U`` is ``(h, G h)``, the transposes of PyTorch's ``weight_ih_l0`` and
``weight_hh_l0``. The gates come in PyTorch's order (`LSTM`, `GRU`). The state starts
at zeros for every sequence.

With a mask of padded positions (``ws.mask``, True at a real step, from an embedding's
``mask_zero``) a padded step is skipped, as Keras skips it: the state (and an LSTM's
cell) carries over unchanged, so the last state is that of the last real step, and with
``return_sequences`` a padded step's output is the carried state (the mask passes on
and marks it). Padded inputs get no gradient. For sequences padded at the end this is
PyTorch's ``pack_padded_sequence``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from nnkit import Layer
from nnkit.arguments import positive_int
from nnkit.errors import ConfigurationError
from nnkit.files.onnx import OnnxGraph
from nnkit.interfaces.workspace import Workspace
from nnkit_text.sequences import sequence_shape

__all__ = ["GRU", "LSTM", "SimpleRNN"]


def sigmoid(z: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-z))`` written as ``(1 + tanh(z / 2)) / 2``: the same number,
    without the overflow ``exp(-z)`` meets for very negative ``z``."""
    np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1
    out *= 0.5
    return out


class _Recurrent(Layer):
    """What the three recurrent layers share: the shapes, the weights and their
    initialisation, the output (every step's state or the last) and the input product."""

    #: The registry name, for messages.
    kind: ClassVar[str]
    #: How many gates (blocks of ``units`` columns) ``W`` and ``U`` hold.
    gates: ClassVar[int]
    example_input_shape: ClassVar[tuple[int, ...]] = (4, 3)
    example_arguments: ClassVar[dict[str, Any]] = {"units": 3, "return_sequences": True}
    supports_masking: ClassVar[bool] = True

    def __init__(self, units: int, return_sequences: bool = False) -> None:
        self.units = positive_int(units, f"{self.kind} units")
        if not isinstance(return_sequences, (bool, np.bool_)):
            raise ConfigurationError(
                f"{self.kind} return_sequences must be True (the state at every time step, "
                f"(time_steps, units)) or False (the last state, (units,)), "
                f"got {return_sequences!r}"
            )
        self.return_sequences = bool(return_sequences)
        self.steps: int | None = None
        self.features: int | None = None

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        self.steps, self.features = sequence_shape(input_shape, self.kind)
        self.declare_parameters()
        return (self.steps, self.units) if self.return_sequences else (self.units,)

    def declare_parameters(self) -> None:
        """``W`` and ``U`` uniform on ``[-r, r]``, ``r = sqrt(6 / (fan_in + fan_out))``
        (Glorot's), with the fans of the whole matrix; biases at zero."""
        width = self.gates * self.units
        for name, rows in (("W", self.features), ("U", self.units)):
            self.add_parameter(name, (rows, width), "glorot_uniform", fans=(rows, width))
        self.add_parameter("b", (width,), "zeros")

    def _input_product(self, x: np.ndarray, ws: Workspace) -> np.ndarray:
        """``XW = x W + b`` for every time step of every sample, ``(m, T, G h)``: one
        matrix product instead of one per step."""
        W = self.params["W"]
        XW = ws.buffer("XW", (x.shape[0], self.steps, W.shape[1]), W.dtype)
        # One 2-D product (a 3-D x would make it one product per sample).
        np.matmul(x.reshape(-1, self.features), W, out=XW.reshape(-1, W.shape[1]))
        XW += self.params["b"]
        return XW

    def _states(self, m: int, ws: Workspace) -> np.ndarray:
        """The buffer of states ``h_0 .. h_T``, ``(m, T + 1, h)``, with ``h_0 = 0``."""
        H = ws.buffer("H", (m, self.steps + 1, self.units), self.params["W"].dtype)
        H[:, 0] = 0
        return H

    def compute_mask(self, x: np.ndarray, mask: np.ndarray | None) -> np.ndarray | None:
        """The mask passes on with every step's state; the last state alone has none."""
        return mask if self.return_sequences else None

    @staticmethod
    def _carry_over(states: tuple[np.ndarray, ...], mask: np.ndarray | None, t: int) -> None:
        """A padded step ``t`` (from 1) keeps the state it was given: ``h_t = h_{t-1}``
        (and ``c_t = c_{t-1}``) for the samples whose step is padding."""
        if mask is None:
            return
        padded = ~mask[:, t - 1]
        if padded.any():
            for S in states:
                S[padded, t] = S[padded, t - 1]

    @staticmethod
    def _kept(mask: np.ndarray | None, dtype: np.dtype) -> np.ndarray | None:
        """The mask as 1 (a real step) and 0 (padding), ``(m, T, 1)``, for backward."""
        return None if mask is None else mask.astype(dtype)[:, :, None]

    @staticmethod
    def _split_carried(
        kept: np.ndarray | None, t: int, *grads: np.ndarray
    ) -> list[np.ndarray] | None:
        """At a padded step the state's gradient passes straight to the step before: the
        part of each of ``grads`` that padding carries, taken out of them (in place)."""
        if kept is None:
            return None
        k = kept[:, t - 1]
        carried = [g * (1 - k) for g in grads]
        for g in grads:
            g *= k
        return carried

    def _output(self, H: np.ndarray) -> np.ndarray:
        """Every state ``h_1 .. h_T`` or only the last, ``h_T``: views of ``H``."""
        return H[:, 1:] if self.return_sequences else H[:, -1]

    def _upstream(self, dy: np.ndarray, t: int) -> np.ndarray | None:
        """The gradient that reaches ``h_t`` (``t`` from 1) from the layer's output:
        ``dy[:, t - 1]`` for sequences, ``dy`` at the last step only otherwise."""
        if self.return_sequences:
            return dy[:, t - 1]
        return dy if t == self.steps else None

    def _weight_gradients(
        self, x: np.ndarray, H: np.ndarray, dA: np.ndarray, dU_rows: np.ndarray
    ) -> None:
        """From the gradients of every step's gate inputs: ``dW = Σ_t x_tᵀ dA_t``, ``db =
        Σ_t dA_t`` and ``dU = Σ_t h_{t-1}ᵀ dU_rows_t``, each one product over all steps."""
        width = dA.shape[-1]
        flat_dA = dA.reshape(-1, width)
        np.matmul(x.reshape(-1, self.features).T, flat_dA, out=self.grads["W"])  # dW = Xᵀ dA
        np.sum(flat_dA, axis=0, out=self.grads["b"])  # db = Σ dA
        previous = H[:, :-1].reshape(-1, self.units)  # h_0 .. h_{T-1}
        np.matmul(previous.T, dU_rows.reshape(-1, width), out=self.grads["U"])  # dU = Hᵀ dA

    def _onnx_sequence(
        self, graph: OnnxGraph, op: str, x: str, W: np.ndarray, R: np.ndarray, B: np.ndarray,
        **attributes: Any,
    ) -> str:
        """ONNX's recurrent operator ``op`` with weights already in its gate order and
        layout (``W`` ``(G h, d)``, ``R`` ``(G h, h)``, ``B`` ``(2 G h,)``), on ``x``
        transposed to ONNX's ``(T, N, d)`` and its output transposed back."""
        steps_first = graph.node("Transpose", [x], perm=[1, 0, 2])
        weights = [graph.weight(W[None], "W"), graph.weight(R[None], "R"),
                    graph.weight(B[None], "B")]
        outputs = [graph.name(f"{op.lower()}_Y"), graph.name(f"{op.lower()}_Y_h")]
        from onnx import helper  # the onnx extra, present whenever a graph is written

        graph.nodes.append(helper.make_node(op, [steps_first, *weights], outputs,
                                            hidden_size=self.units, **attributes))
        if self.return_sequences:  # Y: (T, 1, N, h) -> (N, T, h)
            axes = graph.weight(np.array([1], dtype=np.int64), "axes")
            squeezed = graph.node("Squeeze", [outputs[0], axes])
            return graph.node("Transpose", [squeezed], perm=[1, 0, 2])
        axes = graph.weight(np.array([0], dtype=np.int64), "axes")
        return graph.node("Squeeze", [outputs[1], axes])  # Y_h: (1, N, h) -> (N, h)

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """ONNX's own recurrent operator (``RNN``, ``LSTM``, ``GRU``) in a float32 graph.
        onnxruntime implements those for float32 only, so a float64 graph unrolls the
        steps instead, as `forward` runs them: ``MatMul``, ``Sigmoid``, ``Tanh``, ``Mul``,
        ``Add`` per step (`_onnx_step`)."""
        if graph.runs_float32_only_operators:
            return self._onnx_operator(graph, x)
        XW = graph.node("Add", [graph.node("MatMul", [x, graph.weight(self.params["W"], "W")]),
                                graph.weight(self.params["b"], "b")])  # x W + b, all steps
        U = graph.weight(self.params["U"], "U")
        h: str | None = None  # h_0 = 0: the first step has no recurrent term
        carry: str | None = None
        states = []
        for t in range(self.steps):
            step = graph.weight(np.array(t, dtype=np.int64), "step")
            a = graph.node("Gather", [XW, step], axis=1)  # x_t W + b, (N, G h)
            h, carry = self._onnx_step(graph, a, h, carry, U)
            states.append(h)
        assert h is not None, "a sequence has at least one step"
        if not self.return_sequences:
            return h
        axes = graph.weight(np.array([1], dtype=np.int64), "axes")
        steps = [graph.node("Unsqueeze", [state, axes]) for state in states]
        return graph.node("Concat", steps, axis=1) if len(steps) > 1 else steps[0]

    def _onnx_operator(self, graph: OnnxGraph, x: str) -> str:
        """The layer as ONNX's own recurrent operator."""
        raise NotImplementedError

    def _onnx_step(
        self, graph: OnnxGraph, a: str, h: str | None, carry: str | None, U: str
    ) -> tuple[str, str | None]:
        """One unrolled step: ``h_t`` (and the cell, for an LSTM) from ``a = x_t W + b``,
        ``h_{t-1}`` (``None`` for zeros) and what the last step carried."""
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {"units": self.units, "return_sequences": self.return_sequences}


def _columns(graph: OnnxGraph, value: str, start: int, end: int) -> str:
    """Columns ``start`` to ``end`` of ``value``'s last axis: one gate's block."""
    starts = graph.weight(np.array([start], dtype=np.int64), "starts")
    ends = graph.weight(np.array([end], dtype=np.int64), "ends")
    axes = graph.weight(np.array([-1], dtype=np.int64), "axes")
    return graph.node("Slice", [value, starts, ends, axes])


def _plus_recurrent(graph: OnnxGraph, a: str, h: str | None, U: str) -> str:
    """``a + h_{t-1} U``, or ``a`` at the first step."""
    return a if h is None else graph.node("Add", [a, graph.node("MatMul", [h, U])])


class SimpleRNN(_Recurrent):
    """The plain (Elman) recurrent layer: ``h_t = tanh(x_t W + h_{t-1} U + b)``.

    PyTorch's ``nn.RNN(d, units, batch_first=True)`` with ``W = weight_ih_l0ᵀ``, ``U =
    weight_hh_l0ᵀ`` and one bias ``b = bias_ih_l0 + bias_hh_l0`` (the two always add up).

    Args:
        units: the size ``h`` of the state.
        return_sequences: output the state at every step, ``(T, units)``, rather than the
            last, ``(units,)``.
    """

    kind = "rnn"
    gates = 1

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        U = self.params["U"]
        XW = self._input_product(x, ws)
        H = self._states(x.shape[0], ws)
        for t in range(1, self.steps + 1):
            h = H[:, t]
            np.matmul(H[:, t - 1], U, out=h)  # h_{t-1} U
            h += XW[:, t - 1]  # + x_t W + b
            np.tanh(h, out=h)  # h_t = tanh(...)
            self._carry_over((H,), ws.mask, t)
        ws.x, ws.H = x, H
        return self._output(H)

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        x, H, U = ws.x, ws.H, self.params["U"]
        dA = ws.buffer("dA", (x.shape[0], self.steps, self.units), U.dtype)
        dh = ws.buffer("dh", (x.shape[0], self.units), U.dtype)
        dh[...] = 0  # nothing flows back from past the last step
        kept = self._kept(ws.mask, U.dtype)
        for t in range(self.steps, 0, -1):
            upstream = self._upstream(dy, t)
            if upstream is not None:
                dh += upstream  # dh_t = dy_t + (from step t + 1)
            carried = self._split_carried(kept, t, dh)
            h = H[:, t]
            da = dA[:, t - 1]
            np.multiply(dh, 1 - h * h, out=da)  # da_t = dh_t (1 - h_t²)
            np.matmul(da, U.T, out=dh)  # dh_{t-1} = da_t Uᵀ
            if carried is not None:
                dh += carried[0]  # a padded step passed h_{t-1} on unchanged
        self._weight_gradients(x, H, dA, dA)
        if not need_input_gradient:
            return None
        return dA @ self.params["W"].T  # dx_t = da_t Wᵀ

    def _onnx_step(
        self, graph: OnnxGraph, a: str, h: str | None, carry: str | None, U: str
    ) -> tuple[str, str | None]:
        return graph.node("Tanh", [_plus_recurrent(graph, a, h, U)]), None  # tanh(a + h U)

    def _onnx_operator(self, graph: OnnxGraph, x: str) -> str:
        """ONNX's ``RNN`` (``Tanh``), its bias the layer's ``b`` and zeros."""
        W, U, b = self.params["W"], self.params["U"], self.params["b"]
        B = np.concatenate([b, np.zeros_like(b)])
        return self._onnx_sequence(graph, "RNN", x, W.T, U.T, B, activations=["Tanh"])


class LSTM(_Recurrent):
    """Long short-term memory (Hochreiter and Schmidhuber, 1997), as PyTorch's
    ``nn.LSTM(d, units, batch_first=True)`` computes it::

        i = σ(x_t W_i + h_{t-1} U_i + b_i)      input gate
        f = σ(x_t W_f + h_{t-1} U_f + b_f)      forget gate
        g = tanh(x_t W_g + h_{t-1} U_g + b_g)   candidate cell
        o = σ(x_t W_o + h_{t-1} U_o + b_o)      output gate
        c_t = f c_{t-1} + i g
        h_t = o tanh(c_t)

    The gates are in PyTorch's order, ``i, f, g, o``: ``W = weight_ih_l0ᵀ``, ``U =
    weight_hh_l0ᵀ`` and ``b = bias_ih_l0 + bias_hh_l0`` (PyTorch's two biases always
    add up, so one is kept). ``b_f`` starts at 1 (Jozefowicz et al., 2015; Keras's
    ``unit_forget_bias``), so that the cell remembers from the first step; PyTorch draws
    it at random. ONNX orders the gates ``i, o, f, c``; the export reorders them.

    Args:
        units: the size ``h`` of the state and of the cell.
        return_sequences: output the state at every step, ``(T, units)``, rather than the
            last, ``(units,)``.
    """

    kind = "lstm"
    gates = 4

    def initialize(self, rng: np.random.Generator) -> None:
        super().initialize(rng)
        h = self.units
        self.params["b"][h : 2 * h] = 1  # b_f = 1: remember by default

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        U, h, m, T = self.params["U"], self.units, x.shape[0], self.steps
        # The step-by-step buffers are time-major, (T, m, ...), so that each step's rows
        # are one contiguous block: an (m, T, 4 h) buffer puts a step's rows 4 h T apart
        # (at 64 steps of 128 units a power of 2, which maps them onto the same cache
        # sets), and the operations on them ran up to several times slower at 1 thread.
        # The layer's input and output keep (m, T, ...).
        x_by_step = ws.buffer("x_by_step", (T, m, self.features), x.dtype)
        x_by_step[...] = x.transpose(1, 0, 2)
        W = self.params["W"]
        XW = ws.buffer("XW", (T, m, W.shape[1]), W.dtype)  # x_t W + b, every step at once
        np.matmul(x_by_step.reshape(-1, self.features), W, out=XW.reshape(-1, W.shape[1]))
        XW += self.params["b"]
        H = self._states(m, ws)
        C = ws.buffer("C", H.shape, H.dtype)  # c_0 .. c_T
        C[:, 0] = 0
        gates = ws.buffer("gates", XW.shape, XW.dtype)  # i, f, g, o of every step
        tanh_c = ws.buffer("tanh_c", (T, m, h), XW.dtype)
        # σ(z) = (1 + tanh(z / 2)) / 2 (see `sigmoid`): with the i, f and o columns of U
        # and XW halved (exactly: a power of 2), one tanh over all four gates gives
        # tanh(a_g) and the tanh(a / 2) of the others, in fewer operations per step.
        half = np.full(4 * h, 0.5, XW.dtype)
        half[2 * h : 3 * h] = 1
        U = U * half
        XW *= half
        for t in range(1, T + 1):
            a = gates[t - 1]
            np.matmul(H[:, t - 1], U, out=a)  # h_{t-1} U
            a += XW[t - 1]  # a = x_t W + h_{t-1} U + b (a / 2 for i, f, o)
            np.tanh(a, out=a)  # g = tanh(a_g); tanh(a / 2) for i, f, o
            i_f, o_half = a[:, : 2 * h], a[:, 3 * h :]
            i_f += 1
            i_f *= 0.5  # i = σ(a_i), f = σ(a_f)
            o_half += 1
            o_half *= 0.5  # o = σ(a_o)
            i, f, g, o = a[:, :h], a[:, h : 2 * h], a[:, 2 * h : 3 * h], a[:, 3 * h :]
            c = C[:, t]
            np.multiply(f, C[:, t - 1], out=c)  # c_t = f c_{t-1}
            c += i * g  # ... + i g
            tc = tanh_c[t - 1]
            np.tanh(c, out=tc)
            np.multiply(o, tc, out=H[:, t])  # h_t = o tanh(c_t)
            self._carry_over((H, C), ws.mask, t)
        ws.x_by_step, ws.H, ws.C, ws.gates, ws.tanh_c = x_by_step, H, C, gates, tanh_c
        return self._output(H)

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        x_by_step, H, C, gates, tanh_c = ws.x_by_step, ws.H, ws.C, ws.gates, ws.tanh_c
        U, h, (T, m) = self.params["U"], self.units, gates.shape[:2]
        # Time-major, (T, m, ...), as forward's buffers are (see there why).
        dA = ws.buffer("dA", gates.shape, gates.dtype)  # d(gate inputs) of every step
        dh = ws.buffer("dh", (m, h), gates.dtype)
        dc = ws.buffer("dc", (m, h), gates.dtype)
        dh[...] = 0
        dc[...] = 0  # nothing flows back from past the last step
        kept = self._kept(ws.mask, gates.dtype)
        # What dh_t and dc_t are multiplied by at each step, for all steps at once: a few
        # large operations instead of many small ones inside the loop.
        i, f, g, o = (gates[..., k * h : (k + 1) * h] for k in range(4))
        to_cell = ws.buffer("to_cell", tanh_c.shape, gates.dtype)
        np.multiply(o, 1 - tanh_c * tanh_c, out=to_cell)  # o (1 - tanh²(c_t))
        factors = ws.buffer("factors", gates.shape, gates.dtype)
        np.multiply(g, i * (1 - i), out=factors[..., :h])  # g σ'(a_i)
        previous_c = C[:, :-1].transpose(1, 0, 2)  # c_0 .. c_{T-1}, time-major
        np.multiply(previous_c, f * (1 - f), out=factors[..., h : 2 * h])  # c_{t-1} σ'(a_f)
        np.multiply(i, 1 - g * g, out=factors[..., 2 * h : 3 * h])  # i (1 - g²)
        np.multiply(tanh_c, o * (1 - o), out=factors[..., 3 * h :])  # tanh(c_t) σ'(a_o)
        by_gate = factors.reshape(T, m, 4, h)
        dA_by_gate = dA.reshape(T, m, 4, h)
        for t in range(T, 0, -1):
            upstream = self._upstream(dy, t)
            if upstream is not None:
                dh += upstream  # dh_t = dy_t + (from step t + 1)
            carried = self._split_carried(kept, t, dh, dc)
            da = dA[t - 1]
            dc += dh * to_cell[t - 1]  # dc_t = dh_t o (1 - tanh²(c_t)) + (from t + 1)
            # da_i = dc_t g σ'(a_i), da_f = dc_t c_{t-1} σ'(a_f), da_g = dc_t i (1 - g²)
            np.multiply(by_gate[t - 1, :, :3], dc[:, None], out=dA_by_gate[t - 1, :, :3])
            # da_o = dh_t tanh(c_t) σ'(a_o)
            np.multiply(dh, factors[t - 1, :, 3 * h :], out=da[:, 3 * h :])
            dc *= f[t - 1]  # dc_{t-1} = dc_t f
            np.matmul(da, U.T, out=dh)  # dh_{t-1} = da_t Uᵀ
            if carried is not None:  # a padded step passed h_{t-1} and c_{t-1} on
                dh += carried[0]
                dc += carried[1]
        # dW = Σ_t x_tᵀ da_t, db = Σ_t da_t, dU = Σ_t h_{t-1}ᵀ da_t: one product each
        # over all steps (as `_weight_gradients`, on the time-major rows).
        flat_dA = dA.reshape(-1, dA.shape[-1])
        np.matmul(x_by_step.reshape(-1, self.features).T, flat_dA, out=self.grads["W"])
        np.sum(flat_dA, axis=0, out=self.grads["b"])
        previous = ws.buffer("previous_h", (T, m, h), H.dtype)
        previous[...] = H[:, :-1].transpose(1, 0, 2)  # h_0 .. h_{T-1}
        np.matmul(previous.reshape(-1, h).T, flat_dA, out=self.grads["U"])
        if not need_input_gradient:
            return None
        dx = flat_dA @ self.params["W"].T  # dx_t = da_t Wᵀ, time-major
        return np.ascontiguousarray(dx.reshape(T, m, self.features).transpose(1, 0, 2))

    def _onnx_step(
        self, graph: OnnxGraph, a: str, h: str | None, carry: str | None, U: str
    ) -> tuple[str, str | None]:
        z, n = _plus_recurrent(graph, a, h, U), self.units
        i, f, g, o = (_columns(graph, z, k * n, (k + 1) * n) for k in range(4))
        i, f, o = (graph.node("Sigmoid", [gate]) for gate in (i, f, o))
        g = graph.node("Tanh", [g])
        c = graph.node("Mul", [i, g])  # c_t = i g ...
        if carry is not None:
            c = graph.node("Add", [graph.node("Mul", [f, carry]), c])  # ... + f c_{t-1}
        return graph.node("Mul", [o, graph.node("Tanh", [c])]), c  # h_t = o tanh(c_t)

    def _onnx_operator(self, graph: OnnxGraph, x: str) -> str:
        """ONNX's ``LSTM``, gates reordered from ``i, f, g, o`` to its ``i, o, f, c``."""
        h = self.units
        order = np.concatenate([np.arange(0, h), np.arange(3 * h, 4 * h),
                                np.arange(h, 2 * h), np.arange(2 * h, 3 * h)])
        W, U, b = self.params["W"][:, order], self.params["U"][:, order], self.params["b"][order]
        B = np.concatenate([b, np.zeros_like(b)])
        return self._onnx_sequence(graph, "LSTM", x, W.T, U.T, B)


class GRU(_Recurrent):
    """The gated recurrent unit (Cho et al., 2014), as PyTorch's ``nn.GRU(d, units,
    batch_first=True)`` computes it::

        r = σ(x_t W_r + h_{t-1} U_r + b_r)              reset gate
        z = σ(x_t W_z + h_{t-1} U_z + b_z)              update gate
        n = tanh(x_t W_n + b_n + r (h_{t-1} U_n + c))   candidate state
        h_t = (1 - z) n + z h_{t-1}

    The reset gate multiplies ``h_{t-1} U_n + c`` (PyTorch's form, ONNX's
    ``linear_before_reset=1``, Keras's ``reset_after=True``), so the recurrent bias of
    the candidate, ``c``, is a parameter of its own. Gates in PyTorch's order ``r, z,
    n``: ``W = weight_ih_l0ᵀ``, ``U = weight_hh_l0ᵀ``, ``b = bias_ih_l0`` plus the ``r``
    and ``z`` thirds of ``bias_hh_l0`` (they add up), and ``c`` is ``bias_hh_l0``'s last
    third. ONNX orders the gates ``z, r, h``; the export reorders them.

    Args:
        units: the size ``h`` of the state.
        return_sequences: output the state at every step, ``(T, units)``, rather than the
            last, ``(units,)``.
    """

    kind = "gru"
    gates = 3

    def declare_parameters(self) -> None:
        super().declare_parameters()
        self.add_parameter("b_recurrent", (self.units,), "zeros")  # inside r * (...)

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        U, c, h = self.params["U"], self.params["b_recurrent"], self.units
        XW = self._input_product(x, ws)
        H = self._states(x.shape[0], ws)
        gates = ws.buffer("gates", XW.shape, XW.dtype)  # r, z, n of every step
        HU_n = ws.buffer("HU_n", (x.shape[0], self.steps, h), XW.dtype)  # h_{t-1} U_n + c
        hu = ws.buffer("hu", (x.shape[0], 3 * h), XW.dtype)
        for t in range(1, self.steps + 1):
            act, xw = gates[:, t - 1], XW[:, t - 1]
            np.matmul(H[:, t - 1], U, out=hu)  # h_{t-1} U
            r, z, n = act[:, :h], act[:, h : 2 * h], act[:, 2 * h :]
            sigmoid(np.add(xw[:, : 2 * h], hu[:, : 2 * h], out=act[:, : 2 * h]),
                    out=act[:, : 2 * h])  # r, z = σ(x_t W + h_{t-1} U + b)
            hun = HU_n[:, t - 1]
            np.add(hu[:, 2 * h :], c, out=hun)  # h_{t-1} U_n + c
            np.multiply(r, hun, out=n)
            n += xw[:, 2 * h :]
            np.tanh(n, out=n)  # n = tanh(x_t W_n + b_n + r (h_{t-1} U_n + c))
            h_t = H[:, t]
            np.subtract(H[:, t - 1], n, out=h_t)
            h_t *= z
            h_t += n  # h_t = n + z (h_{t-1} - n) = (1 - z) n + z h_{t-1}
            self._carry_over((H,), ws.mask, t)
        ws.x, ws.H, ws.gates, ws.HU_n = x, H, gates, HU_n
        return self._output(H)

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        x, H, gates, HU_n = ws.x, ws.H, ws.gates, ws.HU_n
        U, h, m = self.params["U"], self.units, x.shape[0]
        dA = ws.buffer("dA", gates.shape, gates.dtype)  # d(x_t W + b): r, z, n parts
        dR = ws.buffer("dR", gates.shape, gates.dtype)  # d(h_{t-1} U (+ c)): r, z, n parts
        dh = ws.buffer("dh", (m, h), gates.dtype)
        dh[...] = 0  # nothing flows back from past the last step
        kept = self._kept(ws.mask, gates.dtype)
        for t in range(self.steps, 0, -1):
            upstream = self._upstream(dy, t)
            if upstream is not None:
                dh += upstream  # dh_t = dy_t + (from step t + 1)
            carried = self._split_carried(kept, t, dh)
            act, da, dr = gates[:, t - 1], dA[:, t - 1], dR[:, t - 1]
            r, z, n = act[:, :h], act[:, h : 2 * h], act[:, 2 * h :]
            h_prev = H[:, t - 1]
            dn = dh * (1 - z)  # dn = dh_t (1 - z)
            np.multiply(dn, 1 - n * n, out=da[:, 2 * h :])  # da_n = dn (1 - n²)
            np.multiply(da[:, 2 * h :], r, out=dr[:, 2 * h :])  # d(h_{t-1} U_n + c) = da_n r
            d_r = da[:, 2 * h :] * HU_n[:, t - 1]  # dr = da_n (h_{t-1} U_n + c)
            np.multiply(d_r, r * (1 - r), out=da[:, :h])  # da_r = dr σ'(a_r)
            d_z = dh * (h_prev - n)  # dz = dh_t (h_{t-1} - n)
            np.multiply(d_z, z * (1 - z), out=da[:, h : 2 * h])  # da_z = dz σ'(a_z)
            dr[:, : 2 * h] = da[:, : 2 * h]  # r and z see x_t W and h_{t-1} U alike
            dh *= z  # dh_{t-1} = dh_t z ...
            dh += dr @ U.T  # ... + d(h_{t-1} U) Uᵀ
            if carried is not None:
                dh += carried[0]  # a padded step passed h_{t-1} on unchanged
        self._weight_gradients(x, H, dA, dR)
        np.sum(dR[:, :, 2 * h :], axis=(0, 1), out=self.grads["b_recurrent"])  # dc = Σ d(..U_n + c)
        if not need_input_gradient:
            return None
        return dA @ self.params["W"].T  # dx_t = da_t Wᵀ

    def _onnx_step(
        self, graph: OnnxGraph, a: str, h: str | None, carry: str | None, U: str
    ) -> tuple[str, str | None]:
        n_units, c = self.units, graph.weight(self.params["b_recurrent"], "c")
        a_r, a_z, a_n = (_columns(graph, a, k * n_units, (k + 1) * n_units) for k in range(3))
        if h is None:  # h_0 = 0: h_0 U = 0
            r, z, hun = graph.node("Sigmoid", [a_r]), graph.node("Sigmoid", [a_z]), c
        else:
            hu = graph.node("MatMul", [h, U])
            hu_r, hu_z, hu_n = (_columns(graph, hu, k * n_units, (k + 1) * n_units)
                                for k in range(3))
            r = graph.node("Sigmoid", [graph.node("Add", [a_r, hu_r])])
            z = graph.node("Sigmoid", [graph.node("Add", [a_z, hu_z])])
            hun = graph.node("Add", [hu_n, c])
        n = graph.node("Tanh", [graph.node("Add", [a_n, graph.node("Mul", [r, hun])])])
        if h is None:  # h_t = n + z (h_{t-1} - n)
            return graph.node("Sub", [n, graph.node("Mul", [z, n])]), None
        return graph.node("Add", [n, graph.node("Mul", [z, graph.node("Sub", [h, n])])]), None

    def _onnx_operator(self, graph: OnnxGraph, x: str) -> str:
        """ONNX's ``GRU`` with ``linear_before_reset=1``, gates reordered from ``r, z,
        n`` to its ``z, r, h``; the candidate's recurrent bias is ``c``."""
        h = self.units
        order = np.concatenate([np.arange(h, 2 * h), np.arange(0, h), np.arange(2 * h, 3 * h)])
        W, U, b = self.params["W"][:, order], self.params["U"][:, order], self.params["b"][order]
        recurrent_bias = np.concatenate([np.zeros(2 * h, b.dtype), self.params["b_recurrent"]])
        B = np.concatenate([b, recurrent_bias])
        return self._onnx_sequence(graph, "GRU", x, W.T, U.T, B, linear_before_reset=1)
