"""Batch normalisation (Ioffe and Szegedy, 2015) as an nnkit layer."""

from __future__ import annotations

import numpy as np

import nnkit
from nnkit.arguments import FRACTION, POSITIVE, real_number
from nnkit.files.onnx import OnnxGraph
from nnkit.interfaces.workspace import Workspace

__all__ = ["BatchNormalization"]

#: How the running variance averages the batches' variances: as normalised (divided by
#: the batch size m) or unbiased (by m - 1).
RUNNING_VARIANCES = ("biased", "unbiased")


class BatchNormalization(nnkit.Layer):
    """Normalise each unit over the batch, then scale and shift: ``gamma x_hat + beta``.

    While training, ``x_hat`` uses the batch's mean and variance and updates running
    averages (``running = momentum running + (1 - momentum) batch``); at inference it
    uses the running averages, so each sample's output depends on that sample alone.
    The running averages are layer state, saved with the model.

    Samples are flat, ``(units,)``, or images, ``(channels, height, width)``: an image's
    statistics, ``gamma`` and ``beta`` are per channel, over the batch and the pixels, as
    PyTorch's ``BatchNorm2d``. The image form is the flat one on columns of
    ``m * height * width`` values per channel, so both share one arithmetic. Images are
    kept as nnkit-vision's layers keep them, ``(channels, height, width, m)`` in memory
    (a convolution's output is a view of that), so each channel's values are one
    contiguous row, read and written without a copy, and the output is again such a
    view, which the next convolution or pooling reads as it stands.

    ``momentum`` is the weight of the old average, as in Keras; PyTorch's ``momentum``
    is the weight of the new batch, so PyTorch's ``0.1`` is ``momentum=0.9`` here.
    ``running_variance`` says which variance of the batch the running average takes:
    ``"biased"`` (the default, as in Keras and nnkit 0.2.0) the one ``x_hat`` uses,
    divided by the batch size ``m``; ``"unbiased"`` (as in PyTorch) the same times
    ``m / (m - 1)``, which needs batches of at least 2 samples while training.
    """

    def __init__(
        self, momentum: float = 0.99, epsilon: float = 1e-3, running_variance: str = "biased"
    ) -> None:
        self.momentum = real_number(momentum, "batch_norm momentum", FRACTION)
        self.epsilon = real_number(epsilon, "batch_norm epsilon", POSITIVE)
        if not isinstance(running_variance, str) or running_variance not in RUNNING_VARIANCES:
            raise nnkit.ConfigurationError(
                f"batch_norm running_variance must be one of "
                f"{', '.join(map(repr, RUNNING_VARIANCES))}, got {running_variance!r}"
            )
        self.running_variance = running_variance
        # The last training batch's mean and variance, until commit_state() folds them in.
        self._pending: tuple[np.ndarray, np.ndarray] | None = None

    def build(self, input_shape, rng):
        if len(input_shape) not in (1, 3):
            raise nnkit.ConfigurationError(
                f"batch_norm normalises flat samples, shape (units,), or images "
                f"(channels, height, width), got {tuple(input_shape)}; flatten or reshape "
                f"the samples to one of these"
            )
        self.units = input_shape[0]  # the channels of images
        self.images = len(input_shape) == 3
        # Columns (units, 1), as nnkit 0.2 saved them: its model files load unchanged.
        self.add_parameter("gamma", (self.units, 1), "ones")
        self.add_parameter("beta", (self.units, 1), "zeros")
        return tuple(input_shape)

    def bind(self, params, grads):
        super().bind(params, grads)
        dtype = params["gamma"].dtype
        self.running_mean = np.zeros((self.units, 1), dtype=dtype)
        self.running_var = np.ones((self.units, 1), dtype=dtype)

    def state(self):
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    def load_state(self, state):
        expected = self.state()
        if set(state) != set(expected):
            raise ValueError(f"batch_norm state needs {sorted(expected)}, got {sorted(state)}")
        for key, value in state.items():
            shape, found = expected[key].shape, np.shape(value)
            if found != shape:
                raise ValueError(f"batch_norm {key} should have shape {shape}, got {found}")
            expected[key][...] = value

    def check_state(self, state):
        """Refuse a negative running variance, which would make ``sqrt(var + epsilon)``
        NaN at inference."""
        variance = state["running_var"]
        if (variance < 0).any():
            raise ValueError(
                f"batch_norm state 'running_var' has negative values (the lowest is "
                f"{variance.min().item()!r}), but it is a running mean of variances, never below 0"
            )

    def _columns(self, x: np.ndarray, ws: Workspace, name: str) -> np.ndarray:
        """``x`` as one row per unit or channel, one column per value it normalises: a
        sample's unit, or each pixel of each sample of a channel. Images become
        ``(channels, height * width * m)``: a view of nnkit-vision's layout, or else a
        copy into the workspace's buffer ``name``."""
        if not self.images:
            return x.T
        channels_first = x.transpose(1, 2, 3, 0)  # (C, H, W, m)
        if not channels_first.flags.c_contiguous:
            copy = ws.buffer(name, channels_first.shape, x.dtype)
            np.copyto(copy, channels_first)
            channels_first = copy
        return channels_first.reshape(self.units, -1)  # a view

    def _samples(self, columns: np.ndarray, like: tuple[int, ...]) -> np.ndarray:
        """The inverse of `_columns`, for a batch of shape ``like``: a view."""
        if not self.images:
            return columns.T
        m, c, h, w = like
        return columns.reshape(c, h, w, m).transpose(3, 0, 1, 2)

    def forward(self, x, ws, training=False):
        A_prev = self._columns(x, ws, "x")  # one column per normalised value
        # perf: x_hat and the output live in the call's workspace, reused batch to batch,
        # in the memory order of the columns (so flat samples sum as np.var sums them).
        x_hat, out = ws.buffer_like("x_hat", A_prev), ws.buffer_like("out", A_prev)
        if training:
            mean = A_prev.mean(axis=1, keepdims=True)
            np.subtract(A_prev, mean, out=x_hat)  # centred, as np.var centres
            var = np.multiply(x_hat, x_hat, out=out).sum(axis=1, keepdims=True)
            var /= A_prev.shape[1]  # the variance, in np.var's steps
            # Applied by commit_state(), inside the network's optimizer step: updated
            # here, a prediction in another thread could mix the new statistics with
            # the old weights.
            self._pending = (mean, self._running_variance_of(var, A_prev.shape[1]))
        else:
            mean, var = self.running_mean, self.running_var
            np.subtract(A_prev, mean, out=x_hat)
        ws.training = training
        ws.inv_std = 1 / np.sqrt(var + self.epsilon)
        x_hat *= ws.inv_std  # x_hat = (A_prev - mean) inv_std
        ws.x_hat = x_hat
        np.multiply(self.params["gamma"], x_hat, out=out)
        out += self.params["beta"]
        return self._samples(out, x.shape)

    def commit_state(self):
        """Fold the last training batch's mean and variance into the running averages.
        The network calls it inside the atomic step that updates the weights, so that
        readers see the statistics and the weights of one and the same step."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        mean, var = pending
        self.running_mean *= self.momentum
        self.running_mean += (1 - self.momentum) * mean
        self.running_var *= self.momentum
        self.running_var += (1 - self.momentum) * var

    def _running_variance_of(self, var: np.ndarray, m: int) -> np.ndarray:
        """The batch's contribution to the running variance, from its normalising
        variance ``var`` (divided by ``m``); checked before any running average moves."""
        if self.running_variance == "biased":
            return var
        if m < 2:
            raise nnkit.DataError(
                "batch_norm running_variance='unbiased' needs at least 2 samples per "
                f"training batch, got {m}; use batches of 2 or more, or the default "
                "running_variance='biased'"
            )
        return var * (m / (m - 1))

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """The inference form, with the running statistics, on rows ``(N, units)`` or
        images ``(N, channels, height, width)``.

        In float32 ONNX's ``BatchNormalization``. Its ``epsilon`` is a float32 attribute,
        which in a float64 graph would move ``1 / sqrt(var + epsilon)`` by up to 3e-8
        relative where a unit's variance is near 0, so a float64 graph writes `forward`'s
        arithmetic instead: ``gamma ((x - mean) inv_std) + beta``, with ``inv_std``
        computed here as `forward` computes it.
        """
        gamma, beta = self.params["gamma"][:, 0], self.params["beta"][:, 0]
        mean, var = self.running_mean[:, 0], self.running_var[:, 0]
        if graph.dtype == np.float32:  # on (N, C) and (N, C, H, W) alike
            return graph.node(
                "BatchNormalization",
                [x, graph.weight(gamma, "gamma"), graph.weight(beta, "beta"),
                 graph.weight(mean, "running_mean"), graph.weight(var, "running_var")],
                epsilon=self.epsilon,
            )
        inv_std = 1 / np.sqrt(var + self.epsilon)
        if self.images:  # per channel, broadcast over the pixels of (N, C, H, W)
            gamma, beta, mean, inv_std = (a[:, None, None] for a in (gamma, beta, mean, inv_std))
        x_hat = graph.node("Mul", [
            graph.node("Sub", [x, graph.weight(mean, "running_mean")]),
            graph.weight(inv_std, "inv_std"),
        ])
        scaled = graph.node("Mul", [graph.weight(gamma, "gamma"), x_hat])
        return graph.node("Add", [scaled, graph.weight(beta, "beta")])

    def backward(self, dy, ws, need_input_gradient=True):
        dA, x_hat, inv_std = self._columns(dy, ws, "dy"), ws.x_hat, ws.inv_std
        dgamma, dbeta = self.grads["gamma"], self.grads["beta"]
        dx = ws.buffer_like("dx", dA)
        np.sum(np.multiply(dA, x_hat, out=dx), axis=1, keepdims=True, out=dgamma)
        np.sum(dA, axis=1, keepdims=True, out=dbeta)
        if not need_input_gradient:
            return None
        scale = self.params["gamma"] * inv_std  # dx = scale dx_hat / gamma, per unit
        if not ws.training:  # the running statistics are constants: dx = gamma inv_std dA
            return self._samples(np.multiply(dA, scale, out=dx), dy.shape)
        # The batch's mean and variance depend on every input: the standard derivation,
        # dx = (inv_std / m) (m dx_hat - sum(dx_hat) - x_hat sum(dx_hat x_hat)) with
        # dx_hat = gamma dA, whose sums are gamma dbeta and gamma dgamma, so
        # dx = gamma inv_std (dA - dbeta / m - x_hat dgamma / m): four passes over one buffer.
        m = dA.shape[1]
        np.multiply(x_hat, dgamma / m, out=dx)
        np.subtract(dA, dx, out=dx)
        dx -= dbeta / m
        dx *= scale
        return self._samples(dx, dy.shape)
