"""The standard optimizers, each a few NumPy calls on the flat parameter vector."""

from __future__ import annotations

import math

import numpy as np

from nnkit import Optimizer
from nnkit.arguments import FRACTION, POSITIVE, real_number
from nnkit.errors import ConfigurationError
from nnkit.interfaces.state_checks import require_non_negative, require_step_count


class SGD(Optimizer):
    """Plain gradient descent ``params -= learning_rate * grads``, with optional
    momentum (``v = momentum v - learning_rate g; params += v``) and Nesterov momentum.
    """

    def __init__(
        self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False
    ) -> None:
        super().__init__(learning_rate)
        self.momentum = real_number(momentum, "sgd momentum", FRACTION)
        if nesterov and self.momentum == 0:
            raise ConfigurationError("sgd nesterov=True needs a momentum above 0")
        self.nesterov = bool(nesterov)

    def init_state(self, params: np.ndarray) -> dict[str, np.ndarray]:
        return {"velocity": np.zeros_like(params)} if self.momentum else {}

    def update(self, params: np.ndarray, grads: np.ndarray, state: dict[str, np.ndarray]) -> None:
        grads *= self.learning_rate  # grads now holds learning_rate * g
        if not self.momentum:
            params -= grads
            return
        velocity = state["velocity"]
        velocity *= self.momentum
        velocity -= grads
        if self.nesterov:  # params += momentum * v - learning_rate * g
            params -= grads
            np.multiply(velocity, self.momentum, out=grads)
            params += grads
        else:
            params += velocity


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015): steps scaled by running estimates of the gradient's
    first and second moments, with bias correction.

    ``weight_decay`` shrinks every parameter by ``learning_rate * weight_decay`` each
    step, decoupled from the gradient (Loshchilov and Hutter, 2019).
    """

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(learning_rate)
        self.weight_decay = real_number(weight_decay, "weight_decay", FRACTION)
        self.beta_1 = real_number(beta_1, "adam beta_1", FRACTION)
        self.beta_2 = real_number(beta_2, "adam beta_2", FRACTION)
        self.epsilon = real_number(epsilon, "adam epsilon", POSITIVE)
        self._scratch: np.ndarray | None = None

    def init_state(self, params: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "m": np.zeros_like(params),
            "v": np.zeros_like(params),
            "t": np.zeros((), dtype=np.int64),
        }

    def check_state(self, state: dict[str, np.ndarray]) -> None:
        require_step_count(state, "t", "adam")
        require_non_negative(state, "v", "adam", "a running mean of squared gradients")

    def update(self, params: np.ndarray, grads: np.ndarray, state: dict[str, np.ndarray]) -> None:
        if self.weight_decay:  # decoupled: params -= learning_rate * weight_decay * params
            params *= 1 - self.learning_rate * self.weight_decay
        m, v, t = state["m"], state["v"], state["t"]
        t += 1
        step = int(t)
        scratch = self._scratch
        if scratch is None or scratch.shape != params.shape or scratch.dtype != params.dtype:
            scratch = self._scratch = np.empty_like(params)
        m *= self.beta_1  # m = beta_1 m + (1 - beta_1) g
        np.multiply(grads, 1 - self.beta_1, out=scratch)
        m += scratch
        np.multiply(grads, grads, out=grads)  # v = beta_2 v + (1 - beta_2) g^2
        grads *= 1 - self.beta_2
        v *= self.beta_2
        v += grads
        # Bias correction folded into the step size, as in the paper's section 2.
        step_size = self.learning_rate * math.sqrt(1 - self.beta_2**step) / (1 - self.beta_1**step)
        np.sqrt(v, out=scratch)
        scratch += self.epsilon
        np.divide(m, scratch, out=scratch)
        scratch *= step_size
        params -= scratch


class AdamW(Adam):
    """Adam with decoupled weight decay, on by default (``weight_decay=0.01``)."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        weight_decay: float = 0.01,
    ) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay)
