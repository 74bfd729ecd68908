"""The factories that build a component by its registry name: ``nnkit.layer("dropout",
rate=0.1)``, ``nnkit.optimizer("adam", learning_rate=1e-3)``, one per kind, all one
`Factory` over the process-wide registry."""

from __future__ import annotations

from typing import Any, Final, Generic, TypeVar, cast

from nnkit.interfaces.activation import Activation
from nnkit.interfaces.callback import Callback
from nnkit.interfaces.initializer import Initializer
from nnkit.interfaces.layer import Layer
from nnkit.interfaces.loss import Loss
from nnkit.interfaces.metric import Metric
from nnkit.interfaces.optimizer import Optimizer
from nnkit.interfaces.schedule import Schedule
from nnkit.registry.kinds import check_kind
from nnkit.registry.origins import ComponentInfo
from nnkit.registry.registry import default_registry

__all__ = [
    "Factory",
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

_Component = TypeVar("_Component")


class Factory(Generic[_Component]):
    """Builds the components of one kind: ``factory(name, **kwargs)`` is the component
    registered as ``name`` (``"plugin:name"`` picks one plugin's), built with
    ``kwargs``, as `Registry.create` builds it."""

    def __init__(self, kind: str) -> None:
        self.kind = check_kind(kind).name
        self.__name__ = self.__qualname__ = kind

    def __call__(self, name: str, **kwargs: Any) -> _Component:
        return cast(_Component, default_registry().create(self.kind, name, **kwargs))

    def __repr__(self) -> str:
        return f"nnkit.{self.kind}"


activation: Final = Factory[Activation]("activation")
"""The activation registered as ``name``, built with ``kwargs``:
``nnkit.activation("leaky_relu", alpha=0.1)``."""
layer: Final = Factory[Layer]("layer")
"""The layer registered as ``name``, built with ``kwargs``: ``nnkit.layer("dropout", rate=0.1)``."""
loss: Final = Factory[Loss]("loss")
"""The loss registered as ``name``, built with ``kwargs``: ``nnkit.loss("cross_entropy")``."""
optimizer: Final = Factory[Optimizer]("optimizer")
"""The optimizer registered as ``name``, built with ``kwargs``:
``nnkit.optimizer("adam", learning_rate=1e-3)``."""
initializer: Final = Factory[Initializer]("initializer")
"""The initializer registered as ``name``, built with ``kwargs``:
``nnkit.initializer("he_normal")``."""
metric: Final = Factory[Metric]("metric")
"""The metric registered as ``name``, built with ``kwargs``: ``nnkit.metric("accuracy")``."""
callback: Final = Factory[Callback]("callback")
"""The callback registered as ``name``, built with ``kwargs``:
``nnkit.callback("early_stopping", patience=5)``."""
schedule: Final = Factory[Schedule]("schedule")
"""The learning-rate schedule registered as ``name``, built with ``kwargs``:
``nnkit.schedule("step", step_size=10)``."""


def components(kind: str | None = None) -> list[ComponentInfo]:
    """Every registered component (of one kind, if given) with the plugin that supplied it."""
    return default_registry().components(kind)


def resolve(kind: str, spec: Any) -> Any:
    """A component of ``kind`` from a name, an instance or a class."""
    return default_registry().resolve(kind, spec)
