"""Central finite differences and array comparisons that explain themselves when they fail."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np

__all__ = ["numeric_gradient", "assert_close", "assert_same_dtype", "through_npy", "FD_STEP"]

#: The step of the central differences, in float64.
FD_STEP = 1e-6
#: At most this many entries of an array are probed by finite differences.
MAX_PROBES = 120


def numeric_gradient(
    f: Callable[[], float],
    X: np.ndarray,
    rng: np.random.Generator | None = None,
    among: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, d f / d X[indices])`` by central differences, perturbing ``X`` in place.

    Large arrays are probed at `MAX_PROBES` random entries (drawn from ``rng``).
    ``among``, flat indices of ``X``, limits the probes to those entries (the real
    positions of a masked sequence: padding is not differentiable).
    """
    flat = X.reshape(-1)  # a view: writing into it perturbs X
    indices = np.arange(flat.size) if among is None else np.asarray(among, dtype=np.intp)
    if indices.size > MAX_PROBES:
        rng = rng if rng is not None else np.random.default_rng(0)
        indices = np.sort(rng.choice(indices, MAX_PROBES, replace=False))
    gradient = np.empty(indices.size)
    for position, index in enumerate(indices):
        saved = flat[index]
        flat[index] = saved + FD_STEP
        plus = f()
        flat[index] = saved - FD_STEP
        minus = f()
        flat[index] = saved
        gradient[position] = (plus - minus) / (2 * FD_STEP)
    return indices, gradient


def assert_close(
    found: np.ndarray, expected: np.ndarray, what: str, rtol: float = 1e-5, atol: float = 1e-7
) -> None:
    """Fail with the worst-matching entry named when ``found`` is not ``expected``."""
    found, expected = np.asarray(found), np.asarray(expected)
    if found.shape != expected.shape:
        raise AssertionError(f"{what}: expected shape {expected.shape}, found {found.shape}")
    if not np.all(np.isfinite(found)):
        raise AssertionError(f"{what}: found NaN or infinite values")
    error = np.abs(found - expected)
    allowed = atol + rtol * np.abs(expected)
    if np.any(error > allowed):
        worst = np.unravel_index(np.argmax(error - allowed), error.shape)
        raise AssertionError(
            f"{what}: expected {float(expected[worst]):.6g} at index {tuple(map(int, worst))}, "
            f"found {float(found[worst]):.6g} ({int(np.sum(error > allowed))} of "
            f"{error.size} entries differ)"
        )


def assert_same_dtype(array: np.ndarray, dtype: np.dtype, what: str) -> None:
    """Fail when ``array`` is not a NumPy array of ``dtype`` (a float64 leak, say)."""
    if not isinstance(array, np.ndarray):
        raise AssertionError(f"{what}: expected a numpy array, found {type(array).__name__}")
    if array.dtype != dtype:
        raise AssertionError(f"{what}: expected dtype {np.dtype(dtype)}, found {array.dtype}")


def through_npy(array: np.ndarray) -> np.ndarray:
    """``array`` written as ``.npy`` and read back without pickles, as a model file does."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    buffer.seek(0)
    return np.load(buffer, allow_pickle=False)
