"""The base every component shares: a configuration that round-trips through its constructor.

A component stores each constructor argument as an attribute of the same name (as
scikit-learn estimators do), so ``type(c)(**c.get_config())`` rebuilds it. Model files
and the registry rely on that.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any, ClassVar

import numpy as np

__all__ = ["Component"]


class Component:
    """Something a plugin registers by name: an activation, a layer, a loss, an optimizer, ..."""

    #: Arguments that build a small example when only the class is known: the
    #: conformance kit (`nnkit.testing`) uses them for components whose
    #: constructor has required arguments (a Dense layer's ``units``).
    example_arguments: ClassVar[dict[str, Any]] = {}

    @classmethod
    def example(cls) -> Any:
        """A small instance for the conformance kit: by default built from
        `example_arguments`; components whose examples hold other components (a block of
        layers) override this instead."""
        return cls(**copy.deepcopy(cls.example_arguments))

    @classmethod
    def _config_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [
            name
            for name, parameter in signature.parameters.items()
            if name != "self"
            and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
        ]

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this component, read from its attributes."""
        config = {}
        for name in self._config_names():
            if not hasattr(self, name):
                raise AttributeError(
                    f"{type(self).__name__} takes {name!r} in __init__ but does not store it as "
                    f"self.{name}; store every constructor argument so the component can be saved"
                )
            config[name] = getattr(self, name)
        return config

    # Equal components may differ later (a layer's parameters, an optimizer's learning
    # rate set by a schedule), so a hash by configuration could change while the
    # component is a dict key: components are unhashable, as lists are. nnkit keys
    # nothing by component; key by id(component) to tell instances apart.
    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        """Equal when of the same class with equal `get_config()`: what a configuration
        round trip (a model file) must preserve. Parameters and state are not compared."""
        if type(other) is not type(self):
            return NotImplemented
        try:
            mine, theirs = self.get_config(), other.get_config()  # type: ignore[attr-defined]
        except AttributeError:  # a component that cannot say its configuration
            return self is other
        return _same(mine, theirs)

    def __repr__(self) -> str:
        try:
            arguments = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except AttributeError:
            arguments = "..."
        return f"{type(self).__name__}({arguments})"


def _same(a: Any, b: Any) -> bool:
    """Deep equality of configuration values, arrays included (where ``==`` on a dict
    holding arrays would raise)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):  # JSON makes lists
        return len(a) == len(b) and all(map(_same, a, b))
    return bool(a == b)
