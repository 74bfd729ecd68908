"""Training on data larger than memory: chunks read one at a time, the same steps."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import nnkit


def digits():
    X, y = nnkit.datasets.load_digits()
    return (X / 16).astype(np.float32), y


def network(seed=0):
    return nnkit.Network(
        [nnkit.Dense(32, activation="relu"), nnkit.Dense(10, activation="softmax")],
        loss="cross_entropy", optimizer="adam", seed=seed,
    )


def test_chunks_unshuffled_train_exactly_as_the_arrays_do():
    X, y = digits()
    in_memory, chunked = network(), network()
    a = in_memory.fit(X, y, epochs=3, batch_size=32, shuffle=False, verbose=0,
                      metrics=["accuracy"])
    # Chunks of a multiple of the batch size cut the data into the very same batches.
    b = chunked.fit(nnkit.chunks(X, y, rows=320), epochs=3, batch_size=32, shuffle=False, verbose=0)
    for w1, w2 in zip(in_memory.get_weights(), chunked.get_weights()):
        np.testing.assert_array_equal(w1, w2)
    np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=1e-6)
    np.testing.assert_allclose(a.history["accuracy"], b.history["accuracy"], rtol=1e-12)


def test_a_memory_map_trains_with_validation_and_exact_epoch_metrics(tmp_path):
    X, y = digits()
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    X_map = np.load(tmp_path / "X.npy", mmap_mode="r")
    y_map = np.load(tmp_path / "y.npy", mmap_mode="r")
    net = network()
    history = net.fit(
        nnkit.chunks(X_map[:1500], y_map[:1500], rows=256), epochs=8, batch_size=32,
        validation_data=(X[1500:], y[1500:]), metrics=["accuracy"],
        verbose=0,
    )
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.epoch) == 8 and history.history["val_accuracy"][-1] > 0.6
    assert history.history["val_loss"][-1] < history.history["val_loss"][0]
    # The epoch's accuracy is that of every sample of the epoch, not a mean of chunks'.
    assert 0 < history.history["accuracy"][0] < 1


def test_a_function_returning_a_generator_gives_each_epoch_its_chunks():
    X, y = digits()
    calls = []

    def read():
        calls.append(1)
        for start in range(0, len(X), 500):
            yield X[start : start + 500], y[start : start + 500]

    net = network()
    net.fit(read, epochs=3, verbose=0)
    assert len(calls) == 3 and net.built and net.evaluate(X, y)["accuracy"] > 0.5


def test_a_generator_is_read_once_so_several_epochs_are_refused():
    X, y = digits()
    generator = ((X[s : s + 100], y[s : s + 100]) for s in range(0, 1000, 100))
    with pytest.raises(nnkit.ConfigurationError, match="a generator can be read only once, but epochs=2"):
        network().fit(generator, epochs=2, verbose=0)
    net = network()
    net.fit(generator, epochs=1, verbose=0)
    assert net.built


@pytest.mark.parametrize(
    "source, message",
    [
        (lambda X, y: [(X[:10],)], r"chunk 0 is a tuple, not a pair"),
        (lambda X, y: [(X[:10], y[:10]), (X[:10, :5], y[:10])], r"X of chunk 1 has 5 features but the network takes 64"),
        (lambda X, y: [(X[:10], y[:9])], r"y of chunk 0 has 9 rows but X has 10 samples"),
        (lambda X, y: [], r"the chunk source gave no chunks"),
        (lambda X, y: X, r"y is missing"),
    ],
)
def test_bad_chunks_are_named(source, message):
    X, y = digits()
    with pytest.raises(nnkit.DataError, match=message):
        network().fit(source(X, y), verbose=0)


def test_chunk_options_that_need_data_in_memory_are_refused():
    X, y = digits()
    with pytest.raises(nnkit.ConfigurationError, match="validation_split needs the data in memory"):
        network().fit(nnkit.chunks(X, y), validation_split=0.1, verbose=0)
    with pytest.raises(nnkit.ConfigurationError, match="third item of the chunk"):
        network().fit(nnkit.chunks(X, y), sample_weight=np.ones(len(X)), verbose=0)
    with pytest.raises(nnkit.DataError, match="X has 1797 samples but y has 5"):
        nnkit.chunks(X, y[:5])


def test_partial_fit_continues_from_the_current_weights():
    """Two partial_fit calls are two one-epoch fits, each from where the last stopped."""
    X, y = digits()
    twice = network()
    assert twice.partial_fit(X, y, batch_size=64).partial_fit(X, y, batch_size=64) is twice
    again = network()
    again.fit(X, y, epochs=1, batch_size=64, verbose=0)
    again.fit(X, y, epochs=1, batch_size=64, verbose=0)
    for a, b in zip(again.get_weights(), twice.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_dask_array_streams_chunk_by_chunk():
    import dask.array as da
    X, y = digits()
    dX = da.from_array(X, chunks=(400, 64))
    dy = da.from_array(y, chunks=400)
    source = nnkit.chunks(dX, dy)
    assert len(source) == 5  # the Dask array's own row chunks
    net = network()
    net.fit(source, epochs=3, verbose=0)
    assert net.evaluate(X, y)["accuracy"] > 0.5


def test_streaming_allocates_memory_for_a_chunk_not_for_the_data(tmp_path):
    """381 MiB of features in a memory map train while nnkit allocates a few MiB at most
    (tracemalloc counts NumPy's allocations; the map's pages are the file's, not ours)."""
    n, d = 200_000, 500
    X = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.float32, shape=(n, d))
    for start in range(0, n, 20_000):
        X[start : start + 20_000] = np.random.default_rng(start).normal(size=(20_000, d))
    X.flush()
    del X
    script = textwrap.dedent(
        f"""
        import tracemalloc, numpy as np, nnkit
        X = np.load({str(tmp_path / "X.npy")!r}, mmap_mode="r")
        y = (np.arange(len(X)) % 2).astype(np.float32)
        net = nnkit.Network([nnkit.Dense(16, activation="relu"),
                             nnkit.Dense(1, activation="sigmoid")],
                            loss="binary_cross_entropy", seed=0)
        tracemalloc.start()
        net.fit(nnkit.chunks(X, y, rows=10_000), epochs=1, batch_size=256, verbose=0)
        print(tracemalloc.get_traced_memory()[1] // 2**20)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    peak = int(out.stdout)
    assert peak < 60, peak  # MiB: about three chunks of 19 MiB, against 381 MiB of data


def test_a_per_step_schedule_on_chunks_of_unknown_size_says_what_to_do():
    X, y = digits()
    schedule = nnkit.callback("lr_schedule", schedule=nnkit.schedule("one_cycle", max_lr=0.01))

    def read():
        yield X[:500], y[:500]

    with pytest.raises(nnkit.ConfigurationError, match="needs the number of batches per epoch"):
        network().fit(read, callbacks=[schedule], verbose=0)
    network().fit(nnkit.chunks(X, y, rows=500), callbacks=[schedule], verbose=0)  # sizes known


def test_the_estimators_train_incrementally_under_dask_ml():
    import dask.array as da
    from dask_ml.wrappers import Incremental

    from nnkit.sklearn import NNClassifier
    X, y = digits()
    dX, dy = da.from_array(X, chunks=(300, 64)), da.from_array(y, chunks=300)
    model = Incremental(NNClassifier(hidden_layer_sizes=(32,), random_state=0), scoring="accuracy")
    scores = []
    for _ in range(4):  # each call passes over the Dask array's blocks, one at a time
        model.partial_fit(dX, dy, classes=np.arange(10))
        scores.append(model.score(dX, dy))
    assert scores[-1] > scores[0] and scores[-1] > 0.5
    np.testing.assert_array_equal(model.predict(dX).compute(), model.estimator_.predict(X))
