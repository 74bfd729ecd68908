"""nnkit's standard components, registered through the same entry point as any plugin.

nnkit's core never imports this package: the ``nnkit_std`` entry point in nnkit's own
``pyproject.toml`` is the only way it arrives, exactly as a third-party plugin would.
"""

from __future__ import annotations

import nnkit
from nnkit.registry.hookspecs import Register
from nnkit_std import (
    activations,
    callbacks,
    initializers,
    layers,
    losses,
    merging,
    metrics,
    optimizers,
    preprocessing,
    schedules,
)


@nnkit.hookimpl
def register_activations(register: Register) -> None:
    register("sigmoid", activations.Sigmoid)
    register("relu", activations.ReLU)
    register("tanh", activations.Tanh)
    register("softmax", activations.Softmax)
    register("identity", activations.Identity)
    register("leaky_relu", activations.LeakyReLU)


@nnkit.hookimpl
def register_layers(register: Register) -> None:
    register("dense", nnkit.Dense)
    register("dropout", layers.Dropout)
    register("flatten", layers.Flatten)
    register("reshape", layers.Reshape)
    register("activation", layers.ActivationLayer)
    register("embedding", layers.Embedding)
    register("residual", layers.Residual)
    register("masking", layers.Masking)
    register("add", merging.Add)
    register("subtract", merging.Subtract)
    register("multiply", merging.Multiply)
    register("average", merging.Average)
    register("concatenate", merging.Concatenate)
    register("apply_mask", merging.ApplyMask)
    register("standardize", preprocessing.Standardize)
    register("impute", preprocessing.Impute)
    register("category_lookup", preprocessing.CategoryLookup)
    register("rescale_output", preprocessing.RescaleOutput)


@nnkit.hookimpl
def register_losses(register: Register) -> None:
    register("mse", losses.MeanSquaredError)
    register("half_squared_error", losses.HalfSquaredError)
    register("cross_entropy", losses.CrossEntropy)
    register("binary_cross_entropy", losses.BinaryCrossEntropy)
    register("mae", losses.MeanAbsoluteError)
    register("l1", losses.MeanAbsoluteError)
    register("hinge", losses.Hinge)
    register("kl_divergence", losses.KLDivergence)
    register("poisson", losses.Poisson)


@nnkit.hookimpl
def register_optimizers(register: Register) -> None:
    register("sgd", optimizers.SGD)
    register("adam", optimizers.Adam)
    register("adamw", optimizers.AdamW)


@nnkit.hookimpl
def register_initializers(register: Register) -> None:
    register("glorot_uniform", initializers.GlorotUniform)
    register("glorot_normal", initializers.GlorotNormal)
    register("he_normal", initializers.HeNormal)
    register("he_uniform", initializers.HeUniform)
    register("zeros", initializers.Zeros)
    register("ones", initializers.Ones)
    register("constant", initializers.Constant)


@nnkit.hookimpl
def register_metrics(register: Register) -> None:
    register("accuracy", metrics.Accuracy)
    register("binary_accuracy", metrics.BinaryAccuracy)
    register("mae", metrics.MeanAbsoluteError)
    register("precision", metrics.Precision)
    register("recall", metrics.Recall)
    register("f1", metrics.F1)
    register("roc_auc", metrics.RocAuc)
    register("r2", metrics.R2)
    register("rmse", metrics.RootMeanSquaredError)


@nnkit.hookimpl
def register_callbacks(register: Register) -> None:
    register("early_stopping", callbacks.EarlyStopping)
    register("terminate_on_nan", callbacks.TerminateOnNaN)
    register("lr_schedule", callbacks.LearningRateScheduler)
    register("model_checkpoint", callbacks.ModelCheckpoint)
    register("csv_logger", callbacks.CSVLogger)


@nnkit.hookimpl
def register_schedules(register: Register) -> None:
    register("constant", schedules.Constant)
    register("step", schedules.Step)
    register("exponential", schedules.Exponential)
    register("cosine", schedules.Cosine)
    register("plateau", schedules.Plateau)
    register("linear_warmup", schedules.LinearWarmup)
    register("one_cycle", schedules.OneCycle)
