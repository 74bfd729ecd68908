"""The samples of a network with several inputs, as one array the trainer slices.

``fit``, ``evaluate`` and ``predict`` take ``X`` as a dict by input name (or a list in
input order). Each input is checked against its declared sample shape and flattened,
and the inputs are laid side by side in one ``(n_samples, total)`` array: shuffling,
batches, validation splits and sample weights then treat the samples of all inputs
together, with no copy per batch. The network takes each input back as a view.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nnkit.data.arrays import as_features
from nnkit.errors import DataError

__all__ = ["by_name", "pack_inputs"]


def pack_inputs(
    X: Any,
    names: Sequence[str],
    shapes: Sequence[tuple[int, ...]],
    dtype: np.dtype,
    name: str = "X",
) -> Any:
    """``X`` given by input name (a dict) or in input order (a list, for several inputs)
    as one ``(n_samples, total)`` array of ``dtype``; anything else is returned as it
    is, for a network of one input to check as usual.

    Raises:
        DataError: an input is missing, unknown, of the wrong sample shape, or the
            inputs hold different numbers of samples.
    """
    parts = by_name(X, names, name, "input")
    if parts is None and len(names) > 1:
        raise DataError(
            f"the network has {len(names)} inputs ({', '.join(names)}): give {name} as a "
            "dict by input name, or a list of one array per input in that order"
        )
    if parts is None:
        return X
    arrays = [
        as_features(part, dtype, shape, name=f"{name}[{key!r}]", finite=False)
        for key, part, shape in zip(names, parts, shapes)
    ]
    counts = {key: len(array) for key, array in zip(names, arrays)}
    if len(set(counts.values())) != 1:
        raise DataError(f"the inputs of {name} hold different numbers of samples: {counts}")
    if len(arrays) == 1:
        return arrays[0]
    return np.concatenate([a.reshape(len(a), math.prod(a.shape[1:])) for a in arrays], axis=1)


def by_name(values: Any, names: Sequence[str], name: str, kind: str) -> list[Any] | None:
    """One entry of ``values`` per name of ``names`` (a network's inputs or outputs, as
    ``kind`` says): from a dict by name, or from a list in that order when there are
    several; None for anything else.

    Raises:
        DataError: a dict names an unknown one or misses one.
    """
    if isinstance(values, Mapping):
        unknown = [key for key in values if key not in names]
        missing = [key for key in names if key not in values]
        if unknown or missing:
            problems = [f"no {kind} is called {unknown}"] if unknown else []
            problems += [f"{missing} missing"] if missing else []
            raise DataError(
                f"{name} is a dict by {kind} name, but the network's {kind}s are "
                f"{list(names)}: " + "; ".join(problems)
            )
        return [values[key] for key in names]
    if len(names) > 1 and isinstance(values, (list, tuple)) and len(values) == len(names):
        return list(values)
    return None
