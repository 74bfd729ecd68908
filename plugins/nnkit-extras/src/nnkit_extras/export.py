"""The ONNX forms shared by the extra activations, spelt with elementary operators where
onnxruntime has no float64 kernel.

ONNX defines ``Elu``, ``Selu`` and ``Softplus`` for float64 too, but onnxruntime
implements them for float32 only and refuses to load a float64 model that uses them
("NOT_IMPLEMENTED ... Could not find an implementation for Elu(6)"). A float64 graph
therefore writes them as the activations compute them, with ``Exp``, ``Log``, ``Tanh``,
``Where`` and arithmetic, which every runtime runs in both dtypes at every operator set
nnkit exports (13 to 21). Each spelling avoids overflow exactly where the NumPy code
does, so a finite ``predict`` stays finite in the graph.
"""

from __future__ import annotations

import math

from nnkit.files.onnx import OnnxGraph
from nnkit_extras import erf

__all__ = [
    "exact_gelu",
    "exponential_linear",
    "log1p",
    "softplus",
]


def exponential_linear(graph: OnnxGraph, x: str, alpha: float) -> str:
    """``x`` where ``x > 0``, ``alpha (e^x - 1)`` elsewhere, as `ELU.forward` computes it
    with ``np.expm1(np.minimum(x, 0))``.

    ONNX has no ``Expm1``, and ``Exp(x) - 1`` loses the relative precision of small
    negative inputs to cancellation. ``e^x - 1 = 2 t / (1 - t)`` with ``t = tanh(x / 2)``
    keeps it, and for ``x <= 0`` the denominator lies in ``[1, 2)``: no cancellation, no
    overflow, and ``-1`` for large negative ``x``.
    """
    zero = graph.constant(0.0, "zero")
    negative = graph.node("Min", [x, zero])  # as forward: so that 1 - t never reaches 0
    t = graph.node("Tanh", [graph.node("Mul", [negative, graph.constant(0.5, "half")])])
    expm1 = graph.node("Div", [
        graph.node("Mul", [graph.constant(2.0, "two"), t]),
        graph.node("Sub", [graph.constant(1.0, "one"), t]),
    ])
    scaled = graph.node("Mul", [graph.constant(alpha, "alpha"), expm1])
    return graph.node("Where", [graph.node("Greater", [x, zero]), x, scaled])


def log1p(graph: OnnxGraph, u: str) -> str:
    """``log(1 + u)`` to within a few ulps even where ``1 + u`` rounds (ONNX has no
    ``Log1p``): with ``w = 1 + u``, ``log(w) u / (w - 1)``, whose rounding errors cancel,
    and ``u`` itself where ``w`` rounds to 1 (Goldberg, 1991)."""
    one = graph.constant(1.0, "one")
    w = graph.node("Add", [one, u])
    corrected = graph.node("Div", [
        graph.node("Mul", [graph.node("Log", [w]), u]),
        graph.node("Sub", [w, one]),
    ])
    rounds_to_one = graph.node("Equal", [w, one])
    return graph.node("Where", [rounds_to_one, u, corrected])


def softplus(graph: OnnxGraph, x: str) -> str:
    """``log(1 + e^x)``: ``Softplus`` in float32; in float64 as nnkit computes it,
    ``log1p(e^-|x|) + max(x, 0)``, which cannot overflow for large ``|x|``."""
    if graph.runs_float32_only_operators:
        return graph.node("Softplus", [x])
    exp_of_minus_abs = graph.node("Exp", [graph.node("Neg", [graph.node("Abs", [x])])])
    positive_part = graph.node("Max", [x, graph.constant(0.0, "zero")])
    return graph.node("Add", [log1p(graph, exp_of_minus_abs), positive_part])


def exact_gelu(graph: OnnxGraph, x: str) -> str:
    """``x Phi(x)`` with ``Phi(x) = erfc(-x / sqrt(2)) / 2``, as `GELU` computes it with
    ``approximate="none"``.

    In float32 with ONNX's ``Erf``, ``x (1 + Erf(x / sqrt(2))) / 2``. onnxruntime has no
    float64 ``Erf``, so a float64 graph writes `nnkit_extras.erf` out: the nested series
    below `nnkit_extras.erf.SWITCH`, the continued fraction from it on, joined by
    ``Where``, with ``e^(-x^2)`` split by a ``Cast`` through float32 as there.
    """
    if graph.runs_float32_only_operators:
        scaled = graph.node("Mul", [x, graph.constant(1 / math.sqrt(2), "root_half")])
        one_plus_erf = graph.node("Add", [graph.constant(1.0, "one"), graph.node("Erf", [scaled])])
        half_x = graph.node("Mul", [graph.constant(0.5, "half"), x])
        return graph.node("Mul", [half_x, one_plus_erf])
    u = graph.node("Mul", [graph.constant(-1 / math.sqrt(2), "minus_root_half"), x])
    magnitude = graph.node("Abs", [u])
    switch = graph.constant(erf.SWITCH, "switch")
    one = graph.constant(1.0, "one")
    near = graph.node("Min", [magnitude, switch])
    two_x2 = graph.node("Mul", [graph.constant(2.0, "two"), graph.node("Mul", [near, near])])
    nested = one
    for n in range(erf.SERIES_TERMS, 0, -1):
        term = graph.node("Div", [graph.node("Mul", [two_x2, nested]),
                                  graph.constant(2.0 * n + 1, "odd")])
        nested = graph.node("Add", [one, term])
    erf_near = graph.node("Mul", [
        graph.node("Mul", [
            graph.node("Mul", [graph.constant(2 / math.sqrt(math.pi), "two_over_root_pi"), near]),
            _exp_minus_square(graph, near),
        ]),
        nested,
    ])
    far = graph.node("Min", [graph.node("Max", [magnitude, switch]),
                             graph.constant(erf.TAIL_END, "tail_end")])
    denominator = far
    for k in range(erf.FRACTION_LEVELS, 0, -1):
        denominator = graph.node("Add", [
            far, graph.node("Div", [graph.constant(k / 2, "half_k"), denominator])
        ])
    erfc_far = graph.node("Div", [
        graph.node("Mul", [graph.constant(1 / math.sqrt(math.pi), "one_over_root_pi"),
                           _exp_minus_square(graph, far)]),
        denominator,
    ])
    erfc_of_magnitude = graph.node("Where", [
        graph.node("Less", [magnitude, switch]), graph.node("Sub", [one, erf_near]), erfc_far
    ])
    erfc_u = graph.node("Where", [
        graph.node("Less", [u, graph.constant(0.0, "zero")]),
        graph.node("Sub", [graph.constant(2.0, "two"), erfc_of_magnitude]),
        erfc_of_magnitude,
    ])
    return graph.node("Mul", [x, graph.node("Mul", [graph.constant(0.5, "half"), erfc_u])])


def _exp_minus_square(graph: OnnxGraph, v: str) -> str:
    """``e^(-v^2)`` as `nnkit_extras.erf` takes it: ``z`` is ``v`` through float32,
    ``e^(-z^2) e^(-(v - z)(v + z))``."""
    from onnx import TensorProto

    z = graph.node("Cast", [graph.node("Cast", [v], to=TensorProto.FLOAT)], to=TensorProto.DOUBLE)
    exact = graph.node("Exp", [graph.node("Neg", [graph.node("Mul", [z, z])])])
    rest = graph.node("Mul", [graph.node("Sub", [v, z]), graph.node("Add", [v, z])])
    return graph.node("Mul", [exact, graph.node("Exp", [graph.node("Neg", [rest])])])
