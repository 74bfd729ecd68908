"""Components to and from JSON-ready specs: registry name, supplier, and configuration.

A spec names a component by its registry name, never by a Python import path, so that
reading one can only build what an installed plugin registered; nothing in a spec can
make nnkit import or run other code. It records the registration the component was
created under (name, plugin, distribution, version), and reading it builds exactly that
plugin's component: another plugin's component of the same name takes its place only
when the caller asks for it with a substitution, and then with a `SubstitutionWarning`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any, Final

import numpy as np

from nnkit.errors import (
    ConfigurationError,
    MissingComponentError,
    ModelFileError,
    SubstitutionWarning,
)
from nnkit.registry.kinds import KINDS, article
from nnkit.registry.loading import DISABLE_PLUGINS_ENV, LOAD_PLUGINS_ENV
from nnkit.registry.origins import LOCAL_PLUGIN
from nnkit.registry.registry import Registry
from nnkit.warning_location import warn_at_caller

__all__ = [
    "component_spec",
    "build_component",
    "saved_names",
    "check_substitutions",
    "COMPONENT_MARKER",
]

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

    The name and supplier are those the component was created under
    (`Registry.origin_of`). Raises `ConfigurationError` for a component no plugin
    registered (it could not be found by name again), one whose class several plugins
    registered with an equal claim, or a configuration value that JSON cannot hold.
    """
    origin = registry.origin_of(component)
    if origin is None or origin.kind != kind:
        raise ConfigurationError(_unidentified(kind, component, registry))
    config = {
        key: _to_json(value, f"{kind} {origin.name!r} argument {key!r}", registry)
        for key, value in component.get_config().items()
    }
    return {
        "kind": kind,
        "name": origin.name,
        "plugin": origin.plugin.name,
        "distribution": origin.plugin.distribution,
        "version": origin.plugin.version,
        "config": config,
    }


def _unidentified(kind: str, component: Any, registry: Registry) -> str:
    cls = type(component).__name__
    registrations = [c for c in registry.registrations_of(type(component)) if c.kind == kind]
    if registrations:
        names = ", ".join(repr(f"{c.plugin.name}:{c.name}") for c in registrations)
        return (
            f"{kind} {cls} is registered as {names}, so its class does not say which name a "
            f"model file should record; create it by name instead, for example "
            f"nnkit.{kind}({registrations[0].origin.qualified_name!r}, ...)"
        )
    return (
        f"{kind} {cls} is not registered, so a model that uses it cannot be saved by name; "
        f"register it from a plugin, or in-process with @nnkit.register({kind!r}, "
        f"'my.{cls.lower()}') above its class (see 'Writing a plugin' in the docs)"
    )


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


def build_component(
    spec: Any,
    kind: str,
    registry: Registry,
    source: str,
    substitute: Mapping[str, str] | None = None,
) -> Any:
    """The component a spec describes, built through the registry from the plugin that
    supplied it when it was saved.

    ``substitute`` maps a saved name (``"relu"``, or ``"plugin:relu"`` for one supplier's)
    to the name of the component to build in its place, with a `SubstitutionWarning`.
    Raises `MissingComponentError` when the recorded supplier is not loaded, and
    `ModelFileError` for a malformed spec (``source`` names the file in the message).
    """
    substitute = substitute or {}
    if not isinstance(spec, dict):
        raise ModelFileError(f"{source}: a {kind} entry is {type(spec).__name__}, not an object")
    name, config = spec.get("name"), spec.get("config", {})
    if spec.get("kind") != kind or not isinstance(name, str) or not isinstance(config, dict):
        raise ModelFileError(f"{source}: malformed {kind} entry {_short(spec)}")
    plugin, distribution = spec.get("plugin"), spec.get("distribution")
    if not isinstance(plugin, (str, type(None))) or not isinstance(distribution, (str, type(None))):
        raise ModelFileError(f"{source}: malformed {kind} entry {_short(spec)}")
    kwargs = {key: _from_json(value, registry, source, substitute) for key, value in config.items()}
    replacement = substitute.get(f"{plugin}:{name}", substitute.get(name))
    if replacement is not None:
        info = registry.get(kind, replacement)
        warn_at_caller(
            SubstitutionWarning(
                f"{source}: {kind} {name!r} was saved from {_supplier(spec)}; loading "
                f"{info.origin.qualified_name} ({info.supplier}) in its place, as "
                "substitute= asks. Its results may differ from the saved model's."
            )
        )
    else:
        found = registry.find(kind, name, plugin, distribution)
        if found is None:
            raise _missing(spec, kind, name, source, registry)
        info = found
    try:
        return registry.create(kind, info.origin.qualified_name, **kwargs)
    except (ConfigurationError, TypeError, ValueError) as error:
        raise ModelFileError(f"{source}: could not rebuild {kind} {name!r}: {error}") from None


