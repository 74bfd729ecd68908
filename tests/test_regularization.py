"""L2 penalties, decoupled weight decay, gradient clipping, dropout, sample and class weights."""

from __future__ import annotations

import numpy as np
import pytest

import nnkit
from nnkit.interfaces.workspace import Workspace
from nnkit.training.loop import clip_gradients

from .test_gradients import numeric_gradient

RNG = np.random.default_rng(0)
X = RNG.normal(size=(12, 4))
LABELS = np.arange(12) % 3
Y = np.eye(3)[LABELS]  # (samples, outputs), as every interface takes them


def network(l2=0.0, optimizer="sgd", layers=None):
    layers = layers or [
        nnkit.Dense(5, activation="tanh", l2=l2),
        nnkit.Dense(3, activation="softmax", l2=l2),
    ]
    return nnkit.Network(
        layers, loss="cross_entropy", optimizer=optimizer, seed=0, dtype="float64"
    ).build(4)


def gradients(net, Y=Y, weights=None):
    workspace = Workspace()
    net.backward(net.forward(X, workspace, training=True), Y, workspace, weights)
    return net.store.grads.copy()


def test_l2_adds_l2_times_W_to_weight_gradients_and_nothing_to_biases():
    plain, penalised = network(), network(l2=0.3)
    difference = gradients(penalised) - gradients(plain)
    expected = np.concatenate(
        [
            np.concatenate([0.3 * W.ravel(), np.zeros(b.size)])
            for W, b in zip(plain.get_weights()[::2], plain.get_weights()[1::2])
        ]
    )
    np.testing.assert_allclose(difference, expected, atol=1e-12)


def test_l2_penalty_is_in_the_loss_and_its_gradient_matches():
    net = network(l2=0.3)
    A = net.forward(X)
    W1, _, W2, _ = net.get_weights()
    penalty = 0.15 * (np.sum(W1**2) + np.sum(W2**2))
    assert net.batch_loss(A, Y) == pytest.approx(net.loss.value(A, Y) + penalty)

    def total(params):
        net.store.values[...] = params
        return net.batch_loss(net.forward(X), Y)

    params = net.store.values.copy()
    expected = numeric_gradient(total, params.copy())
    net.store.values[...] = params
    np.testing.assert_allclose(gradients(net), expected, rtol=1e-5, atol=1e-8)


def test_adamw_decays_weights_decoupled_from_the_gradient():
    adam = nnkit.optimizer("adam", learning_rate=0.1)
    adamw = nnkit.optimizer("adamw", learning_rate=0.1, weight_decay=0.2)
    params = np.linspace(-1, 1, 6)
    grads = np.linspace(0.5, -0.5, 6)
    a, b = params.copy(), params.copy()
    adam.update(a, grads.copy(), adam.init_state(a))
    adamw.update(b, grads.copy(), adamw.init_state(b))
    shrunk = params * (1 - 0.1 * 0.2)
    adam.update(shrunk, grads.copy(), adam.init_state(shrunk))
    np.testing.assert_allclose(b, shrunk)
    assert not np.allclose(a, b)
    # With zero gradients only the decay acts.
    c = params.copy()
    adamw.update(c, np.zeros(6), adamw.init_state(c))
    np.testing.assert_allclose(c, params * 0.98)


def test_clip_by_value_and_by_norm():
    grads = np.array([3.0, -4.0, 0.5])
    clip_gradients(grads, None, 1.0)
    np.testing.assert_array_equal(grads, [1.0, -1.0, 0.5])
    grads = np.array([3.0, 4.0])
    clip_gradients(grads, 1.0, None)
    np.testing.assert_allclose(grads, [0.6, 0.8])
    small = np.array([0.3, 0.4])
    clip_gradients(small, 1.0, None)
    np.testing.assert_array_equal(small, [0.3, 0.4])  # within the norm: untouched


def test_clip_norm_bounds_every_step_of_fit():
    class StepSizes(nnkit.Callback):
        def on_train_begin(self):
            self.steps, self.previous = [], self.network.store.values.copy()

        def on_batch_end(self, batch, logs):
            now = self.network.store.values
            self.steps.append(np.linalg.norm(now - self.previous))
            self.previous = now.copy()

    recorder = StepSizes()
    net = nnkit.Network(
        [nnkit.Dense(3, activation="softmax")],
        loss="cross_entropy",
        optimizer=nnkit.optimizer("sgd", learning_rate=1.0),
        seed=0,
        dtype="float64",
    )
    net.fit(
        X * 100, LABELS, epochs=2, batch_size=4, clip_norm=0.01, callbacks=[recorder], verbose=0
    )
    assert max(recorder.steps) <= 0.01 + 1e-12  # sgd step = learning_rate * clipped gradient
    with pytest.raises(nnkit.ConfigurationError, match="clip_norm must be a finite number > 0"):
        net.fit(X, LABELS, clip_norm=0, verbose=0)


def test_dropout_is_the_identity_at_inference():
    dropout = nnkit.layer("dropout", rate=0.4)
    net = network(
        layers=[nnkit.Dense(5, activation="tanh"), dropout, nnkit.Dense(3, activation="softmax")]
    )
    without = network(
        layers=[nnkit.Dense(5, activation="tanh"), nnkit.Dense(3, activation="softmax")]
    )
    without.set_weights(net.get_weights())
    np.testing.assert_array_equal(net.predict(X), without.predict(X))


