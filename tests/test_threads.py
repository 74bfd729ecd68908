"""One network shared by many threads: each call gets exactly its serial answer."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import nnkit
from nnkit.sklearn import NNClassifier

THREADS = 8
CALLS = 240


def trained_network(activation="relu", seed=0) -> nnkit.Network:
    X, y = nnkit.datasets.load_digits()
    net = nnkit.Network(
        [nnkit.Dense(32, activation=activation), nnkit.Dense(10, activation="softmax")],
        loss="cross_entropy",
        optimizer="adam",
        seed=seed,
    )
    net.fit(X / 16, y, epochs=2, verbose=0)
    return net


def calls(n_calls=CALLS, seed=0):
    """Mixed requests: inputs of 1 to 900 rows, several batch sizes."""
    X, _ = nnkit.datasets.load_digits()
    rng = np.random.default_rng(seed)
    requests = []
    for _ in range(n_calls):
        rows = int(rng.integers(1, 900))
        start = int(rng.integers(0, len(X) - rows))
        batch_size = int(rng.choice([7, 64, 1024]))
        requests.append((X[start : start + rows] / 16, batch_size))
    return requests


def run_concurrently(function, requests):
    """``function`` on every request from THREADS threads released at once."""
    barrier = threading.Barrier(THREADS)

    def worker(chunk):
        barrier.wait()
        return [function(request) for request in chunk]

    chunks = [requests[i::THREADS] for i in range(THREADS)]
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(worker, chunks))
    ordered = [None] * len(requests)
    for offset, chunk_results in enumerate(results):
        ordered[offset::THREADS] = chunk_results
    return ordered


def test_predict_from_many_threads_is_bit_for_bit_the_serial_answer():
    net = trained_network()
    requests = calls()
    serial = [net.predict(X, batch_size=b) for X, b in requests]
    threaded = run_concurrently(lambda r: net.predict(r[0], batch_size=r[1]), requests)
    mismatched = [i for i, (a, b) in enumerate(zip(serial, threaded)) if not np.array_equal(a, b)]
    assert mismatched == []


def test_results_do_not_depend_on_the_batch_size_beyond_rounding():
    net = trained_network()
    X = calls(1)[0][0]
    np.testing.assert_allclose(
        net.predict(X, batch_size=7), net.predict(X, batch_size=1024), rtol=1e-5, atol=1e-6
    )


def test_evaluate_from_many_threads_matches_serial():
    net = trained_network()
    X, y = nnkit.datasets.load_digits()
    requests = [(X[s : s + n] / 16, y[s : s + n]) for s, n in zip(range(0, 1600, 40), range(5, 400, 10))]
    serial = [net.evaluate(Xr, yr) for Xr, yr in requests]
    threaded = run_concurrently(lambda r: net.evaluate(*r), requests * 4)
    assert threaded == serial * 4


def test_whole_set_metrics_from_many_threads_match_serial():
    # Each call keeps its own running states: one metric object serves every thread.
    net = trained_network()
    X, y = nnkit.datasets.load_digits()
    metrics = {
        "f1": nnkit.metric("f1", average="macro"),
        "auc": nnkit.metric("roc_auc"),
        "r2": nnkit.metric("r2"),
    }
    requests = [(X[s : s + n] / 16, y[s : s + n], b) for s, n, b in
                zip(range(0, 1200, 40), range(60, 900, 30), [5, 16, 64] * 10)]
    serial = [net.evaluate(Xr, yr, metrics=metrics, batch_size=b) for Xr, yr, b in requests]
    threaded = run_concurrently(
        lambda r: net.evaluate(r[0], r[1], metrics=metrics, batch_size=r[2]), requests * 2
    )
    assert threaded == serial * 2


def test_two_networks_sharing_one_activation_instance_answer_independently():
    shared = nnkit.activation("relu")
    first, second = trained_network(shared, seed=1), trained_network(shared, seed=2)
    requests = calls(160, seed=3)
    serial = [(first.predict(X), second.predict(X)) for X, _ in requests]
    threaded = run_concurrently(lambda r: (first.predict(r[0]), second.predict(r[0])), requests)
    for (a1, a2), (b1, b2) in zip(serial, threaded):
        assert np.array_equal(a1, b1) and np.array_equal(a2, b2)


def test_estimator_predict_proba_and_score_from_many_threads():
    X, y = nnkit.datasets.load_digits()
    model = NNClassifier(hidden_layer_sizes=(16,), epochs=2, random_state=0).fit(X / 16, y)
    requests = calls(80, seed=4)
    serial = [model.predict_proba(Xr) for Xr, _ in requests]
    threaded = run_concurrently(lambda r: model.predict_proba(r[0]), requests)
    assert all(np.array_equal(a, b) for a, b in zip(serial, threaded))
    scores = run_concurrently(lambda _: model.score(X / 16, y), list(range(16)))
    assert len(set(scores)) == 1 and scores[0] == model.score(X / 16, y)


def test_fit_beside_predict_sees_whole_steps_and_trains_as_if_alone():
    X, y = nnkit.datasets.load_digits()
    X = X / 16

    def fresh():
        return nnkit.Network(
            [nnkit.Dense(32, activation="relu"), nnkit.Dense(10, activation="softmax")],
            loss="cross_entropy", optimizer="sgd", seed=0,
        ).build(64)

    alone = fresh()
    alone.fit(X, y, epochs=3, batch_size=32, verbose=0)

    shared = fresh()
    # The weights after every step, recorded by the training thread itself.
    steps = [shared.get_weights()]

    class Record(nnkit.Callback):
        def on_batch_end(self, batch, logs):
            steps.append(shared.get_weights())

    done = threading.Event()
    seen = []

    def reader():
        while not done.is_set():
            seen.append(shared.predict(X[:50]))

    readers = [threading.Thread(target=reader) for _ in range(3)]
    for thread in readers:
        thread.start()
    try:
        shared.fit(X, y, epochs=3, batch_size=32, verbose=0, callbacks=[Record()])
    finally:
        done.set()
        for thread in readers:
            thread.join()

    for a, b in zip(alone.get_weights(), shared.get_weights()):
        assert np.array_equal(a, b)  # training unaffected by the readers
    assert len(seen) > 3
    # Every prediction is that of the weights after some whole step.
    probe = fresh()
    answers = []
    for weights in steps:
        probe.set_weights(weights)
        answers.append(probe.predict(X[:50]))
    for prediction in seen:
        assert any(np.array_equal(prediction, answer) for answer in answers)


def test_a_second_fit_on_the_same_network_from_another_thread_is_refused():
    X, y = nnkit.datasets.load_digits()
    net = nnkit.Network([nnkit.Dense(10, activation="softmax")], loss="cross_entropy").build(64)
    started, release = threading.Event(), threading.Event()

    class Hold(nnkit.Callback):
        def on_epoch_begin(self, epoch):
            started.set()
            release.wait(10)

    first = threading.Thread(target=lambda: net.fit(X, y, verbose=0, callbacks=[Hold()]))
    first.start()
    try:
        assert started.wait(10)
        with pytest.raises(nnkit.ConfigurationError, match="already training"):
            net.fit(X, y, verbose=0)
    finally:
        release.set()
        first.join()
    net.fit(X, y, verbose=0)  # free again once the first fit has finished
