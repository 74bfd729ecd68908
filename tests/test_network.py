"""The network end to end: it learns, it is reproducible, and its API behaves as documented."""

from __future__ import annotations

import io

import numpy as np
import pytest

import nnkit
from nnkit.data.split import train_test_split

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=float)


def digits_network(seed=0, **kwargs):
    return nnkit.Network(
        [nnkit.Dense(64, activation="relu"), nnkit.Dense(10, activation="softmax")],
        loss="cross_entropy",
        optimizer=nnkit.optimizer("adam", learning_rate=1e-3),
        seed=seed,
        **kwargs,
    )


def test_the_seeds_xor_learns_with_plain_gradient_descent():
    # The seed's setting: sigmoid layers, squared error, full-batch gradient descent.
    net = nnkit.Network(
        [nnkit.Dense(3, activation="sigmoid"), nnkit.Dense(1, activation="sigmoid")],
        loss="mse",
        optimizer=nnkit.optimizer("sgd", learning_rate=2.0),
        seed=1,
    )
    history = net.fit(XOR_X, XOR_Y, epochs=3000, batch_size=4, shuffle=False, verbose=0)
    assert history.history["loss"][-1] < 0.01 < history.history["loss"][0]
    np.testing.assert_array_equal(net.predict(XOR_X).round(), XOR_Y)


def test_default_digits_network_reaches_95_percent_on_a_held_out_quarter():
    X, y = nnkit.datasets.load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=0)
    net = digits_network()
    net.fit(X_train, y_train, epochs=50, batch_size=32, verbose=0)
    scores = net.evaluate(X_test, y_test)
    assert scores["accuracy"] >= 0.95
    predicted = net.predict(X_test).argmax(axis=1)
    assert np.mean(predicted == y_test) == pytest.approx(scores["accuracy"])


def test_same_seed_gives_the_same_result_and_another_seed_does_not():
    X, y = nnkit.datasets.load_digits()
    runs = []
    for seed in (3, 3, 4):
        net = digits_network(seed=seed)
        net.fit(X[:300], y[:300], epochs=2, verbose=0)
        runs.append(net.predict(X[300:310]))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_history_has_train_and_validation_loss_and_accuracy_per_epoch():
    X, y = nnkit.datasets.load_digits()
    net = digits_network()
    history = net.fit(X[:400], y[:400], epochs=3, validation_split=0.25, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 3 for values in history.history.values())
    assert history.epoch == [1, 2, 3]
    assert net.history is history
    assert history.history["loss"][2] < history.history["loss"][0]


def test_validation_split_takes_the_last_samples_before_shuffling():
    X, y = nnkit.datasets.load_digits()
    net = digits_network()
    history = net.fit(X[:400], y[:400], epochs=1, validation_split=0.25, verbose=0)
    expected = net.evaluate(X[300:400], y[300:400])
    assert history.history["val_loss"][0] == pytest.approx(expected["loss"], rel=1e-5)
    assert history.history["val_accuracy"][0] == pytest.approx(expected["accuracy"])


def test_validation_data_is_evaluated_after_each_epoch():
    X, y = nnkit.datasets.load_digits()
    net = digits_network()
    history = net.fit(
        X[:300], y[:300], epochs=2, validation_data=(X[300:400], y[300:400]), verbose=0
    )
    assert history.history["val_accuracy"][-1] == pytest.approx(
        net.evaluate(X[300:400], y[300:400])["accuracy"]
    )


def test_one_hot_targets_and_integer_labels_train_identically():
    X, y = nnkit.datasets.load_digits()
    a, b = digits_network(), digits_network()
    a.fit(X[:200], y[:200], epochs=2, verbose=0)
    b.fit(X[:200], np.eye(10)[y[:200]], epochs=2, verbose=0)
    np.testing.assert_array_equal(a.predict(X[:20]), b.predict(X[:20]))


def test_float32_by_default_and_float64_on_request():
    X, y = nnkit.datasets.load_digits()
    for dtype in ("float32", "float64"):
        net = digits_network(dtype=dtype)
        net.fit(X[:100], y[:100], epochs=1, verbose=0)
        assert net.predict(X[:3]).dtype == np.dtype(dtype)
        assert all(w.dtype == np.dtype(dtype) for w in net.get_weights())


