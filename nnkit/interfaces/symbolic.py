"""Symbolic tensors: the values of a network drawn as a graph, before any data flows.

``x = nnkit.Input(shape=(12,), name="numbers")`` stands for the network's input;
calling a layer on symbolic tensors (``h = nnkit.Dense(8)(x)``) records that call and
stands for its output. `nnkit.Network(inputs=..., outputs=...)` then reads the graph
back from its outputs: which layer was called on which values, in which order. Nothing
is computed here, so drawing a graph costs nothing and holds no arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from nnkit.errors import ConfigurationError

if TYPE_CHECKING:
    from nnkit.interfaces.layer import Layer, Shape

__all__ = ["Input", "SymbolicTensor", "call_layer"]


class SymbolicTensor:
    """A value of a graph being drawn: a network input (`Input`), or the output of one
    call of a layer on other symbolic tensors.

    Attributes:
        layer: the layer whose call gives this value; ``None`` for an input.
        inputs: the values that call read, in order (none for an input).
        shape: the shape of one sample, known for an input; a layer's output shape
            is found when the network is built.
        name: the input's name (what `fit` and `predict` take as a key), or ``None``.
    """

    def __init__(
        self,
        layer: Layer | None,
        inputs: tuple[SymbolicTensor, ...],
        shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        self.layer = layer
        self.inputs = inputs
        self.shape = shape
        self.name = name

    def __repr__(self) -> str:
        if self.layer is None:
            return f"Input(shape={self.shape}, name={self.name!r})"
        return f"<symbolic output of {type(self.layer).__name__}>"


def Input(shape: int | Sequence[int], name: str | None = None) -> SymbolicTensor:  # noqa: N802
    """A network input: one sample of ``shape`` (an ``int`` for flat data), named
    ``name`` (``"input_1"``, ``"input_2"``, ... by position when omitted).

    Examples:
        >>> x = Input(shape=(12,), name="numbers")
    """
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    if not dims or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in dims):
        raise ConfigurationError(
            f"Input shape must be a positive integer or a tuple of them, got {shape!r}"
        )
    if name is not None and (not isinstance(name, str) or not name):
        raise ConfigurationError(f"Input name must be a non-empty string, got {name!r}")
    return SymbolicTensor(None, (), tuple(int(d) for d in dims), name)


def call_layer(layer: Layer, inputs: object) -> SymbolicTensor:
    """Record a call of ``layer`` on ``inputs``: one symbolic tensor, or a list of them
    for a layer that merges several (`nnkit.MergeLayer`)."""
    many = isinstance(inputs, (list, tuple))
    values = tuple(inputs) if isinstance(inputs, (list, tuple)) else (inputs,)
    if not values or not all(isinstance(v, SymbolicTensor) for v in values):
        raise ConfigurationError(
            f"a layer is called on the symbolic outputs of nnkit.Input or of other layers "
            f"while drawing a graph, got {inputs!r}; to compute on arrays, put the layer "
            "in a Network and call predict"
        )
    merges = getattr(layer, "merges_inputs", False)
    if merges and (not many or len(values) < 2):
        raise ConfigurationError(
            f"{type(layer).__name__} merges several values: call it on a list of at least "
            "two symbolic outputs, as add([a, b])"
        )
    if not merges and many:
        raise ConfigurationError(
            f"{type(layer).__name__} takes one input: call it on one symbolic output; "
            "join several first with a merge layer (concatenate, add, ...)"
        )
    return SymbolicTensor(layer, values)
