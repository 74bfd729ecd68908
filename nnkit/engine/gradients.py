"""Gradients of a whole network for one batch, nothing updated: the loss, every
parameter's gradient and the gradient with respect to the input.

Saliency maps, adversarial examples, whole-model gradient checks and comparisons with
another framework need them. The call must not disturb training running in another
thread, so it never touches the network's shared gradient array nor any layer's state:
it back-propagates through shallow copies of the layers that read the network's
parameters (under the weights' read lock, taken by the caller) but write gradients into
a buffer of the call's own, laid out as the parameter store.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nnkit.engine.parameters import ParameterStore
from nnkit.interfaces.layer import Layer, walk
from nnkit.interfaces.loss import Loss
from nnkit.interfaces.workspace import Workspace
from nnkit.training.masked_targets import masked_targets

__all__ = ["NetworkGradients", "backpropagate"]


@dataclass(frozen=True)
class NetworkGradients:
    """What `Network.gradients` returns for one batch.

    Attributes:
        loss: the batch's loss, as `Network.evaluate` reports it (penalties included).
        weights: the gradient of ``loss`` with respect to each parameter, in the order
            and shapes of `Network.get_weights`: ``[dW1, db1, dW2, db2, ...]``.
        layers: the same arrays by layer and name, one dict per layer of
            `Network.all_layers`: ``layers[0]["W"]`` is ``dW1``.
        inputs: the gradient of ``loss`` with respect to ``X``, shape ``X.shape``; None
            when the first layer has no input gradient (an embedding of integer codes).
    """

    loss: float
    weights: list[np.ndarray]
    layers: list[dict[str, np.ndarray]]
    inputs: np.ndarray | None


def backpropagate(
    layers: Sequence[Layer],
    store: ParameterStore,
    loss: Loss,
    fused_output: bool,
    X: np.ndarray,
    Y: np.ndarray,
    sample_weight: np.ndarray | None,
    training: bool,
) -> NetworkGradients:
    """Forward and back through copies of ``layers`` bound to ``store``'s parameters and
    to a gradient buffer of this call's own; ``layers`` themselves are left unchanged.

    The caller holds the weights' read lock, so the parameters are those of one step.
    """
    # Share the parameter and gradient arrays with the originals instead of copying
    # them (the copies are rebound below); everything else a layer holds (state,
    # pending statistics, its noise generator) is copied, so nothing of this call
    # reaches the network's layers.
    shared = {id(array): array for views in store.value_views for array in views.values()}
    shared.update({id(array): array for views in store.grad_views for array in views.values()})
    own_layers: list[Layer] = copy.deepcopy(list(layers), memo=shared)
    grads = np.zeros_like(store.grads)
    grad_views = store.views_of(grads)
    for layer, params, layer_grads in zip(walk(own_layers), store.value_views, grad_views):
        layer.bind(params, layer_grads)

    workspace = Workspace()
    A, mask = X, None
    for index, layer in enumerate(own_layers):
        ws = workspace.child(index)
        ws.mask = mask  # masks flow as in the network's own forward pass
        mask = layer.compute_mask(A, mask)
        A = layer.forward(A, ws, training)
    Y = masked_targets(loss, Y, mask)
    value = _loss(loss, A, Y, sample_weight) + sum(layer.penalty() for layer in walk(own_layers))

    last = len(own_layers) - 1
    if fused_output:
        dZ = loss.fused_gradient(A, Y, out=np.empty_like(A))
        if sample_weight is not None:
            dZ *= sample_weight.reshape(-1, *(1,) * (A.ndim - 1))
        dy = own_layers[last].backward_from_dZ(dZ, workspace.child(last), True)
    else:
        dA = loss.gradient(A, Y)
        if sample_weight is not None:
            dA = dA * sample_weight.reshape(-1, *(1,) * (A.ndim - 1))
        dy = own_layers[last].backward(dA, workspace.child(last), True)
    for index in range(last - 1, -1, -1):
        if dy is None:
            break  # a layer without an input gradient ends the chain (an embedding)
        dy = own_layers[index].backward(dy, workspace.child(index), True)
    inputs = None if dy is None else np.array(dy, copy=True)
    return NetworkGradients(
        loss=float(value),
        weights=[array for views in grad_views for array in views.values()],
        layers=grad_views,
        inputs=inputs,
    )


def _loss(loss: Loss, A: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None) -> float:
    """The (weighted) mean per-sample loss, as `Network.batch_loss` computes it."""
    if sample_weight is None:
        return float(loss.value(A, Y))
    return float(np.dot(loss.per_sample(A, Y), sample_weight)) / A.shape[0]
