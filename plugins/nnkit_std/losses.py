"""The standard losses. ``A`` and ``Y`` are ``(samples, outputs)``; values are batch means.

The cross-entropy, the mean squared and absolute errors and the binary cross-entropy
also take outputs that keep a time axis, ``(samples, positions, outputs)``
(`Loss.any_output_shape`): the elementwise ones average over every element, the
cross-entropy over the positions that carry a target.
"""

from __future__ import annotations

import numpy as np

from nnkit import Loss
from nnkit.errors import ConfigurationError
from nnkit.interfaces.buffers import constant

#: How close to 0 (and 1) a probability may come before a logarithm reads it, by dtype:
#: log(0) is -inf, so the logarithmic losses clamp, as Keras does (its epsilon is 1e-7).
EPSILON_FLOAT32 = 1e-7  # float32 resolves 1 - 1e-7 from 1, not 1 - 1e-12
EPSILON_FLOAT64 = 1e-12


def _epsilon(A: np.ndarray) -> float:
    return EPSILON_FLOAT32 if A.dtype == np.float32 else EPSILON_FLOAT64


def _clip_probabilities(A: np.ndarray) -> np.ndarray:
    # log(0) is -inf: keep probabilities a little inside (0, 1), as Keras does.
    epsilon = _epsilon(A)
    return np.clip(A, epsilon, 1 - epsilon)


def _at_least_epsilon(A: np.ndarray) -> np.ndarray:
    # Only log(0) needs guarding in the categorical cross-entropy (A <= 1 already).
    # perf: epsilon as a 0-d array of A's dtype, which NumPy applies faster than a float.
    return np.maximum(A, constant(_epsilon(A), A.dtype))


def _features(A: np.ndarray) -> tuple[int, ...]:
    # Every axis but the samples': (1,) for flat outputs, (1, 2) for (m, T, k) ones.
    return tuple(range(1, A.ndim))


def _targeted_positions(carried: np.ndarray) -> int:
    """The positions that carry a target, from each position's target mass: the count a
    per-position mean divides by (at least 1, so a batch of ignored positions gives a
    loss and gradient of 0 rather than 0/0)."""
    return max(int(np.count_nonzero(carried)), 1)