def test_regression_with_mse_fits_a_line():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(256, 1))
    y = 3 * X[:, 0] - 1
    net = nnkit.Network(
        [nnkit.Dense(1)], loss="mse", optimizer=nnkit.optimizer("sgd", learning_rate=0.1), seed=0
    )
    net.fit(X, y, epochs=100, batch_size=32, verbose=0)
    W, b = net.get_weights()
    assert W[0, 0] == pytest.approx(3, abs=1e-3) and b[0] == pytest.approx(-1, abs=1e-3)


def test_weights_have_the_seeds_shapes_and_round_trip():
    net = digits_network().build(64)
    weights = net.get_weights()
    assert [w.shape for w in weights] == [(64, 64), (64,), (10, 64), (10,)]
    weights[0][...] = 0.5
    assert not np.all(net.get_weights()[0] == 0.5)  # get_weights returns copies
    net.set_weights(weights)
    assert np.all(net.get_weights()[0] == 0.5)
    assert net.n_parameters == 64 * 64 + 64 + 10 * 64 + 10


def test_verbose_prints_one_line_per_epoch():
    X, y = nnkit.datasets.load_digits()
    stream = io.StringIO()
    digits_network().fit(X[:100], y[:100], epochs=3, stream=stream)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3 and lines[2].startswith("epoch 3/3 - loss: ")


def test_predict_in_chunks_equals_one_batch():
    X, y = nnkit.datasets.load_digits()
    net = digits_network()
    net.fit(X[:200], y[:200], epochs=1, verbose=0)
    np.testing.assert_allclose(
        net.predict(X, batch_size=7), net.predict(X, batch_size=4096), rtol=1e-6
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_inference_and_training_forward_passes_give_the_same_outputs(dtype):
    # Inference computes Z^l = W^l A^{l-1} + b^l one row per sample, training one column
    # per sample; the products are the same, so the outputs agree to rounding.
    X, y = nnkit.datasets.load_digits()
    net = nnkit.Network(
        [
            nnkit.Dense(24, activation="relu"),
            nnkit.Dense(16, activation="tanh"),
            nnkit.Dense(12, activation="sigmoid"),
            nnkit.Dense(11),
            nnkit.Dense(10, activation="softmax"),
        ],
        loss="cross_entropy",
        dtype=dtype,
        seed=3,
    )
    net.fit(X[:300] / 16, y[:300], epochs=2, verbose=0)
    batch = (X[:257] / 16).astype(dtype)
    inference = net.forward(batch).copy()
    training = net.forward(batch, training=True)
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(inference, training, rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(net.predict(batch), inference, rtol=tolerance, atol=tolerance)


def test_adam_and_momentum_learn_and_instances_or_names_are_accepted():
    X, y = nnkit.datasets.load_digits()
    momentum = nnkit.optimizer("sgd", learning_rate=0.1, momentum=0.9, nesterov=True)
    for optimizer in ("adam", momentum):
        net = nnkit.Network(
            [
                nnkit.Dense(32, activation="tanh"),
                nnkit.layer("dense", units=10, activation="softmax"),
            ],
            loss=nnkit.loss("cross_entropy"),
            optimizer=optimizer,
            seed=0,
        )
        history = net.fit(X[:500], y[:500], epochs=20, verbose=0)
        assert history.history["accuracy"][-1] > 0.95


@pytest.mark.parametrize("dtype", ["flaot32", None, "float16", "int32", object])
def test_a_dtype_other_than_float32_or_float64_is_refused(dtype):
    with pytest.raises(nnkit.ConfigurationError, match="dtype must be 'float32' or 'float64'"):
        nnkit.Network([nnkit.Dense(1)], dtype=dtype)


def test_numpy_scalars_are_accepted_where_numbers_are():
    X, y = np.random.default_rng(0).normal(size=(40, 3)), np.arange(40) % 2
    net = nnkit.Network(
        [nnkit.Dense(4, l2=np.float32(0.1)), nnkit.layer("dropout", rate=np.float64(0.2)),
         nnkit.Dense(2, activation="softmax")],
        loss="cross_entropy", seed=0,
    )
    net.fit(X, y, validation_split=np.float32(0.25), clip_norm=np.float32(1.0), verbose=0)
    assert net.layers[0].l2 == pytest.approx(0.1) and net.layers[1].rate == pytest.approx(0.2)
    with pytest.raises(nnkit.ConfigurationError, match="validation_split must be"):
        net.fit(X, y, validation_split=np.float32(np.nan), verbose=0)
