"""Checks of an initializer: shape, dtype, determinism and the variance it promises."""

from __future__ import annotations

import numpy as np

from nnkit.testing.numeric import assert_close, assert_same_dtype
from nnkit.testing.subject import Subject

#: A weight matrix ``(fan_out, fan_in)`` large enough to measure a variance on.
SHAPE = (200, 300)


def _sample(initializer, seed: int = 0, dtype=np.float64, shape=SHAPE) -> np.ndarray:
    fan_out, fan_in = shape
    return initializer.sample(shape, fan_in, fan_out, np.random.default_rng(seed), np.dtype(dtype))


def initializer_shape_and_dtype(subject: Subject) -> None:
    """``sample`` returns the shape asked for, in the dtype asked for."""
    initializer = subject.make()
    for dtype in (np.float32, np.float64):
        for shape in ((7, 3), (7, 1)):
            values = _sample(initializer, dtype=dtype, shape=shape)
            assert_same_dtype(values, np.dtype(dtype), f"sample of shape {shape}")
            if values.shape != shape:
                raise AssertionError(f"sample: expected shape {shape}, found {values.shape}")
            if not np.all(np.isfinite(values)):
                raise AssertionError("sample: found NaN or infinite values")


def initializer_same_seed_same_result(subject: Subject) -> None:
    """The same seed gives the same values; another seed, other values (unless constant)."""
    initializer = subject.make()
    first, again = _sample(initializer, seed=4), _sample(initializer, seed=4)
    assert_close(again, first, "a second sample from the same seed", 0, 0)
    other = _sample(initializer, seed=5)
    if np.array_equal(first, other) and np.ptp(first) > 0:
        raise AssertionError("samples from different seeds are identical: is rng used?")


def initializer_variance(subject: Subject) -> None:
    """A 200 x 300 sample has mean near 0 and the variance ``variance(fan_in, fan_out)``
    promises, within 10%."""
    initializer = subject.make()
    promised = initializer.variance(SHAPE[1], SHAPE[0])
    if promised is None:
        return
    values = _sample(initializer, seed=6)
    found = float(values.var())
    if not abs(found - promised) <= 0.1 * promised + 1e-12:
        raise AssertionError(
            f"variance for fan_in={SHAPE[1]}, fan_out={SHAPE[0]}: expected {promised:.6g} "
            f"(within 10%), found {found:.6g}"
        )
    limit = 5 * np.sqrt(promised / values.size) + 1e-12
    if abs(float(values.mean())) > limit:
        raise AssertionError(f"mean: expected 0 (within {limit:.3g}), found {values.mean():.3g}")


CHECKS = [initializer_shape_and_dtype, initializer_same_seed_same_result, initializer_variance]
