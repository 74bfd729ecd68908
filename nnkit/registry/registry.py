"""The registry: every component a user can name by string, the plugin that supplied
it, and the process-wide registry that `nnkit.layer` and the other factories use.

At first use the registry loads every module listed in the ``nnkit`` entry-point group
(the standard set included; `nnkit.registry.loading` describes how, and the environment
variables that select plugins). It records the distribution and version behind each
component (`nnkit.registry.origins`).

A component remembers the registration it was created under (`Origin`): `create`
stamps it on the instance, and a component built from its class directly is traced
back to the one plugin that registered that class (the plugin whose package defines
it, when others register the class again under aliases). That origin is what a model
file records, whatever the load order. Components defined in a script or notebook are
registered in-process with `register`, under the plugin `LOCAL_PLUGIN`.

Safe under threads: changes take a lock and are published copy-on-write, so lookups,
which take none, see the registry before or after a change.
"""

from __future__ import annotations

import difflib
import inspect
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

import pluggy

import nnkit.registry.hookspecs as hookspecs
from nnkit.errors import (
    ComponentConflictError,
    ConfigurationError,
    InvalidComponentError,
    UnknownComponentError,
)
from nnkit.registry.kinds import KINDS, article, check_component, check_kind, plural
from nnkit.registry.loading import (
    DISABLE_PLUGINS_ENV,
    PluginLoading,
    installed_entry_point_names,
)
from nnkit.registry.origins import (
    LOCAL_PLUGIN,
    ORIGIN_ATTRIBUTE,
    ComponentInfo,
    Origin,
    PluginFailure,
    PluginInfo,
    normalize_name,
    record_origin,
)

__all__ = [
    "Registry",
    "default_registry",
    "reload_plugins",
    "register",
    "describe_component",
]

_Class = TypeVar("_Class", bound=type)


