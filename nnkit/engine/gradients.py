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

from nnkit.engine.graph import Graph
from nnkit.engine.parameters import ParameterStore, layer_spans
from nnkit.interfaces.layer import Layer, walk
from nnkit.interfaces.loss import Loss
from nnkit.interfaces.merge import MergeLayer
from nnkit.interfaces.workspace import Workspace
from nnkit.training.masked_targets import masked_targets
from nnkit.training.outputs import OutputsLoss

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
            For a network of several inputs, a dict by input name of such arrays.
    """

    loss: float
    weights: list[np.ndarray]
    layers: list[dict[str, np.ndarray]]
    inputs: np.ndarray | dict[str, np.ndarray | None] | None


def backpropagate(
    layers: Sequence[Layer],
    graph: Graph,
    store: ParameterStore,
    loss: Loss,
    fused_output: bool,
    xs: Sequence[np.ndarray],
    Y: np.ndarray,
    sample_weight: np.ndarray | None,
    training: bool,
) -> NetworkGradients:
    """Forward and back through ``graph`` over copies of ``layers`` bound to ``store``'s
    parameters and to a gradient buffer of this call's own, from the input batches
    ``xs``; ``layers`` themselves are left unchanged.

    The caller holds the weights' read lock, so the parameters are those of one step.
    """
    # Share the parameter and gradient arrays with the originals instead of copying
    # them (the copies are rebound below); everything else a layer holds (state,
    # pending statistics, its noise generator) is copied, so nothing of this call
    # reaches the network's layers. The graph is copied with them, so that its calls
    # run the copies.
    shared = {id(array): array for views in store.value_views for array in views.values()}
    shared.update({id(array): array for views in store.grad_views for array in views.values()})
    own_layers, own_graph = copy.deepcopy((list(layers), graph), memo=shared)
    grads = np.zeros_like(store.grads)
    grad_views = store.views_of(grads)
    for layer, params, layer_grads in zip(walk(own_layers), store.value_views, grad_views):
        layer.bind(params, layer_grads)
    spans = layer_spans(own_layers, store.shapes, grads)

    workspace = Workspace()
    outputs = own_graph.forward(xs, workspace, training)
    A = outputs[0] if len(outputs) == 1 else np.concatenate(outputs, axis=1)
    Y = masked_targets(loss, Y, workspace.output_mask)
    penalty = sum(layer.penalty() for layer in walk(own_graph.called))  # once per call
    value = _loss(loss, A, Y, sample_weight) + penalty

    if fused_output:
        seed = loss.fused_gradient(A, Y, out=np.empty_like(A))
    else:
        seed = loss.gradient(A, Y)
    if sample_weight is not None:
        seed = seed * sample_weight.reshape(-1, *(1,) * (A.ndim - 1))
    seeds = [seed]
    if isinstance(loss, OutputsLoss):  # each output's columns of the gradient
        seeds = [np.ascontiguousarray(seed[:, loss.columns(k)]) for k in range(len(outputs))]
    fused_call = own_graph.outputs[0] - own_graph.n_inputs if fused_output else -1
    inputs: list[np.ndarray | None] = [None] * own_graph.n_inputs
    own_graph.backward(seeds, workspace, fused_call, lambda layer: spans.get(id(layer)), inputs)
    for node in own_graph.nodes:  # codes (an embedding's) and masks have no gradient
        for position, slot in enumerate(node.inputs):
            if slot < own_graph.n_inputs and not _differentiable(node.layer, position):
                inputs[slot] = None
    return NetworkGradients(
        loss=float(value),
        weights=[array for views in grad_views for array in views.values()],
        layers=grad_views,
        inputs=inputs[0] if len(inputs) == 1 else dict(zip(own_graph.input_names, inputs)),
    )


def _differentiable(layer: Layer, position: int) -> bool:
    """Whether ``layer`` has a gradient for its input at ``position``."""
    if isinstance(layer, MergeLayer):
        return position not in layer.non_differentiable_inputs
    return layer.differentiable_input


def _loss(loss: Loss, A: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None) -> float:
    """The (weighted) mean per-sample loss, as `Network.batch_loss` computes it."""
    if sample_weight is None:
        return float(loss.value(A, Y))
    return float(np.dot(loss.per_sample(A, Y), sample_weight)) / A.shape[0]
