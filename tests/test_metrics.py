"""Metrics are exact over the whole set: equal to scikit-learn's for any batch size."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

import nnkit
from nnkit.training.scores import evaluate_metrics

BATCH_SIZES = [1, 7, 32, 1000]  # 1, partial last batches (103 samples), one batch


def batches(A, Y, batch_size):
    """``(A, Y)`` a row per sample, batch by batch, each batch a reused buffer as in fit."""
    buffer_A = np.empty((batch_size, A.shape[1]), dtype=A.dtype)
    for start in range(0, A.shape[0], batch_size):
        stop = min(start + batch_size, A.shape[0])
        view = buffer_A[: stop - start]
        view[...] = A[start:stop]
        yield view, Y[start:stop]


def one_hot(labels, k):
    return np.eye(k, dtype=np.float32)[labels]


def softmax_scores(rng, n, k):
    scores = rng.random((n, k)).astype(np.float32)
    return scores / scores.sum(axis=1, keepdims=True)


def classification_cases(rng, n=103):
    """(outputs, targets, sklearn's labels and predicted labels, scores) per case."""
    k = 4
    labels = rng.integers(0, k, n)
    A = softmax_scores(rng, n, k)
    multiclass = (A, one_hot(labels, k), labels, A.argmax(axis=1), A)
    binary_labels = rng.integers(0, 2, n)
    p = rng.random((n, 1)).astype(np.float32)
    sigmoid = (
        p,
        binary_labels[:, None].astype(np.float32),
        binary_labels,
        (p[:, 0] > 0.5),
        p[:, 0],
    )
    two = softmax_scores(rng, n, 2)
    softmax_binary = (two, one_hot(binary_labels, 2), binary_labels, two.argmax(axis=1), two[:, 1])
    return {"multiclass": multiclass, "sigmoid": sigmoid, "softmax_binary": softmax_binary}


def expected_classification(case, name, average):
    _, _, y_true, y_pred, _ = case
    function = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}
    return function[name](y_true, y_pred.astype(int), average=average, zero_division=0)


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
@pytest.mark.parametrize("name", ["precision", "recall", "f1"])
def test_precision_recall_f1_equal_scikit_learn_for_any_batch_size(name, batch_size):
    cases = classification_cases(np.random.default_rng(0))
    for case_name, case in cases.items():
        averages = ["macro", "micro"] + (["binary"] if case_name != "multiclass" else [])
        for average in averages:
            metric = nnkit.metric(name, average=average)
            found = evaluate_metrics({name: metric}, batches(case[0], case[1], batch_size))[name]
            expected = expected_classification(case, name, average)
            assert found == pytest.approx(expected, abs=1e-6), (case_name, average)


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
def test_roc_auc_equals_scikit_learn_binary_and_one_vs_rest(batch_size):
    cases = classification_cases(np.random.default_rng(1))
    for case_name, (A, Y, y_true, _, scores) in cases.items():
        if case_name == "multiclass":
            expected = skm.roc_auc_score(y_true, scores, multi_class="ovr", average="macro")
        else:
            expected = skm.roc_auc_score(y_true, scores)
        metrics = {"roc_auc": nnkit.metric("roc_auc")}
        found = evaluate_metrics(metrics, batches(A, Y, batch_size))["roc_auc"]
        assert found == pytest.approx(expected, abs=1e-6), case_name


def test_roc_auc_counts_tied_scores_half():
    # Coarse scores tie across classes; the ROC area counts each tie as half a win.
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 200)
    scores = (rng.integers(0, 4, 200) / 4).astype(np.float32)[:, None]
    found = evaluate_metrics(
        {"auc": nnkit.metric("roc_auc")}, batches(scores, labels[:, None].astype(np.float32), 9)
    )["auc"]
    assert found == pytest.approx(skm.roc_auc_score(labels, scores[:, 0]), abs=1e-12)


