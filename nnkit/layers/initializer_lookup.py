"""Lets `Layer.add_parameter` take an initializer by registry name.

The registry imports the interfaces, so `nnkit.interfaces.layer` cannot import it; this
module, which may import both, installs the lookup when it is imported (and the layers
of nnkit import it, so importing nnkit is enough)."""

from __future__ import annotations

from nnkit.interfaces.initializer import Initializer
from nnkit.interfaces.layer import set_initializer_lookup
from nnkit.registry.registry import default_registry

__all__: list[str] = []


def _resolve(initializer: str | Initializer) -> Initializer:
    return default_registry().resolve("initializer", initializer)


set_initializer_lookup(_resolve)
