"""The plugin registry: the hook specifications (`hookspecs`), the kinds of component
(`kinds`), where each came from (`origins`), loading plugins from the ``nnkit``
entry-point group (`loading`), looking components up by name (`registry`) and the
factories built on it (`factories`)."""

from __future__ import annotations

from nnkit.registry.factories import (
    activation,
    callback,
    components,
    initializer,
    layer,
    loss,
    metric,
    optimizer,
    resolve,
    schedule,
)
from nnkit.registry.hookspecs import PROJECT_NAME, Register, hookimpl, hookspec
from nnkit.registry.kinds import KINDS, Kind
from nnkit.registry.loading import DISABLE_PLUGINS_ENV, ENTRY_POINT_GROUP, LOAD_PLUGINS_ENV
from nnkit.registry.origins import (
    LOCAL_PLUGIN,
    ComponentInfo,
    Origin,
    PluginFailure,
    PluginInfo,
    normalize_name,
    record_origin,
)
from nnkit.registry.registry import (
    Registry,
    default_registry,
    describe_component,
    register,
    reload_plugins,
)

__all__ = [
    "PROJECT_NAME",
    "Register",
    "hookimpl",
    "hookspec",
    "ENTRY_POINT_GROUP",
    "LOAD_PLUGINS_ENV",
    "DISABLE_PLUGINS_ENV",
    "Kind",
    "KINDS",
    "ComponentInfo",
    "Origin",
    "PluginInfo",
    "LOCAL_PLUGIN",
    "PluginFailure",
    "Registry",
    "default_registry",
    "describe_component",
    "reload_plugins",
    "register",
    "normalize_name",
    "record_origin",
    "components",
    "resolve",
    "activation",
    "layer",
    "loss",
    "optimizer",
    "initializer",
    "metric",
    "callback",
    "schedule",
]