def test_roc_auc_without_both_classes_is_nan():
    A = np.array([[0.2], [0.7]], dtype=np.float32)
    Y = np.ones((2, 1), dtype=np.float32)
    assert np.isnan(nnkit.metric("roc_auc").value(A, Y))


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
def test_regression_metrics_equal_scikit_learn_for_any_batch_size(batch_size):
    rng = np.random.default_rng(3)
    Y = (rng.normal(size=(103, 3)) * [1, 10, 0.1] + [0, 50, -3]).astype(np.float32)
    A = (Y + rng.normal(size=Y.shape) * [0.5, 4, 0.2]).astype(np.float32)
    expected = {
        "r2": skm.r2_score(Y, A),
        "rmse": skm.root_mean_squared_error(Y, A),
        "mae": skm.mean_absolute_error(Y, A),
    }
    metrics = {name: nnkit.metric(name) for name in expected}
    found = evaluate_metrics(metrics, batches(A, Y, batch_size))
    for name, value in expected.items():
        assert found[name] == pytest.approx(value, abs=1e-6), name


def test_r2_of_constant_targets_follows_scikit_learn():
    Y = np.full((6, 1), 2.0)
    assert nnkit.metric("r2").value(Y, Y) == skm.r2_score(Y[:, 0], Y[:, 0]) == 1.0
    A = Y + 0.5
    assert nnkit.metric("r2").value(A, Y) == skm.r2_score(Y[:, 0], A[:, 0]) == 0.0


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 60),
    batch_size=st.integers(1, 70),
    k=st.integers(2, 5),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_batching_gives_the_whole_set_value(n, batch_size, k, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    A = softmax_scores(rng, n, k)
    Y = one_hot(labels, k)
    predicted = A.argmax(axis=1)
    metrics = {
        "f1": nnkit.metric("f1", average="macro"),
        "precision": nnkit.metric("precision", average="micro"),
        "recall": nnkit.metric("recall", average="macro"),
        "r2": nnkit.metric("r2"),
        "rmse": nnkit.metric("rmse"),
    }
    found = evaluate_metrics(metrics, batches(A, Y, batch_size))
    assert found["f1"] == pytest.approx(
        skm.f1_score(labels, predicted, average="macro", zero_division=0), abs=1e-6
    )
    assert found["precision"] == pytest.approx(
        skm.precision_score(labels, predicted, average="micro", zero_division=0), abs=1e-6
    )
    assert found["recall"] == pytest.approx(
        skm.recall_score(labels, predicted, average="macro", zero_division=0), abs=1e-6
    )
    assert found["rmse"] == pytest.approx(skm.root_mean_squared_error(Y, A), abs=1e-6)
    if n > 1:  # scikit-learn leaves R² of one sample undefined
        assert found["r2"] == pytest.approx(skm.r2_score(Y, A, force_finite=True), abs=1e-6)


def digits_network():
    X, y = nnkit.datasets.load_digits()
    net = nnkit.Network(
        [nnkit.Dense(16, activation="relu"), nnkit.Dense(10, activation="softmax")],
        loss="cross_entropy",
        optimizer="adam",
        seed=0,
    )
    net.fit(X[:300] / 16, y[:300], epochs=3, verbose=0)
    return net, X[1000:1500] / 16, y[1000:1500]


def test_evaluate_gives_the_whole_set_f1_whatever_the_batch_size():
    # Averaging per-batch F1 made the value depend on the batch size.
    net, X, y = digits_network()
    predicted = net.predict(X).argmax(axis=1)
    expected = skm.f1_score(y, predicted, average="macro")
    metrics = {"f1": nnkit.metric("f1", average="macro"), "auc": nnkit.metric("roc_auc")}
    for batch_size in (1, 32, 1024):
        found = net.evaluate(X, y, metrics=metrics, batch_size=batch_size)
        assert found["f1"] == pytest.approx(expected, abs=1e-6), batch_size
        assert found["auc"] == pytest.approx(
            skm.roc_auc_score(y, net.predict(X).astype(np.float64), multi_class="ovr"), abs=1e-6
        )


def test_fit_logs_epoch_metrics_of_the_whole_validation_set():
    net, X, y = digits_network()
    X_train, y_train = nnkit.datasets.load_digits()
    history = net.fit(
        X_train[:64] / 16,
        y_train[:64],
        epochs=1,
        batch_size=13,
        verbose=0,
        metrics={"f1": nnkit.metric("f1", average="macro")},
        validation_data=(X, y),
    )
    assert set(history.history) == {"loss", "f1", "val_loss", "val_f1"}
    expected = skm.f1_score(y, net.predict(X).argmax(axis=1), average="macro")
    assert history.history["val_f1"][0] == pytest.approx(expected, abs=1e-6)


def test_training_metrics_are_reset_every_epoch():
    # A network that cannot learn (zero learning rate) logs the same value every epoch.
    X, y = nnkit.datasets.load_digits()
    net = nnkit.Network(
        [nnkit.Dense(10, activation="softmax")],
        loss="cross_entropy",
        optimizer=nnkit.optimizer("sgd", learning_rate=1e-30),  # too small to move float32
        seed=0,
    )
    history = net.fit(
        X[:90] / 16,
        y[:90],
        epochs=3,
        batch_size=20,
        verbose=0,
        metrics=["accuracy", nnkit.metric("f1", average="micro")],
    )
    assert len(set(history.history["f1"])) == 1
    assert history.history["f1"] == pytest.approx(history.history["accuracy"], abs=1e-12)


def test_variants_of_one_metric_log_under_the_names_given():
    net, X, y = digits_network()
    variants = {
        "f1_macro": nnkit.metric("f1", average="macro"),
        "f1_micro": nnkit.metric("f1", average="micro"),
    }
    found = net.evaluate(X, y, metrics=variants)
    assert set(found) == {"loss", "f1_macro", "f1_micro"}
    assert found["f1_micro"] == pytest.approx(net.evaluate(X, y)["accuracy"], abs=1e-12)
    with pytest.raises(nnkit.ConfigurationError, match="named twice.*give them names"):
        net.evaluate(X, y, metrics=[nnkit.metric("f1", average="macro"), "f1"])
    with pytest.raises(nnkit.ConfigurationError, match="not starting with 'val_'"):
        net.evaluate(X, y, metrics={"val_f1": "f1"})


def test_a_metric_written_with_value_only_keeps_the_sample_weighted_mean():
    class MeanOutput(nnkit.Metric):
        def value(self, A, Y):
            return float(A.mean())

    rng = np.random.default_rng(4)
    A = rng.random((103, 2))
    Y = np.zeros_like(A)
    for batch_size in BATCH_SIZES:
        found = evaluate_metrics({"m": MeanOutput()}, batches(A, Y, batch_size))["m"]
        assert found == pytest.approx(A.mean(), abs=1e-12)


def test_a_metric_with_neither_value_nor_state_says_what_to_implement():
    class Nothing(nnkit.Metric):
        pass

    with pytest.raises(NotImplementedError, match="implement value for a per-sample mean"):
        Nothing().value(np.zeros((1, 2)), np.zeros((1, 2)))


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: nnkit.metric("f1", average="weighted"), "f1 average must be one of 'binary'"),
        (lambda: nnkit.metric("precision", average=None), "precision average must be one of"),
    ],
)
def test_impossible_metric_arguments_are_rejected(build, message):
    with pytest.raises(nnkit.ConfigurationError, match=message):
        build()


