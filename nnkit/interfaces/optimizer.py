"""The optimizer interface: one update of all parameters from their gradients.

The network keeps every parameter in one contiguous array and every gradient in
another of the same shape, so an optimizer sees two flat vectors whatever the depth of
the network and a step is a few NumPy calls.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from nnkit.arguments import POSITIVE, real_number
from nnkit.interfaces.component import Component

__all__ = ["Optimizer"]


class Optimizer(Component, ABC):
    """An update rule ``params <- params - step(grads, state)``.

    The state (momentum, moment estimates, step count) lives in a dict of arrays that
    the network owns and saves with the model, so training can resume exactly. Its
    rules, which the conformance kit checks:

    - every value is a NumPy array of float32, float64, int64 or uint64 (what a model
      file holds); floating state has the parameters' dtype (``np.zeros_like(params)``);
    - a step counter is a 0-d int64 array, ``np.zeros((), dtype=np.int64)``;
    - `update` changes the arrays in place (``m *= beta_1``, ``t += 1``) and never
      stores new objects in the dict: a loaded model's state is read into the arrays
      `init_state` made, and ``state["t"] = int(t) + 1`` would leave a Python int that
      a model file cannot hold.
    """

    def __init__(self, learning_rate: float = 0.01) -> None:
        self.learning_rate = real_number(learning_rate, "learning_rate", POSITIVE)

    def init_state(self, params: np.ndarray) -> dict[str, np.ndarray]:
        """The initial state for a parameter vector like ``params`` (none by default)."""
        return {}

    def check_state(self, state: dict[str, np.ndarray]) -> None:
        """Raise `ValueError` naming the array if ``state`` (shaped as `init_state`
        shapes it) could not have come from training: a negative second moment, a step
        counter out of range. The model loader calls it before restoring a saved state,
        so impossible state is refused at load rather than turning to NaN on the first
        resumed step. NaN and infinity are refused by the loader itself. Nothing is
        checked by default; `nnkit.interfaces.state_checks` has the common checks."""

    @abstractmethod
    def update(self, params: np.ndarray, grads: np.ndarray, state: dict[str, np.ndarray]) -> None:
        """Update ``params`` and ``state`` in place. ``grads`` may be used as scratch space.

        Keep float32 parameters float32: a NumPy float64 scalar (``np.sqrt(t)``,
        ``np.float64(lr)``) turns a float32 result into float64, where a Python float
        does not; the kit's ``optimizer_keeps_dtype`` check catches it."""
