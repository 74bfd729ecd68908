"""Bad input gets a clear DataError or ConfigurationError saying what and how to fix it."""

from __future__ import annotations

import numpy as np
import pytest

import nnkit

X_GOOD = np.random.default_rng(0).normal(size=(20, 4))
Y_GOOD = np.arange(20) % 3


def classifier():
    return nnkit.Network(
        [nnkit.Dense(5, activation="relu"), nnkit.Dense(3, activation="softmax")],
        loss="cross_entropy",
        seed=0,
    )


@pytest.mark.parametrize(
    "X, message",
    [
        (np.zeros(20), r"must be 2-D .*X.reshape\(-1, 1\)"),
        (np.zeros((0, 4)), "empty"),
        (np.zeros((20, 0)), "no features"),
        (np.where(np.eye(20, 4) == 1, np.nan, 0.0), "NaN .* row 0, column 0"),
        (np.full((20, 4), np.inf), "80 NaN or infinite"),
        (np.array([["a"] * 4] * 20), "must be numeric"),
        ([[1, 2], [3]], "could not be read|must be numeric"),
    ],
    ids=["1-D", "no-samples", "no-features", "nan", "inf", "strings", "ragged"],
)
def test_bad_features_are_rejected(X, message):
    with pytest.raises(nnkit.DataError, match=message):
        classifier().fit(X, Y_GOOD, verbose=0)


def test_samples_a_network_cannot_end_with_are_refused_before_training():
    # Dense maps the last axis, so (4, 1) samples end as (4, units): a class per
    # position, which labels of one class per sample do not fit.
    with pytest.raises(
        nnkit.DataError,
        match=r"y has shape \(20,\) but the network's outputs have samples of shape "
        r"\(4, 3\).*end with flatten\(\)",
    ):
        classifier().fit(np.zeros((20, 4, 1)), Y_GOOD, verbose=0)


def test_samples_of_another_shape_after_fitting():
    net = classifier()
    net.fit(X_GOOD, Y_GOOD, verbose=0)
    with pytest.raises(
        nnkit.DataError,
        match=r"samples of shape \(4, 1\) but the network takes samples of shape \(4,\)",
    ):
        net.predict(X_GOOD[:, :, None])


def test_wrong_feature_count_after_fitting():
    net = classifier()
    net.fit(X_GOOD, Y_GOOD, verbose=0)
    with pytest.raises(nnkit.DataError, match="has 5 features but the network takes 4"):
        net.predict(np.zeros((2, 5)))


@pytest.mark.parametrize(
    "y, message",
    [
        (np.arange(20) % 4, "label 3, outside the output layer's 3 units: labels must be 0..2"),
        (-(np.arange(20) % 3), "label -1"),
        (np.full(20, 0.5), "whole numbers"),
        (np.arange(19) % 3, "has 19 rows but X has 20 samples"),
        (np.zeros((20, 4)), r"shape \(20, 4\) but the output layer has 3 unit"),
        (np.array(["cat"] * 20), "encode class names as integers"),
        (np.where(np.arange(20) == 3, np.nan, 0), "NaN"),
        (np.full((20, 3), 2.0), r"needs targets in \[0, 1\]"),
    ],
    ids=["label-too-big", "negative", "fractional", "length", "columns", "strings", "nan", "range"],
)
def test_bad_targets_are_rejected(y, message):
    with pytest.raises(nnkit.DataError, match=message):
        classifier().fit(X_GOOD, y, verbose=0)


def test_labels_need_a_loss_that_takes_them():
    net = nnkit.Network([nnkit.Dense(3)], loss="mse")
    with pytest.raises(nnkit.DataError, match="does not take class labels"):
        net.fit(X_GOOD, Y_GOOD, verbose=0)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"epochs": 2.5}, "epochs must be a positive integer"),
        ({"batch_size": -1}, "batch_size must be a positive integer"),
        ({"batch_size": True}, "batch_size must be a positive integer"),
        ({"validation_split": 1.0}, r"validation_split must be in \[0, 1\)"),
        ({"validation_split": 0.2, "validation_data": (X_GOOD, Y_GOOD)}, "not both"),
        ({"validation_data": X_GOOD}, "must be a pair"),
        ({"validation_split": 0.99}, "leaves 0 to train on and 20 to validate on"),
        ({"metrics": ["accuracy", "accuracy"]}, "named twice"),
    ],
)
def test_bad_training_options_are_rejected_before_training(options, message):
    net = classifier()
    with pytest.raises((nnkit.ConfigurationError, nnkit.DataError), match=message):
        net.fit(X_GOOD, Y_GOOD, verbose=0, **options)
    assert net.history is None  # nothing trained


