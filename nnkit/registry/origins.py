"""Where a component came from: the plugin, its distribution and version, and the
registration an instance was created under (what a model file records)."""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

__all__ = [
    "PluginInfo",
    "LOCAL_PLUGIN",
    "Origin",
    "PluginFailure",
    "ComponentInfo",
    "ORIGIN_ATTRIBUTE",
    "record_origin",
    "normalize_name",
]

#: The instance attribute `Registry.create` stamps with the component's `Origin`.
ORIGIN_ATTRIBUTE: Final = "_nnkit_origin"


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

    @property
    def supplier(self) -> str:
        """Who supplied the component, as messages say it: ``"nnkit-extras 0.2.0"``,
        ``"registered in-process"`` or ``"no distribution"``."""
        if self.distribution is None:
            return "registered in-process" if self.plugin == LOCAL_PLUGIN else "no distribution"
        return f"{self.distribution} {self.version}"


def record_origin(component: Any, origin: Origin) -> None:
    """Make ``component`` remember the registration it was created under, which
    `Registry.origin_of` then answers and a model file records."""
    try:
        setattr(component, ORIGIN_ATTRIBUTE, origin)
    except AttributeError:  # a class with __slots__: traced back by its class instead
        pass


def normalize_name(name: str | None) -> str:
    """A plugin or distribution name as names are compared: as in PEP 503, case and the
    runs of ``-_.`` do not matter (``ACME.nn`` is ``acme-nn`` is ``acme_nn``)."""
    return re.sub(r"[-_.]+", "-", name or "").lower()
