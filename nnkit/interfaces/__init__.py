"""The interfaces a plugin implements: one abstract class per kind of component.

A plugin author reads this package and nothing else of nnkit's machinery: subclass one
of these, register it with an ``@nnkit.hookimpl`` ``register_*`` hook, and the network,
the trainer, model files and the conformance kit all know how to use it.
"""

from __future__ import annotations

from nnkit.interfaces.activation import Activation
from nnkit.interfaces.callback import Callback, TrainingContext
from nnkit.interfaces.component import Component
from nnkit.interfaces.initializer import Initializer
from nnkit.interfaces.layer import Layer, Shape
from nnkit.interfaces.loss import Loss
from nnkit.interfaces.metric import Metric
from nnkit.interfaces.optimizer import Optimizer
from nnkit.interfaces.schedule import Schedule
from nnkit.interfaces.workspace import Workspace

__all__ = [
    "Activation",
    "Callback",
    "Component",
    "Initializer",
    "Layer",
    "Loss",
    "Metric",
    "Optimizer",
    "Schedule",
    "Shape",
    "TrainingContext",
    "Workspace",
]