def test_bad_validation_data_is_named_as_such():
    with pytest.raises(nnkit.DataError, match="X_val has 3 features"):
        classifier().fit(X_GOOD, Y_GOOD, validation_data=(np.zeros((5, 3)), np.zeros(5)), verbose=0)
    with pytest.raises(nnkit.DataError, match="y_val has label 7"):
        classifier().fit(
            X_GOOD, Y_GOOD, validation_data=(np.zeros((5, 4)), np.full(5, 7)), verbose=0
        )


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: nnkit.Dense(0), "Dense units must be a positive integer"),
        (lambda: nnkit.Dense("10"), "Dense units must be a positive integer"),
        (lambda: nnkit.Network([]), "at least one layer"),
        (lambda: nnkit.Network(nnkit.Dense(3)), "must be a list of layers"),
        (
            lambda: nnkit.Network([nnkit.Dense(3)], dtype="int32"),
            "dtype must be 'float32' or 'float64'",
        ),
        (lambda: nnkit.Network([nnkit.Dense(3)], seed=1.5), "seed must be an integer"),
        (
            lambda: nnkit.optimizer("sgd", learning_rate=0),
            "learning_rate must be a finite number > 0",
        ),
        (lambda: nnkit.optimizer("sgd", momentum=1.0), r"momentum must be in \[0, 1\)"),
        (lambda: nnkit.optimizer("sgd", nesterov=True), "nesterov=True needs a momentum"),
        (lambda: nnkit.optimizer("adam", beta_1=1.0), r"beta_1 must be in \[0, 1\)"),
        (lambda: nnkit.activation("leaky_relu", alpha=-1), r"alpha must be in \[0, 1\)"),
    ],
)
def test_bad_configuration_is_rejected(build, message):
    with pytest.raises(nnkit.ConfigurationError, match=message):
        build()


def test_set_weights_checks_everything_before_changing_anything():
    net = classifier().build(4)
    before = net.get_weights()
    bad = [w.copy() for w in before]
    bad[0][...] = 1.0
    bad[3] = np.zeros((4,))
    with pytest.raises(
        nnkit.DataError, match=r"weight array 3 has shape \(4,\) but the network expects \(3,\)"
    ):
        net.set_weights(bad)
    for old, now in zip(before, net.get_weights()):
        np.testing.assert_array_equal(old, now)
    with pytest.raises(nnkit.DataError, match="got 2 arrays but the network has 4"):
        net.set_weights(before[:2])
    nan = [w.copy() for w in before]
    nan[2][0, 0] = np.nan
    with pytest.raises(nnkit.DataError, match="NaN"):
        net.set_weights(nan)
    with pytest.raises(nnkit.ConfigurationError, match="needs a built network"):
        classifier().get_weights()


def test_train_test_split_checks_its_arguments():
    from nnkit.data.split import train_test_split

    with pytest.raises(nnkit.DataError, match="test_size"):
        train_test_split(X_GOOD, Y_GOOD, test_size=1.5)
    with pytest.raises(nnkit.DataError, match="X has 20 samples but y has 3"):
        train_test_split(X_GOOD, Y_GOOD[:3])
    X_train, X_test, y_train, y_test = train_test_split(X_GOOD, Y_GOOD, test_size=0.25, seed=1)
    assert (len(X_train), len(X_test), len(y_train), len(y_test)) == (15, 5, 15, 5)
    assert sorted(np.concatenate([X_train, X_test])[:, 0]) == sorted(X_GOOD[:, 0])


