"""The kinds of component, and the checks a class passes to be registered as one.

A kind names the interface its components implement and the hook that adds them
(`KINDS`, in the order ``nnkit plugins`` lists them). `check_component` is what every
registration goes through, a plugin's or an in-process one.
"""

from __future__ import annotations

import inspect
import re
from abc import ABCMeta
from typing import Any, Final, NamedTuple, cast

from nnkit.errors import InvalidComponentError, UnknownComponentError
from nnkit.interfaces.activation import Activation
from nnkit.interfaces.callback import Callback
from nnkit.interfaces.initializer import Initializer
from nnkit.interfaces.layer import Layer
from nnkit.interfaces.loss import Loss
from nnkit.interfaces.metric import Metric
from nnkit.interfaces.optimizer import Optimizer
from nnkit.interfaces.schedule import Schedule

__all__ = ["Kind", "KINDS", "check_kind", "check_component", "plural", "article"]

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


def check_kind(kind: str) -> Kind:
    """The `Kind` called ``kind``, or an `UnknownComponentError` listing the kinds."""
    try:
        return KINDS[kind]
    except KeyError:
        raise UnknownComponentError(
            f"there is no kind of component called {kind!r}; kinds are: {', '.join(KINDS)}",
            kind="kind",
            name=kind,
            available=list(KINDS),
        ) from None


def check_component(kind: Kind, name: str, factory: Any) -> None:
    """Refuse, with an `InvalidComponentError` saying how to fix it, a name that is not
    valid or a ``factory`` that is not a concrete class implementing ``kind``."""
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


def plural(kind: str) -> str:
    """``"loss"`` becomes ``"losses"``, ``"layer"`` ``"layers"``."""
    return f"{kind}es" if kind.endswith("s") else f"{kind}s"


def article(word: str) -> str:
    """The indefinite article before a kind's name in a message: ``an activation``,
    ``a layer``."""
    return "an" if word[0] in "aeiou" else "a"