def test_dropout_zeroes_at_the_rate_and_scales_the_rest_while_training():
    dropout = nnkit.layer("dropout", rate=0.25)
    dropout.build((200,), np.random.default_rng(1))
    x = np.ones((500, 200), dtype=np.float32)
    out = dropout.forward(x, Workspace(), training=True)
    assert out.dtype == np.float32
    assert np.mean(out == 0) == pytest.approx(0.25, abs=0.01)
    np.testing.assert_allclose(out[out != 0], 1 / 0.75)
    assert out.mean() == pytest.approx(1.0, abs=0.02)  # inverted dropout keeps the expectation


def test_dropout_backward_matches_finite_differences_with_a_fixed_mask():
    dropout = nnkit.layer("dropout", rate=0.5)
    x, dy = RNG.normal(size=(6, 4)), RNG.normal(size=(6, 4))
    workspace = Workspace()

    def fixed_mask_forward(x):
        dropout.build((4,), np.random.default_rng(7))  # same seed: the same mask every call
        return dropout.forward(x, workspace, training=True)

    expected = numeric_gradient(lambda x: np.sum(dy * fixed_mask_forward(x)), x.copy())
    fixed_mask_forward(x)
    np.testing.assert_allclose(dropout.backward(dy, workspace), expected, rtol=1e-6, atol=1e-9)
    assert 0 < np.mean(expected == 0) < 1


def test_dropout_masks_are_seeded_by_the_network():
    def train(seed):
        net = nnkit.Network(
            [
                nnkit.Dense(8, activation="relu"),
                nnkit.layer("dropout", rate=0.5),
                nnkit.Dense(3, activation="softmax"),
            ],
            loss="cross_entropy",
            seed=seed,
        )
        net.fit(X, LABELS, epochs=3, batch_size=4, verbose=0)
        return net.get_weights()[0]

    np.testing.assert_array_equal(train(5), train(5))
    assert not np.array_equal(train(5), train(6))


def test_sample_weights_scale_each_samples_loss_and_gradient():
    net = network()
    weights = np.linspace(0, 2, 12)
    A = net.forward(X)
    per_sample = net.loss.per_sample(A, Y)
    assert net.batch_loss(A, Y, weights) == pytest.approx(np.mean(weights * per_sample))

    def weighted(params):
        net.store.values[...] = params
        return net.batch_loss(net.forward(X), Y, weights)

    params = net.store.values.copy()
    expected = numeric_gradient(weighted, params.copy())
    net.store.values[...] = params
    np.testing.assert_allclose(
        gradients(net, weights=weights), expected, rtol=1e-5, atol=1e-8
    )


def test_class_weights_change_the_loss_as_specified():
    net = network()
    history = net.fit(
        X, LABELS, epochs=1, batch_size=12, shuffle=False, class_weight={0: 3.0, 2: 0.5}, verbose=0
    )
    fresh = network()
    A = fresh.forward(X)
    per_class = np.array([3.0, 1.0, 0.5])[LABELS]
    expected = np.mean(per_class * fresh.loss.per_sample(A, Y))
    assert history.history["loss"][0] == pytest.approx(expected)


def test_class_and_sample_weights_multiply_and_zero_weight_samples_are_ignored():
    a, b = network(), network()
    keep = LABELS != 1
    a.fit(
        X,
        LABELS,
        epochs=3,
        batch_size=12,
        shuffle=False,
        sample_weight=keep * 2.0,
        class_weight={0: 0.5, 2: 0.5},
        verbose=0,
    )
    b.fit(X[keep], LABELS[keep], epochs=3, batch_size=12, shuffle=False, verbose=0)
    # Same data but a: 12 columns with 4 at weight zero; the mean divides by 12, not 8.
    # So a's steps are 8/12 of b's: compare with b trained at that learning rate.
    c = network(optimizer=nnkit.optimizer("sgd", learning_rate=0.01 * 8 / 12))
    c.fit(X[keep], LABELS[keep], epochs=3, batch_size=12, shuffle=False, verbose=0)
    np.testing.assert_allclose(a.store.values, c.store.values, rtol=1e-10)
    assert not np.allclose(a.store.values, b.store.values)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"sample_weight": np.ones(5)}, r"sample_weight has shape \(5,\) but there are 12 samples"),
        ({"sample_weight": -np.ones(12)}, "negative"),
        ({"sample_weight": np.full(12, np.nan)}, "NaN"),
        ({"class_weight": [1, 2]}, "class_weight must be a dict"),
        ({"class_weight": {5: 1.0}}, "names class 5, but the targets have classes 0..2"),
        ({"class_weight": {"a": 1.0}}, "keys must be integer class labels"),
        ({"class_weight": {0: -1.0}}, "must be a number >= 0"),
    ],
)
def test_bad_weights_are_rejected(options, message):
    with pytest.raises(nnkit.DataError, match=message):
        network().fit(X, LABELS, verbose=0, **options)
