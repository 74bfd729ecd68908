"""The names a network calls its layers by: the user's, or ones assigned Keras' way.

A layer the user named (``layer.name = "head"``) keeps its name; every other layer is
called by its registry name, with ``_1``, ``_2``, ... for the second and later layers of
that name (``"dense"``, ``"dense_1"``), skipping names already taken. The names follow
from the layers' order alone, so they are the same every time a network is built or
loaded, and a file saved before layers had names gets the names a new build would give.
"""

from __future__ import annotations

from collections.abc import Sequence

from nnkit.errors import ConfigurationError
from nnkit.interfaces.layer import Layer
from nnkit.registry.registry import default_registry

__all__ = ["layer_names"]


def layer_names(layers: Sequence[Layer]) -> list[str]:
    """One unique name per layer of ``layers``, in order; `ConfigurationError` if the
    user gave two layers the same name (``by_name`` could not tell them apart)."""
    given = [layer.name for layer in layers]
    seen: dict[str, int] = {}
    for index, name in enumerate(given):
        if name is None:
            continue
        if name in seen:
            raise ConfigurationError(
                f"layers {seen[name] + 1} and {index + 1} are both named {name!r}; a "
                "network's layer names are unique: rename one (layer.name = ...)"
            )
        seen[name] = index
    taken = set(seen)
    counts: dict[str, int] = {}
    registry = default_registry()
    names = []
    for layer, name in zip(layers, given):
        if name is None:
            base = registry.name_of(layer) or type(layer).__name__.lower()
            while True:
                count = counts.get(base, 0)
                counts[base] = count + 1
                name = base if count == 0 else f"{base}_{count}"
                if name not in taken:
                    break
            taken.add(name)
        names.append(name)
    return names
