"""RMSprop, Adagrad, Nadam and Lion, each an update of the flat parameter vector.

Every optimizer keeps its running quantities in the state dict the network owns, so a
saved model resumes exactly; ``grads`` is used as scratch space, as the interface allows.
"""

from __future__ import annotations

import numpy as np

import nnkit
from nnkit.arguments import FRACTION, NON_NEGATIVE, POSITIVE, real_number
from nnkit.interfaces.state_checks import require_non_negative, require_step_count

__all__ = ["RMSprop", "Adagrad", "Nadam", "Lion"]

#: What the running quantities that cannot be negative are, for the loader's messages.
_MEAN_OF_SQUARES = "a running mean of squared gradients"
_SUM_OF_SQUARES = "a sum of squared gradients"


def _fraction(name: str, value: float) -> float:
    return real_number(value, name, FRACTION)


class RMSprop(nnkit.Optimizer):
    """Steps divided by a running root mean square of the gradient (Hinton, 2012):
    ``v = rho v + (1 - rho) g^2``, ``params -= lr g / (sqrt(v) + epsilon)``."""

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, epsilon: float = 1e-7):
        super().__init__(learning_rate)
        self.rho = _fraction("rmsprop rho", rho)
        self.epsilon = real_number(epsilon, "rmsprop epsilon", POSITIVE)

    def init_state(self, params):
        return {"v": np.zeros_like(params)}

    def check_state(self, state):
        require_non_negative(state, "v", "rmsprop", _MEAN_OF_SQUARES)

    def update(self, params, grads, state):
        v = state["v"]
        v *= self.rho
        v += (1 - self.rho) * grads**2
        grads *= self.learning_rate
        grads /= np.sqrt(v) + self.epsilon
        params -= grads


class Adagrad(nnkit.Optimizer):
    """Steps divided by the root of all squared gradients so far (Duchi et al., 2011):
    rarely-updated parameters keep larger steps."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
    ):
        super().__init__(learning_rate)
        self.initial_accumulator_value = real_number(
            initial_accumulator_value, "adagrad initial_accumulator_value", NON_NEGATIVE
        )
        self.epsilon = real_number(epsilon, "adagrad epsilon", POSITIVE)

    def init_state(self, params):
        return {"accumulator": np.full_like(params, self.initial_accumulator_value)}

    def check_state(self, state):
        require_non_negative(state, "accumulator", "adagrad", _SUM_OF_SQUARES)

    def update(self, params, grads, state):
        accumulator = state["accumulator"]
        accumulator += grads**2
        grads *= self.learning_rate
        grads /= np.sqrt(accumulator) + self.epsilon
        params -= grads


class Nadam(nnkit.Optimizer):
    """Adam with Nesterov momentum (Dozat, 2016): the first moment looks one step ahead,
    ``m_hat = beta_1 m / (1 - beta_1^(t+1)) + (1 - beta_1) g / (1 - beta_1^t)``."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
    ):
        super().__init__(learning_rate)
        self.beta_1 = _fraction("nadam beta_1", beta_1)
        self.beta_2 = _fraction("nadam beta_2", beta_2)
        self.epsilon = real_number(epsilon, "nadam epsilon", POSITIVE)

    def init_state(self, params):
        return {"m": np.zeros_like(params), "v": np.zeros_like(params), "t": np.zeros((), np.int64)}

    def check_state(self, state):
        require_step_count(state, "t", "nadam")
        require_non_negative(state, "v", "nadam", _MEAN_OF_SQUARES)

    def update(self, params, grads, state):
        m, v, t = state["m"], state["v"], state["t"]
        t += 1
        step = int(t)
        b1, b2 = self.beta_1, self.beta_2
        m *= b1
        m += (1 - b1) * grads
        v *= b2
        v += (1 - b2) * grads**2
        m_hat = (b1 / (1 - b1 ** (step + 1))) * m + ((1 - b1) / (1 - b1**step)) * grads
        denominator = np.sqrt(v / (1 - b2**step)) + self.epsilon
        params -= self.learning_rate * m_hat / denominator


class Lion(nnkit.Optimizer):
    """Evolved sign momentum (Chen et al., 2023): every parameter moves by exactly
    ``lr`` per step, in the direction of ``sign(beta_1 m + (1 - beta_1) g)``; then
    ``m = beta_2 m + (1 - beta_2) g``. Use a learning rate 3-10x smaller than Adam's."""

    def __init__(
        self,
        learning_rate: float = 1e-4,
        beta_1: float = 0.9,
        beta_2: float = 0.99,
        weight_decay: float = 0.0,
    ):
        super().__init__(learning_rate)
        self.beta_1 = _fraction("lion beta_1", beta_1)
        self.beta_2 = _fraction("lion beta_2", beta_2)
        self.weight_decay = _fraction("lion weight_decay", weight_decay)

    def init_state(self, params):
        return {"m": np.zeros_like(params)}

    def update(self, params, grads, state):
        m = state["m"]
        if self.weight_decay:
            params *= 1 - self.learning_rate * self.weight_decay
        direction = np.sign(self.beta_1 * m + (1 - self.beta_1) * grads)
        params -= self.learning_rate * direction
        m *= self.beta_2
        m += (1 - self.beta_2) * grads
