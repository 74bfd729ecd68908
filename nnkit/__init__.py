"""nnkit: a small, fast neural-network framework on NumPy whose components are plugins.

The core holds the interfaces and the classic matrix formulation of back-propagation (evaluate,
back-propagate, update); every activation, loss, optimizer and initializer arrives
through the ``nnkit`` entry-point group, the standard set included.
"""

from __future__ import annotations

__version__ = "0.2.0"

from nnkit import datasets
from nnkit.activations import Activation
from nnkit.callbacks import Callback, TrainingContext
from nnkit.component import Component
from nnkit.dense import Dense
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
from nnkit.history import History
from nnkit.hookspecs import hookimpl, hookspec
from nnkit.initializers import Initializer
from nnkit.layers import Layer
from nnkit.losses import Loss
from nnkit.lr_find import RangeTestResult, lr_find
from nnkit.metrics import Metric
from nnkit.network import Network
from nnkit.optimizers import Optimizer
from nnkit.persistence import load
from nnkit.registry import (
    ComponentInfo,
    activation,
    callback,
    components,
    initializer,
    layer,
    loss,
    metric,
    optimizer,
    register,
    reload_plugins,
    schedule,
)
from nnkit.schedules import Schedule
from nnkit.streams import chunks
from nnkit.weighted_layer import WeightedLayer
from nnkit.workspace import Workspace

__all__ = [
    "__version__",
    # the network
    "Network",
    "Dense",
    "History",
    "load",
    "lr_find",
    "RangeTestResult",
    # the interfaces plugins implement
    "Activation",
    "Callback",
    "Component",
    "Initializer",
    "Layer",
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