@dataclass
class Registry(PluginLoading):
    """Components by kind and name, filled from plugins (`PluginLoading`), and the
    lookups by name, by plugin and by class."""

    plugins: list[PluginInfo] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)
    disabled: list[PluginInfo] = field(default_factory=list)
    #: The entry-point names installed when the registry was loaded from entry points.
    entry_point_names: frozenset[str] | None = None
    _entries: dict[tuple[str, str], list[ComponentInfo]] = field(default_factory=dict)
    _by_factory: dict[Any, list[ComponentInfo]] = field(default_factory=dict)
    # The top-level package of each plugin's module, by plugin name: the plugin whose
    # package defines a class is its home when other plugins register it again.
    _packages: dict[str, str] = field(default_factory=dict)
    _manager: pluggy.PluginManager = field(init=False)
    # Held by every change. A change builds new dicts and lists and publishes them with
    # one assignment (copy on write), so a lookup in another thread, which takes no
    # lock, sees the registry before or after a change, never halfway through one.
    _write_lock: threading.RLock = field(
        default_factory=threading.RLock, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self._manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self._manager.add_hookspecs(hookspecs)

    # -- filling -------------------------------------------------------------------

    @classmethod
    def from_entry_points(cls, environ: Mapping[str, str] | None = None) -> Registry:
        """A registry filled from every selected plugin in the ``nnkit`` entry-point
        group (see `nnkit.registry.loading`), and the in-process registrations."""
        registry = cls(entry_point_names=installed_entry_point_names())
        registry.load_entry_points(environ)
        # In-process registrations are the user's own code, not installed plugins: the
        # environment variables do not select them. A copy, taken under the lock that
        # `register` holds: it may run in another thread meanwhile.
        with _lock:
            local = list(_local_components.items())
        for (kind, name), factory in local:
            registry.add_local(kind, name, factory)
        return registry

    def add_local(self, kind: str, name: str, cls: type) -> ComponentInfo:
        """Register ``cls`` as ``name`` under `LOCAL_PLUGIN`, replacing an earlier local
        registration of that name (a notebook cell run twice); `register` calls this."""
        spec = check_kind(kind)
        check_component(spec, name, cls)
        component = ComponentInfo(kind, name, cls, LOCAL_PLUGIN)
        with self._write_lock:  # two threads registering one name leave one entry
            self._publish([component], replace_local=True)
            if LOCAL_PLUGIN not in self.plugins:
                self.plugins.append(LOCAL_PLUGIN)
        return component

    def _publish(self, components: list[ComponentInfo], replace_local: bool = False) -> None:
        """Add ``components`` (replacing the local registrations of their names, if
        ``replace_local``) in new dicts and lists, published in one assignment each:
        a lookup never sees a name removed and not yet added back."""
        with self._write_lock:
            entries, by_factory = dict(self._entries), dict(self._by_factory)
            for component in components:
                key = (component.kind, component.name)
                kept = entries.get(key, [])
                if replace_local:
                    for earlier in (c for c in kept if c.plugin == LOCAL_PLUGIN):
                        by_factory[earlier.factory] = [
                            c for c in by_factory[earlier.factory] if c is not earlier
                        ]
                    kept = [c for c in kept if c.plugin != LOCAL_PLUGIN]
                entries[key] = [*kept, component]
                by_factory[component.factory] = [*by_factory.get(component.factory, []), component]
            self._by_factory = by_factory
            self._entries = entries

    # -- lookup --------------------------------------------------------------------

    def has(self, kind: str, name: str) -> bool:
        """Whether some plugin registered ``name`` (bare or ``"plugin:name"``) as ``kind``."""
        return bool(self._entries.get((kind, name.rpartition(":")[2])))

    def find(
        self, kind: str, name: str, plugin: str | None, distribution: str | None
    ) -> ComponentInfo | None:
        """The registration of ``name`` from the recorded supplier, or ``None`` if that
        supplier is not loaded; never another plugin's component of the same name.

        The supplier is matched by plugin (entry-point) name and distribution (by the
        plugin name alone when none was recorded), or, when a distribution renamed its
        entry point, by the distribution alone.
        """
        check_kind(kind)
        candidates = self._entries.get((kind, name), [])
        if plugin is None and distribution is None:  # no record of a supplier at all
            return candidates[0] if len(candidates) == 1 else None
        same_plugin = [
            c
            for c in candidates
            if normalize_name(c.plugin.name) == normalize_name(plugin)
            and (
                distribution is None
                or normalize_name(c.distribution) == normalize_name(distribution)
            )
        ]
        if same_plugin:
            return same_plugin[0]
        same_distribution = [
            c
            for c in candidates
            if distribution and normalize_name(c.distribution) == normalize_name(distribution)
        ]
        return same_distribution[0] if len(same_distribution) == 1 else None

    def providers(self, kind: str, name: str) -> list[ComponentInfo]:
        """Every loaded registration of ``kind`` under the bare ``name``."""
        return list(self._entries.get((kind, name), []))

    def get(self, kind: str, name: str) -> ComponentInfo:
        """The component registered as ``name``; ``"plugin:name"`` picks one plugin's."""
        check_kind(kind)
        plugin_name, _, bare = name.rpartition(":")
        candidates = self._entries.get((kind, bare), [])
        if plugin_name:
            wanted = normalize_name(plugin_name)
            candidates = [
                c
                for c in candidates
                if wanted in {normalize_name(c.plugin.name), normalize_name(c.plugin.distribution)}
            ]
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise self._unknown(kind, name)
        suppliers = [c.plugin.describe() for c in candidates]
        raise ComponentConflictError(
            f"{kind} {bare!r} is registered by more than one plugin: {' and '.join(suppliers)}. "
            f"Pick one by naming it as 'plugin:{bare}' (for example "
            f"'{candidates[0].plugin.name}:{bare}'), or disable the other plugin with "
            f"{DISABLE_PLUGINS_ENV}.",
            kind=kind,
            name=bare,
            suppliers=suppliers,
        )

    def _unknown(self, kind: str, name: str) -> UnknownComponentError:
        available = sorted({n for (k, n) in self._entries if k == kind})
        message = f"{kind} {name!r} is not registered."
        close = difflib.get_close_matches(name, available, n=1)
        if close:
            message += f" Did you mean {close[0]!r}?"
        other_kinds = sorted({k for (k, n) in self._entries if n == name and k != kind})
        if other_kinds:
            message += f" ({name!r} is registered as {' and '.join(other_kinds)}, not {kind}.)"
        message += f" Registered {plural(kind)}: {', '.join(available) or 'none'}."
        hidden = [p.describe() for p in self.disabled]
        hidden += [f.plugin.describe() for f in self.failures]
        if hidden:
            message += f" Plugins not loaded: {', '.join(hidden)}."
        new = self.installed_since_load()
        if new:
            message += (
                f" Plugins installed since nnkit loaded its plugins: {', '.join(new)}; "
                "call nnkit.reload_plugins() to load them."
            )
        elif not hidden:
            message += " A plugin providing it may need to be installed."
        return UnknownComponentError(message, kind=kind, name=name, available=available)

    def installed_since_load(self) -> list[str]:
        """Entry-point names installed after this registry was loaded (``pip install``
        in a running session), which only `reload_plugins` brings in."""
        if self.entry_point_names is None:  # filled by hand, not from entry points
            return []
        return sorted(installed_entry_point_names() - self.entry_point_names)

    def create(self, kind: str, name: str, **kwargs: Any) -> Any:
        """Build the component registered as ``name`` with ``kwargs``."""
        info = self.get(kind, name)
        try:
            if info.signature is not None:  # some builtins have none: let the call decide
                info.signature.bind(**kwargs)
        except TypeError as error:
            takes = _parameter_names(info.signature)
            refused = sorted(set(kwargs) - set(takes)) or sorted(kwargs)
            raise ConfigurationError(
                f"{kind} {name!r} does not accept {refused}: {error}. "
                f"It takes: {', '.join(takes) or 'no arguments'}."
            ) from None
        component = info.factory(**kwargs)
        interface = KINDS[kind].interface
        if not isinstance(component, interface):
            raise InvalidComponentError(
                f"{kind} {name!r} from {info.plugin.describe()} built a "
                f"{type(component).__name__}, which is not a {interface.__name__}"
            )
        record_origin(component, info.origin)
        return component

    def resolve(self, kind: str, spec: Any) -> Any:
        """A component from a registry name, an instance, or a class of the kind's interface."""
        interface = check_kind(kind).interface
        if isinstance(spec, interface):
            return spec
        if isinstance(spec, str):
            return self.create(kind, spec)
        if isinstance(spec, type) and issubclass(spec, interface):
            return spec()
        raise ConfigurationError(
            f"expected {article(kind)} {kind} name (a string) or a {interface.__name__} "
            "instance, "
            f"got {spec!r}"
        )

    def origin_of(self, component: Any) -> Origin | None:
        """The registration a component instance was created under.

        A component made by `create` (by name, ``"plugin:name"``, or read from a model
        file) carries it. One built from its class directly is traced back by class, when
        exactly one registration of that class is its home: the only one, or the only one
        from the plugin whose package defines the class. ``None`` when there is none, or
        several with an equal claim.
        """
        origin = getattr(component, ORIGIN_ATTRIBUTE, None)
        if isinstance(origin, Origin) and isinstance(component, KINDS[origin.kind].interface):
            return origin
        info = self._home_of(type(component))
        return None if info is None else info.origin

    def info_of(self, component: Any) -> ComponentInfo | None:
        """The loaded registration behind a component instance (see `origin_of`);
        ``None`` if there is none (a user's own class, or a supplier no longer loaded)."""
        origin = self.origin_of(component)
        if origin is None:
            return None
        for info in self._entries.get((origin.kind, origin.name), []):
            if info.plugin == origin.plugin:
                return info
        return None

    def registrations_of(self, cls: type) -> list[ComponentInfo]:
        """Every registration of the class ``cls``, under any name, by any plugin."""
        return list(self._by_factory.get(cls, []))

    def _home_of(self, cls: type) -> ComponentInfo | None:
        registrations = self._by_factory.get(cls, [])
        if len(registrations) > 1:
            # Aliases: keep the plugin whose package defines the class (or, for a class
            # of a library such as nnkit itself, the distribution named after it), so
            # the answer never depends on which plugin loaded first.
            package = cls.__module__.partition(".")[0]
            home = normalize_name(package)
            registrations = [
                c for c in registrations if self._packages.get(c.plugin.name) == package
            ] or [c for c in registrations if normalize_name(c.distribution) == home]
        return registrations[0] if len(registrations) == 1 else None

    def name_of(self, component: Any) -> str | None:
        """The registry name of a component instance, or ``None``."""
        origin = self.origin_of(component)
        return None if origin is None else origin.name

    def components(self, kind: str | None = None) -> list[ComponentInfo]:
        """Every registered component (of one kind, if given), sorted by kind then name."""
        if kind is not None:
            check_kind(kind)
        order = list(KINDS)
        found = [
            c
            for entries in self._entries.values()
            for c in entries
            if kind is None or c.kind == kind
        ]
        return sorted(found, key=lambda c: (order.index(c.kind), c.name, c.plugin.name))


def describe_component(component: Any) -> str:
    """``"name (distribution version)"`` for a registered component, else its class name."""
    if component is None:
        return "-"
    info = default_registry().info_of(component)
    if info is None:
        return f"{type(component).__name__} (not registered)"
    return f"{info.name} ({info.supplier})"


# -- the process-wide registry ------------------------------------------------------

_default: Registry | None = None
# Components registered in-process with `register`, kept across `reload_plugins`.
_local_components: dict[tuple[str, str], type] = {}
# Orders loading the default registry, reloading it and registering: a registration is
# never lost to a reload that started before it, and the first use loads one registry.
# Reentrant: a plugin's import may itself register or look something up.
_lock: Final = threading.RLock()


def default_registry() -> Registry:
    """The process-wide registry, loaded from entry points on first use (once, whichever
    threads ask at the same time)."""
    global _default
    registry = _default
    if registry is None:
        with _lock:
            if _default is None:
                _default = Registry.from_entry_points()
            registry = _default
    return registry


def reload_plugins() -> Registry:
    """Load the plugins again (after installing one, or changing the environment variables)."""
    global _default
    with _lock:
        _default = Registry.from_entry_points()
        return _default


def register(kind: str, name: str) -> Callable[[_Class], _Class]:
    """A class decorator that registers a component defined in a script or notebook.

    ``@nnkit.register("activation", "my.swish")`` above a subclass of the kind's
    interface makes ``"my.swish"`` a name like any plugin's, under the plugin
    ``local`` with no distribution (``"local:my.swish"`` picks it in a conflict).
    A model using it saves as usual and loads in any process that has run the same
    registration first. Registering a name again replaces the earlier local class.
    Safe from any thread: lookups and loads meanwhile find the earlier class or the new
    one, never neither, and `reload_plugins` keeps every registration.
    """
    spec = check_kind(kind)

    def decorate(cls: _Class) -> _Class:
        check_component(spec, name, cls)
        with _lock:
            _local_components[(kind, name)] = cls
            if _default is not None:
                _default.add_local(kind, name, cls)
        return cls

    return decorate


def _parameter_names(signature: inspect.Signature | None) -> list[str]:
    if signature is None:
        return []
    parameters = signature.parameters
    return [n for n, p in parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
