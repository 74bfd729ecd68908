"""The layer interface: one step ``A^{l-1} -> A^l`` of the network and its back-propagation.

Arrays are laid out as in the seed, one column per sample: a layer maps an input of
shape ``(n^{l-1}, m)`` to an output of shape ``(n^l, m)``. Parameters are not owned by
the layer: the network keeps all of them in one contiguous array and hands each layer
views of its own part (`Layer.bind()`), and likewise for the gradients.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from nnkit.component import Component

__all__ = ["Layer"]


class Layer(Component, ABC):
    """A layer of the network.

    The network calls, in order: `build()` once the input width is known,
    `parameter_shapes()`, `bind()` with views into its parameter and gradient
    arrays, `initialize()`; then `forward()` and `backward()` per batch.
    """

    #: This layer's parameters (views into the network's parameter array), by name.
    params: dict[str, np.ndarray]
    #: The gradients of the batch loss with respect to `params`, by name.
    grads: dict[str, np.ndarray]

    def build(self, n_inputs: int, rng: np.random.Generator) -> int:
        """Fix the input width and return the output width (the same, by default).

        ``rng`` is this layer's own random stream, for layers that draw noise (dropout).
        """
        return n_inputs

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of each parameter, by name, once built (none by default)."""
        return {}

    def bind(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Receive views of this layer's parameters and gradients in the network's arrays."""
        self.params = params
        self.grads = grads

    def initialize(self, rng: np.random.Generator) -> None:
        """Write initial values into `params` (nothing to do by default)."""

    def state(self) -> dict[str, np.ndarray]:
        """Arrays besides the parameters that a saved model must keep (running
        statistics, for example); none by default."""
        return {}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what `state()` returned (called after `build()`)."""
        if state:
            raise ValueError(f"{type(self).__name__} keeps no state, got {sorted(state)}")

    def penalty(self) -> float:
        """The regularisation term this layer adds to the loss (0 by default); its
        gradient is added by `backward()`."""
        return 0.0

    @abstractmethod
    def forward(self, A_prev: np.ndarray, training: bool = False) -> np.ndarray:
        """``A^l`` from ``A^{l-1}``, keeping what `backward()` will need.

        The returned array may be a buffer that the next call overwrites.
        """

    @abstractmethod
    def backward(self, dA: np.ndarray, need_input_gradient: bool = True) -> np.ndarray | None:
        """Given ``dA^l``, write the parameter gradients into `grads` and return
        ``dA^{l-1}`` (or ``None`` when ``need_input_gradient`` is false: the first layer)."""
