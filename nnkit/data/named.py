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

__all__ = ["pack_inputs"]


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
    if isinstance(X, Mapping):
        unknown = [key for key in X if key not in names]
        missing = [key for key in names if key not in X]
        if unknown or missing:
            raise DataError(
                f"{name} is a dict by input name, but the network's inputs are "
                f"{list(names)}: " + "; ".join(
                    part
                    for part in (
                        f"no input is called {unknown}" if unknown else "",
                        f"{missing} missing" if missing else "",
                    )
                    if part
                )
            )
        parts = [X[key] for key in names]
    elif len(names) > 1 and isinstance(X, (list, tuple)) and len(X) == len(names):
        parts = list(X)
    elif len(names) > 1:
        raise DataError(
            f"the network has {len(names)} inputs ({', '.join(names)}): give {name} as a "
            "dict by input name, or a list of one array per input in that order"
        )
    else:
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
