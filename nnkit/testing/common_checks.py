"""Checks every component passes: a configuration that rebuilds it by registry name."""

from __future__ import annotations

import json

from nnkit.errors import ConfigurationError
from nnkit.files.serialization import build_component, component_spec
from nnkit.registry.registry import default_registry
from nnkit.testing.subject import Subject


def config_round_trip(subject: Subject) -> None:
    """``get_config()`` is JSON-ready, and the registry name with that configuration
    builds an equal component: what a model file relies on."""
    component = subject.make()
    try:
        component.get_config()
    except AttributeError as error:
        raise AssertionError(f"get_config(): {error}") from None
    if subject.info is None:
        raise AssertionError(
            "the component is not registered by any plugin, so a model using it cannot be "
            "saved by name; register it from a plugin's hook"
        )
    registry = default_registry()
    try:
        spec = component_spec(subject.kind, component, registry)
    except (AttributeError, ConfigurationError) as error:
        raise AssertionError(f"get_config(): {error}") from None
    json.dumps(spec)
    qualified = f"{subject.info.plugin.name}:{subject.info.name}"
    rebuilt = build_component(spec, subject.kind, registry, "get_config()")
    if type(rebuilt) is not type(component):
        raise AssertionError(
            f"{qualified} rebuilt from its configuration: expected a {type(component).__name__}, "
            f"found a {type(rebuilt).__name__}"
        )
    if rebuilt != component:
        raise AssertionError(
            f"{qualified} rebuilt from its configuration is not equal to the original: "
            f"expected {component!r}, found {rebuilt!r}; store each constructor argument "
            "unchanged, as given"
        )
    again = component_spec(subject.kind, rebuilt, registry)
    if again != spec:
        raise AssertionError(
            f"configuration after a rebuild: expected {spec['config']}, found {again['config']}"
        )


CHECKS = [config_round_trip]
