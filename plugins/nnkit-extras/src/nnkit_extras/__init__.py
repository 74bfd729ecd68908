"""nnkit-extras: more activations, optimizers, a Huber loss and batch normalisation.

Registered through this distribution's ``[project.entry-points.nnkit]`` table only; nnkit
itself knows nothing of it.
"""

from __future__ import annotations

import nnkit
from nnkit_extras import activations, initializers, layers, losses, optimizers

__version__ = "0.1.0"


@nnkit.hookimpl
def register_activations(register):
    register("gelu", activations.GELU)
    register("silu", activations.SiLU)
    register("elu", activations.ELU)
    register("selu", activations.SELU)
    register("softplus", activations.Softplus)
    register("mish", activations.Mish)


@nnkit.hookimpl
def register_optimizers(register):
    register("rmsprop", optimizers.RMSprop)
    register("adagrad", optimizers.Adagrad)
    register("nadam", optimizers.Nadam)
    register("lion", optimizers.Lion)


@nnkit.hookimpl
def register_losses(register):
    register("huber", losses.Huber)


@nnkit.hookimpl
def register_layers(register):
    register("batch_norm", layers.BatchNormalization)


@nnkit.hookimpl
def register_initializers(register):
    register("lecun_normal", initializers.LecunNormal)
