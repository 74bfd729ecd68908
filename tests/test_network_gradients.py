"""Network.gradients and nnkit.testing.check_network_gradients: the loss, every parameter's
gradient and the input gradient of a batch, nothing updated, safe beside fit."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import nnkit
from nnkit.errors import ConfigurationError
from nnkit.testing import check_network_gradients


def _data(shape=(5,), n=12, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, *shape))
    y = rng.integers(0, classes, size=n)
    return X, y


# Every layer stack the docs use, small enough for finite differences.
STACKS = {
    "dense_softmax_cross_entropy": (
        lambda: [nnkit.Dense(6, activation="tanh"), nnkit.Dense(3, activation="softmax")],
        "cross_entropy",
        (5,),
    ),
    "dense_relu_mse_l2": (
        lambda: [nnkit.Dense(7, activation="relu", l2=0.1), nnkit.Dense(3)],
        "mse",
        (5,),
    ),
    "dropout_activation_reshape_flatten": (
        lambda: [
            nnkit.Dense(8),
            nnkit.layer("activation", activation="sigmoid"),
            nnkit.layer("dropout", rate=0.5),
            nnkit.layer("reshape", shape=(2, -1)),
            nnkit.layer("flatten"),
            nnkit.Dense(3, activation="softmax"),
        ],
        "cross_entropy",
        (5,),
    ),
    "residual": (
        lambda: [
            nnkit.Dense(5, activation="tanh"),
            nnkit.layer("residual", layers=[nnkit.Dense(5, activation="tanh")]),
            nnkit.Dense(3, activation="softmax"),
        ],
        "cross_entropy",
        (5,),
    ),
    "conv2d_pool": (
        lambda: [
            nnkit.layer("conv2d", filters=2, kernel_size=3, padding="same", activation="tanh"),
            nnkit.layer("max_pool2d", pool_size=2),
            nnkit.layer("flatten"),
            nnkit.Dense(3, activation="softmax"),
        ],
        "cross_entropy",
        (1, 4, 4),
    ),
}


@pytest.mark.parametrize("name", sorted(STACKS))
def test_every_documented_stack_passes_the_network_gradient_check(name):
    layers, loss, shape = STACKS[name]
    net = nnkit.Network(layers(), loss=loss, seed=1, dtype="float64")
    X, y = _data(shape)
    if loss == "mse":
        y = np.random.default_rng(2).normal(size=(X.shape[0], 3))
    check_network_gradients(net, X, y)


def test_weighted_samples_pass_the_check():
    net = nnkit.Network(
        [nnkit.Dense(4, activation="tanh"), nnkit.Dense(3, activation="softmax")],
        loss="cross_entropy", seed=0, dtype="float64",
    )
    X, y = _data()
    check_network_gradients(net, X, y, sample_weight=np.linspace(0.5, 2.0, X.shape[0]))


def test_the_check_catches_a_wrong_gradient(monkeypatch):
    net = nnkit.Network([nnkit.Dense(4, activation="tanh"), nnkit.Dense(2)], loss="mse",
                        seed=0, dtype="float64")
    X = np.random.default_rng(0).normal(size=(6, 3))
    Y = np.random.default_rng(1).normal(size=(6, 2))
    original = nnkit.Dense.backward

    def doubled(self, dy, ws, need_input_gradient=True):
        result = original(self, dy, ws, need_input_gradient)
        self.grads["b"] *= 2
        return result

    monkeypatch.setattr(nnkit.Dense, "backward", doubled)
    with pytest.raises(AssertionError, match=r"db"):
        check_network_gradients(net, X, Y)


def test_the_check_refuses_float32_with_advice():
    net = nnkit.Network([nnkit.Dense(2)], loss="mse")
    with pytest.raises(ConfigurationError, match="float64"):
        check_network_gradients(net, np.ones((2, 3)), np.ones((2, 2)))


def test_gradients_match_the_training_step_and_update_nothing():
    net = nnkit.Network(
        [nnkit.Dense(6, activation="relu", l2=0.01), nnkit.Dense(3, activation="softmax")],
        loss="cross_entropy", optimizer="adam", seed=0, dtype="float64",
    )
    X, y = _data()
    net.build(5)
    before = net.get_weights()
    state_before = {k: v.copy() for k, v in net.optimizer_state.items()}
    shared_grads_before = net.store.grads.copy()
    result = net.gradients(X, y)

    for old, new in zip(before, net.get_weights()):
        np.testing.assert_array_equal(old, new)
    for key, value in state_before.items():
        np.testing.assert_array_equal(value, net.optimizer_state[key])
    np.testing.assert_array_equal(shared_grads_before, net.store.grads)

    assert result.loss == pytest.approx(net.evaluate(X, y)["loss"], rel=1e-12)
    assert [g.shape for g in result.weights] == [w.shape for w in before]
    assert result.inputs is not None and result.inputs.shape == X.shape
    assert result.layers[1]["b"] is result.weights[3]

    # The same gradient the training step computes into the shared array.
    from nnkit.training.inputs import prepare

    data = prepare(net, X, y)
    workspace = nnkit.Workspace()
    A = net.forward(data.X, workspace, training=True)
    net.backward(A, data.Y, workspace)
    np.testing.assert_allclose(np.concatenate([g.ravel() for g in result.weights]),
                               net.store.grads, rtol=1e-12, atol=1e-15)


def test_results_are_arrays_of_their_own():
    net = nnkit.Network([nnkit.Dense(3), nnkit.Dense(2)], loss="mse", seed=0)
    X = np.ones((4, 3))
    first = net.gradients(X, np.zeros((4, 2)))
    kept = [g.copy() for g in first.weights] + [first.inputs.copy()]
    net.gradients(X * 3, np.ones((4, 2)))
    for old, now in zip(kept, [*first.weights, first.inputs]):
        np.testing.assert_array_equal(old, now)


def test_a_training_mode_call_leaves_every_layer_state_unchanged():
    pytest.importorskip("nnkit_extras")
    net = nnkit.Network(
        [nnkit.Dense(4), nnkit.layer("batch_norm", momentum=0.5), nnkit.Dense(2)],
        loss="mse", seed=0,
    )
    X = np.random.default_rng(0).normal(size=(8, 3))
    Y = np.zeros((8, 2))
    net.build(3)
    bn = net.layers[1]
    state = {k: v.copy() for k, v in bn.state().items()}
    net.gradients(X * 5 + 3, Y, training=True)
    net.update()  # the next optimizer step commits what training computed: nothing here
    for key, value in state.items():
        np.testing.assert_array_equal(value, bn.state()[key])


def test_dropout_noise_of_the_network_is_not_consumed():
    net = nnkit.Network([nnkit.Dense(6), nnkit.layer("dropout", rate=0.5), nnkit.Dense(2)],
                        loss="mse", seed=3)
    X, Y = np.ones((5, 4)), np.zeros((5, 2))
    twin = nnkit.Network([nnkit.Dense(6), nnkit.layer("dropout", rate=0.5), nnkit.Dense(2)],
                         loss="mse", seed=3)
    net.gradients(X, Y, training=True)
    net.fit(X, Y, epochs=2, verbose=0, shuffle=False)
    twin.fit(X, Y, epochs=2, verbose=0, shuffle=False)
    for a, b in zip(net.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)


def _classifier():
    return nnkit.Network(
        [nnkit.Dense(16, activation="tanh"), nnkit.Dense(3, activation="softmax")],
        loss="cross_entropy", optimizer="adam", seed=0, dtype="float64",
    )


def test_a_call_between_backward_and_update_leaves_the_shared_gradient_alone():
    X, y = _data(n=16)
    seen = []

    class Paused(nnkit.Network):
        def train_step(self, X, Y, workspace, sample_weight=None, *clip):
            A = self.forward(X, workspace, training=True)
            loss = self.batch_loss(A, Y, sample_weight)
            self.backward(A, Y, workspace, sample_weight)
            computed = self.store.grads.copy()
            other = threading.Thread(target=lambda: seen.append(self.gradients(X * 2, Y)))
            other.start()
            other.join()
            np.testing.assert_array_equal(computed, self.store.grads)
            self.update()
            return A, loss

    net = Paused([nnkit.Dense(4, activation="tanh"), nnkit.Dense(3, activation="softmax")],
                 loss="cross_entropy", seed=0, dtype="float64")
    net.fit(X, y, epochs=1, batch_size=8, verbose=0)
    assert len(seen) == 2


def test_gradients_beside_fit_in_another_thread_use_the_weights_of_one_step():
    net = _classifier()
    X, y = _data(n=64)
    net.build(5)
    steps = [net.get_weights()]

    class Recorder(nnkit.Callback):
        def on_batch_end(self, batch, logs=None):
            steps.append(net.get_weights())

    results = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def probe():
        try:
            while not stop.is_set() and len(results) < 40:
                results.append(net.gradients(X[:8], y[:8]))
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    thread = threading.Thread(target=probe)
    thread.start()
    net.fit(X, y, epochs=10, batch_size=8, verbose=0, callbacks=[Recorder()])
    stop.set()
    thread.join()
    assert not errors, errors
    assert results

    reference = _classifier()
    reference.build(5)
    by_loss = {}
    for weights in steps:
        reference.set_weights(weights)
        expected = reference.gradients(X[:8], y[:8])
        by_loss[expected.loss] = expected
    for result in results:
        # Each result is exactly the gradient at the weights of some step, never a mix.
        expected = by_loss[result.loss]
        for found, wanted in zip(result.weights, expected.weights):
            np.testing.assert_array_equal(found, wanted)


def _branching(loss: str = "mse") -> nnkit.Network:
    x = nnkit.Input(shape=(3,), name="x")
    a = nnkit.Dense(4, activation="tanh")(x)
    b = nnkit.Dense(4, activation="sigmoid")(x)
    y = nnkit.Dense(2)(nnkit.layer("add")([a, b]))
    return nnkit.Network(inputs=x, outputs=y, loss=loss, seed=0, dtype="float64")


def test_a_branching_graph_has_the_gradients_of_finite_differences():
    X = np.random.default_rng(0).normal(size=(6, 3))
    Y = np.random.default_rng(1).normal(size=(6, 2))
    net = _branching()
    check_network_gradients(net, X, Y)
    found = net.gradients(X, Y)
    assert found.inputs.shape == X.shape and np.any(found.inputs)


def test_a_branching_graph_gives_the_gradient_fit_steps_along():
    X = np.random.default_rng(2).normal(size=(8, 3))
    Y = np.random.default_rng(3).normal(size=(8, 2))
    net = _branching()
    net.optimizer = nnkit.optimizer("sgd", learning_rate=0.1)
    net.build(3)
    before = net.get_weights()
    expected = net.gradients(X, Y)
    net.fit(X, Y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for old, new, gradient in zip(before, net.get_weights(), expected.weights):
        np.testing.assert_allclose(new, old - 0.1 * gradient, rtol=1e-12, atol=1e-15)


def test_a_shared_layer_and_several_inputs_and_outputs():
    left, right = nnkit.Input(shape=(3,), name="left"), nnkit.Input(shape=(3,), name="right")
    shared = nnkit.Dense(4, activation="tanh", l2=0.01)
    apart = nnkit.layer("subtract")([shared(left), shared(right)])
    score = nnkit.Dense(1)(apart)
    kind = nnkit.Dense(3, activation="softmax")(apart)
    net = nnkit.Network(
        inputs=[left, right], outputs={"score": score, "kind": kind},
        loss={"score": "mse", "kind": "cross_entropy"}, loss_weights={"score": 0.5, "kind": 2.0},
        seed=0, dtype="float64",
    )
    rng = np.random.default_rng(4)
    X = {"left": rng.normal(size=(5, 3)), "right": rng.normal(size=(5, 3))}
    y = {"score": rng.normal(size=(5, 1)), "kind": rng.integers(0, 3, size=5)}
    check_network_gradients(net, X, y)
    found = net.gradients(X, y)
    assert set(found.inputs) == {"left", "right"}
    assert found.inputs["left"].shape == (5, 3) and np.any(found.inputs["right"])
    assert found.loss == pytest.approx(net.evaluate(X, y)["loss"])


def test_a_graph_of_codes_has_no_input_gradient_for_them():
    codes = nnkit.Input(shape=(4,), name="codes")
    embedded = nnkit.layer("embedding", input_dim=6, output_dim=3)(codes)
    joined = nnkit.layer("add")([nnkit.Dense(3)(embedded), embedded])
    out = nnkit.Dense(2, activation="softmax")(nnkit.layer("flatten")(joined))
    net = nnkit.Network(inputs=codes, outputs=out, loss="cross_entropy", seed=0,
                        dtype="float64")
    X = np.random.default_rng(5).integers(0, 6, size=(5, 4)).astype(float)
    y = np.arange(5) % 2
    check_network_gradients(net, X, y)
    assert net.gradients(X, y).inputs is None


def test_a_graph_with_a_mask_input_checks_the_steps_and_leaves_the_mask_out():
    steps, given = nnkit.Input(shape=(4, 2), name="steps"), nnkit.Input(shape=(4,), name="real")
    hidden = nnkit.Dense(3, activation="tanh")(nnkit.layer("apply_mask")([steps, given]))
    out = nnkit.Dense(2, activation="softmax")(hidden)
    net = nnkit.Network(inputs=[steps, given], outputs=out, loss="cross_entropy", seed=0,
                        dtype="float64")
    rng = np.random.default_rng(6)
    real = np.ones((5, 4))
    real[1, 2:] = real[3, 1:] = 0
    X = {"steps": rng.normal(size=(5, 4, 2)), "real": real}
    y = rng.integers(0, 2, size=(5, 4))
    check_network_gradients(net, X, y)
    found = net.gradients(X, y).inputs
    assert found["real"] is None
    assert not np.any(found["steps"][real == 0]) and np.any(found["steps"][real == 1])
