"""Checks of a layer: its gradients, shapes, dtypes, state and randomness.

A layer is checked on its own, wired as the network wires it: built for its example
sample shape, bound to views of one flat parameter array, initialised, then run forward
and backward with a workspace per call.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from nnkit.interfaces.layer import walk
from nnkit.interfaces.workspace import Workspace
from nnkit.testing.harness import LayerHarness
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
        harness = LayerHarness(first, dtype=self.dtype, seed=SEED)
        self.input_shape, self.output_shape = harness.input_shape, harness.output_shape
        self.store = harness.store
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
    _check_gradients(Rig(subject.make), "")


def layer_gradients_at_random_parameters(subject: Subject) -> None:
    """The gradients of `layer_gradients` again, at random parameters and a random
    state: initial values such as a scale of 1 or a running variance of 1 hide a
    ``backward`` that leaves them out."""
    rig = Rig(subject.make)
    _randomise(rig, np.random.default_rng(SEED + 2))
    try:
        _check_gradients(rig, " at random parameters")
    except AssertionError as failure:
        raise AssertionError(
            f"{failure}; at the initial parameters they agree, so backward leaves out a "
            "parameter or state whose initial value hides it (a scale of 1, a shift of 0): "
            "use the current value of each"
        ) from None


def layer_penalty_gradient(subject: Subject) -> None:
    """``backward`` adds the gradient of ``penalty()`` (part of the loss) to the
    parameter gradients: with ``dy = 0`` they equal finite differences of ``penalty()``
    alone, at random parameters."""
    rig = Rig(subject.make)
    if not rig.store.size:
        return
    _randomise(rig, np.random.default_rng(SEED + 3))
    x, dy = rig.inputs(seed=1)
    layer = rig.layer()
    workspace = Workspace()
    layer.forward(x, workspace, True)
    layer.backward(np.zeros_like(dy), workspace, need_input_gradient=False)
    grads = rig.store.grads.copy()

    def penalty() -> float:
        return float(sum(node.penalty() for node in walk([layer])))

    indices, expected = numeric_gradient(penalty, rig.store.values)
    try:
        assert_close(
            grads[indices], expected, "parameter gradients for dy = 0 against penalty()"
        )
    except AssertionError as failure:
        raise AssertionError(
            f"{failure}; backward leaves out the gradient of penalty(): add it to grads, "
            "as the penalty is part of the loss"
        ) from None


def _check_gradients(rig: Rig, where: str) -> None:
    """`layer_gradients` at the rig's current parameters and state."""
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
            what = f"input gradient ({mode}){where} against finite differences"
            assert_close(dx.reshape(-1)[indices], expected, what)
        else:
            assert_close(dx, np.zeros_like(x), f"input gradient ({mode}) of codes", 0, 0)
        if rig.store.size:
            indices, expected = numeric_gradient(objective, rig.store.values)
            assert_close(
                grads[indices],
                expected,
                f"parameter gradients ({mode}){where} against finite differences",
            )


def _randomise(rig: Rig, rng: np.random.Generator) -> None:
    """Move the rig's parameters and floating-point state away from their initial
    values: each scaled by a factor in [0.5, 1.5] and shifted a little (state shifted up
    only, so a variance stays positive). A state the layer's `check_state` refuses is
    left as it was."""
    values = rig.store.values
    values[...] = values * rng.uniform(0.5, 1.5, values.shape) + rng.normal(0, 0.1, values.shape)
    state = {}
    for key, value in rig.state.items():
        if np.issubdtype(value.dtype, np.floating):
            moved = value * rng.uniform(0.5, 2.0, value.shape) + rng.uniform(0, 0.5, value.shape)
            value = moved.astype(value.dtype)
        state[key] = value
    try:
        rig.example.check_state(state)
    except ValueError:
        return
    rig.state = state


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
        # Kept uncopied, as the next layer of each call holds them: an array the layer
        # keeps on itself (an output buffer) is overwritten by the other call.
        y1 = layer.forward(x1, first, training)
        y2 = layer.forward(x2, second, training)
        found, gradients = [], []
        for dy, workspace, y in ((dy1, first, y1), (dy2, second, y2)):
            dx = layer.backward(dy, workspace, True)
            gradients.append(dx)
            found.append((y, np.array(dx, copy=True), rig.store.grads.copy()))
        mode = "training" if training else "inference"
        for call, (want, got) in enumerate(zip(expected, found), start=1):
            for what, a, b in zip(("output", "input gradient", "parameter gradients"), got, want):
                _assert_unshared(a, b, f"call {call}'s {what} ({mode}) when interleaved")
        what = f"call 1's input gradient ({mode}) after call 2's"
        _assert_unshared(gradients[0], found[0][1], what)


