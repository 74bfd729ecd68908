"""Checks of a merge layer (`nnkit.MergeLayer`): one output from several inputs.

The layer is built for its ``example_input_shapes``, bound to views of one flat
parameter array (most merges have none), and run through `forward_inputs` and
`backward_inputs` with a workspace per call, as a network drawn as a graph runs it.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from nnkit.engine.parameters import ParameterStore
from nnkit.interfaces.layer import walk
from nnkit.interfaces.merge import MergeLayer
from nnkit.interfaces.workspace import Workspace
from nnkit.testing.numeric import assert_close, assert_same_dtype, numeric_gradient
from nnkit.testing.subject import Subject

BATCH, SEED = 5, 3


def _rig(subject: Subject, dtype: Any) -> tuple[MergeLayer, list[np.ndarray], np.ndarray]:
    """The layer built and bound, a batch for each input and an upstream gradient."""
    layer = subject.make()
    assert isinstance(layer, MergeLayer), "only merge layers reach these checks"
    shapes = [tuple(shape) for shape in layer.example_input_shapes]
    output = tuple(layer.build_inputs(shapes, np.random.default_rng(SEED)))
    nodes = list(walk([layer]))
    store = ParameterStore([node.parameter_shapes() for node in nodes], np.dtype(dtype))
    for node, params, grads in zip(nodes, store.value_views, store.grad_views):
        node.bind(params, grads)
        node.initialize(np.random.default_rng(SEED))
    rng = np.random.default_rng(0)
    xs = [np.asarray(layer.example_input((BATCH, *s), rng)).astype(dtype) for s in shapes]
    dy = rng.normal(size=(BATCH, *output)).astype(dtype)
    return layer, xs, dy


def merge_gradients(subject: Subject) -> None:
    """The gradient ``backward_inputs`` gives for each input equals finite differences of
    ``sum(dy * forward_inputs(xs))``, training and inferring."""
    layer, xs, dy = _rig(subject, np.float64)
    for training in (True, False):
        workspace = Workspace()
        layer.forward_inputs(xs, workspace, training)
        found = [np.array(g, copy=True) for g in layer.backward_inputs(dy, workspace, True)]

        def objective(train: bool) -> float:
            return float(np.sum(dy * layer.forward_inputs(xs, Workspace(), train)))

        for index, x in enumerate(xs):
            mode = "training" if training else "inference"
            if index in layer.non_differentiable_inputs:  # a mask: no finite differences
                if np.any(found[index]):
                    raise AssertionError(
                        f"input {index + 1} is declared non-differentiable, but its "
                        f"gradient ({mode}) is not zero"
                    )
                continue
            indices, expected = numeric_gradient(functools.partial(objective, training), x)
            assert_close(
                found[index].reshape(-1)[indices],
                expected,
                f"gradient of input {index + 1} ({mode}) against finite differences",
            )


def merge_shape_and_dtype(subject: Subject) -> None:
    """The output has the shape `build_inputs` promised, one gradient comes back per
    input with that input's shape, and all keep the dtype (float32 and float64)."""
    for dtype in (np.float32, np.float64):
        layer, xs, dy = _rig(subject, dtype)
        workspace = Workspace()
        y = layer.forward_inputs(xs, workspace, True)
        assert_same_dtype(y, np.dtype(dtype), "forward_inputs output")
        if y.shape != dy.shape:
            raise AssertionError(
                f"forward_inputs: build_inputs() promised shape {dy.shape[1:]} per sample, "
                f"found {y.shape[1:]}"
            )
        gradients = layer.backward_inputs(dy, workspace, True)
        if len(gradients) != len(xs):
            raise AssertionError(
                f"backward_inputs returned {len(gradients)} gradients for {len(xs)} inputs"
            )
        for index, (gradient, x) in enumerate(zip(gradients, xs)):
            if gradient is None:
                raise AssertionError(f"backward_inputs gave None for input {index + 1}")
            assert_same_dtype(gradient, np.dtype(dtype), f"gradient of input {index + 1}")
            if gradient.shape != x.shape:
                raise AssertionError(
                    f"the gradient of input {index + 1} has shape {gradient.shape}, but "
                    f"the input has shape {x.shape}"
                )


def merge_inputs_unchanged(subject: Subject) -> None:
    """``forward_inputs`` writes into none of its inputs, nor ``backward_inputs`` into
    ``dy`` (the same value may feed other layers)."""
    layer, xs, dy = _rig(subject, np.float64)
    before, dy_before = [x.copy() for x in xs], dy.copy()
    workspace = Workspace()
    layer.forward_inputs(xs, workspace, True)
    for index, (x, saved) in enumerate(zip(xs, before)):
        if not np.array_equal(x, saved):
            raise AssertionError(f"forward_inputs changed input {index + 1}")
    layer.backward_inputs(dy, workspace, True)
    if not np.array_equal(dy, dy_before):
        raise AssertionError("backward_inputs(dy) changed dy, the next layer's gradient")


CHECKS = [merge_gradients, merge_shape_and_dtype, merge_inputs_unchanged]