def saved_names(value: Any) -> Iterator[tuple[str, str]]:
    """``(name, "plugin:name")`` of every component spec inside a model description."""
    if isinstance(value, dict):
        if isinstance(value.get("kind"), str) and isinstance(value.get("name"), str):
            yield value["name"], f"{value.get('plugin')}:{value['name']}"
        for item in value.values():
            yield from saved_names(item)
    elif isinstance(value, list):
        for item in value:
            yield from saved_names(item)


def check_substitutions(substitute: Mapping[str, str], description: Any, source: str) -> None:
    """Refuse a ``substitute=`` key that names no component of the model: a typo there
    would otherwise leave the substitution silently undone."""
    if not isinstance(substitute, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in substitute.items()
    ):
        raise ConfigurationError(
            f"substitute= must map saved component names to registry names, such as "
            f"{{'relu': 'nnkit_std:relu'}}; got {substitute!r}"
        )
    saved = {spelling for pair in saved_names(description) for spelling in pair}
    unused = sorted(set(substitute) - saved)
    if unused:
        names = sorted({name for name, _ in saved_names(description)})
        raise ConfigurationError(
            f"substitute= names {', '.join(map(repr, unused))}, which {source} does not use; "
            f"its components are: {', '.join(names)}"
        )


def _from_json(value: Any, registry: Registry, source: str, substitute: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        if set(value) == {COMPONENT_MARKER}:
            nested = value[COMPONENT_MARKER]
            kind = nested.get("kind") if isinstance(nested, dict) else None
            if kind not in KINDS:
                raise ModelFileError(f"{source}: malformed nested component {_short(nested)}")
            return build_component(nested, kind, registry, source, substitute)
        return {key: _from_json(item, registry, source, substitute) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_json(item, registry, source, substitute) for item in value]
    return value


def _supplier(spec: dict[str, Any]) -> str:
    plugin, distribution = spec.get("plugin"), spec.get("distribution")
    if distribution:
        return f"plugin {plugin} ({distribution} {spec.get('version')})"
    if plugin == LOCAL_PLUGIN.name:
        return "a registration in the saving process (nnkit.register, no distribution)"
    return f"plugin {plugin} (no distribution)"


def _missing(
    spec: dict[str, Any], kind: str, name: str, source: str, registry: Registry
) -> MissingComponentError:
    plugin, distribution = spec.get("plugin"), spec.get("distribution")
    version = spec.get("version")
    providers = registry.providers(kind, name)
    if distribution:
        needs = (
            f"{kind} {name!r}, supplied by {distribution} {version} (plugin {plugin}) when "
            "the model was saved; that plugin is not loaded"
        )
        fix = (
            f"pip install {distribution} (or check {LOAD_PLUGINS_ENV} and "
            f"{DISABLE_PLUGINS_ENV}, which may have disabled it)"
        )
    elif plugin == LOCAL_PLUGIN.name:
        needs = (
            f"{kind} {name!r}, which was registered in the saving process with "
            "nnkit.register (no distribution) and is not registered now"
        )
        fix = (
            f"run the code that defines it, with @nnkit.register({kind!r}, {name!r}) above "
            "its class, before loading"
        )
    else:
        needs = (
            f"{kind} {name!r}, supplied by plugin {plugin} (no distribution) when the model "
            "was saved; that plugin is not loaded"
        )
        fix = f"add plugin {plugin!r} to the registry again before loading"
    if providers:
        offered = ", ".join(c.plugin.describe() for c in providers)
        others = f"Loaded plugins with {article(kind)} {kind} {name!r}: {offered}."
        fix += (
            f"; or, to use one of those instead, load with "
            f"substitute={{{name!r}: {providers[0].origin.qualified_name!r}}}"
        )
    else:
        others = f"No loaded plugin has {article(kind)} {kind} named {name!r}."
    return MissingComponentError(
        f"{source} needs {needs}. {others} Fix: {fix}.",
        kind=kind,
        name=name,
        available=sorted({c.name for c in registry.components(kind)}),
        plugin=plugin,
        distribution=distribution,
        version=version,
        providers=[c.plugin.describe() for c in providers],
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
