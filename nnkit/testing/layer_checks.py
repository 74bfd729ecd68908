"""Checks of a layer: its gradients, shapes, dtypes, state and randomness.

A layer is checked on its own, wired as the network wires it: built for its example
sample shape, bound to views of one flat parameter array, initialised, then run forward
and backward with a workspace per call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from nnkit.engine.parameters import ParameterStore
from nnkit.interfaces.layer import walk
from nnkit.interfaces.workspace import Workspace
from nnkit.testing.numeric import (
    assert_close,
    assert_same_dtype,
    numeric_gradient,
    through_npy,
)
from nnkit.testing.subject import Subject

BATCH, SEED = 5, 3


class Rig:
    """One layer's parameters, and fresh copies of the layer bound to them.

    The layer is built for its ``example_input_shape``. Every `layer()` call builds a new
    copy with the same seed, so a layer that draws random numbers (dropout) draws the
    same ones each time and finite differences apply.
    """

    def __init__(self, make: Callable[[], Any], dtype: Any = np.float64) -> None:
        self.make, self.dtype = make, np.dtype(dtype)
        first = make()
        self.input_shape = tuple(first.example_input_shape)
        self.output_shape = tuple(first.build(self.input_shape, np.random.default_rng(SEED)))
        self.nodes = list(walk([first]))
        self.store = ParameterStore([node.parameter_shapes() for node in self.nodes], self.dtype)
        for node, params, grads in zip(self.nodes, self.store.value_views, self.store.grad_views):
            node.bind(params, grads)
            node.initialize(np.random.default_rng(SEED + 1))
        self.example = first
        self.state = {key: value.copy() for key, value in first.state().items()}

    def layer(self, state: dict[str, np.ndarray] | None = None) -> Any:
        """A fresh copy bound to the parameters, holding ``state`` (by default the one
        the first copy started with)."""
        layer = self.make()
        layer.build(self.input_shape, np.random.default_rng(SEED))
        views = zip(walk([layer]), self.store.value_views, self.store.grad_views)
        for node, params, grads in views:
            node.bind(params, grads)
        state = self.state if state is None else state
        if state:
            layer.load_state({key: value.copy() for key, value in state.items()})
        return layer

    def inputs(self, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """An input batch ``x`` of shape ``(batch, *input_shape)`` and an upstream
        gradient ``dy`` for the output."""
        rng = np.random.default_rng(seed)
        x = np.asarray(self.example.example_input((BATCH, *self.input_shape), rng))
        dy = rng.normal(size=(BATCH, *self.output_shape))
        return x.astype(self.dtype), dy.astype(self.dtype)


def _objective(rig: Rig, x: np.ndarray, dy: np.ndarray, training: bool) -> float:
    layer = rig.layer()
    penalty = sum(node.penalty() for node in walk([layer]))
    return float(np.sum(dy * layer.forward(x, Workspace(), training)) + penalty)


def layer_gradients(subject: Subject) -> None:
    """The input gradient and every parameter gradient of ``backward`` equal finite
    differences of ``sum(dy * forward(x)) + penalty()``, training and inferring (a layer
    whose input is not differentiable, an embedding, returns zeros for it)."""
    rig = Rig(subject.make)
    for training in (True, False):
        mode = "training" if training else "inference"
        x, dy = rig.inputs(seed=1)
        layer = rig.layer()
        workspace = Workspace()
        layer.forward(x, workspace, training)
        dx = layer.backward(dy, workspace, need_input_gradient=True)
        if dx is None:
            raise AssertionError("backward(dy, ws, need_input_gradient=True) returned None")
        dx, grads = np.array(dx, copy=True), rig.store.grads.copy()
        objective = functools.partial(_objective, rig, x, dy, training)
        if layer.differentiable_input:
            indices, expected = numeric_gradient(objective, x)
            what = f"input gradient ({mode}) against finite differences"
            assert_close(dx.reshape(-1)[indices], expected, what)
        else:
            assert_close(dx, np.zeros_like(x), f"input gradient ({mode}) of codes", 0, 0)
        if rig.store.size:
            indices, expected = numeric_gradient(objective, rig.store.values)
            assert_close(
                grads[indices], expected, f"parameter gradients ({mode}) against finite differences"
            )


def layer_shape_and_dtype(subject: Subject) -> None:
    """Outputs and gradients have the promised shapes and keep the dtype (float32 and
    float64): no float64 leaks into a float32 network."""
    for dtype in (np.float32, np.float64):
        rig = Rig(subject.make, dtype)
        x, dy = rig.inputs()
        layer = rig.layer()
        for training in (True, False):
            workspace = Workspace()
            y = layer.forward(x, workspace, training)
            assert_same_dtype(y, rig.dtype, f"forward output of a {rig.dtype} layer")
            if y.shape != (BATCH, *rig.output_shape):
                raise AssertionError(
                    f"forward: build() said samples of shape {rig.output_shape}, so expected "
                    f"shape {(BATCH, *rig.output_shape)}, found {y.shape}"
                )
            dx = layer.backward(dy, workspace, need_input_gradient=True)
            assert_same_dtype(dx, rig.dtype, f"input gradient of a {rig.dtype} layer")
            if dx.shape != x.shape:
                raise AssertionError(
                    f"backward: expected an input gradient of shape {x.shape}, found {dx.shape}"
                )
        for key, value in layer.state().items():
            assert_same_dtype(value, rig.dtype, f"state {key!r} of a {rig.dtype} layer")


def layer_inputs_unchanged(subject: Subject) -> None:
    """``forward`` does not write into its input, nor ``backward`` into ``dy``."""
    rig = Rig(subject.make)
    x, dy = rig.inputs()
    x_before, dy_before = x.copy(), dy.copy()
    layer = rig.layer()
    workspace = Workspace()
    layer.forward(x, workspace, True)
    if not np.array_equal(x, x_before):
        raise AssertionError("forward(x) changed x, the previous layer's output")
    layer.backward(dy, workspace, need_input_gradient=True)
    if not np.array_equal(dy, dy_before):
        raise AssertionError("backward(dy) changed dy, the next layer's gradient")
    if not np.array_equal(x, x_before):
        raise AssertionError("backward(dy) changed x, the previous layer's output")


def layer_samples_independent(subject: Subject) -> None:
    """At inference, each sample's output depends on that sample alone."""
    rig = Rig(subject.make)
    x, _ = rig.inputs()
    batch = np.array(rig.layer().forward(x, Workspace(), False), copy=True)
    for row in range(BATCH):
        alone = rig.layer().forward(x[row : row + 1].copy(), Workspace(), False)
        assert_close(alone, batch[row : row + 1], f"inference output of sample {row} alone")


