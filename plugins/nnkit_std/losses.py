"""The standard losses. ``A`` and ``Y`` are ``(outputs, samples)``; values are batch means."""

from __future__ import annotations

import numpy as np

from nnkit import Loss


def _clip_probabilities(A: np.ndarray) -> np.ndarray:
    # log(0) is -inf: keep probabilities a little inside (0, 1), as Keras does.
    epsilon = 1e-7 if A.dtype == np.float32 else 1e-12
    return np.clip(A, epsilon, 1 - epsilon)


def _at_least_epsilon(A: np.ndarray) -> np.ndarray:
    # Only log(0) needs guarding in the categorical cross-entropy (A <= 1 already).
    return np.maximum(A, 1e-7 if A.dtype == np.float32 else 1e-12)


class MeanSquaredError(Loss):
    """The squared error ``E = 1/(2m) sum ||A - Y||^2``; ``dA = (A - Y) / m``.

    Reports the mean absolute error too, which is in the target's own units.
    """

    default_metrics = ("mae",)

    def per_sample(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return 0.5 * np.sum((A - Y) ** 2, axis=0)

    def value(self, A: np.ndarray, Y: np.ndarray) -> float:
        difference = A - Y
        return 0.5 * float(np.vdot(difference, difference)) / A.shape[1]

    def gradient(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return (A - Y) / A.shape[1]


class CrossEntropy(Loss):
    """Categorical cross-entropy ``E = -1/m sum Y log A``, for a softmax output.

    With softmax the gradient with respect to ``Z^L`` is exactly ``(A - Y) / m``, so the
    network skips the softmax Jacobian.
    """

    fused_activation = "softmax"
    accepts_class_labels = True
    target_range = (0.0, 1.0)
    default_metrics = ("accuracy",)

    def per_sample(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return -np.sum(Y * np.log(_at_least_epsilon(A)), axis=0)

    def value(self, A: np.ndarray, Y: np.ndarray) -> float:
        log_A = np.log(_at_least_epsilon(A))
        return -float(np.vdot(log_A, Y)) / A.shape[1]  # -1/m sum Y log A

    def gradient(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return -Y / _at_least_epsilon(A) / A.shape[1]


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy ``E = -1/m sum [Y log A + (1 - Y) log(1 - A)]``, for sigmoid
    outputs (each unit an independent yes/no); fused with sigmoid to ``(A - Y) / m``."""

    fused_activation = "sigmoid"
    accepts_class_labels = True
    target_range = (0.0, 1.0)
    default_metrics = ("binary_accuracy",)

    def per_sample(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        P = _clip_probabilities(A)
        return -np.sum(Y * np.log(P) + (1 - Y) * np.log1p(-P), axis=0)

    def gradient(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        P = _clip_probabilities(A)
        return (P - Y) / (P * (1 - P)) / A.shape[1]
