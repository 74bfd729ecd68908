"""The activation interface: ``g`` and ``g'`` of the classic matrix formulation.

Arrays hold one sample per row, samples first, as everywhere in nnkit's interfaces: ``Z``
and ``A`` have shape ``(samples, units)`` (or ``(samples, ..., units)``). An element-wise
activation does not care about the layout and needs only `Activation.forward()` and
`Activation.derivative()`; `Activation.backward()` is there for activations that are
cheaper from ``A`` (sigmoid, tanh) or not element-wise at all (softmax, which
normalises over the last axis, the units of each sample).
"""

from __future__ import annotations

import functools
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nnkit.errors import NoOnnxFormError
from nnkit.interfaces.component import Component

if TYPE_CHECKING:
    from nnkit.files.onnx import OnnxGraph

__all__ = ["Activation"]


def _accepting_out(method: Callable[..., Any]) -> Callable[..., Any]:
    """Let an implementation that has no ``out`` parameter be called with one (it is ignored)."""

    @functools.wraps(method)
    def call(self: Any, *args: Any, out: np.ndarray | None = None) -> Any:
        return method(self, *args)

    return call


class Activation(Component, ABC):
    """An activation function ``g`` applied to a layer's weighted input ``Z``.

    Implement `forward()` and at least one of `derivative()` (element-wise
    ``g'``) and `backward()`. The optional ``out`` arguments are buffers the network
    reuses across batches; an implementation may write into ``out`` and return it, or
    ignore it (and leave it out of its signature) and return a new array.

    Results keep the input's dtype. Write constants as Python floats: a NumPy float64
    scalar (``np.sqrt(2)``, ``np.float64(0.5)``) turns a float32 result into float64
    under NumPy 2's promotion rules, and the kit's ``activation_shape_and_dtype`` check
    fails it.
    """

    #: Registry name of the initializer that suits this activation (He for ReLU-like,
    #: Glorot for the saturating ones); a Dense layer uses it unless told otherwise.
    default_initializer: ClassVar[str] = "glorot_uniform"

    #: Whether the activation can work in place, as PyTorch's ``ReLU(inplace=True)``
    #: does: `forward` is correct with ``out=Z`` (``A`` written over ``Z``), and
    #: `backward` needs only ``A``, so it may be handed ``A`` in place of ``Z``. A dense
    #: layer then keeps one array per batch instead of two. Leave it False when
    #: `backward` or `derivative` needs ``Z`` itself.
    in_place: ClassVar[bool] = False

    #: Whether ``g`` acts on each number alone, so that its results do not depend on how
    #: the batch is laid out (ReLU, sigmoid, tanh; not softmax, nor an activation with a
    #: parameter per unit). A dense layer then applies it, and its `backward`, to its
    #: columns as they lie in memory, ``(units, samples)``: NumPy runs element-wise
    #: operations on C-ordered arrays faster than on transposed views. False, the
    #: default, is always correct; the kit checks a True against the transposed batch.
    elementwise: ClassVar[bool] = False

    #: Whether every output lies in [0, 1] as a probability (sigmoid, softmax): True,
    #: False (relu, tanh, identity), or None when the author has not said. A network
    #: refuses a loss that `expects_probabilities` after an activation that says False;
    #: None is trusted, so an activation that never says is never refused.
    outputs_probabilities: ClassVar[bool | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("forward", "backward"):
            method = cls.__dict__.get(name)
            if method is not None and "out" not in inspect.signature(method).parameters:
                setattr(cls, name, _accepting_out(method))

    @abstractmethod
    def forward(self, Z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``A = g(Z)``."""

    def derivative(self, Z: np.ndarray) -> np.ndarray:
        """``g'(Z)``, element-wise. Activations that are not element-wise override
        `backward()` instead."""
        if type(self).backward is Activation.backward:
            raise NotImplementedError(
                f"{type(self).__name__} must implement derivative(Z) or backward(Z, A, dA)"
            )
        raise NotImplementedError(
            f"{type(self).__name__} is not element-wise; use backward(Z, A, dA)"
        )

    def backward(
        self, Z: np.ndarray, A: np.ndarray, dA: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        """``dZ = dA * g'(Z)``: the gradient with respect to ``Z`` given the one for ``A``."""
        return np.multiply(dA, self.derivative(Z), out=out)

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """Add ``g`` to ``graph`` as ONNX operators reading the tensor named ``x`` and return
        the name of the output (a softmax normalises over axis 1, the units or channels).
        By default the activation has none: `NoOnnxFormError`, which the export turns
        into a message naming the activation and its plugin."""
        raise NoOnnxFormError(self)
