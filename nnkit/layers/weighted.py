"""What every layer with a weight ``W``, a bias ``b`` and an activation shares (Dense,
convolutions): resolving the activation and the initializers, drawing the initial
parameters from the fans, and the L2 penalty on ``W`` with its gradient."""

from __future__ import annotations

from abc import abstractmethod

import numpy as np

from nnkit.arguments import NON_NEGATIVE, real_number
from nnkit.interfaces.activation import Activation
from nnkit.interfaces.initializer import Initializer
from nnkit.interfaces.layer import Layer
from nnkit.registry.registry import default_registry

__all__ = ["WeightedLayer"]


class WeightedLayer(Layer):
    """A layer computing ``A = g(W x + b)`` for some product of ``W`` and ``x``, with
    parameters named ``"W"`` and ``"b"``.

    A subclass calls `configure_weights` from ``__init__``, says its `fans`, and calls
    `add_l2_gradient` once its `backward` has written ``dW``; `initialize` and `penalty`
    come from here.
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

    def initialize(self, rng: np.random.Generator) -> None:
        fan_in, fan_out = self.fans()
        for name, initializer in (("W", self.kernel_initializer), ("b", self.bias_initializer)):
            target = self.params[name]
            target[...] = initializer.sample(target.shape, fan_in, fan_out, rng, target.dtype)

    def penalty(self) -> float:
        """``l2/2 * sum(W^2)``, added to the loss (biases are not penalised)."""
        if not self.l2:
            return 0.0
        W = self.params["W"]
        return 0.5 * self.l2 * float(np.vdot(W, W))

    def add_l2_gradient(self) -> None:
        """Add the penalty's gradient, ``l2 * W``, to ``dW``."""
        if self.l2:
            self.grads["W"] += self.l2 * self.params["W"]