def _assert_unshared(found: np.ndarray, expected: np.ndarray, what: str) -> None:
    try:
        assert_close(found, expected, what, 0, 0)
    except AssertionError as failure:
        raise AssertionError(
            f"{failure}; keep each call's arrays (saved inputs, output and scratch buffers) "
            "in its workspace (ws.x = x, ws.buffer(...)), never on self"
        ) from None


#: How long `layer_concurrent_calls` lets its threads run, in seconds.
THREAD_SECONDS = 0.2
#: The training calls it records alone first, to compare the threaded ones with.
TRAINING_ROUNDS = 20


def layer_concurrent_calls(subject: Subject) -> None:
    """One thread trains (``forward`` and ``backward``) while two predict, each with its
    own workspace and batch size, as ``fit`` beside ``predict`` runs: every call gives
    exactly what it gives alone. (A layer whose training moves its state, running
    statistics, is trained at inference here, as its predictions move with the state.)"""
    rig = Rig(subject.make)
    x, dy = rig.inputs(seed=31)
    training = _training_keeps_state(rig, x)
    readers = []
    # The trainer's batch size, whose buffers a layer would share, and another one,
    # which makes a buffer kept on self change shape under the other threads.
    for extra in (0, 2):
        rng = np.random.default_rng(40 + extra)
        batch = rig.example.example_input((BATCH + extra, *rig.input_shape), rng)
        batch = np.asarray(batch).astype(rig.dtype)
        readers.append((batch, np.array(rig.layer().forward(batch, Workspace(), False), copy=True)))
    alone, rounds = rig.layer(), []
    for _ in range(TRAINING_ROUNDS):  # alone, in turn: a layer's random draws included
        workspace = Workspace()
        y = np.array(alone.forward(x, workspace, training), copy=True)
        dx = np.array(alone.backward(dy, workspace, True), copy=True)
        rounds.append((y, dx, rig.store.grads.copy()))
    # A layer that gives the same each time trains until the deadline; one that draws
    # random numbers (dropout) makes the rounds recorded alone, in order.
    repeats = all(_same_arrays(rounds[0], later) for later in rounds[1:])
    layer, failures = rig.layer(), []
    start, done = threading.Barrier(3), threading.Event()
    deadline = 0.0

    def train() -> None:
        nonlocal deadline
        workspace = Workspace()
        try:
            start.wait()
            deadline = time.monotonic() + THREAD_SECONDS
            round_ = 0
            while round_ < len(rounds) or (repeats and time.monotonic() < deadline):
                y_want, dx_want, grads_want = rounds[round_ % len(rounds)]
                round_ += 1
                what = f"training call {round_} beside two predicting threads"
                y = layer.forward(x, workspace, training)
                time.sleep(0)  # let the others run while the output is in use, as a network does
                _assert_unshared(y, y_want, f"{what}: output")
                dx = layer.backward(dy, workspace, True)
                time.sleep(0)
                _assert_unshared(dx, dx_want, f"{what}: input gradient")
                _assert_unshared(rig.store.grads, grads_want, f"{what}: parameter gradients")
        except Exception as error:  # noqa: BLE001 - reported as the check's failure
            failures.append(error)
        finally:
            done.set()

    def predict(batch: np.ndarray, want: np.ndarray) -> None:
        workspace = Workspace()
        try:
            start.wait()
            while not done.is_set():
                y = layer.forward(batch, workspace, False)
                time.sleep(0)
                what = f"a prediction of {len(batch)} samples beside a training thread"
                _assert_unshared(y, want, what)
        except Exception as error:  # noqa: BLE001 - reported as the check's failure
            failures.append(error)

    threads = [threading.Thread(target=train)]
    threads += [threading.Thread(target=predict, args=reader) for reader in readers]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    if failures:
        failure = failures[0]
        if isinstance(failure, AssertionError):
            raise failure
        raise AssertionError(
            f"under threads, a call raised {type(failure).__name__}: {failure}; keep each "
            "call's arrays (saved inputs, output and scratch buffers) in its workspace "
            "(ws.x = x, ws.buffer(...)), never on self"
        )


def _same_arrays(first: tuple[np.ndarray, ...], second: tuple[np.ndarray, ...]) -> bool:
    return all(np.array_equal(a, b) for a, b in zip(first, second))