def test_predict_names_the_row_of_a_nan_in_a_later_batch():
    net = nnkit.Network([nnkit.Dense(2, activation="softmax")], loss="cross_entropy").build(3)
    X = np.zeros((2500, 3))
    X[1500, 2] = np.nan
    with pytest.raises(nnkit.DataError, match="the first NaN at row 1500, column 2"):
        net.predict(X, batch_size=1024)
    with pytest.raises(nnkit.DataError, match="the first NaN at row 1500, column 2"):
        net.fit(X, np.zeros(2500, dtype=int), epochs=1, verbose=0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_every_kind_of_non_finite_value_is_found_wherever_it_is(bad):
    X = np.ones((3000, 7), dtype=np.float32)
    X[2345, 6] = bad
    with pytest.raises(nnkit.DataError, match="at row 2345, column 6"):
        nnkit.data.arrays.check_finite(X, "X")
    X[2345, 5] = -bad  # opposite infinities in one row still do not cancel
    with pytest.raises(nnkit.DataError, match="at row 2345, column 5"):
        nnkit.data.arrays.check_finite(X, "X")


def test_huge_but_finite_values_are_accepted():
    X = np.full((10, 4), 3e38, dtype=np.float32)  # each row's sum overflows
    nnkit.data.arrays.check_finite(X, "X")
    nnkit.data.arrays.check_finite(np.full((3, 2), 1e200), "X")  # float64 squares overflow too


def layouts(X: np.ndarray) -> dict[str, np.ndarray]:
    """The same values in C order, Fortran order, and as a strided view."""
    strided = np.zeros((X.shape[0], 2 * X.shape[1]), X.dtype)
    strided[:, ::2] = X
    return {"C": X, "Fortran": np.asfortranarray(X), "strided": strided[:, ::2]}


def test_a_non_finite_value_in_an_image_is_named_by_its_flat_feature_index():
    X = np.zeros((3, 2, 4, 4), np.float32)
    X[2, 1, 1, 3] = np.nan  # feature 1 * 16 + 1 * 4 + 3 of sample 2
    with pytest.raises(nnkit.DataError, match="the first NaN at row 2, column 23;"):
        nnkit.data.arrays.check_finite(X, "X")


@pytest.mark.parametrize("layout", ["C", "Fortran", "strided"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_finite_values_are_found_in_every_memory_layout(layout, dtype):
    X = np.full((40, 6), 2.0, dtype=dtype)
    X[0, 0] = 1e30  # finite, with a square beyond float32's range
    X[17, 4] = -np.inf
    with pytest.raises(nnkit.DataError, match="infinite at row 17, column 4"):
        nnkit.data.arrays.check_finite(layouts(X)[layout], "X")
    X[17, 4] = 0.5
    nnkit.data.arrays.check_finite(layouts(X)[layout], "X")


# -- numbers given as settings ------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [0.1, 1, np.float32(0.1), np.float16(0.5), np.float64(0.25), np.int64(3), np.uint8(7)],
)
def test_real_number_takes_python_and_numpy_numbers(value):
    number = nnkit.arguments.real_number(value, "rate", nnkit.arguments.POSITIVE)
    assert type(number) is float and number == float(value)


@pytest.mark.parametrize(
    ("value", "within", "message"),
    [
        (np.nan, nnkit.arguments.FRACTION, r"rate must be in \[0, 1\), got nan"),
        (
            np.float32("inf"),
            nnkit.arguments.POSITIVE,
            r"rate must be a finite number > 0, got np.float32\(inf\)",
        ),
        (-np.inf, nnkit.arguments.FINITE, "rate must be a finite number, got -inf"),
        (10**400, nnkit.arguments.NON_NEGATIVE, "rate must be a finite number >= 0, got 1000"),
        (True, nnkit.arguments.FRACTION, r"rate must be in \[0, 1\), got True"),
        (np.True_, nnkit.arguments.FRACTION, r"rate must be in \[0, 1\), got np.True_"),
        ("0.1", nnkit.arguments.FRACTION, r"rate must be in \[0, 1\), got '0.1'"),
        (np.array([0.1]), nnkit.arguments.FRACTION, r"got array\(\[0.1\]\)"),
        (1.0, nnkit.arguments.FRACTION, r"in \[0, 1\), got 1.0"),
        (0, nnkit.arguments.POSITIVE, "> 0, got 0"),
        (0, nnkit.arguments.Interval(0, 1, closed_low=False, closed_high=True), r"in \(0, 1\], got 0"),
    ],
)
def test_real_number_refuses_what_is_not_a_finite_number_in_range(value, within, message):
    with pytest.raises(nnkit.ConfigurationError, match=message):
        nnkit.arguments.real_number(value, "rate", within)


def test_whole_numbers_take_numpy_integers_and_refuse_bools():
    assert nnkit.arguments.non_negative_int(np.int32(0), "patience") == 0
    assert nnkit.arguments.positive_int(np.uint16(3), "epochs") == 3
    for bad in (True, -1, 1.0, np.float64(2)):
        with pytest.raises(nnkit.ConfigurationError, match="patience must be an integer >= 0"):
            nnkit.arguments.non_negative_int(bad, "patience")


def test_components_take_numpy_numbers_as_settings():
    sgd = nnkit.optimizer("sgd", learning_rate=np.float32(0.1), momentum=np.float32(0.9))
    assert (sgd.learning_rate, sgd.momentum) == (float(np.float32(0.1)), float(np.float32(0.9)))
    assert nnkit.schedule("step", step_size=np.int64(5), factor=np.float32(0.5)).step_size == 5
    assert nnkit.schedule("cosine", decay_epochs=np.int32(4)).decay_epochs == 4
    plateau = nnkit.schedule("plateau", patience=np.int64(2), cooldown=np.uint8(1))
    assert (plateau.patience, plateau.cooldown) == (2, 1)
    stopping = nnkit.callback("early_stopping", patience=np.int64(3), min_delta=np.float32(0.01))
    assert stopping.patience == 3 and stopping.min_delta == pytest.approx(0.01)
    assert type(stopping.patience) is int