def test_binary_average_on_many_classes_says_what_to_use():
    net, X, y = digits_network()
    with pytest.raises(
        nnkit.ConfigurationError,
        match=r"f1 with average='binary' needs one output or two classes, but the network has "
        r"10 outputs; use nnkit.metric\('f1', average='macro'\)",
    ):
        net.evaluate(X, y, metrics=["f1"])


@pytest.mark.parametrize("batch_size", [1, 3, 7, 17, 100])
def test_accuracy_over_batches_is_the_exact_fraction_of_right_samples(batch_size):
    # Counted as whole numbers per batch, not as each batch's fraction times its size.
    rng = np.random.default_rng(3)
    for outputs in (10, 1):
        A = rng.random((100, outputs))
        if outputs > 1:
            Y = np.eye(outputs)[rng.integers(0, outputs, 100)]
            right = A.argmax(1) == Y.argmax(1)
        else:
            Y = rng.integers(0, 2, (100, 1)).astype(float)
            right = ((A > 0.5) == (Y > 0.5))[:, 0]
        accuracy = nnkit.metric("accuracy")
        state = accuracy.init_state()
        for start in range(0, 100, batch_size):
            accuracy.update(state, A[start : start + batch_size], Y[start : start + batch_size])
        assert accuracy.result(state) == np.count_nonzero(right) / 100