def _training_keeps_state(rig: Rig, x: np.ndarray) -> bool:
    """Whether a training call leaves the layer's state as it was."""
    layer = rig.layer()
    before = {key: np.array(value, copy=True) for key, value in layer.state().items()}
    layer.forward(x, Workspace(), True)
    after = layer.state()
    return before.keys() == after.keys() and all(
        np.array_equal(before[key], after[key]) for key in before
    )


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


def _random_mask(rng: np.random.Generator, steps: int) -> np.ndarray:
    """A mask ``(BATCH, steps)`` of random real and padded positions, each sequence with
    at least one of each when it has two steps or more (the first sequence all real)."""
    mask = rng.random((BATCH, steps)) < 0.6
    mask[0] = True
    mask[1:, rng.integers(0, steps)] = True
    if steps > 1:
        for row in mask[1:]:
            if row.all():
                row[rng.integers(0, steps)] = False
    return mask


def _spread(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A mask ``(m, T)`` as booleans of ``shape`` ``(m, T, ...)``, each position's entries
    alike."""
    return np.broadcast_to(mask.reshape(*mask.shape, *(1,) * (len(shape) - 2)), shape)


def layer_masked_positions(subject: Subject) -> None:
    """A layer that declares masking (`Layer.supports_masking`), on sequences (samples
    ``(T, ...)``, or codes ``(T,)``) given a random mask of padded positions: masked
    positions of its input get no gradient (a layer that gives them some fails with
    "masked positions given gradient"), its real outputs do not change when the masked
    inputs change, and the input gradient at the real positions equals finite
    differences, which probe the real positions only (padding entries are not
    differentiable). The upstream gradient is zero at the masked positions of the
    output, as a loss gives it."""
    rig = Rig(subject.make)
    sequence = len(rig.input_shape) >= 2 or not rig.example.differentiable_input
    if not rig.example.supports_masking or not sequence:
        return
    rng = np.random.default_rng(SEED + 4)
    x, dy = rig.inputs(seed=4)
    mask = _random_mask(rng, rig.input_shape[0])
    padded = ~_spread(mask, x.shape)
    out_mask = rig.layer().compute_mask(x, mask)
    if out_mask is not None:
        if out_mask.shape != mask.shape:
            raise AssertionError(
                f"compute_mask returned a mask of shape {out_mask.shape} for an input mask "
                f"of shape {mask.shape}: a mask has one entry per position, (samples, steps)"
            )
        dy = dy * _spread(out_mask, dy.shape)

    def run(inputs: np.ndarray) -> np.ndarray:
        layer, ws = rig.layer(), Workspace()
        ws.mask = mask
        return np.array(layer.forward(inputs, ws, True), copy=True)

    layer, ws = rig.layer(), Workspace()
    ws.mask = mask
    layer.forward(x, ws, True)
    dx = layer.backward(dy, ws, need_input_gradient=True)
    if dx is None:
        raise AssertionError("backward(dy, ws, need_input_gradient=True) returned None")
    dx = np.array(dx, copy=True)
    if np.any(dx[padded]):
        where = tuple(int(i) for i in np.argwhere(padded & (dx != 0))[0])
        raise AssertionError(
            f"masked positions given gradient: the input gradient at {where}, a padded "
            f"position, is {float(dx[where]):.6g}, not 0; a layer that supports masking "
            "reads ws.mask and lets padding neither reach real outputs nor take gradient"
        )
    changed = x.copy()
    fresh = np.asarray(rig.example.example_input(x.shape, rng), dtype=x.dtype)
    changed[padded] = fresh[padded]
    before, after = run(x), run(changed)
    real_out = np.ones(before.shape, bool) if out_mask is None else _spread(out_mask, before.shape)
    assert_close(after[real_out], before[real_out], "real outputs after masked inputs changed",
                 0, 0)
    if not layer.differentiable_input:
        return
    real_in = ~padded
    if out_mask is not None:  # a layer that masks more (masking) is not differentiable there
        real_in = real_in & _spread(out_mask, x.shape)

    def objective() -> float:
        return float(np.sum(dy * run(x)))

    indices, expected = numeric_gradient(objective, x, among=np.flatnonzero(real_in))
    assert_close(dx.reshape(-1)[indices], expected,
                 "input gradient at real positions, masked, against finite differences")


#: In order: a mutated input or a wrong dtype would make the later checks' reports confusing.
CHECKS = [
    layer_inputs_unchanged,
    layer_shape_and_dtype,
    layer_penalty_gradient,
    layer_gradients,
    layer_gradients_at_random_parameters,
    layer_masked_positions,
    layer_samples_independent,
    layer_interleaved_calls,
    layer_concurrent_calls,
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
        node.commit_state()


CHECKS.append(layer_state_changes_only_in_commit)
