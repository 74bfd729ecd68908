"""The standard optimizers, each a few NumPy calls on the flat parameter vector."""

from __future__ import annotations

import math

import numpy as np

from nnkit import Optimizer
from nnkit.errors import ConfigurationError


class SGD(Optimizer):
    """Plain gradient descent ``params -= learning_rate * grads``, with optional
    momentum (``v = momentum v - learning_rate g; params += v``) and Nesterov momentum.
    """

    def __init__(
        self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False
    ) -> None:
        super().__init__(learning_rate)
        if not 0 <= momentum < 1:
            raise ConfigurationError(f"sgd momentum must be in [0, 1), got {momentum!r}")
        if nesterov and momentum == 0:
            raise ConfigurationError("sgd nesterov=True needs a momentum above 0")
        self.momentum = float(momentum)
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
        if not 0 <= weight_decay < 1:
            raise ConfigurationError(f"weight_decay must be in [0, 1), got {weight_decay!r}")
        self.weight_decay = float(weight_decay)
        for name, beta in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0 <= beta < 1:
                raise ConfigurationError(f"adam {name} must be in [0, 1), got {beta!r}")
        if not epsilon > 0:
            raise ConfigurationError(f"adam epsilon must be positive, got {epsilon!r}")
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self._scratch: np.ndarray | None = None

    def init_state(self, params: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "m": np.zeros_like(params),
            "v": np.zeros_like(params),
            "t": np.zeros((), dtype=np.int64),
        }

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
