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
    ``m_hat = mu_(t+1) m / (1 - mu_1 ... mu_(t+1)) + (1 - mu_t) g / (1 - mu_1 ... mu_t)``.

    With ``momentum_decay=None`` (the default, nnkit 0.2.0's update) the momentum is
    constant, ``mu_t = beta_1``, so the products are ``beta_1^t``. A number is PyTorch's
    momentum schedule, ``mu_t = beta_1 (1 - 0.5 * 0.96^(t momentum_decay))``, PyTorch's
    ``NAdam(momentum_decay=0.004)`` being ``momentum_decay=0.004`` here; its running
    product ``mu_1 ... mu_t`` is then kept in the state as ``mu_product``.
    """

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        momentum_decay: float | None = None,
    ):
        super().__init__(learning_rate)
        self.beta_1 = _fraction("nadam beta_1", beta_1)
        self.beta_2 = _fraction("nadam beta_2", beta_2)
        self.epsilon = real_number(epsilon, "nadam epsilon", POSITIVE)
        self.momentum_decay = (
            None
            if momentum_decay is None
            else real_number(momentum_decay, "nadam momentum_decay", NON_NEGATIVE)
        )

    def init_state(self, params):
        state = {"m": np.zeros_like(params), "v": np.zeros_like(params),
                 "t": np.zeros((), np.int64)}
        if self.momentum_decay is not None:
            state["mu_product"] = np.ones((), params.dtype)
        return state

    def check_state(self, state):
        require_step_count(state, "t", "nadam")
        require_non_negative(state, "v", "nadam", _MEAN_OF_SQUARES)
        if "mu_product" in state and not 0 <= float(state["mu_product"]) <= 1:
            raise ValueError(
                f"nadam state 'mu_product' is {float(state['mu_product'])!r}, but it is a "
                f"product of momenta in [0, 1)"
            )

    def _momentum(self, step: int) -> float:
        """PyTorch's scheduled momentum ``mu_t`` (with a ``momentum_decay``)."""
        assert self.momentum_decay is not None
        return self.beta_1 * (1 - 0.5 * 0.96 ** (step * self.momentum_decay))

    def update(self, params, grads, state):
        m, v, t = state["m"], state["v"], state["t"]
        t += 1
        step = int(t)
        b1, b2 = self.beta_1, self.beta_2
        m *= b1
        m += (1 - b1) * grads
        v *= b2
        v += (1 - b2) * grads**2
        if self.momentum_decay is None:  # the products of a constant momentum
            product, next_product = b1**step, b1 ** (step + 1)
            mu, next_mu = b1, b1
        else:
            mu, next_mu = self._momentum(step), self._momentum(step + 1)
            state["mu_product"] *= mu
            product = float(state["mu_product"])
            next_product = product * next_mu
        m_hat = (next_mu / (1 - next_product)) * m + ((1 - mu) / (1 - product)) * grads
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
