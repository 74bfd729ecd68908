"""Holding out a test set."""

from __future__ import annotations

import numpy as np

from nnkit.errors import DataError

__all__ = ["train_test_split"]


def train_test_split(
    X: np.ndarray, y: np.ndarray, test_size: float = 0.25, seed: int | None = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle and split into ``X_train, X_test, y_train, y_test`` (as scikit-learn orders them)."""
    X, y = np.asarray(X), np.asarray(y)
    if not 0 < test_size < 1:
        raise DataError(f"test_size must be between 0 and 1, got {test_size!r}")
    if len(X) != len(y):
        raise DataError(f"X has {len(X)} samples but y has {len(y)}; they must match")
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = max(1, int(round(test_size * len(X))))
    test, train = order[:n_test], order[n_test:]
    if len(train) == 0:
        raise DataError(f"test_size={test_size} leaves no training samples out of {len(X)}")
    return X[train], X[test], y[train], y[test]
