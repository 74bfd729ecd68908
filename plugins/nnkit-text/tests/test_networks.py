"""The sequence layers in networks: learning a task that needs memory, saving and
loading, threads sharing a network, and shapes they cannot take."""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from brackets import balanced, brackets

import nnkit

layer = nnkit.layer


def test_the_brackets_task_is_half_balanced_with_equal_counts():
    X, y = brackets(200, seed=3)
    assert y.sum() == 100
    assert np.all(X.sum(axis=(1, 2)) == 0)  # counting cannot tell them apart
    assert all(balanced(x[:, 0]) == bool(label) for x, label in zip(X, y))


@pytest.fixture
def one_blas_thread():
    """An LSTM's products are small: on a busy machine, BLAS threads would spend more
    time waiting for each other than computing (threadpoolctl comes with scikit-learn;
    without it, the test runs with the default threads)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        limits = contextlib.nullcontext()
    else:
        limits = threadpool_limits(1)
    with limits:
        yield


def test_an_lstm_learns_whether_brackets_are_balanced(one_blas_thread):
    """Strings of 20 brackets: 184,756 arrangements, so the test strings are new ones."""
    X_train, y_train = brackets(1000, length=20, seed=0)
    X_test, y_test = brackets(400, length=20, seed=1)
    net = nnkit.Network(
        [layer("lstm", units=12), nnkit.Dense(2, activation="softmax")],
        loss="cross_entropy", optimizer=nnkit.optimizer("adam", learning_rate=1e-2), seed=0,
    )
    start = time.perf_counter()
    net.fit(X_train, y_train, epochs=15, batch_size=32, verbose=0)
    seconds = time.perf_counter() - start
    accuracy = net.evaluate(X_test, y_test)["accuracy"]
    assert accuracy >= 0.95, accuracy
    assert seconds < 10, seconds  # about 1 s on one core


def every_layer_network():
    return nnkit.Network(
        [
            layer("layer_norm"),
            layer("gru", units=5, return_sequences=True),
            layer("rnn", units=4, return_sequences=True),
            layer("layer_norm"),
            layer("lstm", units=3),
            nnkit.Dense(3, activation="softmax"),
        ],
        loss="cross_entropy",
        optimizer="adam",
        seed=1,
    )


def attention_network():
    return nnkit.Network(
        [
            layer("conv1d", filters=4, kernel_size=3, padding="causal", dilation=2,
                  activation="relu"),
            layer("positional_embedding", max_length=10, dim=4),
            layer("sinusoidal_embedding"),
            layer("multi_head_attention", heads=2, key_dim=3, causal=True),
            layer("layer_norm"),
            layer("conv1d", filters=3, kernel_size=2, stride=2, padding="same"),
            layer("global_max_pool1d"),
            nnkit.Dense(3, activation="softmax"),
        ],
        loss="cross_entropy",
        optimizer="adam",
        seed=2,
    )


NETWORKS = [every_layer_network, attention_network]


@pytest.mark.parametrize("make", NETWORKS)
def test_every_layer_saves_and_loads_with_the_model(tmp_path, make):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 7, 2)), rng.integers(0, 3, size=40)
    net = make()
    net.fit(X, y, epochs=2, batch_size=8, verbose=0)
    net.save(tmp_path / "text.nnkit")
    loaded = nnkit.load(tmp_path / "text.nnkit")
    assert [type(a).__name__ for a in loaded.layers] == [type(a).__name__ for a in net.layers]
    assert [a.get_config() for a in loaded.layers[:-1]] == [
        a.get_config() for a in net.layers[:-1]
    ]
    assert np.array_equal(loaded.predict(X), net.predict(X))
    loaded.fit(X, y, epochs=1, batch_size=8, shuffle=False, verbose=0)  # training resumes
    net.fit(X, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    assert np.array_equal(loaded.predict(X), net.predict(X))


@pytest.mark.parametrize("make", NETWORKS)
def test_threads_sharing_a_network_get_exactly_their_serial_answers(make):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 7, 2))
    net = make()
    net.fit(X, rng.integers(0, 3, size=60), epochs=1, verbose=0)
    sizes = [1, 7, 60, 3, 25] * 8
    serial = [net.predict(X[:n], batch_size=16) for n in sizes]
    with ThreadPoolExecutor(8) as pool:
        threaded = list(pool.map(lambda n: net.predict(X[:n], batch_size=16), sizes))
    assert all(np.array_equal(a, b) for a, b in zip(serial, threaded))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_flat_samples_are_refused_with_how_to_shape_them(kind):
    with pytest.raises(nnkit.ConfigurationError) as raised:
        nnkit.Network([layer(kind, units=3), nnkit.Dense(1)]).build((12,))
    assert "takes sequences (time_steps, features), got samples of shape (12,)" in str(
        raised.value
    )
    assert "reshape((-1, 12, 1))" in str(raised.value)


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("lstm", {"units": 0}, "lstm units must be a positive integer, got 0"),
        ("gru", {"units": 2.5}, "gru units must be a positive integer, got 2.5"),
        ("rnn", {"units": 3, "return_sequences": "yes"}, "rnn return_sequences must be True"),
        ("layer_norm", {"epsilon": 0}, "layer_norm epsilon must be a finite number > 0"),
    ],
)
def test_bad_arguments_are_refused_with_the_reason(name, arguments, message):
    with pytest.raises(nnkit.ConfigurationError, match=message):
        layer(name, **arguments)


@pytest.mark.parametrize(
    ("layers", "sample_shape", "message"),
    [
        (
            [layer("positional_embedding", max_length=8, dim=4)],
            (10, 4),
            "takes sequences of at most 8 steps of 4 features, got 10 steps of 4; "
            "set max_length >= 10 and dim=4",
        ),
        (
            [layer("positional_embedding", max_length=8, dim=4)],
            (6, 3),
            "got 6 steps of 3; set max_length >= 6 and dim=3",
        ),
        (
            [layer("conv1d", filters=2, kernel_size=3, dilation=4)],
            (6, 2),
            "conv1d's kernel spans 9 steps (kernel_size 3, dilation 4), more than its 6-step "
            "input sequences",
        ),
        (
            [layer("multi_head_attention", heads=2, key_dim=3)],
            (4, 5, 6),
            "multi_head_attention takes sequences (time_steps, features), got samples of "
            "shape (4, 5, 6)",
        ),
    ],
    ids=["too-long", "wrong-dim", "kernel-span", "not-a-sequence"],
)
def test_shapes_a_layer_cannot_take_fail_at_build_naming_it(layers, sample_shape, message):
    with pytest.raises(nnkit.ConfigurationError) as raised:
        nnkit.Network([*layers, layer("flatten"), nnkit.Dense(1)]).build(sample_shape)
    assert message in str(raised.value)
