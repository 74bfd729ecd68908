"""The component under test: resolved from a registry name, a class or an instance."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nnkit.registry.kinds import KINDS
from nnkit.registry.origins import ComponentInfo, record_origin
from nnkit.registry.registry import Registry, default_registry

__all__ = ["Subject", "subject_of"]


@dataclass(frozen=True)
class Subject:
    """A component to check: its kind, how to make fresh copies, and who supplied it."""

    kind: str
    make: Callable[[], Any]
    info: ComponentInfo | None
    label: str
    #: For a configured instance, its arguments that differ from the constructor's
    #: defaults (``momentum=0.9,nesterov=True``), so that two configurations of one
    #: component get test ids of their own; empty otherwise.
    config: str = ""

    @property
    def name(self) -> str | None:
        """The registry name, or ``None`` for a component no plugin registered."""
        return None if self.info is None else self.info.name

    @property
    def supplier(self) -> str:
        """``"acme-nn 1.2"``, or why there is none."""
        if self.info is None:
            return "not registered by any plugin"
        if self.info.distribution is None:
            return f"plugin {self.info.plugin.name}"
        return f"{self.info.distribution} {self.info.version}"

    @property
    def test_id(self) -> str:
        """The component in a test id: ``sgd``, or ``sgd(momentum=0.9)`` for a
        configured instance."""
        name = self.name or self.label
        return f"{name}({self.config})" if self.config else name

    def __str__(self) -> str:
        config = f" configured {self.config}" if self.config else ""
        return f"{self.kind} {self.label}{config} ({self.supplier})"


def subject_of(
    component: Any, kind: str | None = None, registry: Registry | None = None
) -> Subject:
    """Resolve ``component``: a registry name (with ``kind`` when the name is registered
    under several kinds), a component class, or a configured instance."""
    registry = registry or default_registry()
    if isinstance(component, str):
        return _from_name(component, kind, registry)
    if isinstance(component, type):
        found = _kind_of_class(component)
        info = next((c for c in registry.components(found) if c.factory is component), None)
        return Subject(
            found,
            _maker(component),
            info,
            repr(info.name) if info else component.__name__,
        )
    found = _kind_of_class(type(component))
    info = registry.info_of(component)
    snapshot = copy.deepcopy(component)
    return Subject(
        found,
        lambda: copy.deepcopy(snapshot),
        info,
        repr(info.name) if info else type(component).__name__,
        short_config(component),
    )


def short_config(component: Any, width: int = 24) -> str:
    """``units=3,activation=tanh``: the required arguments of ``component`` and those
    that differ from an instance built with the required ones alone (so defaults
    resolved at construction, an initializer picked for the activation, do not show),
    each value cut to ``width`` characters; "" when it cannot say its configuration."""
    try:
        config = component.get_config()
        parameters = inspect.signature(type(component).__init__).parameters
    except (AttributeError, TypeError, ValueError):
        return ""
    required = {
        name: value
        for name, value in config.items()
        if name in parameters and parameters[name].default is inspect.Parameter.empty
    }
    try:
        defaults = type(component)(**required).get_config()
    except Exception:  # noqa: BLE001 - any constructor's refusal: compare with nothing
        defaults = {}
    parts = []
    for name, value in config.items():
        if name not in required and name in defaults and _equal(value, defaults[name]):
            continue
        text = _describe(value)
        parts.append(f"{name}={text if len(text) <= width else text[: width - 3] + '...'}")
    return ",".join(parts)


def _describe(value: Any) -> str:
    """A value as an id shows it: a string bare, a component by its registry name."""
    if isinstance(value, str):
        return value
    if hasattr(value, "get_config"):
        return default_registry().name_of(value) or type(value).__name__
    return repr(value)


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # arrays: never taken for a default
        return False


def _from_name(name: str, kind: str | None, registry: Registry) -> Subject:
    kinds = [kind] if kind else [k for k in KINDS if registry.has(k, name)]
    if not kinds:
        raise ValueError(
            f"no component is registered as {name!r}; see nnkit.components() for the names"
        )
    if len(kinds) > 1:
        raise ValueError(f"{name!r} is registered as {' and '.join(kinds)}: pass kind=")
    info = registry.get(kinds[0], name)
    maker = _maker(info.factory)

    def make() -> Any:
        # Made as by name, so it remembers this registration even where other plugins
        # register the same class under names of their own.
        component = maker()
        record_origin(component, info.origin)
        return component

    return Subject(kinds[0], make, info, repr(info.name))


def _maker(factory: Callable[..., Any]) -> Callable[[], Any]:
    """Fresh examples of a registered class (`Component.example`) or factory."""
    example = getattr(factory, "example", None)
    if isinstance(factory, type) and callable(example):
        return example
    arguments = getattr(factory, "example_arguments", {})
    return lambda: factory(**copy.deepcopy(arguments))


def _kind_of_class(cls: type) -> str:
    for kind in KINDS.values():
        if issubclass(cls, kind.interface):
            return kind.name
    interfaces = ", ".join(kind.interface.__name__ for kind in KINDS.values())
    raise TypeError(f"{cls.__name__} implements none of the interfaces: {interfaces}")
