"""The loss interface: how far the output ``A^L`` is from the targets ``Y``.

``A`` and ``Y`` hold one sample per row, samples first: ``(samples, outputs)``, as the
network's output and the targets given to `fit` are. The loss of a batch is the mean of
the per-sample losses, and `Loss.gradient()` is the derivative of that mean, so the
classic squared error gives ``dA^L = (A^L - Y) / m`` with ``m = A.shape[0]``.

A sample's loss combines its outputs (the last axis): `Loss.per_sample()` returns one
number per sample, shape ``(samples,)``. The batch loss averages those over samples, so
`Loss.gradient()` divides by ``m``, the number of samples.

Outputs that keep a time axis, ``(samples, positions, classes)`` (a language model's
next-token probabilities), reach only a loss that says it takes them
(`Loss.any_output_shape`); the network refuses the others at build. Such a loss still
returns one number per sample from `Loss.per_sample()`, combining every axis but the
first, and says in its docstring what it averages over.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from nnkit.interfaces.component import Component

__all__ = ["Loss"]


class Loss(Component, ABC):
    """A loss function ``E(A^L, Y)`` averaged over the samples of a batch."""

    #: Registry name of the output activation this loss pairs with exactly: for that
    #: pair `fused_gradient` gives the gradient with respect to ``Z^L`` directly (softmax
    #: with cross-entropy, sigmoid with binary cross-entropy). ``None`` if there is none.
    fused_activation: ClassVar[str | None] = None

    #: Whether integer class labels are accepted as targets (one-hot encoded for the loss).
    accepts_class_labels: ClassVar[bool] = False

    #: Whether the loss takes outputs whose samples have more than one axis, such as
    #: ``(m, T, k)``, reducing every axis but the samples' (`per_sample` still returns
    #: ``(m,)``). False for a loss written for ``(m, k)`` only: the network refuses a
    #: non-flat output under it at build, instead of a broadcasting error in a step.
    any_output_shape: ClassVar[bool] = False

    #: A class label that marks "no target here" (PyTorch's ``ignore_index``), for a
    #: loss that takes class labels per position: ``(m, T)`` labels for ``(m, T, k)``
    #: outputs. A position labelled so becomes an all-zero target row, which the loss
    #: leaves out of its value, its mean and its gradient. None: every label is a class.
    ignore_index: int | None = None

    #: Whether the loss leaves an all-zero target row out of its value, its mean and its
    #: gradient (the cross-entropy: such a row carries no target). Masked positions of
    #: the network's output are given such rows, so only a loss that says so here
    #: takes an output that carries a mask; another is refused with an error.
    skips_empty_targets: ClassVar[bool] = False

    #: Whether the loss reads the output as probabilities (the cross-entropies, the KL
    #: divergence): the network then refuses an output activation that declares it does
    #: not give them (`Activation.outputs_probabilities`), where the loss would go
    #: negative and training would chase it down.
    expects_probabilities: ClassVar[bool] = False

    #: The interval targets must lie in (probabilities for the cross-entropies).
    target_range: ClassVar[tuple[float, float]] = (-np.inf, np.inf)

    #: Registry names of the metrics reported by default when training with this loss.
    default_metrics: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def per_sample(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """The loss of each sample (a row of ``A`` against the same row of ``Y``):
        shape ``(samples,)``."""

    @abstractmethod
    def gradient(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """``dA^L``: the derivative of the batch mean loss with respect to ``A``, shaped
        like ``A`` and of its dtype (a NumPy float64 constant would make a float32
        gradient float64; the kit's ``loss_dtype_and_inputs`` check catches it)."""

    def value(self, A: np.ndarray, Y: np.ndarray) -> float:
        """The batch loss: the mean of `per_sample()`."""
        return float(np.mean(self.per_sample(A, Y)))

    def fused_gradient(
        self, A: np.ndarray, Y: np.ndarray, out: np.ndarray | None = None, one_hot: bool = False
    ) -> np.ndarray:
        """``dZ^L``, the gradient of the batch loss with respect to the output layer's
        weighted input, computed from ``A^L`` when the output activation is
        `fused_activation`.

        By default ``(A^L - Y) / m``, exact for an element-wise pairing such as sigmoid
        with binary cross-entropy whatever the targets. A loss fused with an activation
        that couples the outputs (softmax) overrides it: there the exact form depends on
        how much target each sample carries (see the standard cross-entropy).

        ``one_hot=True`` says every row of ``Y`` is one-hot (class labels that `fit`
        encoded), so an override may skip work only other targets need; the result must
        be the same. The network passes it only to an override that takes it.
        """
        dZ = np.subtract(A, Y, out=out)
        dZ *= 1.0 / A.shape[0]
        return dZ
