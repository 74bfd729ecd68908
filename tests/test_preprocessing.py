"""The standard set's preprocessing layers: standardize, impute, category_lookup and
rescale_output, learning from the training part of the data and kept in the model."""

from __future__ import annotations

import threading

import numpy as np
import onnxruntime
import pytest

import nnkit


def _rows(n: int = 240, seed: int = 0) -> tuple[list[list[str]], np.ndarray]:
    """A small table as a CSV reader gives it: numbers, a text column, ``NA`` cells."""
    rng = np.random.default_rng(seed)
    size = rng.normal(40, 8, n)
    weight = rng.normal(4000, 600, n)
    island = rng.choice(["Biscoe", "Dream", "Torgersen"], n)
    labels = (size > 40).astype(int) + (island == "Dream")
    rows = [
        ["NA" if rng.random() < 0.1 else f"{a:.1f}", f"{b:.0f}", c]
        for a, b, c in zip(size, weight, island)
    ]
    return rows, labels


def _table_network(**fit: object) -> nnkit.Network:
    return nnkit.Network(
        [
            nnkit.layer("category_lookup", columns=[2]),
            nnkit.layer("impute", add_indicator=True),
            nnkit.layer("standardize"),
            nnkit.Dense(16, activation="relu"),
            nnkit.Dense(3, activation="softmax"),
        ],
        loss="cross_entropy",
        optimizer="adam",
        seed=0,
    )


def test_standardize_learns_from_the_training_part_only():
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(5, 2, (80, 3)), rng.normal(500, 50, (20, 3))])
    y = rng.normal(size=100)
    net = nnkit.Network([nnkit.layer("standardize"), nnkit.Dense(1)], seed=0)
    net.fit(X, y, epochs=1, validation_split=0.2, verbose=0)
    layer = net.layers[0]
    np.testing.assert_allclose(layer.mean, X[:80].mean(axis=0))
    np.testing.assert_allclose(layer.std, X[:80].std(axis=0))


def test_an_adapted_standardize_keeps_its_statistics_through_fit():
    rng = np.random.default_rng(2)
    X = rng.normal(3, 4, (50, 2))
    layer = nnkit.layer("standardize")
    layer.adapt(X[:10])
    before = layer.mean
    net = nnkit.Network([layer, nnkit.Dense(1)], seed=0)
    net.fit(X, rng.normal(size=50), epochs=2, verbose=0)
    assert layer.mean == before
    standardized = net.layers[0].forward(X, nnkit.Workspace())
    np.testing.assert_allclose(standardized, (X - before) / np.array(layer.std))


def test_impute_fills_missing_cells_and_appends_indicators():
    X = np.array([[1.0, np.nan], [3.0, 4.0], [np.nan, 8.0], [5.0, 6.0]])
    for strategy, fill in (("mean", [3.0, 6.0]), ("median", [3.0, 6.0])):
        layer = nnkit.layer("impute", strategy=strategy, add_indicator=True)
        layer.adapt(X)
        assert layer.statistics == fill
    layer = nnkit.layer("impute", strategy="most_frequent")
    layer.adapt(np.array([[2.0], [1.0], [2.0], [1.0], [np.nan]]))
    assert layer.statistics == [1.0]  # the smallest of equally frequent values

    net = nnkit.Network(
        [nnkit.layer("impute", add_indicator=True), nnkit.Dense(1)], seed=0, dtype="float64"
    )
    net.fit(X, np.arange(4.0), epochs=1, verbose=0)
    out = net.layers[0].forward(X, nnkit.Workspace())
    np.testing.assert_array_equal(
        out,
        [[1, 6, 0, 1], [3, 4, 0, 0], [3, 8, 1, 0], [5, 6, 0, 0]],
    )
    assert np.isfinite(net.predict(X)).all()


def test_nan_is_still_refused_without_an_imputer_first():
    net = nnkit.Network([nnkit.Dense(1)], seed=0)
    with pytest.raises(nnkit.DataError, match="NaN"):
        net.fit(np.array([[1.0], [np.nan]]), np.array([0.0, 1.0]), verbose=0)
    imputing = nnkit.Network([nnkit.layer("impute"), nnkit.Dense(1)], seed=0)
    with pytest.raises(nnkit.DataError, match="infinite"):
        imputing.fit(np.array([[1.0], [np.inf]]), np.array([0.0, 1.0]), verbose=0)


def test_text_rows_train_and_predict_through_a_category_lookup(tmp_path):
    rows, labels = _rows()
    net = _table_network()
    history = net.fit(rows, labels, epochs=40, validation_split=0.25, verbose=0)
    lookup = net.layers[0]
    assert lookup.vocabulary is not None and sorted(lookup.vocabulary[0]) == [
        "Biscoe",
        "Dream",
        "Torgersen",
    ]
    assert history.history["val_accuracy"][-1] > 0.8
    path = tmp_path / "table.nnkit"
    net.save(path)
    loaded = nnkit.load(path)
    np.testing.assert_array_equal(loaded.predict(rows), net.predict(rows))
    # An island never seen takes the out-of-vocabulary code instead of failing.
    unseen = [["41.0", "3900", "Anvers"], ["NA", "", "Dream"]]
    assert np.isfinite(loaded.predict(unseen)).all()


def test_a_lookup_learns_its_vocabulary_from_the_training_rows_only():
    rows = [["a"], ["a"], ["b"], ["c"]]
    net = nnkit.Network(
        [nnkit.layer("category_lookup"), nnkit.Dense(2, activation="softmax")],
        loss="cross_entropy",
        seed=0,
    )
    net.fit(rows, [0, 0, 1, 1], epochs=1, validation_split=0.25, verbose=0)
    assert net.layers[0].vocabulary == [["a", "b"]]  # "c" is the validation row's


