"""The registry: every component a user can name by string, and the plugin that supplied it.

At first use the registry loads every module listed in the ``nnkit`` entry-point group
(the standard set included), calls its ``register_*`` hooks with a ``register`` callback,
checks each component as it arrives and records the distribution and version behind it.
A plugin that fails to load is skipped with a `PluginLoadWarning`;
the rest still load.

Two environment variables choose which plugins load, matched against the entry-point
name or the distribution name, comma-separated:

``NNKIT_LOAD_PLUGINS``
    load only these plugins (an allow-list; set but empty loads none).
``NNKIT_DISABLE_PLUGINS``
    load every plugin except these.

A component remembers the registration it was created under (`Origin`): `create`
stamps it on the instance, and a component built from its class directly is traced
back to the one plugin that registered that class (the plugin whose package defines
it, when others register the class again under aliases). That origin is what a model
file records, whatever the load order. Components defined in a script or notebook are
registered in-process with `register`, under the plugin `LOCAL_PLUGIN`.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import os
import re
import threading
import warnings
from abc import ABCMeta
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Final, NamedTuple, TypeVar, cast

import pluggy

import nnkit.registry.hookspecs as hookspecs
from nnkit.errors import (
    ComponentConflictError,
    ConfigurationError,
    InvalidComponentError,
    PluginLoadWarning,
    UnknownComponentError,
)
from nnkit.interfaces.activation import Activation
from nnkit.interfaces.callback import Callback
from nnkit.interfaces.initializer import Initializer
from nnkit.interfaces.layer import Layer
from nnkit.interfaces.loss import Loss
from nnkit.interfaces.metric import Metric
from nnkit.interfaces.optimizer import Optimizer
from nnkit.interfaces.schedule import Schedule
from nnkit.warning_location import plugin_location

__all__ = [
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
    "reload_plugins",
    "register",
    "normalize_name",
    "record_origin",
    "describe_component",
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

#: The entry-point group plugins list themselves in.
ENTRY_POINT_GROUP: Final = hookspecs.PROJECT_NAME
#: Allow-list of plugins to load (entry-point or distribution names, comma-separated).
LOAD_PLUGINS_ENV: Final = "NNKIT_LOAD_PLUGINS"
#: Block-list of plugins not to load (entry-point or distribution names, comma-separated).
DISABLE_PLUGINS_ENV: Final = "NNKIT_DISABLE_PLUGINS"

# A component name: letters, digits and "_.-"; ":" is kept for "plugin:name" lookups.
_NAME_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
# The instance attribute `Registry.create` stamps with the component's `Origin`.
_ORIGIN_ATTRIBUTE: Final = "_nnkit_origin"
_Class = TypeVar("_Class", bound=type)


class Kind(NamedTuple):
    """A kind of component: its name, the interface it implements and the hook that adds it."""

    name: str
    interface: type
    hook: str


#: Every kind of component, in the order ``nnkit plugins`` lists them.
KINDS: Final[dict[str, Kind]] = {
    kind.name: kind
    for kind in (
        Kind("activation", Activation, "register_activations"),
        Kind("layer", Layer, "register_layers"),
        Kind("loss", Loss, "register_losses"),
        Kind("optimizer", Optimizer, "register_optimizers"),
        Kind("initializer", Initializer, "register_initializers"),
        Kind("metric", Metric, "register_metrics"),
        Kind("callback", Callback, "register_callbacks"),
        Kind("schedule", Schedule, "register_schedules"),
    )
}


class PluginInfo(NamedTuple):
    """A loaded plugin: its entry-point name and the distribution that ships it."""

    name: str
    distribution: str | None
    version: str | None

    def describe(self) -> str:
        """``"name (distribution version)"``, as error messages name a plugin."""
        if self.distribution is None:
            return self.name
        return f"{self.name} ({self.distribution} {self.version})"


#: The plugin of components registered in-process with `register`: no distribution.
LOCAL_PLUGIN: Final = PluginInfo("local", None, None)


class Origin(NamedTuple):
    """The registration a component was created under: what a model file records."""

    kind: str
    name: str
    plugin: PluginInfo

    @property
    def qualified_name(self) -> str:
        """``"plugin:name"``, the spelling that picks this registration whatever else is loaded."""
        return f"{self.plugin.name}:{self.name}"


class PluginFailure(NamedTuple):
    """A plugin that could not be loaded, and why."""

    plugin: PluginInfo
    error: str


@dataclass(frozen=True)
class ComponentInfo:
    """One registered component: where it came from and the class that builds it
    (``factory``, a subclass of the kind's interface)."""

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: PluginInfo

    @property
    def origin(self) -> Origin:
        """The kind, name and plugin of this registration."""
        return Origin(self.kind, self.name, self.plugin)

    @property
    def distribution(self) -> str | None:
        """The distribution (package) that supplied the component."""
        return self.plugin.distribution

    @functools.cached_property
    def signature(self) -> inspect.Signature | None:
        """The factory's signature, read once (networks create components often);
        ``None`` for the few callables that have none."""
        try:
            return inspect.signature(self.factory)
        except (TypeError, ValueError):
            return None

    @property
    def version(self) -> str | None:
        """The version of that distribution."""
        return self.plugin.version


@dataclass
class Registry:
    """Components by kind and name, filled from plugins."""

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

    # -- loading -------------------------------------------------------------------

    @classmethod
    def from_entry_points(cls, environ: Mapping[str, str] | None = None) -> Registry:
        """A registry filled from every selected plugin in the ``nnkit`` entry-point group."""
        environ = os.environ if environ is None else environ
        registry = cls(entry_point_names=_installed_entry_point_names())
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
                registry.disabled.append(info)
                continue
            try:
                plugin = entry_point.load()
            except Exception as error:  # any import failure: skip this plugin, load the rest
                registry._fail(
                    info,
                    f"import of {entry_point.value!r} failed: {_describe(error)}",
                    error=error,
                    module=entry_point.value.partition(":")[0],
                )
                continue
            registry.add_plugin(plugin, info)
        # In-process registrations are the user's own code, not installed plugins: the
        # environment variables do not select them. A copy, taken under the lock that
        # `register` holds: it may run in another thread meanwhile.
        with _lock:
            local = list(_local_components.items())
        for (kind, name), cls in local:
            registry.add_local(kind, name, cls)
        return registry

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
            self._fail(info, _describe(error), error=error, module=module)
            return False
        callers = self._manager.get_hookcallers(plugin) or []
        unknown = [caller.name for caller in callers if caller.spec is None]
        if unknown:
            self._manager.unregister(plugin)
            hooks = ", ".join(kind.hook for kind in KINDS.values())
            self._fail(
                info,
                f"it implements unknown hooks {unknown}; nnkit's hooks are: {hooks}",
                module=module,
                code=getattr(plugin, unknown[0], None),
            )
            return False
        others = [p for p in self._manager.get_plugins() if p is not plugin]
        arrived: list[ComponentInfo] = []
        try:
            for kind in KINDS.values():
                caller = self._manager.subset_hook_caller(kind.hook, remove_plugins=others)
                caller(register=self._register_callback(kind, info, arrived))
        except Exception as error:  # a hook that raised or registered something invalid
            self._manager.unregister(plugin)
            self._fail(info, _describe(error), error=error, module=module)
            return False
        self._packages = {**self._packages, info.name: module.partition(".")[0]}
        self._publish(arrived)
        self.plugins.append(info)
        return True

    def add_local(self, kind: str, name: str, cls: type) -> ComponentInfo:
        """Register ``cls`` as ``name`` under `LOCAL_PLUGIN`, replacing an earlier local
        registration of that name (a notebook cell run twice); `register` calls this."""
        spec = _check_kind(kind)
        _check_component(spec, name, cls)
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

    def _register_callback(
        self, kind: Kind, plugin: PluginInfo, arrived: list[ComponentInfo]
    ) -> hookspecs.Register:
        def register(name: str, cls: type) -> None:
            _check_component(kind, name, cls)
            if any(c.kind == kind.name and c.name == name for c in arrived):
                raise InvalidComponentError(f"it registers {kind.name} {name!r} twice")
            arrived.append(ComponentInfo(kind.name, name, cls, plugin))

        return register

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
        _check_kind(kind)
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
        _check_kind(kind)
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
        message += f" Registered {_plural(kind)}: {', '.join(available) or 'none'}."
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
        return sorted(_installed_entry_point_names() - self.entry_point_names)

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
        interface = _check_kind(kind).interface
        if isinstance(spec, interface):
            return spec
        if isinstance(spec, str):
            return self.create(kind, spec)
        if isinstance(spec, type) and issubclass(spec, interface):
            return spec()
        raise ConfigurationError(
            f"expected {_article(kind)} {kind} name (a string) or a {interface.__name__} "
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
        origin = getattr(component, _ORIGIN_ATTRIBUTE, None)
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
            _check_kind(kind)
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
    if info.distribution is None:
        return f"{info.name} ({info.plugin.name})"
    return f"{info.name} ({info.distribution} {info.version})"


def record_origin(component: Any, origin: Origin) -> None:
    """Make ``component`` remember the registration it was created under, which
    `Registry.origin_of` then answers and a model file records."""
    try:
        setattr(component, _ORIGIN_ATTRIBUTE, origin)
    except AttributeError:  # a class with __slots__: traced back by its class instead
        pass


def _plural(kind: str) -> str:
    """``"loss"`` becomes ``"losses"``, ``"layer"`` ``"layers"``."""
    return f"{kind}es" if kind.endswith("s") else f"{kind}s"


def _check_kind(kind: str) -> Kind:
    try:
        return KINDS[kind]
    except KeyError:
        raise UnknownComponentError(
            f"there is no kind of component called {kind!r}; kinds are: {', '.join(KINDS)}",
            kind="kind",
            name=kind,
            available=list(KINDS),
        ) from None


def _check_component(kind: Kind, name: str, factory: Any) -> None:
    if not isinstance(name, str) or not _NAME_PATTERN.match(name):
        hint = ""
        if isinstance(name, str) and ":" in name:
            hint = " (':' is reserved for 'plugin:name' lookups)"
        elif isinstance(name, str) and name[:1] in "_.-":
            hint = " (the first character must be a letter or a digit)"
        raise InvalidComponentError(
            f"{kind.name} name {name!r} is not valid{hint}: use letters, digits, '_', '.' "
            "and '-', starting with a letter or a digit"
        )
    interface = kind.interface.__name__
    if not isinstance(factory, type):
        # A model file rebuilds a component as its class(**get_config()); a function
        # returning an instance could not be called with that configuration.
        described = getattr(factory, "__name__", None) or repr(factory)
        raise InvalidComponentError(
            f"{kind.name} {name!r} is registered with {described}, which is not a class; "
            f"register the class itself (a subclass of nnkit.{interface}), so that a saved "
            "model can rebuild it from its configuration. To fix some arguments, register a "
            "subclass whose __init__ sets them."
        )
    if not issubclass(factory, kind.interface):
        raise InvalidComponentError(
            f"{kind.name} {name!r} is {factory.__name__}, which does not subclass nnkit.{interface}"
        )
    if inspect.isabstract(factory):
        # isabstract is true only for a class that carries __abstractmethods__.
        missing = ", ".join(sorted(cast(ABCMeta, factory).__abstractmethods__))
        raise InvalidComponentError(
            f"{kind.name} {name!r} ({factory.__name__}) does not implement {missing}"
        )


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _parameter_names(signature: inspect.Signature | None) -> list[str]:
    if signature is None:
        return []
    parameters = signature.parameters
    return [n for n, p in parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def normalize_name(name: str | None) -> str:
    """A plugin or distribution name as names are compared: as in PEP 503, case and the
    runs of ``-_.`` do not matter (``ACME.nn`` is ``acme-nn`` is ``acme_nn``)."""
    return re.sub(r"[-_.]+", "-", name or "").lower()


def _name_set(value: str | None) -> set[str] | None:
    if value is None:
        return None
    return {normalize_name(part.strip()) for part in value.split(",") if part.strip()}


def _installed_entry_point_names() -> frozenset[str]:
    return frozenset(ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP))


def _describe(error: BaseException) -> str:
    # One line: the CLI prints a warning's text as one line.
    return " ".join(f"{type(error).__name__}: {error}".split())


# -- the default registry and the factories built on it --------------------------------

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
    spec = _check_kind(kind)

    def decorate(cls: _Class) -> _Class:
        _check_component(spec, name, cls)
        with _lock:
            _local_components[(kind, name)] = cls
            if _default is not None:
                _default.add_local(kind, name, cls)
        return cls

    return decorate


def components(kind: str | None = None) -> list[ComponentInfo]:
    """Every registered component (of one kind, if given) with the plugin that supplied it."""
    return default_registry().components(kind)


def resolve(kind: str, spec: Any) -> Any:
    """A component of ``kind`` from a name, an instance or a class."""
    return default_registry().resolve(kind, spec)


def activation(name: str, **kwargs: Any) -> Activation:
    """The activation registered as ``name``, built with ``kwargs``."""
    return default_registry().create("activation", name, **kwargs)


def layer(name: str, **kwargs: Any) -> Layer:
    """The layer registered as ``name``, built with ``kwargs``."""
    return default_registry().create("layer", name, **kwargs)


def loss(name: str, **kwargs: Any) -> Loss:
    """The loss registered as ``name``, built with ``kwargs``."""
    return default_registry().create("loss", name, **kwargs)


def optimizer(name: str, **kwargs: Any) -> Optimizer:
    """The optimizer registered as ``name``, built with ``kwargs``.

    Example: ``nnkit.optimizer("adam", learning_rate=1e-3)``.
    """
    return default_registry().create("optimizer", name, **kwargs)


def initializer(name: str, **kwargs: Any) -> Initializer:
    """The initializer registered as ``name``, built with ``kwargs``."""
    return default_registry().create("initializer", name, **kwargs)


def metric(name: str, **kwargs: Any) -> Metric:
    """The metric registered as ``name``, built with ``kwargs``."""
    return default_registry().create("metric", name, **kwargs)


def callback(name: str, **kwargs: Any) -> Callback:
    """The callback registered as ``name``: ``callback("early_stopping", patience=5)``."""
    return default_registry().create("callback", name, **kwargs)


def schedule(name: str, **kwargs: Any) -> Schedule:
    """The learning-rate schedule registered as ``name``: ``schedule("step", step_size=10)``."""
    return default_registry().create("schedule", name, **kwargs)
