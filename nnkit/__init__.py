"""nnkit: a small, fast neural-network framework on NumPy whose components are plugins.

The core holds the interfaces and the classic matrix formulation of back-propagation (evaluate,
back-propagate, update); every activation, loss, optimizer and initializer arrives
through the ``nnkit`` entry-point group, the standard set included.
"""

from __future__ import annotations

from nnkit import datasets
from nnkit.data.streams import chunks
from nnkit.engine.gradients import NetworkGradients
from nnkit.engine.network import Network, load
from nnkit.errors import (
    ComponentConflictError,
    ConfigurationError,
    DataError,
    DivergenceWarning,
    InvalidComponentError,
    MissingComponentError,
    MissingExtraError,
    ModelFileError,
    NNKitError,
    NonFiniteWeightsError,
    PluginLoadWarning,
    SubstitutionWarning,
    UnknownComponentError,
)
from nnkit.interfaces.activation import Activation
from nnkit.interfaces.callback import Callback, TrainingContext
from nnkit.interfaces.component import Component
from nnkit.interfaces.initializer import Initializer
from nnkit.interfaces.layer import Layer
from nnkit.interfaces.loss import Loss
from nnkit.interfaces.merge import MergeLayer
from nnkit.interfaces.metric import Metric
from nnkit.interfaces.optimizer import Optimizer
from nnkit.interfaces.schedule import Schedule
from nnkit.interfaces.symbolic import Input, SymbolicTensor
from nnkit.interfaces.workspace import Workspace
from nnkit.layers.dense import Dense
from nnkit.layers.weighted import WeightedLayer
from nnkit.registry.factories import (
    activation,
    callback,
    components,
    initializer,
    layer,
    loss,
    metric,
    optimizer,
    schedule,
)
from nnkit.registry.hookspecs import hookimpl, hookspec
from nnkit.registry.origins import ComponentInfo
from nnkit.registry.registry import register, reload_plugins
from nnkit.training.history import History
from nnkit.training.lr_find import RangeTestResult, lr_find
from nnkit.version import __version__

__all__ = [
    "__version__",
    # the network
    "Network",
    "Input",
    "SymbolicTensor",
    "Dense",
    "History",
    "NetworkGradients",
    "load",
    "lr_find",
    "RangeTestResult",
    # the interfaces plugins implement
    "Activation",
    "Callback",
    "Component",
    "Initializer",
    "Layer",
    "MergeLayer",
    "WeightedLayer",
    "Workspace",
    "chunks",
    "Loss",
    "Metric",
    "Optimizer",
    "Schedule",
    "TrainingContext",
    # the registry
    "hookimpl",
    "hookspec",
    "ComponentInfo",
    "components",
    "register",
    "reload_plugins",
    "activation",
    "initializer",
    "layer",
    "loss",
    "metric",
    "optimizer",
    "callback",
    "schedule",
    # errors
    "NNKitError",
    "DataError",
    "ConfigurationError",
    "UnknownComponentError",
    "ComponentConflictError",
    "InvalidComponentError",
    "MissingExtraError",
    "ModelFileError",
    "MissingComponentError",
    "NonFiniteWeightsError",
    "PluginLoadWarning",
    "SubstitutionWarning",
    "DivergenceWarning",
    # data
    "datasets",
]
