"""The hooks a plugin implements to add components to nnkit.

Every hook receives a ``register`` callback and is called once per plugin when the
registry loads. A plugin calls ``register(name, cls)`` once for each component it adds,
where ``cls`` is a class implementing the kind's interface. Only classes are accepted:
a model file rebuilds a component as ``cls(**component.get_config())``, which a function
returning an instance could not honour, so the registry refuses one (to fix some
arguments, register a subclass whose ``__init__`` sets them). The registry checks each
component as it arrives and records which plugin and distribution supplied it.

Names start with a letter or a digit and use letters, digits, ``_``, ``.`` and ``-``;
``:`` is reserved for ``"plugin:name"`` lookups. Third-party plugins use namespaced
names (``"acme.swish"``).

A plugin is a module with functions decorated by `nnkit.hookimpl`, named in its
package's ``[project.entry-points.nnkit]`` table:

```python
@nnkit.hookimpl
def register_activations(register):
    register("acme.swish", Swish)
```
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import pluggy

__all__ = ["hookspec", "hookimpl", "Register", "PROJECT_NAME"]

#: The pluggy project name, which is also the entry-point group plugins are listed in.
PROJECT_NAME: Final = "nnkit"

hookspec: Final = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl: Final = pluggy.HookimplMarker(PROJECT_NAME)

#: The callback each hook receives: ``register(name, cls)``.
Register = Callable[[str, type], None]


@hookspec
def register_activations(register: Register) -> None:
    """Register activations: subclasses of `nnkit.Activation`."""


@hookspec
def register_layers(register: Register) -> None:
    """Register layers: subclasses of `nnkit.Layer`."""


@hookspec
def register_losses(register: Register) -> None:
    """Register losses: subclasses of `nnkit.Loss`."""


@hookspec
def register_optimizers(register: Register) -> None:
    """Register optimizers: subclasses of `nnkit.Optimizer`."""


@hookspec
def register_initializers(register: Register) -> None:
    """Register initializers: subclasses of `nnkit.Initializer`."""


@hookspec
def register_metrics(register: Register) -> None:
    """Register metrics: subclasses of `nnkit.Metric`."""


@hookspec
def register_callbacks(register: Register) -> None:
    """Register training callbacks: subclasses of `nnkit.Callback`."""


@hookspec
def register_schedules(register: Register) -> None:
    """Register learning-rate schedules: subclasses of `nnkit.Schedule`."""
