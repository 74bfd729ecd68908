"""nnkit's scikit-learn estimators: check_estimator, the usual tools, and clear errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.estimator_checks import (
    check_sample_weight_equivalence_on_dense_data,
    parametrize_with_checks,
)

import nnkit
from nnkit.sklearn import NNClassifier, NNRegressor


# Every check passes, check_sample_weight_equivalence_on_dense_data included: its 15 to
# 60 samples fit in one batch of 32. With more samples than a batch, mini-batches of
# weighted and of repeated samples differ; batch_size="full" is equivalent at any size.
@parametrize_with_checks([NNClassifier(random_state=0), NNRegressor(random_state=0)])
def test_scikit_learn_estimator_checks(estimator, check, monkeypatch):
    # The array-API check with NumPy inputs runs only with this set (it is then exact).
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


X_iris, y_iris = load_iris(return_X_y=True)
NAMES = np.array(["setosa", "versicolor", "virginica"])[y_iris]
rng = np.random.default_rng(0)
X_line = rng.normal(size=(300, 3))
y_line = X_line @ [1.5, -2.0, 0.5] + 0.3


def test_a_classifier_learns_string_labels_in_a_pipeline():
    model = make_pipeline(StandardScaler(), NNClassifier(hidden_layer_sizes=(16,), random_state=0))
    scores = cross_val_score(model, X_iris, NAMES, cv=5)
    assert scores.mean() > 0.9
    model.fit(X_iris, NAMES)
    classifier = model[-1]
    assert list(classifier.classes_) == ["setosa", "versicolor", "virginica"]
    proba = model.predict_proba(X_iris)
    assert proba.shape == (150, 3) and np.allclose(proba.sum(axis=1), 1)
    assert set(model.predict(X_iris)) <= set(NAMES)
    assert classifier.n_iter_ == 200 and len(classifier.loss_curve_) == 200
    assert classifier.loss_curve_[-1] < classifier.loss_curve_[0] / 5


def test_a_regressor_fits_one_or_several_targets():
    regressor = NNRegressor(hidden_layer_sizes=(32,), learning_rate=0.01, random_state=0)
    assert regressor.fit(X_line, y_line).score(X_line, y_line) > 0.98
    assert regressor.predict(X_line).shape == (300,)
    both = np.column_stack([y_line, -y_line])
    assert regressor.fit(X_line, both).predict(X_line).shape == (300, 2)


def test_grid_search_clone_and_pickle():
    search = GridSearchCV(
        NNClassifier(epochs=50, random_state=0),
        {"hidden_layer_sizes": [(8,), (32,)], "learning_rate": [0.001, 0.01]},
        cv=3,
    ).fit(X_iris, y_iris)
    assert search.best_score_ > 0.9
    assert search.best_params_["learning_rate"] == 0.01
    fresh = clone(search.best_estimator_)
    assert (
        not hasattr(fresh, "network_") and fresh.get_params() == search.best_estimator_.get_params()
    )
    restored = pickle.loads(pickle.dumps(search.best_estimator_))
    assert np.array_equal(
        restored.predict_proba(X_iris), search.best_estimator_.predict_proba(X_iris)
    )


def test_the_same_random_state_gives_the_same_model_and_another_does_not():
    first = NNClassifier(epochs=20, random_state=3).fit(X_iris, y_iris).predict_proba(X_iris)
    again = NNClassifier(epochs=20, random_state=3).fit(X_iris, y_iris).predict_proba(X_iris)
    other = NNClassifier(epochs=20, random_state=4).fit(X_iris, y_iris).predict_proba(X_iris)
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_partial_fit_and_warm_start_continue_training():
    model = NNClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        model.partial_fit(X_iris, y_iris)
    model.partial_fit(X_iris[:50], y_iris[:50], classes=[0, 1, 2])
    for _ in range(30):
        model.partial_fit(X_iris, y_iris)
    assert model.n_iter_ == 31 and model.score(X_iris, y_iris) > 0.8
    with pytest.raises(ValueError, match=r"labels \[7\] that are not in classes_"):
        model.partial_fit(X_iris[:2], [0, 7])

    warm = NNClassifier(epochs=10, warm_start=True, random_state=0).fit(X_iris, y_iris)
    weights = warm.network_.get_weights()[0].copy()
    warm.fit(X_iris, y_iris)
    assert warm.n_iter_ == 20 and not np.array_equal(warm.network_.get_weights()[0], weights)
    cold = NNClassifier(epochs=10, random_state=0).fit(X_iris, y_iris)
    cold.fit(X_iris, y_iris)
    assert cold.n_iter_ == 10


def test_sample_weight_steers_the_fit():
    weights = np.where(y_iris == 2, 0.0, 1.0)  # class 2 carries no weight
    model = NNClassifier(epochs=50, random_state=0).fit(X_iris, y_iris, sample_weight=weights)
    assert (model.predict(X_iris) == 2).mean() < 0.1
    with pytest.raises(ValueError, match="zero for every sample"):
        model.fit(X_iris, y_iris, sample_weight=np.zeros(150))
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(3,\)"):
        model.fit(X_iris, y_iris, sample_weight=[1, 2, 3])


def test_early_stopping_holds_out_a_fraction_and_stops():
    model = NNClassifier(
        hidden_layer_sizes=(64,),
        learning_rate=0.05,
        early_stopping=True,
        patience=3,
        epochs=500,
        random_state=0,
    ).fit(X_iris, y_iris)
    assert model.n_iter_ < 500 and len(model.validation_scores_) == model.n_iter_


def test_feature_names_are_kept_from_a_data_frame():
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(X_iris, columns=["sl", "sw", "pl", "pw"])
    model = NNClassifier(epochs=5, random_state=0).fit(frame, y_iris)
    assert list(model.feature_names_in_) == ["sl", "sw", "pl", "pw"] and model.n_features_in_ == 4
    with pytest.raises(ValueError, match="feature names"):
        model.predict(frame[["sw", "sl", "pl", "pw"]])


@pytest.mark.parametrize(
    ("estimator", "y", "message"),
    [
        (
            NNClassifier(activation="rleu"),
            y_iris,
            "activation 'rleu' is not registered. Did you mean 'relu'",
        ),
        (NNClassifier(optimizer="adma"), y_iris, "Did you mean 'adam'"),
        (NNClassifier(loss="mse"), y_iris, "does not take class labels"),
        (NNClassifier(output_activation="sigmoid"), y_iris, "meant for a 'softmax' output"),
        (NNClassifier(loss="binary_cross_entropy"), y_iris, "separates two classes; y has 3"),
        (NNClassifier(), np.zeros(150), "at least two classes"),
        (NNClassifier(), X_iris[:, 0], "Unknown label type"),
        (NNRegressor(loss="cross_entropy"), y_iris, "use 'mse'"),
        (NNRegressor(), NAMES, "could not convert|dtype"),
        (NNClassifier(hidden_layer_sizes=(0,)), y_iris, "hidden_layer_sizes must be positive"),
        (
            NNClassifier(batch_size="half"),
            y_iris,
            "batch_size must be a positive integer or \"full\", got 'half'",
        ),
        (
            NNClassifier(optimizer_params={"momentum": 0.9}),
            y_iris,
            "does not accept \\['momentum'\\]",
        ),
    ],
)
def test_bad_settings_and_targets_fail_at_fit_before_training(estimator, y, message):
    with pytest.raises(ValueError, match=message):
        estimator.fit(X_iris, y)
    assert not hasattr(estimator, "network_")


def test_a_plugins_components_work_by_name(fake_distribution, isolated_registry):
    fake_distribution(
        "acme-nn",
        """
        import numpy as np
        import nnkit

        class Softsign(nnkit.Activation):
            def forward(self, Z):
                return Z / (1 + np.abs(Z))
            def derivative(self, Z):
                return 1 / (1 + np.abs(Z)) ** 2

        @nnkit.hookimpl
        def register_activations(register):
            register("acme.softsign", Softsign)
        """,
    )
    isolated_registry()
    model = NNClassifier(activation="acme.softsign", random_state=0).fit(X_iris, y_iris)
    assert model.score(X_iris, y_iris) > 0.9
    assert nnkit.registry.registry.default_registry().name_of(model.network_.layers[0].activation) == (
        "acme.softsign"
    )


def test_two_classes_with_a_single_sigmoid_output():
    labels = np.where(y_iris == 0, "setosa", "other")
    model = NNClassifier(loss="binary_cross_entropy", epochs=30, random_state=0)
    model.fit(X_iris, labels)
    assert model.network_.n_outputs == 1 and list(model.classes_) == ["other", "setosa"]
    proba = model.predict_proba(X_iris)
    assert proba.shape == (150, 2) and np.allclose(proba.sum(axis=1), 1)
    assert model.score(X_iris, labels) > 0.95


@pytest.mark.parametrize(
    "estimator",
    [
        NNClassifier(batch_size="full", random_state=0),
        NNRegressor(batch_size="full", random_state=0),
    ],
    ids=["classifier", "regressor"],
)
def test_full_batch_training_passes_scikit_learns_sample_weight_equivalence(estimator):
    # A weight of 2 trains exactly as the sample given twice, 0 as the sample left out.
    check_sample_weight_equivalence_on_dense_data(type(estimator).__name__, estimator)


def test_only_the_relative_size_of_sample_weights_matters():
    weights = np.linspace(0.5, 2.0, 150)
    small = NNClassifier(epochs=20, random_state=0).fit(X_iris, y_iris, sample_weight=weights)
    large = NNClassifier(epochs=20, random_state=0).fit(X_iris, y_iris, sample_weight=weights * 8)
    assert np.allclose(small.predict_proba(X_iris), large.predict_proba(X_iris), atol=1e-12)


def test_class_weight_balanced_or_a_dict_multiplies_the_sample_weights():
    labels = NAMES[:120]  # 50 setosa, 50 versicolor, 20 virginica
    X = X_iris[:120]
    options = {"epochs": 10, "batch_size": "full", "random_state": 0}
    balanced = NNClassifier(class_weight="balanced", **options).fit(X, labels)
    by_hand = NNClassifier(**options).fit(
        X, labels, sample_weight=compute_sample_weight("balanced", labels)
    )
    assert np.array_equal(balanced.predict_proba(X), by_hand.predict_proba(X))
    table = {"setosa": 1.0, "versicolor": 3.0, "virginica": 0.5}
    weighted = NNClassifier(class_weight=table, **options).fit(X, labels)
    expected = NNClassifier(**options).fit(X, labels, sample_weight=np.vectorize(table.get)(labels))
    assert np.array_equal(weighted.predict_proba(X), expected.predict_proba(X))
    assert not np.array_equal(weighted.predict_proba(X), by_hand.predict_proba(X))
    # The minority class gains with balanced weights.
    plain = NNClassifier(epochs=10, random_state=0, batch_size="full").fit(X, labels)
    minority = labels == "virginica"
    assert (balanced.predict(X)[minority] == "virginica").mean() >= (
        plain.predict(X)[minority] == "virginica"
    ).mean()


@pytest.mark.parametrize(
    ("class_weight", "message"),
    [
        ({"setosa": 1.0, "rose": 2.0}, r"class_weight names labels \['rose'\]"),
        ({"setosa": -1.0}, "finite and >= 0"),
        ({"setosa": "heavy"}, "finite and >= 0"),
        ("even", "class_weight must be None, 'balanced' or a dict"),
    ],
)
def test_bad_class_weights_are_refused(class_weight, message):
    model = NNClassifier(class_weight=class_weight, epochs=1)
    with pytest.raises(ValueError, match=message):
        model.fit(X_iris, NAMES)
    assert not hasattr(model, "network_")


def test_balanced_class_weight_is_refused_by_partial_fit():
    model = NNClassifier(class_weight="balanced")
    with pytest.raises(ValueError, match="partial_fit does not see; pass the weights as a dict"):
        model.partial_fit(X_iris, y_iris, classes=[0, 1, 2])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_code_written_for_mlp_classifier_runs_unchanged():
    def report(clf):  # as written for scikit-learn's MLPClassifier
        clf.fit(X_iris, y_iris)
        shapes = [(c.shape, i.shape) for c, i in zip(clf.coefs_, clf.intercepts_)]
        hidden = np.maximum(X_iris @ clf.coefs_[0] + clf.intercepts_[0], 0)
        scores = hidden @ clf.coefs_[1] + clf.intercepts_[1]
        agree = (scores.argmax(axis=1) == clf.predict(X_iris)).mean()
        curve = clf.loss_curve_
        return shapes, agree, len(curve) == clf.n_iter_, clf.best_loss_ == min(curve)

    theirs = report(MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0))
    ours = report(NNClassifier(hidden_layer_sizes=(16,), epochs=30, random_state=0))
    assert ours == theirs == ([((4, 16), (16,)), ((16, 3), (3,))], 1.0, True, True)
    model = NNClassifier(hidden_layer_sizes=(16,), epochs=3, random_state=0).fit(X_iris, y_iris)
    assert model.n_layers_ == 3 and model.n_outputs_ == 3 and model.t_ == 3 * 150
    assert NNClassifier(early_stopping=True, epochs=3).fit(X_iris, y_iris).best_loss_ is None
    assert not hasattr(NNClassifier(), "coefs_")
    with pytest.raises(AttributeError, match="not fitted yet"):
        _ = NNClassifier().intercepts_


def test_a_diverging_fit_stops_and_raises_instead_of_keeping_nan_weights():
    X = X_iris * 1e6
    model = NNRegressor(optimizer="sgd", learning_rate=10.0, epochs=50, random_state=0)
    with pytest.raises(
        ValueError,
        match=r"^NNRegressor diverged: the loss became (nan|inf) at epoch \d+, batch \d+, so "
        r"training stopped and the model is left unfitted. Scale the features "
        r"\(StandardScaler\) or lower learning_rate \(it is 10\)$",
    ):
        model.fit(X, y_iris.astype(float))
    assert not hasattr(model, "network_") and not hasattr(model, "loss_curve_")
