"""Sequences as the layers of this package take them.

A batch of sequences is ``(m, T, d)``: ``m`` samples of ``T`` time steps of ``d``
features each, samples first as everywhere in nnkit (PyTorch's ``batch_first=True``).
The layers compute in that layout too: a product with a ``(d, k)`` matrix acts on every
time step of every sample at once (``x @ W``, NumPy broadcasting over ``m`` and ``T``).
"""

from __future__ import annotations

from collections.abc import Sequence

from nnkit.errors import ConfigurationError

__all__ = ["sequence_shape"]


def sequence_shape(input_shape: Sequence[int], layer: str) -> tuple[int, int]:
    """``(time_steps, features)`` from a sample shape, or an error that says how to
    shape the data when the samples are not sequences."""
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 2:
        hint = (
            f"reshape((-1, {shape[0]}, 1)) for one feature per time step"
            if len(shape) == 1
            else "reshape((samples, time_steps, features))"
        )
        raise ConfigurationError(
            f"{layer} takes sequences (time_steps, features), got samples of shape {shape}; "
            f"reshape the data, e.g. X.{hint}"
        )
    return shape  # type: ignore[return-value]