def _softmax_fused_gradient(
    A: np.ndarray, Y: np.ndarray, out: np.ndarray | None = None, one_hot: bool = False
) -> np.ndarray:
    """``dZ^L = (A^L * sum_k Y_k - Y) / m`` for softmax outputs and a loss whose
    ``dA = -Y / A / m`` (cross-entropy, KL divergence).

    The familiar ``(A - Y) / m`` is the special case of target rows that sum to 1; a
    multi-hot row, or an all-zero row (whose loss is 0 and so is its gradient), needs
    the factor ``sum_k Y_k``. For outputs ``(m, T, k)`` the divisor is the number of
    positions that carry a target instead of ``m`` (an ignored position is an all-zero
    row), as the cross-entropy's mean over positions. When every row is one-hot
    (``one_hot``), each sums to exactly 1 and every position carries a target, so the
    gradient is ``(A - Y)`` over the number of rows to the last bit, without the sums.
    """
    if one_hot:
        dZ = np.subtract(A, Y, out=out)
        # The rows: m, or m T per position (perf: 1/rows as a 0-d array of A's dtype).
        dZ *= constant(1.0 / (A.size // A.shape[-1]), A.dtype)
        return dZ
    carried = Y.sum(axis=-1, keepdims=True)  # the target mass of each sample
    dZ = np.multiply(A, carried, out=out)
    dZ -= Y
    dZ *= 1.0 / (A.shape[0] if A.ndim == 2 else _targeted_positions(carried))
    return dZ


class MeanSquaredError(Loss):
    """The mean squared error ``E = 1/(m k) sum (A - Y)^2``, the mean over the ``m``
    samples and the ``k`` outputs: Keras' and scikit-learn's ``mean_squared_error`` and
    PyTorch's ``MSELoss``; ``dA = 2 (A - Y) / (m k)``. Outputs of any sample shape,
    ``(m, T, k)`` too, are averaged over every element alike.

    It is ``2/k`` times `HalfSquaredError` (``half_squared_error``), the classic
    formulation's loss, which nnkit 0.2 called ``mse``. Reports the mean absolute error
    too, which is in the target's own units.
    """

    default_metrics = ("mae",)
    any_output_shape = True

    def per_sample(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return np.mean((A - Y) ** 2, axis=_features(A))

    def value(self, A: np.ndarray, Y: np.ndarray) -> float:
        difference = A - Y
        return float(np.vdot(difference, difference)) / difference.size

    def gradient(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return (A - Y) * (2.0 / A.size)


class HalfSquaredError(Loss):
    """The squared error of the classic formulation, ``E = 1/(2m) sum ||A - Y||^2``: half
    the squared distance of each sample's outputs from its targets, summed over the
    outputs and averaged over the samples; ``dA = (A - Y) / m``.

    `MeanSquaredError` (``mse``) is ``2/k`` times it for ``k`` outputs. Reports the mean
    absolute error too.
    """

    default_metrics = ("mae",)

    def per_sample(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return 0.5 * np.sum((A - Y) ** 2, axis=-1)

    def value(self, A: np.ndarray, Y: np.ndarray) -> float:
        difference = A - Y
        return 0.5 * float(np.vdot(difference, difference)) / A.shape[0]

    def gradient(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return (A - Y) / A.shape[0]


class CrossEntropy(Loss):
    """Categorical cross-entropy ``E = -1/m sum Y log A``, for a softmax output.

    The sum over the classes of each sample, the mean over samples, as in Keras,
    PyTorch and scikit-learn's ``log_loss``. Outputs are clamped to at least ``1e-7``
    (float32) or ``1e-12`` (float64) before the logarithm. With softmax the gradient with
    respect to ``Z^L`` is ``(A sum_k Y_k - Y) / m``, which is ``(A - Y) / m`` for one-hot
    targets, so the network skips the softmax Jacobian.

    Per-token outputs ``(m, T, k)`` (a class per position, as a language model's next
    token) take integer targets ``(m, T)``, one label per position. The loss is then the
    mean over the positions that carry a target, ``E = -1/N sum Y log A`` with ``N`` the
    positions not ignored: PyTorch's ``cross_entropy(..., reduction="mean",
    ignore_index=...)``. A position labelled ``ignore_index`` (-100 by default, as
    PyTorch; ``nnkit.loss("cross_entropy", ignore_index=0)`` to skip a padding code 0)
    is an all-zero target row, which adds nothing to the value, the divisor or the
    gradient. `per_sample` gives each sample's sum over its positions times ``m / N``,
    so that its mean is the value and sample weights ``(m,)`` weigh whole sequences.
    Masked positions of the network's output (padding) are left out the same way.

    Args:
        ignore_index: the label of positions without a target, for per-position labels.
    """

    fused_activation = "softmax"
    accepts_class_labels = True
    expects_probabilities = True
    any_output_shape = True
    skips_empty_targets = True
    target_range = (0.0, 1.0)
    default_metrics = ("accuracy",)

    def __init__(self, ignore_index: int = -100) -> None:
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
            raise ConfigurationError(
                f"cross_entropy's ignore_index must be an integer label (-100 by default), "
                f"got {ignore_index!r}"
            )
        self.ignore_index = int(ignore_index)

    def per_sample(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        if A.ndim == 2:
            return -np.sum(Y * np.log(_at_least_epsilon(A)), axis=-1)
        each = -np.sum(Y * np.log(_at_least_epsilon(A)), axis=_features(A))
        return each * (A.shape[0] / _targeted_positions(Y.sum(axis=-1)))

    def value(self, A: np.ndarray, Y: np.ndarray) -> float:
        log_A = np.log(_at_least_epsilon(A))
        # -1/m sum Y log A; over positions, -1/N sum Y log A.
        count = A.shape[0] if A.ndim == 2 else _targeted_positions(Y.sum(axis=-1))
        return -float(np.vdot(log_A, Y)) / count

    def gradient(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        count = A.shape[0] if A.ndim == 2 else _targeted_positions(Y.sum(axis=-1))
        return -Y / _at_least_epsilon(A) / count

    def fused_gradient(
        self, A: np.ndarray, Y: np.ndarray, out: np.ndarray | None = None, one_hot: bool = False
    ) -> np.ndarray:
        return _softmax_fused_gradient(A, Y, out, one_hot)


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy ``E = -1/(m k) sum [Y log A + (1 - Y) log(1 - A)]``, the mean
    over the ``m`` samples and the ``k`` outputs, for sigmoid outputs (each unit an
    independent yes/no): Keras' ``binary_crossentropy``, PyTorch's ``BCELoss`` and, for one
    output, scikit-learn's ``log_loss``. Fused with sigmoid to ``(A - Y) / (m k)``.
    Outputs of any sample shape are averaged over every element alike.

    Outputs are clamped to ``[eps, 1 - eps]`` before the logarithms, with ``eps = 1e-7``
    in float32 and ``1e-12`` in float64.
    """

    fused_activation = "sigmoid"
    accepts_class_labels = True
    expects_probabilities = True
    any_output_shape = True
    target_range = (0.0, 1.0)
    default_metrics = ("binary_accuracy",)

    def per_sample(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        P = _clip_probabilities(A)
        return -np.mean(Y * np.log(P) + (1 - Y) * np.log1p(-P), axis=_features(A))

    def gradient(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        P = _clip_probabilities(A)
        return (P - Y) / (P * (1 - P)) / A.size

    def fused_gradient(
        self, A: np.ndarray, Y: np.ndarray, out: np.ndarray | None = None, one_hot: bool = False
    ) -> np.ndarray:
        dZ = np.subtract(A, Y, out=out)  # dZ = (A - Y) / (m k) through the sigmoid
        dZ *= 1.0 / A.size
        return dZ


class MeanAbsoluteError(Loss):
    """The mean absolute error ``E = 1/(m k) sum |A - Y|`` over the ``m`` samples and the
    ``k`` outputs, as Keras', PyTorch's (``L1Loss``) and scikit-learn's
    ``mean_absolute_error``; ``dA = sign(A - Y) / (m k)``.

    Less swayed by outliers than the squared error: each sample pulls with the same
    force however far it is. Registered as ``mae`` and as ``l1``. Outputs of any sample
    shape are averaged over every element alike.
    """

    any_output_shape = True

    def per_sample(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return np.mean(np.abs(A - Y), axis=_features(A))

    def gradient(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return np.sign(A - Y) / A.size


class Hinge(Loss):
    """The hinge loss of a margin classifier, ``E = 1/m sum max(0, 1 - t A)``, summed over
    the outputs, each output a yes/no question answered by the sign of ``A``.

    Targets ``t`` are -1 or 1; targets of 0 and 1 work too (0 is read as -1), so class
    labels one-hot encoded train one output per class, one against the rest. Pair it
    with a linear output (``identity`` or no activation).
    """

    accepts_class_labels = True
    target_range = (-1.0, 1.0)

    def per_sample(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return np.sum(np.maximum(0, 1 - _signs(Y) * A), axis=-1)

    def gradient(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        t = _signs(Y)
        inside = (t * A < 1).astype(A.dtype)  # only samples inside the margin pull
        return -t * inside / A.shape[0]


def _signs(Y: np.ndarray) -> np.ndarray:
    # Targets as -1 and 1, whether given as -1/1 or as 0/1.
    return np.where(Y > 0, 1, -1).astype(Y.dtype)


class KLDivergence(Loss):
    """Kullback-Leibler divergence ``E = 1/m sum Y log(Y / A)`` of the output
    distribution ``A`` from the target distribution ``Y`` (rows summing to 1).

    Targets and outputs are clamped to at least ``1e-7`` (float32) or ``1e-12``
    (float64) inside the logarithm. It differs from the cross-entropy by the targets' own
    entropy, a constant, so it
    trains the same way but is zero at a perfect fit; fused with softmax to
    ``(A sum_k Y_k - Y) / m``, ``(A - Y) / m`` for targets that sum to 1.
    """

    fused_activation = "softmax"
    expects_probabilities = True
    target_range = (0.0, 1.0)

    def per_sample(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        # 0 log 0 = 0: targets of zero contribute nothing.
        ratio = _at_least_epsilon(Y) / _at_least_epsilon(A)
        return np.sum(Y * np.log(ratio), axis=-1)

    def gradient(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return -Y / _at_least_epsilon(A) / A.shape[0]

    def fused_gradient(
        self, A: np.ndarray, Y: np.ndarray, out: np.ndarray | None = None, one_hot: bool = False
    ) -> np.ndarray:
        return _softmax_fused_gradient(A, Y, out, one_hot)


class Poisson(Loss):
    """Poisson deviance ``E = 1/m sum [A - Y + Y log(Y / A)]`` for counts ``Y >= 0``
    predicted as rates ``A > 0``; ``dA = (1 - Y / A) / m``.

    Half scikit-learn's ``mean_poisson_deviance``: the negative log-likelihood of a
    Poisson model shifted to be zero at ``A = Y``. The output must be positive, as
    after softplus (nnkit-extras); rates and counts are clamped to at least ``1e-7``
    (float32) or ``1e-12`` (float64) inside the logarithm.
    """

    target_range = (0.0, np.inf)

    def per_sample(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        rate = _at_least_epsilon(A)
        ratio = _at_least_epsilon(Y) / rate
        return np.sum(rate - Y + Y * np.log(ratio), axis=-1)

    def gradient(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return (1 - Y / _at_least_epsilon(A)) / A.shape[0]
