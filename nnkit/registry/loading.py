"""Loading plugins: from the ``nnkit`` entry-point group, selected by environment
variables, each checked by pluggy and by kind as it arrives; a plugin that fails is
skipped with a `PluginLoadWarning` and the rest still load.

Two environment variables choose which plugins load, matched against the entry-point
name or the distribution name, comma-separated:

``NNKIT_LOAD_PLUGINS``
    load only these plugins (an allow-list; set but empty loads none).
``NNKIT_DISABLE_PLUGINS``
    load every plugin except these.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Mapping
from importlib import metadata
from typing import Any, Final

import pluggy

import nnkit.registry.hookspecs as hookspecs
from nnkit.errors import InvalidComponentError, PluginLoadWarning
from nnkit.registry.kinds import KINDS, Kind, check_component
from nnkit.registry.origins import ComponentInfo, PluginFailure, PluginInfo, normalize_name
from nnkit.warning_location import plugin_location

__all__ = [
    "ENTRY_POINT_GROUP",
    "LOAD_PLUGINS_ENV",
    "DISABLE_PLUGINS_ENV",
    "PluginLoading",
    "installed_entry_point_names",
]

#: The entry-point group plugins list themselves in.
ENTRY_POINT_GROUP: Final = hookspecs.PROJECT_NAME
#: Allow-list of plugins to load (entry-point or distribution names, comma-separated).
LOAD_PLUGINS_ENV: Final = "NNKIT_LOAD_PLUGINS"
#: Block-list of plugins not to load (entry-point or distribution names, comma-separated).
DISABLE_PLUGINS_ENV: Final = "NNKIT_DISABLE_PLUGINS"


class PluginLoading:
    """How a `Registry` fills itself from plugins; the registry holds what they add."""

    plugins: list[PluginInfo]
    failures: list[PluginFailure]
    disabled: list[PluginInfo]
    _packages: dict[str, str]
    _manager: pluggy.PluginManager
    _write_lock: threading.RLock

    def _publish(self, components: list[ComponentInfo], replace_local: bool = False) -> None:
        raise NotImplementedError  # the registry's own: how it stores components

    def load_entry_points(self, environ: Mapping[str, str] | None = None) -> None:
        """Add every plugin of the ``nnkit`` entry-point group that the environment
        variables select (``environ``, by default the process's)."""
        environ = os.environ if environ is None else environ
        allow = _name_set(environ.get(LOAD_PLUGINS_ENV))
        block = _name_set(environ.get(DISABLE_PLUGINS_ENV)) or set()
        for entry_point in sorted(
            metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name
        ):
            dist = getattr(entry_point, "dist", None)
            info = PluginInfo(
                entry_point.name,
                dist.metadata["Name"] if dist is not None else None,
                dist.version if dist is not None else None,
            )
            names = {normalize_name(info.name)}
            if dist is not None:
                names.add(normalize_name(info.distribution))
            if (allow is not None and not names & allow) or names & block:
                self.disabled.append(info)
                continue
            try:
                plugin = entry_point.load()
            except Exception as error:  # any import failure: skip this plugin, load the rest
                self._fail(
                    info,
                    f"import of {entry_point.value!r} failed: {describe_error(error)}",
                    error=error,
                    module=entry_point.value.partition(":")[0],
                )
                continue
            self.add_plugin(plugin, info)

    def add_plugin(self, plugin: object, info: PluginInfo | str) -> bool:
        """Register a plugin object (usually a module) and the components its hooks add.

        Returns whether it loaded; a broken plugin is skipped with a warning, and none of
        its components are kept. Installed plugins arrive here from their entry points;
        a plugin module added by hand lives in this registry only (`reload_plugins`
        forgets it), so for a component defined in a script or notebook prefer
        `register`, which every reload keeps.
        """
        if isinstance(info, str):
            info = PluginInfo(info, None, None)
        with self._write_lock:
            return self._add_plugin(plugin, info)

    def _add_plugin(self, plugin: object, info: PluginInfo) -> bool:
        module = getattr(plugin, "__name__", None) or type(plugin).__module__
        try:
            self._manager.register(plugin, name=info.name)
        except Exception as error:  # pluggy's validation: a bad hook signature, a taken name
            self._fail(info, describe_error(error), error=error, module=module)
            return False
        try:
            self._manager.check_pending()  # every hook it implements has a specification
        except pluggy.PluginValidationError:
            callers = self._manager.get_hookcallers(plugin) or []
            unknown = [caller.name for caller in callers if not caller.has_spec()]
            self._manager.unregister(plugin)
            hooks = ", ".join(kind.hook for kind in KINDS.values())
            self._fail(
                info,
                f"it implements unknown hooks {unknown}; nnkit's hooks are: {hooks}",
                module=module,
                code=getattr(plugin, unknown[0], None) if unknown else None,
            )
            return False
        others = [p for p in self._manager.get_plugins() if p is not plugin]
        arrived: list[ComponentInfo] = []
        try:
            for kind in KINDS.values():
                caller = self._manager.subset_hook_caller(kind.hook, remove_plugins=others)
                caller(register=_register_callback(kind, info, arrived))
        except Exception as error:  # a hook that raised or registered something invalid
            self._manager.unregister(plugin)
            self._fail(info, describe_error(error), error=error, module=module)
            return False
        self._packages = {**self._packages, info.name: module.partition(".")[0]}
        self._publish(arrived)
        self.plugins.append(info)
        return True

    def _fail(
        self,
        info: PluginInfo,
        reason: str,
        *,
        error: BaseException | None = None,
        module: str | None = None,
        code: Any = None,
    ) -> None:
        self.failures.append(PluginFailure(info, reason))
        message = (
            f"nnkit plugin {info.describe()} was not loaded: {reason.rstrip('.')}. The other "
            f"plugins are loaded; set {DISABLE_PLUGINS_ENV}={info.name} to silence this."
        )
        filename, lineno = plugin_location(error, module, code)
        warnings.warn_explicit(
            PluginLoadWarning(message, plugin=info.name, distribution=info.distribution),
            PluginLoadWarning,
            filename,
            lineno,
            module=module or info.name,
        )


def _register_callback(
    kind: Kind, plugin: PluginInfo, arrived: list[ComponentInfo]
) -> hookspecs.Register:
    def register(name: str, cls: type) -> None:
        check_component(kind, name, cls)
        if any(c.kind == kind.name and c.name == name for c in arrived):
            raise InvalidComponentError(f"it registers {kind.name} {name!r} twice")
        arrived.append(ComponentInfo(kind.name, name, cls, plugin))

    return register


def installed_entry_point_names() -> frozenset[str]:
    """The names in the ``nnkit`` entry-point group now."""
    return frozenset(ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP))


def _name_set(value: str | None) -> set[str] | None:
    if value is None:
        return None
    return {normalize_name(part.strip()) for part in value.split(",") if part.strip()}


def describe_error(error: BaseException) -> str:
    """An error as one line, its type first: the CLI prints a warning's text as one line."""
    return " ".join(f"{type(error).__name__}: {error}".split())
