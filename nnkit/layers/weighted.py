"""What every layer with a weight ``W``, a bias ``b`` and an activation shares (Dense,
convolutions): resolving the activation and the initializers, and declaring ``W`` and
``b`` (`Layer.add_parameter`) with the fans and the L2 penalty on ``W``, from which the
initial parameters, the penalty and its gradient follow."""

from __future__ import annotations

from abc import abstractmethod

import numpy as np

from nnkit.arguments import NON_NEGATIVE, real_number
from nnkit.interfaces.activation import Activation
from nnkit.interfaces.initializer import Initializer
from nnkit.interfaces.layer import Layer
from nnkit.layers import initializer_lookup  # noqa: F401  (names in add_parameter)
from nnkit.registry.registry import default_registry

__all__ = ["WeightedLayer"]


class WeightedLayer(Layer):
    """A layer computing ``A = g(W x + b)`` for some product of ``W`` and ``x``, with
    parameters named ``"W"`` and ``"b"``.

    A subclass calls `configure_weights` from ``__init__``, says its `fans`, calls
    `declare_weights` from `build` with the shapes of ``W`` and ``b``, and calls
    `add_penalty_gradients` once its `backward` has written ``dW``; `parameter_shapes`,
    `initialize` and `penalty` follow from the declarations.

    A subclass written for nnkit 0.2, which implements `parameter_shapes` and calls
    `add_l2_gradient` instead, keeps working: its ``W`` and ``b`` are declared from its
    `parameter_shapes` when first initialised.
    """

    activation: Activation | None
    kernel_initializer: Initializer
    bias_initializer: Initializer
    l2: float

    def configure_weights(
        self,
        name: str,
        activation: str | Activation | None,
        kernel_initializer: str | Initializer | None,
        bias_initializer: str | Initializer,
        l2: float,
    ) -> None:
        """Resolve the activation (``None``: ``A = Z``) and the initializers (``W``'s by
        default the one the activation names), and check ``l2``; ``name`` is the
        layer's, for the messages."""
        registry = default_registry()
        self.activation = None if activation is None else registry.resolve("activation", activation)
        if kernel_initializer is None:
            kernel_initializer = (
                self.activation.default_initializer if self.activation else "glorot_uniform"
            )
        self.kernel_initializer = registry.resolve("initializer", kernel_initializer)
        self.bias_initializer = registry.resolve("initializer", bias_initializer)
        self.l2 = real_number(l2, f"{name} l2", NON_NEGATIVE)

    @abstractmethod
    def fans(self) -> tuple[int, int]:
        """``(fan_in, fan_out)``: how many inputs feed each output, and how many outputs
        each input feeds, as the initializers scale by them."""

    def declare_weights(self, weight_shape: tuple[int, ...], bias_shape: tuple[int, ...]) -> None:
        """Declare ``W`` (the kernel initializer, the L2 penalty) and then ``b`` (the bias
        initializer), both drawn with this layer's `fans`: call it from `build`."""
        fans = self.fans()
        self.add_parameter("W", weight_shape, self.kernel_initializer, l2=self.l2, fans=fans)
        self.add_parameter("b", bias_shape, self.bias_initializer, fans=fans)

    def bind(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        super().bind(params, grads)
        if "W" not in self.declared_parameters():
            # A subclass written for nnkit 0.2 gives parameter_shapes and declares
            # nothing: declared here, before initialize, the initializers and the
            # penalty (Layer.penalty) follow from the declarations, as for any other.
            shapes = self.parameter_shapes()
            self.declare_weights(shapes["W"], shapes["b"])

    def add_l2_gradient(self) -> None:
        """Add the penalty's gradient, ``l2 * W``, to ``dW``: what `add_penalty_gradients`
        does, under the name subclasses written for nnkit 0.2 call."""
        if self.l2:
            self.grads["W"] += self.l2 * self.params["W"]
