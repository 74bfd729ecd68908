"""Checks of a loss: its gradient, its fused gradient, its minimum and its bookkeeping."""

from __future__ import annotations

import numpy as np

from nnkit.registry.registry import default_registry
from nnkit.testing.numeric import assert_close, assert_same_dtype, numeric_gradient
from nnkit.testing.subject import Subject

#: ``(samples, outputs)`` of the loss checks: samples first, as the network's outputs.
SHAPE = (5, 3)


def sample_pair(loss, seed: int = 0, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """An output ``A`` and targets ``Y`` inside the loss's ``target_range``: one-hot
    targets and probabilities for a loss on (0, 1), values above the bound for a loss
    on (low, inf), normal values otherwise."""
    rng = np.random.default_rng(seed)
    low, high = loss.target_range
    if np.isfinite(low) and np.isfinite(high):
        Y = np.zeros(SHAPE)
        Y[np.arange(SHAPE[0]), rng.integers(0, SHAPE[1], SHAPE[0])] = 1
        Y = low + (high - low) * Y
        A = low + (high - low) * rng.uniform(0.1, 0.9, size=SHAPE)
    elif np.isfinite(low):  # counts, rates: values above the bound
        Y = low + np.abs(rng.normal(size=SHAPE))
        A = low + 0.1 + np.abs(rng.normal(size=SHAPE))
    else:
        Y, A = rng.normal(size=SHAPE), rng.normal(size=SHAPE)
    return A.astype(dtype), Y.astype(dtype)


def loss_gradient(subject: Subject) -> None:
    """``gradient(A, Y)`` equals ``d value(A, Y) / dA`` by central differences."""
    loss = subject.make()
    A, Y = sample_pair(loss, seed=1)
    found = np.array(loss.gradient(A, Y), copy=True)
    indices, expected = numeric_gradient(lambda: loss.value(A, Y), A)
    assert_close(found.reshape(-1)[indices], expected, "gradient(A, Y) against finite differences")


def loss_fused_gradient(subject: Subject) -> None:
    """With ``fused_activation`` set, ``fused_gradient(g(Z), Y)`` equals
    ``d value(g(Z), Y) / dZ``: the shortcut the network takes is exact."""
    loss = subject.make()
    if loss.fused_activation is None:
        return
    activation = default_registry().create("activation", loss.fused_activation)
    _, Y = sample_pair(loss, seed=2)
    rng = np.random.default_rng(3)
    Z = rng.normal(size=Y.shape)
    low, high = loss.target_range
    if np.isfinite(low) and np.isfinite(high):
        # Targets that need not sum to 1 per sample, and one sample with none at all:
        # the shortcut must hold for every target in range, not only for one-hot ones.
        Y = low + (high - low) * rng.uniform(size=Y.shape)
        Y[0] = low
    found = np.array(loss.fused_gradient(activation.forward(Z), Y), copy=True)
    indices, expected = numeric_gradient(lambda: loss.value(activation.forward(Z), Y), Z)
    assert_close(
        found.reshape(-1)[indices],
        expected,
        f"fused_gradient against finite differences through {loss.fused_activation!r}",
    )


def loss_minimal_at_target(subject: Subject) -> None:
    """The loss is zero when the output equals the target, and more elsewhere."""
    loss = subject.make()
    A, Y = sample_pair(loss, seed=4)
    at_target = loss.value(Y, Y)
    if not abs(at_target) <= 1e-5:
        raise AssertionError(f"value(Y, Y): expected 0, found {at_target:.6g}")
    if not loss.value(A, Y) > at_target:
        raise AssertionError(
            f"value(A, Y) for A != Y: expected more than value(Y, Y) = {at_target:.6g}, found "
            f"{loss.value(A, Y):.6g}"
        )


def loss_per_sample(subject: Subject) -> None:
    """``per_sample`` has one value per sample (a row of ``A`` and ``Y``) and ``value`` is
    their mean (what sample weights rely on). A loss written for the column layout of
    nnkit 0.2, ``(outputs, samples)``, returns one value per output and fails here."""
    loss = subject.make()
    A, Y = sample_pair(loss, seed=5)
    each = np.asarray(loss.per_sample(A, Y))
    if each.shape != (SHAPE[0],):
        raise AssertionError(
            f"per_sample: expected shape {(SHAPE[0],)}, one value per sample (a row), found "
            f"{each.shape}; since nnkit 0.3 A and Y are (samples, outputs): sum over the "
            "last axis and divide gradients by A.shape[0]"
        )
    assert_close(np.array(loss.value(A, Y)), np.array(each.mean()), "value against per_sample mean")


def loss_dtype_and_inputs(subject: Subject) -> None:
    """In float32 the gradient stays float32, and ``A`` and ``Y`` are left untouched."""
    loss = subject.make()
    for dtype in (np.float32, np.float64):
        A, Y = sample_pair(loss, seed=6, dtype=dtype)
        A_before, Y_before = A.copy(), Y.copy()
        value = loss.value(A, Y)
        if not np.isfinite(value):
            raise AssertionError(f"value in {np.dtype(dtype)}: expected a finite number")
        assert_same_dtype(loss.gradient(A, Y), np.dtype(dtype), f"gradient in {np.dtype(dtype)}")
        loss.per_sample(A, Y)
        if not (np.array_equal(A, A_before) and np.array_equal(Y, Y_before)):
            raise AssertionError("value, gradient or per_sample changed A or Y")


CHECKS = [
    loss_gradient,
    loss_fused_gradient,
    loss_minimal_at_target,
    loss_per_sample,
    loss_dtype_and_inputs,
]
