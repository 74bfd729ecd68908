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
"""

from __future__ import annotations

import difflib
import functools
import inspect
import os
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Final, NamedTuple

import pluggy

from nnkit import hookspecs
from nnkit.activations import Activation
from nnkit.callbacks import Callback
from nnkit.errors import (
    ComponentConflictError,
    ConfigurationError,
    InvalidComponentError,
    PluginLoadWarning,
    UnknownComponentError,
)
from nnkit.initializers import Initializer
from nnkit.layers import Layer
from nnkit.losses import Loss
from nnkit.metrics import Metric
from nnkit.optimizers import Optimizer
from nnkit.schedules import Schedule

__all__ = [
    "ENTRY_POINT_GROUP",
    "LOAD_PLUGINS_ENV",
    "DISABLE_PLUGINS_ENV",
    "Kind",
    "KINDS",
    "ComponentInfo",
    "PluginInfo",
    "PluginFailure",
    "Registry",
    "default_registry",
    "reload_plugins",
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


class PluginFailure(NamedTuple):
    """A plugin that could not be loaded, and why."""

    plugin: PluginInfo
    error: str


@dataclass(frozen=True)
class ComponentInfo:
    """One registered component: where it came from and how to build it."""

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: PluginInfo

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
    _entries: dict[tuple[str, str], list[ComponentInfo]] = field(default_factory=dict)
    _by_factory: dict[Any, ComponentInfo] = field(default_factory=dict)
    _manager: pluggy.PluginManager = field(init=False)

    def __post_init__(self) -> None:
        self._manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self._manager.add_hookspecs(hookspecs)

    # -- loading -------------------------------------------------------------------

    @classmethod
    def from_entry_points(cls, environ: Mapping[str, str] | None = None) -> Registry:
        """A registry filled from every selected plugin in the ``nnkit`` entry-point group."""
        environ = os.environ if environ is None else environ
        registry = cls()
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
            names = {_normalize(info.name)} | ({_normalize(info.distribution)} if dist else set())
            if (allow is not None and not names & allow) or names & block:
                registry.disabled.append(info)
                continue
            try:
                plugin = entry_point.load()
            except Exception as error:  # any import failure: skip this plugin, load the rest
                registry._fail(info, f"import of {entry_point.value!r} failed: {_describe(error)}")
                continue
            registry.add_plugin(plugin, info)
        return registry

    def add_plugin(self, plugin: object, info: PluginInfo | str) -> bool:
        """Register a plugin object (usually a module) and the components its hooks add.

        Returns whether it loaded; a broken plugin is skipped with a warning, and none of
        its components are kept.
        """
        if isinstance(info, str):
            info = PluginInfo(info, None, None)
        try:
            self._manager.register(plugin, name=info.name)
        except Exception as error:  # pluggy's validation: a bad hook signature, a taken name
            self._fail(info, _describe(error))
            return False
        callers = self._manager.get_hookcallers(plugin) or []
        unknown = [caller.name for caller in callers if caller.spec is None]
        if unknown:
            self._manager.unregister(plugin)
            hooks = ", ".join(kind.hook for kind in KINDS.values())
            self._fail(info, f"it implements unknown hooks {unknown}; nnkit's hooks are: {hooks}")
            return False
        others = [p for p in self._manager.get_plugins() if p is not plugin]
        arrived: list[ComponentInfo] = []
        try:
            for kind in KINDS.values():
                caller = self._manager.subset_hook_caller(kind.hook, remove_plugins=others)
                caller(register=self._register_callback(kind, info, arrived))
        except Exception as error:  # a hook that raised or registered something invalid
            self._manager.unregister(plugin)
            self._fail(info, _describe(error))
            return False
        for component in arrived:
            self._entries.setdefault((component.kind, component.name), []).append(component)
            self._by_factory.setdefault(component.factory, component)
        self.plugins.append(info)
        return True

    def _register_callback(
        self, kind: Kind, plugin: PluginInfo, arrived: list[ComponentInfo]
    ) -> hookspecs.Register:
        def register(name: str, factory: Callable[..., Any]) -> None:
            _check_component(kind, name, factory)
            if any(c.kind == kind.name and c.name == name for c in arrived):
                raise InvalidComponentError(f"it registers {kind.name} {name!r} twice")
            arrived.append(ComponentInfo(kind.name, name, factory, plugin))

        return register

    def _fail(self, info: PluginInfo, reason: str) -> None:
        self.failures.append(PluginFailure(info, reason))
        warnings.warn(
            f"nnkit plugin {info.describe()} was not loaded: {reason}. The other plugins "
            f"are loaded; set {DISABLE_PLUGINS_ENV}={info.name} to silence this.",
            PluginLoadWarning,
            stacklevel=3,
        )

    # -- lookup --------------------------------------------------------------------

    def has(self, kind: str, name: str) -> bool:
        """Whether some plugin registered ``name`` (bare or ``"plugin:name"``) as ``kind``."""
        return bool(self._entries.get((kind, name.rpartition(":")[2])))

    def get(self, kind: str, name: str) -> ComponentInfo:
        """The component registered as ``name``; ``"plugin:name"`` picks one plugin's."""
        _check_kind(kind)
        plugin_name, _, bare = name.rpartition(":")
        candidates = self._entries.get((kind, bare), [])
        if plugin_name:
            wanted = _normalize(plugin_name)
            candidates = [
                c
                for c in candidates
                if wanted in {_normalize(c.plugin.name), _normalize(c.plugin.distribution)}
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
        else:
            message += " A plugin providing it may need to be installed."
        return UnknownComponentError(message, kind=kind, name=name, available=available)

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

    def info_of(self, component: Any) -> ComponentInfo | None:
        """The registration behind a component instance, found by its class; ``None`` if
        it was not registered (a user's own class passed as an instance)."""
        return self._by_factory.get(type(component))

    def name_of(self, component: Any) -> str | None:
        """The registry name of a component instance, or ``None``."""
        info = self.info_of(component)
        return None if info is None else info.name

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
        raise InvalidComponentError(
            f"{kind.name} name {name!r} is not valid: use letters, digits, '_', '.' and '-'"
        )
    if isinstance(factory, type):
        if not issubclass(factory, kind.interface):
            raise InvalidComponentError(
                f"{kind.name} {name!r} is {factory.__name__}, which does not subclass "
                f"nnkit.{kind.interface.__name__}"
            )
        if inspect.isabstract(factory):
            missing = ", ".join(sorted(factory.__abstractmethods__))
            raise InvalidComponentError(
                f"{kind.name} {name!r} ({factory.__name__}) does not implement {missing}"
            )
    elif not callable(factory):
        raise InvalidComponentError(
            f"{kind.name} {name!r} must be registered with a class or a callable, got {factory!r}"
        )


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _parameter_names(signature: inspect.Signature | None) -> list[str]:
    if signature is None:
        return []
    parameters = signature.parameters
    return [n for n, p in parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _normalize(name: str | None) -> str:
    # Distribution names compare as in PEP 503: case and the runs of "-_." do not matter.
    return re.sub(r"[-_.]+", "-", name or "").lower()


def _name_set(value: str | None) -> set[str] | None:
    if value is None:
        return None
    return {_normalize(part.strip()) for part in value.split(",") if part.strip()}


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


# -- the default registry and the factories built on it --------------------------------

_default: Registry | None = None


def default_registry() -> Registry:
    """The process-wide registry, loaded from entry points on first use."""
    global _default
    if _default is None:
        _default = Registry.from_entry_points()
    return _default


def reload_plugins() -> Registry:
    """Load the plugins again (after installing one, or changing the environment variables)."""
    global _default
    _default = Registry.from_entry_points()
    return _default


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