def layer_interleaved_calls(subject: Subject) -> None:
    """Two calls interleaved on one instance, each with its own workspace (as two
    threads make them), give exactly what the same calls give one after the other: the
    layer keeps nothing of a call on itself."""
    rig = Rig(subject.make)
    (x1, dy1), (x2, dy2) = rig.inputs(seed=21), rig.inputs(seed=22)
    for training in (True, False):
        serial = rig.layer()
        expected = []
        for x, dy in ((x1, dy1), (x2, dy2)):
            workspace = Workspace()
            y = np.array(serial.forward(x, workspace, training), copy=True)
            dx = np.array(serial.backward(dy, workspace, True), copy=True)
            expected.append((y, dx, rig.store.grads.copy()))
        layer = rig.layer()
        first, second = Workspace(), Workspace()
        y1 = np.array(layer.forward(x1, first, training), copy=True)
        y2 = np.array(layer.forward(x2, second, training), copy=True)
        found = []
        for dy, workspace, y in ((dy1, first, y1), (dy2, second, y2)):
            dx = np.array(layer.backward(dy, workspace, True), copy=True)
            found.append((y, dx, rig.store.grads.copy()))
        mode = "training" if training else "inference"
        for call, (want, got) in enumerate(zip(expected, found), start=1):
            for what, a, b in zip(("output", "input gradient", "parameter gradients"), got, want):
                assert_close(a, b, f"call {call}'s {what} ({mode}) when interleaved", 0, 0)


def layer_state_round_trip(subject: Subject) -> None:
    """``state()`` survives a save: restored into a fresh layer, inference is unchanged."""
    rig = Rig(subject.make)
    x, _ = rig.inputs()
    layer = rig.layer()
    for seed in range(3):  # training may update running statistics
        layer.forward(rig.inputs(seed=10 + seed)[0], Workspace(), True)
    saved = {key: through_npy(value) for key, value in layer.state().items()}
    expected = np.array(layer.forward(x, Workspace(), False), copy=True)
    restored = rig.layer(state=saved)
    assert_close(
        restored.forward(x, Workspace(), False), expected, "inference after load_state(state())"
    )


def layer_same_seed_same_result(subject: Subject) -> None:
    """Two layers built and initialised from the same seed hold the same parameters and
    give the same training output."""
    outputs = []
    for _ in range(2):
        rig = Rig(subject.make)
        x, _ = rig.inputs()
        y = np.array(rig.layer().forward(x, Workspace(), True), copy=True)
        outputs.append((rig.store.values.copy(), y))
    assert_close(outputs[1][0], outputs[0][0], "parameters initialised from one seed", 0, 0)
    assert_close(outputs[1][1], outputs[0][1], "training output from one seed", 0, 0)


#: In order: a mutated input or a wrong dtype would make the later checks' reports confusing.
CHECKS = [
    layer_inputs_unchanged,
    layer_shape_and_dtype,
    layer_gradients,
    layer_samples_independent,
    layer_interleaved_calls,
    layer_state_round_trip,
    layer_same_seed_same_result,
]


def layer_state_changes_only_in_commit(subject: Subject) -> None:
    """``state()`` (running statistics and the like) is unchanged by a training forward
    and backward pass: a network shares its layers with the threads that predict, and
    only its optimizer step, under the lock that makes it atomic for them, may change
    what they read. A layer that keeps state applies it in ``commit_state()``, which the
    network calls inside that step."""
    rig = Rig(subject.make)
    layer = rig.layer()
    nodes = list(walk([layer]))
    before = [{key: value.copy() for key, value in node.state().items()} for node in nodes]
    for seed in range(2):
        x, dy = rig.inputs(seed=20 + seed)
        ws = Workspace()
        layer.forward(x, ws, True)
        layer.backward(dy, ws, True)
    for node, saved in zip(nodes, before):
        for key, value in node.state().items():
            assert_close(
                value, saved[key],
                f"state {key!r} of {type(node).__name__} after a training pass, before "
                "the step (apply it in commit_state(), which the network calls inside "
                "its atomic optimizer step)", 0, 0,
            )
    for node in nodes:
        commit = getattr(node, "commit_state", None)
        if commit is not None:
            commit()


CHECKS.append(layer_state_changes_only_in_commit)
