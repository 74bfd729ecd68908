"""The standard optimizers, each a few NumPy calls on the flat parameter vector."""

from __future__ import annotations

import math

import numpy as np

from nnkit import Optimizer
from nnkit.arguments import FRACTION, POSITIVE, real_number
from nnkit.errors import ConfigurationError
from nnkit.interfaces.buffers import constant
from nnkit.interfaces.state_checks import require_non_negative, require_step_count

#: What an SGD velocity may hold: the step itself, or a running sum of gradients.
VELOCITIES = ("step", "gradient")
#: Where Adam adds epsilon: to the root of the raw second moment, or of the corrected one.
EPSILON_PLACES = ("v", "v_hat")


def _one_of(value: object, name: str, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``; a `ConfigurationError` listing them otherwise."""
    if not isinstance(value, str) or value not in choices:
        raise ConfigurationError(
            f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}"
        )
    return value


def _flag(value: object, name: str) -> bool:
    """``value`` if it is a bool, so that a string such as ``"no"`` is not taken as True."""
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigurationError(f"{name} must be True or False, got {value!r}")
    return bool(value)


class SGD(Optimizer):
    """Plain gradient descent ``params -= learning_rate * grads``, with optional
    momentum and Nesterov momentum.

    ``velocity`` says what the momentum accumulates. ``"step"`` (the default, as in
    Keras and nnkit 0.2.0): ``v = momentum v - learning_rate g; params += v``, so a
    change of learning rate reaches the velocity gradually. ``"gradient"`` (as in
    PyTorch): ``v = momentum v + g; params -= learning_rate v``, so a new learning rate
    scales the whole velocity at once. Under one fixed learning rate the two are the same
    update; under a schedule they differ.
    """

    def __init__(
        self,
        learning_rate: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        velocity: str = "step",
    ) -> None:
        super().__init__(learning_rate)
        self.momentum = real_number(momentum, "sgd momentum", FRACTION)
        if nesterov and self.momentum == 0:
            raise ConfigurationError("sgd nesterov=True needs a momentum above 0")
        self.nesterov = bool(nesterov)
        self.velocity = _one_of(velocity, "sgd velocity", VELOCITIES)

    def init_state(self, params: np.ndarray) -> dict[str, np.ndarray]:
        return {"velocity": np.zeros_like(params)} if self.momentum else {}

    def update(self, params: np.ndarray, grads: np.ndarray, state: dict[str, np.ndarray]) -> None:
        if self.momentum and self.velocity == "gradient":
            self._update_gradient_velocity(params, grads, state["velocity"])
            return
        # perf: the rate as a 0-d array (float(): a schedule may set it to any number)
        rate = constant(float(self.learning_rate), grads.dtype)
        grads *= rate  # grads now holds learning_rate * g
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

    def _update_gradient_velocity(
        self, params: np.ndarray, grads: np.ndarray, velocity: np.ndarray
    ) -> None:
        """PyTorch's form: ``v = momentum v + g``, then ``params -= learning_rate v``, or
        with Nesterov ``params -= learning_rate (g + momentum v)``."""
        velocity *= self.momentum
        velocity += grads
        if self.nesterov:
            grads += self.momentum * velocity
        else:
            grads[...] = velocity
        grads *= self.learning_rate
        params -= grads


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015): steps scaled by running estimates of the gradient's
    first and second moments, with bias correction.

    ``epsilon_on`` says where epsilon is added. ``"v"`` (the default, as in Keras and
    nnkit 0.2.0, the paper's section 2): to ``sqrt(v)`` before the bias correction,
    which is folded into the step size. ``"v_hat"`` (as in PyTorch, the paper's
    algorithm 1): to ``sqrt(v_hat)``, ``v_hat = v / (1 - beta_2^t)``. The two differ by
    a factor ``sqrt(1 - beta_2^t)`` on epsilon, which matters in the first steps and
    wherever ``sqrt(v)`` is near epsilon.

    ``weight_decay`` shrinks every parameter by ``learning_rate * weight_decay`` each
    step, decoupled from the gradient (Loshchilov and Hutter, 2019), as PyTorch's
    ``AdamW`` does. With ``decoupled_weight_decay=False`` it is an L2 penalty instead,
    ``g += weight_decay * params`` before the moments, as PyTorch's ``Adam`` does.
    """

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        weight_decay: float = 0.0,
        epsilon_on: str = "v",
        decoupled_weight_decay: bool = True,
    ) -> None:
        super().__init__(learning_rate)
        self.weight_decay = real_number(weight_decay, "weight_decay", FRACTION)
        self.beta_1 = real_number(beta_1, "adam beta_1", FRACTION)
        self.beta_2 = real_number(beta_2, "adam beta_2", FRACTION)
        self.epsilon = real_number(epsilon, "adam epsilon", POSITIVE)
        self.epsilon_on = _one_of(epsilon_on, "adam epsilon_on", EPSILON_PLACES)
        self.decoupled_weight_decay = _flag(
            decoupled_weight_decay, "adam decoupled_weight_decay"
        )
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
        if self.weight_decay and self.decoupled_weight_decay:
            params *= 1 - self.learning_rate * self.weight_decay
        elif self.weight_decay:  # an L2 penalty's gradient, weight_decay * params
            grads += self.weight_decay * params
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
        np.sqrt(v, out=scratch)
        if self.epsilon_on == "v":
            # Bias correction folded into the step size, as in the paper's section 2.
            correction = math.sqrt(1 - self.beta_2**step)
            step_size = self.learning_rate * correction / (1 - self.beta_1**step)
        else:  # sqrt(v_hat) + epsilon, in PyTorch's order of operations
            scratch /= math.sqrt(1 - self.beta_2**step)
            step_size = self.learning_rate / (1 - self.beta_1**step)
        scratch += self.epsilon
        np.divide(m, scratch, out=scratch)
        scratch *= step_size
        params -= scratch


class AdamW(Adam):
    """Adam with decoupled weight decay, on by default (``weight_decay=0.01``);
    ``epsilon_on`` as in `Adam` (``"v_hat"`` is PyTorch's ``AdamW``)."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        weight_decay: float = 0.01,
        epsilon_on: str = "v",
    ) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay, epsilon_on)
