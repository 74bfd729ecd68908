"""The optimizer interface: one update of all parameters from their gradients.

The network keeps every parameter in one contiguous array and every gradient in
another of the same shape, so an optimizer sees two flat vectors whatever the depth of
the network and a step is a few NumPy calls.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from nnkit.component import Component
from nnkit.errors import ConfigurationError

__all__ = ["Optimizer"]


class Optimizer(Component, ABC):
    """An update rule ``params <- params - step(grads, state)``.

    The state (momentum, moment estimates, step count) lives in a dict of arrays that
    the network owns and saves with the model, so training can resume exactly.
    """

    def __init__(self, learning_rate: float = 0.01) -> None:
        if not learning_rate > 0:
            raise ConfigurationError(
                f"learning_rate must be a positive number, got {learning_rate!r}"
            )
        self.learning_rate = float(learning_rate)

    def init_state(self, params: np.ndarray) -> dict[str, np.ndarray]:
        """The initial state for a parameter vector like ``params`` (none by default)."""
        return {}

    @abstractmethod
    def update(self, params: np.ndarray, grads: np.ndarray, state: dict[str, np.ndarray]) -> None:
        """Update ``params`` and ``state`` in place. ``grads`` may be used as scratch space."""
