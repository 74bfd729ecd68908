"""A task that needs memory: is a string of brackets balanced?

Every string holds as many ``(`` as ``)``, so counting them says nothing: a model must
carry the running depth along the sequence and notice when it drops below zero.
"""

from __future__ import annotations

import numpy as np


def balanced(string: np.ndarray) -> bool:
    """Whether the running depth (+1 per ``(``, -1 per ``)``) never drops below zero."""
    return bool(np.cumsum(string).min() >= 0)


def brackets(n: int, length: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` strings of ``length`` brackets, half balanced and half not, as ``X`` of
    shape ``(n, length, 1)`` (+1 for ``(``, -1 for ``)``) and labels ``y`` (1: balanced)."""
    rng = np.random.default_rng(seed)
    half = np.array([1] * (length // 2) + [-1] * (length // 2))
    X, y = np.empty((n, length, 1)), np.empty(n, dtype=int)
    wanted = [True, False] * (n // 2) + [True] * (n % 2)
    for k, want in enumerate(wanted):
        string = rng.permutation(half)
        while balanced(string) != want:  # about one shuffle in nine is balanced
            string = rng.permutation(half)
        X[k, :, 0], y[k] = string, int(want)
    return X, y
