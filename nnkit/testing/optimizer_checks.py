"""Checks of an optimizer: it descends, it keeps still on zero gradients, its state can
be saved, and it keeps the parameters' dtype."""

from __future__ import annotations

import inspect

import numpy as np

from nnkit.testing.numeric import assert_close, assert_same_dtype, through_npy
from nnkit.testing.subject import Subject

#: The curvatures of the quadratic the descent check minimises.
CURVATURE = np.linspace(1.0, 4.0, 10)
#: Learning rate and steps of the descent check.
RATE, STEPS = 0.01, 200
#: State arrays must have one of the dtypes a model file can hold.
STATE_DTYPES = frozenset(np.dtype(t) for t in ("float32", "float64", "int64", "uint64"))


def _configured(subject: Subject, **changes: float):
    """A fresh optimizer; ``changes`` override constructor arguments it accepts."""
    optimizer = subject.make()
    accepted = inspect.signature(type(optimizer)).parameters
    changes = {key: value for key, value in changes.items() if key in accepted}
    if changes:
        optimizer = type(optimizer)(**{**optimizer.get_config(), **changes})
    return optimizer


def _gradients(step: int, size: int, dtype) -> np.ndarray:
    return np.random.default_rng(100 + step).normal(size=size).astype(dtype)


def optimizer_descends(subject: Subject) -> None:
    """At learning rate 0.01, 200 steps shrink ``f(x) = 1/2 sum h x^2`` from ``x = 1`` to
    less than three quarters of its start (a sign error makes it grow)."""
    optimizer = _configured(subject, learning_rate=RATE)
    x = np.ones_like(CURVATURE)
    state = optimizer.init_state(x)
    start = 0.5 * float(np.sum(CURVATURE * x**2))
    for _ in range(STEPS):
        optimizer.update(x, CURVATURE * x, state)
    end = 0.5 * float(np.sum(CURVATURE * x**2))
    if not end < 0.75 * start:
        raise AssertionError(
            f"{STEPS} steps on a convex quadratic: expected f to fall below {0.75 * start:.4g}, "
            f"found it went from {start:.4g} to {end:.4g}"
        )


def optimizer_still_on_zero_gradients(subject: Subject) -> None:
    """From a fresh state, zero gradients leave the parameters exactly where they are
    (weight decay, if any, turned off)."""
    optimizer = _configured(subject, weight_decay=0.0)
    x = np.random.default_rng(1).normal(size=8)
    before = x.copy()
    state = optimizer.init_state(x)
    for _ in range(3):
        optimizer.update(x, np.zeros_like(x), state)
    assert_close(x, before, "parameters after steps with zero gradients", rtol=0, atol=0)


def optimizer_state_round_trip(subject: Subject) -> None:
    """Saved as ``.npy`` arrays and given to a fresh optimizer of the same configuration,
    the state continues the run bit for bit (no state hides in the optimizer itself)."""
    optimizer = subject.make()
    x = np.random.default_rng(2).normal(size=8)
    state = optimizer.init_state(x)
    for step in range(5):
        optimizer.update(x, _gradients(step, x.size, x.dtype), state)
    saved = {}
    for key, value in state.items():
        if not isinstance(value, np.ndarray) or value.dtype not in STATE_DTYPES:
            raise AssertionError(
                f"state {key!r}: expected a numpy array of float32, float64, int64 or uint64, "
                f"found {type(value).__name__} {getattr(value, 'dtype', '')}"
            )
        saved[key] = through_npy(value)
    resumed_x, resumed = x.copy(), type(optimizer)(**optimizer.get_config())
    for step in range(5, 10):
        optimizer.update(x, _gradients(step, x.size, x.dtype), state)
        resumed.update(resumed_x, _gradients(step, x.size, x.dtype), saved)
    assert_close(resumed_x, x, "parameters after resuming from the saved state", 0, 0)


def optimizer_keeps_dtype(subject: Subject) -> None:
    """In float32, the floating-point state arrays are float32 too: no float64 leak."""
    optimizer = subject.make()
    x = np.random.default_rng(3).normal(size=8).astype(np.float32)
    state = optimizer.init_state(x)
    for step in range(3):
        optimizer.update(x, _gradients(step, x.size, np.float32), state)
    assert_same_dtype(x, np.dtype(np.float32), "parameters")
    if not np.all(np.isfinite(x)):
        raise AssertionError("float32 parameters: found NaN or infinite values")
    for key, value in state.items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            assert_same_dtype(value, np.dtype(np.float32), f"state {key!r} of float32 parameters")


def optimizer_same_seed_same_result(subject: Subject) -> None:
    """Two fresh optimizers given the same gradients take the same steps."""
    results = []
    for _ in range(2):
        optimizer = subject.make()
        x = np.ones(8)
        state = optimizer.init_state(x)
        for step in range(4):
            optimizer.update(x, _gradients(step, x.size, x.dtype), state)
        results.append(x)
    assert_close(results[1], results[0], "parameters after the same steps", 0, 0)


CHECKS = [
    optimizer_descends,
    optimizer_still_on_zero_gradients,
    optimizer_state_round_trip,
    optimizer_keeps_dtype,
    optimizer_same_seed_same_result,
]
