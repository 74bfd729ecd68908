"""The 1-D convolution over time: ``Z = X_col W_col + b``, one matrix product per batch.

A sequence is ``(T, d)``, its features the channels. With a kernel of ``k`` taps
``dilation`` steps apart, output step ``t`` reads input steps ``t s + j r - p_before``
(``s`` the stride, ``r`` the dilation, ``j = 0 .. k-1``). ``X_col``, ``(m To, k d)``,
holds those ``k`` steps of every output step of every sample side by side; it is
written one tap ``j`` at a time, each tap one strided view of the padded batch.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from nnkit import Activation, Initializer, WeightedLayer
from nnkit.arguments import positive_int
from nnkit.errors import ConfigurationError
from nnkit.files.onnx import OnnxGraph, export_component
from nnkit.interfaces.workspace import Workspace
from nnkit_text.sequences import sequence_shape

__all__ = ["PADDINGS", "Conv1D"]

#: The padding modes of `Conv1D`, each as ``(before, after)`` for a kernel spanning
#: ``span = dilation (k - 1) + 1`` steps.
PADDINGS = {
    "valid": lambda span: (0, 0),  # only windows inside the sequence
    "same": lambda span: ((span - 1) // 2, span // 2),  # length kept at stride 1
    "causal": lambda span: (span - 1, 0),  # step t sees steps <= t only
}


class Conv1D(WeightedLayer):
    """A 1-D convolution of ``filters`` kernels of ``kernel_size`` taps over ``(T, d)``
    sequences, output ``(To, filters)`` with ``To = (T + padding - span) // stride + 1``
    and ``span = dilation (kernel_size - 1) + 1``.

    The weights are ``W``, ``(filters, d, kernel_size)``, PyTorch's ``nn.Conv1d``
    layout, and ``b``, ``(filters,)``. As in PyTorch the kernel is not flipped (a
    cross-correlation). PyTorch takes ``(m, d, T)``, channels first; here sequences
    are ``(m, T, d)`` as every layer of nnkit-text takes them.

    Args:
        filters: the number of kernels, the output's features.
        kernel_size: the taps of each kernel.
        stride: the step between windows.
        padding: ``"valid"`` (none), ``"same"`` (``(span - 1) // 2`` zeros before and
            the rest after, as PyTorch's ``padding="same"``) or ``"causal"`` (``span -
            1`` zeros before: output ``t`` sees no input after ``t``).
        dilation: the steps between taps.
        activation: an activation name or instance; ``None`` means none.
        kernel_initializer: initializer of ``W``, by default the one the activation
            names; fan-in ``d * kernel_size``, fan-out ``filters * kernel_size``.
        bias_initializer: initializer of ``b``.
        l2: weight of the L2 penalty ``l2/2 * sum(W^2)`` added to the loss.
    """

    example_arguments: ClassVar[dict[str, Any]] = {
        "filters": 3, "kernel_size": 3, "padding": "same", "dilation": 2, "activation": "tanh",
    }
    example_input_shape: ClassVar[tuple[int, ...]] = (7, 2)

    def __init__(
        self,
        filters: int,
        kernel_size: int,
        stride: int = 1,
        padding: str = "valid",
        dilation: int = 1,
        activation: str | Activation | None = None,
        kernel_initializer: str | Initializer | None = None,
        bias_initializer: str | Initializer = "zeros",
        l2: float = 0.0,
    ) -> None:
        self.filters = positive_int(filters, "conv1d filters")
        self.kernel_size = positive_int(kernel_size, "conv1d kernel_size")
        self.stride = positive_int(stride, "conv1d stride")
        self.dilation = positive_int(dilation, "conv1d dilation")
        if padding not in PADDINGS:
            raise ConfigurationError(
                f"conv1d padding must be one of {', '.join(map(repr, PADDINGS))}, "
                f"got {padding!r}"
            )
        self.padding = padding
        self.configure_weights("conv1d", activation, kernel_initializer, bias_initializer, l2)
        self.channels: int | None = None
        self.steps: int | None = None
        self.pads: tuple[int, int] = (0, 0)
        self.out_steps: int | None = None

    @property
    def span(self) -> int:
        """How many input steps one window covers, taps and gaps."""
        return self.dilation * (self.kernel_size - 1) + 1

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        self.steps, self.channels = sequence_shape(input_shape, "conv1d")
        self.pads = PADDINGS[self.padding](self.span)
        padded = self.steps + sum(self.pads)
        if self.span > padded:
            raise ConfigurationError(
                f"conv1d's kernel spans {self.span} steps (kernel_size {self.kernel_size}, "
                f"dilation {self.dilation}), more than its {self.steps}-step input "
                "sequences; use a smaller kernel_size or dilation, or padding='same'"
            )
        self.out_steps = (padded - self.span) // self.stride + 1
        self.declare_weights((self.filters, self.channels, self.kernel_size), (self.filters,))
        return (self.out_steps, self.filters)

    def fans(self) -> tuple[int, int]:
        assert self.channels is not None, "build() sets channels"
        return self.channels * self.kernel_size, self.filters * self.kernel_size

    def _tap(self, padded: np.ndarray, j: int) -> np.ndarray:
        """The input step tap ``j`` reads for every output step: a strided view of
        ``padded``, ``(m, To, d)``."""
        start = j * self.dilation
        return padded[:, start : start + self.stride * (self.out_steps - 1) + 1 : self.stride]

    def _W_col(self) -> np.ndarray:
        """``W`` as the ``(k d, filters)`` matrix whose rows match ``X_col``'s columns."""
        return self.params["W"].transpose(2, 1, 0).reshape(-1, self.filters)

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        m, (before, after) = x.shape[0], self.pads
        dtype = self.params["W"].dtype
        padded = ws.buffer("padded", (m, self.steps + before + after, self.channels), dtype)
        padded[:, :before] = 0  # the buffer is reused: clear its padding every time
        padded[:, padded.shape[1] - after :] = 0
        padded[:, before : before + self.steps] = x
        X_col = ws.buffer("X_col", (m, self.out_steps, self.kernel_size, self.channels), dtype)
        for j in range(self.kernel_size):
            X_col[:, :, j] = self._tap(padded, j)  # X_col[.., j, :] = x_{t s + j r}
        flat = X_col.reshape(-1, self.kernel_size * self.channels)
        Z = (flat @ self._W_col()).reshape(m, self.out_steps, self.filters)  # Z = X_col W_col
        Z += self.params["b"]  # + b, one bias per filter
        A = Z if self.activation is None else self.activation.forward(Z)  # A = g(Z)
        ws.X_col, ws.Z, ws.A = flat, Z, A
        return A

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        if self.activation is None:
            dZ = dy  # A = Z
        else:
            dZ = self.activation.backward(ws.Z, ws.A, dy)  # dZ = dA g'(Z)
        flat_dZ = dZ.reshape(-1, self.filters)
        dW_col = ws.X_col.T @ flat_dZ  # dW_col = X_colᵀ dZ
        self.grads["W"][...] = dW_col.reshape(self.kernel_size, self.channels,
                                              self.filters).transpose(2, 1, 0)
        self.add_penalty_gradients()
        self.grads["b"][...] = flat_dZ.sum(axis=0)  # db = Σ dZ over steps and samples
        if not need_input_gradient:
            return None
        m, (before, _) = dy.shape[0], self.pads
        dX_col = (flat_dZ @ self._W_col().T).reshape(  # dX_col = dZ W_colᵀ
            m, self.out_steps, self.kernel_size, self.channels
        )
        d_padded = ws.buffer("d_padded", (m, self.steps + sum(self.pads), self.channels),
                             dy.dtype)
        d_padded[...] = 0
        for j in range(self.kernel_size):  # each tap's gradient back to the step it read
            target = self._tap(d_padded, j)
            target += dX_col[:, :, j]
        return d_padded[:, before : before + self.steps]

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """A ``Pad``, then one strided ``Slice`` per tap, ``Concat``, and ``MatMul`` with
        ``W_col`` plus ``b``, as the layer computes it (``Conv`` would need the
        channels-first layout and float32), then the activation's ONNX form."""
        (before, after), steps = self.pads, self.steps + sum(self.pads)
        if before or after:
            pads = graph.weight(np.array([0, before, 0, 0, after, 0], dtype=np.int64), "pads")
            x = graph.node("Pad", [x, pads])
        axes = graph.weight(np.array([1], dtype=np.int64), "axes")
        stride = graph.weight(np.array([self.stride], dtype=np.int64), "steps")
        taps = []
        for j in range(self.kernel_size):
            start = j * self.dilation
            end = min(start + self.stride * (self.out_steps - 1) + 1, steps)
            starts = graph.weight(np.array([start], dtype=np.int64), "starts")
            ends = graph.weight(np.array([end], dtype=np.int64), "ends")
            taps.append(graph.node("Slice", [x, starts, ends, axes, stride]))
        columns = graph.node("Concat", taps, axis=2) if len(taps) > 1 else taps[0]
        z = graph.node("MatMul", [columns, graph.weight(self._W_col(), "W_col")])
        z = graph.node("Add", [z, graph.weight(self.params["b"], "b")])
        if self.activation is None:
            return z
        return export_component(self.activation, graph, z, "the activation of conv1d")

    def get_config(self) -> dict[str, Any]:
        return {
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "stride": self.stride,
            "padding": self.padding,
            "dilation": self.dilation,
            "activation": self.activation,
            "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer,
            "l2": self.l2,
        }