def test_codes_feed_an_embedding():
    lookup = nnkit.layer("category_lookup", output="code", oov_buckets=2)
    lookup.adapt([["x"], ["y"], ["x"]])
    net = nnkit.Network(
        [
            lookup,
            nnkit.layer("embedding", input_dim=4, output_dim=2),
            nnkit.layer("flatten"),
            nnkit.Dense(1),
        ],
        seed=0,
    )
    np.testing.assert_array_equal(lookup.encode_input([["x"], ["y"], ["z"]])[:, 0][:2], [2, 3])
    assert lookup.encode_input([["z"]])[0, 0] in (0, 1)  # a hashed out-of-vocabulary bucket
    net.fit([["x"], ["y"]], [1.0, 2.0], epochs=1, verbose=0)
    assert net.predict([["x"], ["z"]]).shape == (2, 1)


def test_rescale_output_predicts_in_the_targets_units():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(600, 3)) * [1000, 5, 0.1] + [5e3, 0, 1]
    price = X @ [100.0, 2e4, 1e6] + 2e5
    net = nnkit.Network(
        [
            nnkit.layer("standardize"),
            nnkit.Dense(32, activation="relu"),
            nnkit.Dense(1),
            nnkit.layer("rescale_output"),
        ],
        loss="mse",
        optimizer="adam",
        seed=0,
    )
    history = net.fit(X, price, epochs=60, validation_split=0.2, verbose=0)
    scale = net.layers[-1].scale[0]
    np.testing.assert_allclose(scale, price[:480].std())
    assert history.history["loss"][-1] < 0.05  # the standardised target is learnt
    assert net.evaluate(X, price, metrics=["r2"])["r2"] > 0.97
    predicted = net.predict(X[:5])[:, 0]
    assert np.all(np.abs(predicted - price[:5]) < 0.2 * price.std())


def test_preprocessing_layers_export_to_onnx(tmp_path):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 3)) * [10, 1, 100]
    y = X @ [1.0, 20.0, 0.3] + 500
    X[rng.random(X.shape) < 0.1] = np.nan
    net = nnkit.Network(
        [
            nnkit.layer("impute", add_indicator=True),
            nnkit.layer("standardize"),
            nnkit.Dense(8, activation="tanh"),
            nnkit.Dense(1),
            nnkit.layer("rescale_output"),
        ],
        loss="mse",
        optimizer="adam",
        seed=0,
    )
    net.fit(X, y, epochs=5, verbose=0)
    net.to_onnx(tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(
        str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    (served,) = session.run(None, {"X": X.astype(np.float32)})
    np.testing.assert_allclose(served, net.predict(X), rtol=1e-5, atol=1e-5 * np.abs(y).max())


def test_a_category_lookup_says_why_it_cannot_be_exported():
    rows, labels = _rows(60)
    net = _table_network()
    net.fit(rows, labels, epochs=1, verbose=0)
    with pytest.raises(nnkit.ConfigurationError, match="text.*ONNX|ONNX.*text"):
        net.to_onnx()


def test_predict_labels_names_the_classes():
    rows, labels = _rows(60)
    net = _table_network()
    net.fit(rows, labels, epochs=1, verbose=0)
    np.testing.assert_array_equal(net.predict_labels(rows), net.predict(rows).argmax(1))
    net.metadata["classes"] = ["low", "mid", "high"]
    assert set(net.predict_labels(rows)) <= {"low", "mid", "high"}
    regression = nnkit.Network([nnkit.Dense(1)], loss="mse", seed=0)
    with pytest.raises(nnkit.ConfigurationError, match="classifier"):
        regression.predict_labels(np.zeros((1, 2)))


def test_threads_predicting_through_preprocessing_get_their_own_answers():
    rows, labels = _rows(120)
    net = _table_network()
    net.fit(rows, labels, epochs=2, verbose=0)
    parts = [rows[i::4] for i in range(4)]
    expected = [net.predict(part) for part in parts]
    found: list[np.ndarray | None] = [None] * 4

    def run(index: int) -> None:
        for _ in range(5):
            found[index] = net.predict(parts[index])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for want, got in zip(expected, found):
        np.testing.assert_array_equal(got, want)


def test_chunks_need_adapted_layers():
    net = nnkit.Network([nnkit.layer("standardize"), nnkit.Dense(1)], seed=0)
    X = np.ones((10, 2))
    with pytest.raises(nnkit.ConfigurationError, match="adapt"):
        net.fit(nnkit.chunks(X, np.ones(10), rows=5), verbose=0)


def test_learnt_statistics_must_fit_the_input():
    layer = nnkit.layer("standardize", mean=[0.0, 1.0], std=[1.0, 1.0])
    with pytest.raises(nnkit.ConfigurationError, match="2 features.*3"):
        nnkit.Network([layer, nnkit.Dense(1)]).build(3)
    with pytest.raises(nnkit.ConfigurationError, match="positive"):
        nnkit.layer("rescale_output", mean=[0.0], scale=[0.0])


def test_a_standardize_between_layers_learns_from_what_reaches_it():
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(64, 3)), rng.normal(size=64)
    net = nnkit.Network(
        [nnkit.Dense(4, activation="relu"), nnkit.layer("standardize"), nnkit.Dense(1)],
        optimizer="adam", seed=0, dtype="float64",
    ).build(3)
    reaching = net.layers[0].forward(X[:48], nnkit.Workspace()).copy()
    net.fit(X, y, epochs=1, validation_split=0.25, verbose=0)
    np.testing.assert_allclose(net.layers[1].mean, reaching.mean(axis=0))
