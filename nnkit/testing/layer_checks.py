"""Checks of a layer: its gradients, shapes, dtypes, state and randomness.

A layer is checked on its own, wired as the network wires it: built for an input width,
bound to views of one flat parameter array, initialised, then run forward and backward.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from nnkit.parameters import ParameterStore
from nnkit.testing.numeric import (
    assert_close,
    assert_same_dtype,
    numeric_gradient,
    through_npy,
)
from nnkit.testing.subject import Subject

N_INPUTS, BATCH, SEED = 4, 5, 3


class Rig:
    """One layer's parameters, and fresh copies of the layer bound to them.

    Every `layer()` call builds a new copy with the same seed, so a layer that draws
    random numbers (dropout) draws the same ones each time and finite differences apply.
    """

    def __init__(self, make: Callable[[], Any], dtype: Any = np.float64) -> None:
        self.make, self.dtype = make, np.dtype(dtype)
        first = make()
        self.width = first.build(N_INPUTS, np.random.default_rng(SEED))
        self.store = ParameterStore([first.parameter_shapes()], self.dtype)
        first.bind(self.store.value_views[0], self.store.grad_views[0])
        first.initialize(np.random.default_rng(SEED + 1))
        self.state = {key: value.copy() for key, value in first.state().items()}

    def layer(self, state: dict[str, np.ndarray] | None = None) -> Any:
        """A fresh copy bound to the parameters, holding ``state`` (by default the one
        the first copy started with)."""
        layer = self.make()
        layer.build(N_INPUTS, np.random.default_rng(SEED))
        layer.bind(self.store.value_views[0], self.store.grad_views[0])
        state = self.state if state is None else state
        if state:
            layer.load_state({key: value.copy() for key, value in state.items()})
        return layer

    def inputs(self, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``A_prev`` of shape ``(n_inputs, batch)`` and an upstream ``dA`` for the output."""
        rng = np.random.default_rng(seed)
        A_prev = rng.normal(size=(N_INPUTS, BATCH)).astype(self.dtype)
        dA = rng.normal(size=(self.width, BATCH)).astype(self.dtype)
        return A_prev, dA


def _objective(rig: Rig, A_prev: np.ndarray, dA: np.ndarray, training: bool) -> float:
    layer = rig.layer()
    return float(np.sum(dA * layer.forward(A_prev, training)) + layer.penalty())


def layer_gradients(subject: Subject) -> None:
    """The input gradient and every parameter gradient of ``backward`` equal finite
    differences of ``sum(dA * forward(A_prev)) + penalty()``, training and inferring."""
    rig = Rig(subject.make)
    for training in (True, False):
        mode = "training" if training else "inference"
        A_prev, dA = rig.inputs(seed=1)
        layer = rig.layer()
        layer.forward(A_prev, training)
        dA_prev = layer.backward(dA, need_input_gradient=True)
        if dA_prev is None:
            raise AssertionError("backward(dA, need_input_gradient=True) returned None")
        dA_prev, grads = dA_prev.copy(), rig.store.grads.copy()
        objective = functools.partial(_objective, rig, A_prev, dA, training)
        indices, expected = numeric_gradient(objective, A_prev)
        assert_close(
            dA_prev.reshape(-1)[indices],
            expected,
            f"input gradient ({mode}) against finite differences",
        )
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
        A_prev, dA = rig.inputs()
        layer = rig.layer()
        for training in (True, False):
            A = layer.forward(A_prev, training)
            assert_same_dtype(A, rig.dtype, f"forward output of a {rig.dtype} layer")
            if A.shape != (rig.width, BATCH):
                raise AssertionError(
                    f"forward: build() said {rig.width} outputs, so expected shape "
                    f"{(rig.width, BATCH)}, found {A.shape}"
                )
            dA_prev = layer.backward(dA, need_input_gradient=True)
            assert_same_dtype(dA_prev, rig.dtype, f"input gradient of a {rig.dtype} layer")
            if dA_prev.shape != A_prev.shape:
                raise AssertionError(
                    f"backward: expected an input gradient of shape {A_prev.shape}, found "
                    f"{dA_prev.shape}"
                )
        for key, value in layer.state().items():
            assert_same_dtype(value, rig.dtype, f"state {key!r} of a {rig.dtype} layer")


def layer_inputs_unchanged(subject: Subject) -> None:
    """``forward`` does not write into its input, nor ``backward`` into ``dA``."""
    rig = Rig(subject.make)
    A_prev, dA = rig.inputs()
    A_prev_before, dA_before = A_prev.copy(), dA.copy()
    layer = rig.layer()
    layer.forward(A_prev, True)
    if not np.array_equal(A_prev, A_prev_before):
        raise AssertionError("forward(A_prev) changed A_prev, the previous layer's output")
    layer.backward(dA, need_input_gradient=True)
    if not np.array_equal(dA, dA_before):
        raise AssertionError("backward(dA) changed dA, the next layer's gradient")
    if not np.array_equal(A_prev, A_prev_before):
        raise AssertionError("backward(dA) changed A_prev, the previous layer's output")


def layer_samples_independent(subject: Subject) -> None:
    """At inference, each sample's output depends on that sample alone."""
    rig = Rig(subject.make)
    A_prev, _ = rig.inputs()
    batch = rig.layer().forward(A_prev, False).copy()
    for column in range(BATCH):
        alone = rig.layer().forward(A_prev[:, [column]].copy(), False)
        assert_close(alone, batch[:, [column]], f"inference output of sample {column} alone")


def layer_state_round_trip(subject: Subject) -> None:
    """``state()`` survives a save: restored into a fresh layer, inference is unchanged."""
    rig = Rig(subject.make)
    A_prev, _ = rig.inputs()
    layer = rig.layer()
    for seed in range(3):  # training may update running statistics
        layer.forward(rig.inputs(seed=10 + seed)[0], True)
    saved = {key: through_npy(value) for key, value in layer.state().items()}
    expected = layer.forward(A_prev, False).copy()
    restored = rig.layer(state=saved)
    assert_close(restored.forward(A_prev, False), expected, "inference after load_state(state())")


def layer_same_seed_same_result(subject: Subject) -> None:
    """Two layers built and initialised from the same seed hold the same parameters and
    give the same training output."""
    outputs = []
    for _ in range(2):
        rig = Rig(subject.make)
        A_prev, _ = rig.inputs()
        outputs.append((rig.store.values.copy(), rig.layer().forward(A_prev, True).copy()))
    assert_close(outputs[1][0], outputs[0][0], "parameters initialised from one seed", 0, 0)
    assert_close(outputs[1][1], outputs[0][1], "training output from one seed", 0, 0)


#: In order: a mutated input or a wrong dtype would make the later checks' reports confusing.
CHECKS = [
    layer_inputs_unchanged,
    layer_shape_and_dtype,
    layer_gradients,
    layer_samples_independent,
    layer_state_round_trip,
    layer_same_seed_same_result,
]
