"""A whole network's gradients checked against central finite differences.

A layer that passes the conformance kit can still be wired wrongly into a stack (a
fused output, a holder that forgets a sublayer's gradient): this check runs the
network's own back-propagation, `Network.gradients`, and compares every parameter's
gradient and the input gradient with finite differences of the loss.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from nnkit.engine.network import Network
from nnkit.errors import ConfigurationError
from nnkit.interfaces.workspace import Workspace
from nnkit.testing.numeric import numeric_gradient
from nnkit.training.inputs import prepare
from nnkit.training.masked_targets import masked_targets

__all__ = ["check_network_gradients"]


def check_network_gradients(
    net: Network,
    X: Any,
    y: Any,
    sample_weight: Any = None,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    seed: int = 0,
) -> None:
    """Assert that ``net.gradients(X, y)`` matches central finite differences of the loss,
    for every parameter array and for ``X``.

    ``net`` must compute in float64 (``Network(..., dtype="float64")``): in float32 the
    differences are noise. It is built from ``X`` if it is not yet and is left
    unchanged (the differences perturb a copy). Arrays with more than 120 entries are
    probed at 120 entries drawn with ``seed``. Layers run in inference mode
    (``training=False``), so dropout is off; avoid samples on a kink of relu.

    Raises:
        ConfigurationError: ``net`` computes in float32.
        AssertionError: a gradient differs; the message names the layer, the array and
            the worst entry.
    """
    if net.dtype != np.float64:
        raise ConfigurationError(
            f"check_network_gradients needs a float64 network, this one computes in "
            f"{net.dtype}: build it with Network(..., dtype='float64')"
        )
    data = prepare(net, X, y, sample_weight)
    analytic = net.gradients(X, y, sample_weight)
    probe = copy.deepcopy(net)  # perturbed below; the caller's network stays as it was
    inputs = np.array(data.X, dtype=np.float64, copy=True)
    rng = np.random.default_rng(seed)

    def loss() -> float:
        workspace = Workspace()
        outputs = probe.forward(inputs, workspace)
        targets = masked_targets(probe.loss, data.Y, workspace.output_mask)
        return probe.batch_loss(outputs, targets, data.weights)

    store = probe.store
    assert store is not None, "prepare built the network"
    for index, (layer, views) in enumerate(zip(probe.all_layers, store.value_views)):
        for name, array in views.items():
            positions, numeric = numeric_gradient(loss, array, rng)
            found = analytic.layers[index][name].reshape(-1)[positions]
            what = f"layer {index + 1} ({type(layer).__name__}) d{name}"
            _compare(found, numeric, what, rtol, atol)
    if isinstance(analytic.inputs, dict):  # several inputs, side by side in ``inputs``
        parts = [
            np.full((inputs.shape[0], size), np.nan) if found is None else found
            for found, size in zip(analytic.inputs.values(), _input_sizes(probe))
        ]
        packed = np.concatenate([p.reshape(inputs.shape[0], -1) for p in parts], axis=1)
        among = np.flatnonzero(~np.isnan(packed))  # an input of codes has no gradient
        positions, numeric = numeric_gradient(loss, inputs, rng, among)
        _compare(packed.reshape(-1)[positions], numeric, "dX", rtol, atol)
    elif analytic.inputs is not None and not probe.layers[0].differentiable_input:
        # Codes (an embedding's) have no finite differences: a step off a whole number
        # is no code at all. Their gradient is zero by definition.
        _compare(analytic.inputs.reshape(-1), np.zeros(inputs.size), "dX of codes", 0, 0)
    elif analytic.inputs is not None:
        first = probe.layers[0]
        # A first layer that masks padded steps (masking) has no finite differences
        # there: a step off the padding value is a real step. Only real entries are probed.
        mask = first.compute_mask(inputs, None) if first.makes_mask() else None
        among = None
        if mask is not None:
            real = np.broadcast_to(mask.reshape(*mask.shape, *(1,) * (inputs.ndim - mask.ndim)),
                                   inputs.shape)
            among = np.flatnonzero(real)
        positions, numeric = numeric_gradient(loss, inputs, rng, among)
        _compare(analytic.inputs.reshape(-1)[positions], numeric, "dX", rtol, atol)


def _input_sizes(net: Network) -> list[int]:
    """The number of entries of one sample of each input."""
    return [int(np.prod(shape)) for shape in net.input_shapes]


def _compare(found: np.ndarray, expected: np.ndarray, what: str, rtol: float, atol: float) -> None:
    """Fail with the worst entry named when the back-propagated gradient differs from
    the finite differences (relative to the larger of the two, so that both a tiny and
    a large gradient are judged fairly)."""
    error = np.abs(found - expected)
    allowed = atol + rtol * np.maximum(np.abs(found), np.abs(expected))
    if np.any(error > allowed) or not np.all(np.isfinite(found)):
        worst = int(np.argmax(np.where(np.isfinite(found), error - allowed, np.inf)))
        raise AssertionError(
            f"network gradient check: {what}: back-propagation gives "
            f"{float(found[worst]):.8g} where finite differences give "
            f"{float(expected[worst]):.8g} ({int(np.sum(~(error <= allowed)))} of "
            f"{found.size} probed entries differ)"
        )
