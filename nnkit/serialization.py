"""Components to and from JSON-ready specs: registry name, supplier, and configuration.

A spec names a component by its registry name, never by a Python import path, so that
reading one can only build what an installed plugin registered; nothing in a spec can
make nnkit import or run other code.
"""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np

from nnkit.errors import (
    ComponentConflictError,
    ConfigurationError,
    MissingComponentError,
    ModelFileError,
    UnknownComponentError,
)
from nnkit.registry import DISABLE_PLUGINS_ENV, KINDS, LOAD_PLUGINS_ENV, Registry

__all__ = ["component_spec", "build_component", "COMPONENT_MARKER"]

#: The key that marks a nested component inside a configuration.
COMPONENT_MARKER: Final = "$component"


def kind_of(component: Any) -> str | None:
    """The kind whose interface ``component`` implements, or ``None``."""
    for kind in KINDS.values():
        if isinstance(component, kind.interface):
            return kind.name
    return None


def component_spec(kind: str, component: Any, registry: Registry) -> dict[str, Any]:
    """``{"kind", "name", "plugin", "distribution", "version", "config"}`` for a component.

    Raises `ConfigurationError` for a component no plugin
    registered (it could not be found by name again) or a configuration value that JSON
    cannot hold.
    """
    info = registry.info_of(component)
    if info is None or info.kind != kind:
        raise ConfigurationError(
            f"{kind} {type(component).__name__} is not registered by any plugin, so a model "
            "that uses it cannot be saved by name; register it from a plugin (see 'Writing "
            "a plugin' in the docs)"
        )
    config = {
        key: _to_json(value, f"{kind} {info.name!r} argument {key!r}", registry)
        for key, value in component.get_config().items()
    }
    return {
        "kind": kind,
        "name": info.name,
        "plugin": info.plugin.name,
        "distribution": info.distribution,
        "version": info.version,
        "config": config,
    }


def _to_json(value: Any, where: str, registry: Registry) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise ConfigurationError(f"{where} is {value}, which a model file cannot hold")
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_to_json(item, where, registry) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: _to_json(item, where, registry) for key, item in value.items()}
    kind = kind_of(value)
    if kind is not None:
        return {COMPONENT_MARKER: component_spec(kind, value, registry)}
    raise ConfigurationError(
        f"{where} is a {type(value).__name__}, which a model file cannot hold; configurations "
        "must be numbers, strings, booleans, lists, dicts or registered components"
    )


def build_component(spec: Any, kind: str, registry: Registry, source: str) -> Any:
    """The component a spec describes, built through the registry.

    Raises `MissingComponentError` when no installed plugin provides
    it, and `ModelFileError` for a malformed spec (``source`` names
    the file in the message).
    """
    if not isinstance(spec, dict):
        raise ModelFileError(f"{source}: a {kind} entry is {type(spec).__name__}, not an object")
    name, config = spec.get("name"), spec.get("config", {})
    if spec.get("kind") != kind or not isinstance(name, str) or not isinstance(config, dict):
        raise ModelFileError(f"{source}: malformed {kind} entry {_short(spec)}")
    kwargs = {key: _from_json(value, registry, source) for key, value in config.items()}
    try:
        try:
            info = registry.get(kind, name)
        except ComponentConflictError:
            # Several plugins now offer the name: take the one that supplied it at save time.
            info = registry.get(kind, f"{spec.get('plugin')}:{name}")
    except UnknownComponentError as error:
        raise _missing(spec, kind, name, source) from error
    try:
        return registry.create(kind, info.plugin.name + ":" + name, **kwargs)
    except (ConfigurationError, TypeError, ValueError) as error:
        raise ModelFileError(f"{source}: could not rebuild {kind} {name!r}: {error}") from None


def _from_json(value: Any, registry: Registry, source: str) -> Any:
    if isinstance(value, dict):
        if set(value) == {COMPONENT_MARKER}:
            nested = value[COMPONENT_MARKER]
            kind = nested.get("kind") if isinstance(nested, dict) else None
            if kind not in KINDS:
                raise ModelFileError(f"{source}: malformed nested component {_short(nested)}")
            return build_component(nested, kind, registry, source)
        return {key: _from_json(item, registry, source) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_json(item, registry, source) for item in value]
    return value


def _missing(spec: dict[str, Any], kind: str, name: str, source: str) -> MissingComponentError:
    distribution, version = spec.get("distribution"), spec.get("version")
    if distribution:
        supplier = f"it was supplied by {distribution} {version} when the model was saved"
        fix = f"pip install {distribution}"
    else:
        supplier = f"it was supplied by plugin {spec.get('plugin')!r}, which has no distribution"
        fix = "register that plugin again"
    return MissingComponentError(
        f"{source} needs {kind} {name!r}, which no loaded plugin provides; {supplier}. "
        f"Fix: {fix}, or check {LOAD_PLUGINS_ENV} and {DISABLE_PLUGINS_ENV}, which may have "
        "disabled it.",
        kind=kind,
        name=name,
        available=[],
        distribution=distribution,
        version=version,
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
