"""Outputs that keep a time axis, ``(m, T, vocab)``: a class per position, integer
targets ``(m, T)``, positions ignored by ``ignore_index``, as PyTorch's cross-entropy."""

from __future__ import annotations

import numpy as np
import pytest

import nnkit
from nnkit.data.position_targets import as_position_targets
from nnkit.testing import check_network_gradients

M, T, V = 4, 5, 6


def softmax(Z: np.ndarray) -> np.ndarray:
    E = np.exp(Z - Z.max(axis=-1, keepdims=True))
    return E / E.sum(axis=-1, keepdims=True)


def labels_with_ignored(seed: int = 0, ignore: int = -100) -> np.ndarray:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, V, size=(M, T))
    labels[0, 3:] = ignore  # a padded tail
    labels[2, 0] = ignore
    return labels


def one_hot(labels: np.ndarray, loss: nnkit.Loss) -> np.ndarray:
    return as_position_targets(labels, M, (T, V), loss, np.dtype(np.float64))


def language_model(dtype: str = "float32", **loss_options) -> nnkit.Network:
    return nnkit.Network(
        [
            nnkit.layer("embedding", input_dim=V, output_dim=8),
            nnkit.Dense(16, activation="tanh"),
            nnkit.Dense(V, activation="softmax"),
        ],
        loss=nnkit.loss("cross_entropy", **loss_options),
        optimizer="adam",
        seed=0,
        dtype=dtype,
    )


# -- the loss against PyTorch ------------------------------------------------------


@pytest.mark.parametrize("ignore", [-100, 0])
def test_cross_entropy_per_token_matches_pytorch_values_and_gradients(ignore):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    loss = nnkit.loss("cross_entropy", ignore_index=ignore)
    labels = labels_with_ignored(seed=1, ignore=ignore)
    Z = np.random.default_rng(2).normal(size=(M, T, V))
    A, Y = softmax(Z), one_hot(labels, loss)

    logits = torch.tensor(Z, requires_grad=True)
    target = torch.tensor(labels)
    expected = F.cross_entropy(logits.permute(0, 2, 1), target, ignore_index=ignore)
    expected.backward()
    probabilities = torch.tensor(A, requires_grad=True)
    by_probability = F.nll_loss(
        torch.log(probabilities).permute(0, 2, 1), target, ignore_index=ignore
    )
    by_probability.backward()

    np.testing.assert_allclose(loss.value(A, Y), expected.item(), rtol=1e-12)
    np.testing.assert_allclose(loss.per_sample(A, Y).mean(), expected.item(), rtol=1e-12)
    # Fused with softmax: dZ straight from A, exact with the positions left out.
    fused = loss.fused_gradient(A, Y)
    np.testing.assert_allclose(fused, logits.grad.numpy(), rtol=1e-10, atol=1e-14)
    assert np.all(fused[labels == ignore] == 0)
    np.testing.assert_allclose(
        loss.gradient(A, Y), probabilities.grad.numpy(), rtol=1e-10, atol=1e-14
    )


def test_network_gradients_of_a_per_token_model_match_pytorch():
    torch = pytest.importorskip("torch")
    net = language_model("float64")
    X = np.random.default_rng(3).integers(0, V, size=(M, T)).astype(float)
    labels = labels_with_ignored(seed=4)
    found = net.gradients(X, labels)
    E, W1, b1, W2, b2 = (torch.tensor(w, requires_grad=True) for w in net.get_weights())
    hidden = torch.tanh(E[torch.tensor(X, dtype=torch.long)] @ W1.T + b1)
    logits = hidden @ W2.T + b2
    expected = torch.nn.functional.cross_entropy(
        logits.permute(0, 2, 1), torch.tensor(labels), ignore_index=-100
    )
    expected.backward()
    np.testing.assert_allclose(found.loss, expected.item(), rtol=1e-12)
    for mine, theirs in zip(found.weights, (E, W1, b1, W2, b2)):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-9, atol=1e-13)


def test_per_token_gradients_with_sample_weights_match_finite_differences():
    net = nnkit.Network(
        [nnkit.Dense(7, activation="tanh"), nnkit.Dense(V, activation="softmax")],
        loss="cross_entropy",
        seed=0,
        dtype="float64",
    )
    X = np.random.default_rng(5).normal(size=(M, T, 3))
    weights = np.array([0.5, 2.0, 1.0, 0.0])
    check_network_gradients(net, X, labels_with_ignored(seed=6), weights)


def test_sample_weights_weigh_sequences_and_the_mean_divides_by_real_positions():
    loss = nnkit.loss("cross_entropy")
    labels = labels_with_ignored(seed=7)
    A = softmax(np.random.default_rng(8).normal(size=(M, T, V)))
    Y = one_hot(labels, loss)
    real = labels != -100
    token_losses = -np.log(np.take_along_axis(A, np.where(real, labels, 0)[..., None], -1))[..., 0]
    per_sequence = (token_losses * real).sum(axis=1)
    assert loss.value(A, Y) == pytest.approx(per_sequence.sum() / real.sum(), rel=1e-12)
    weights = np.array([1.0, 3.0, 0.0, 0.5])
    net = language_model("float64")
    net.build((T,))
    weighted = net.batch_loss(A, Y, weights)
    assert weighted == pytest.approx((weights * per_sequence).sum() / real.sum(), rel=1e-12)


def test_a_batch_of_only_ignored_positions_has_zero_loss_and_gradient():
    loss = nnkit.loss("cross_entropy")
    A = softmax(np.random.default_rng(9).normal(size=(M, T, V)))
    Y = one_hot(np.full((M, T), -100), loss)
    assert loss.value(A, Y) == 0
    assert not np.any(loss.fused_gradient(A, Y)) and not np.any(loss.gradient(A, Y))


def test_flat_cross_entropy_still_divides_by_the_samples():
    # The flat path is unchanged: an all-zero target row still counts as a sample.
    loss = nnkit.loss("cross_entropy")
    A = softmax(np.random.default_rng(10).normal(size=(4, 3)))
    Y = np.eye(3)[[0, 2, 1, 0]]
    Y[3] = 0
    assert loss.value(A, Y) == pytest.approx(-np.sum(Y * np.log(A)) / 4, rel=1e-12)
    np.testing.assert_allclose(loss.fused_gradient(A, Y), (A * Y.sum(1, keepdims=True) - Y) / 4)


def test_ignore_index_must_be_an_integer_and_is_saved(tmp_path):
    with pytest.raises(nnkit.ConfigurationError, match="ignore_index must be an integer"):
        nnkit.loss("cross_entropy", ignore_index=0.5)
    net = language_model(ignore_index=0)
    X = np.random.default_rng(11).integers(0, V, size=(8, T)).astype(float)
    net.fit(X, X.astype(int), epochs=1, verbose=0)
    net.save(tmp_path / "lm.nnkit")
    loaded = nnkit.load(tmp_path / "lm.nnkit")
    assert loaded.loss.ignore_index == 0
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))


# -- training, evaluating, predicting -----------------------------------------------


def test_a_per_token_network_learns_to_copy_its_input():
    rng = np.random.default_rng(12)
    X = rng.integers(1, V, size=(256, T)).astype(float)
    y = X.astype(int)
    y[:, -2:] = -100  # positions without a target do not count
    net = language_model()
    history = net.fit(X, y, epochs=40, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    scores = net.evaluate(X, y)
    assert scores["accuracy"] > 0.95
    outputs = net.predict(X)
    assert outputs.shape == (256, T, V) and net.output_shape == (T, V) and net.n_outputs == V
    np.testing.assert_allclose(outputs.sum(axis=-1), 1, rtol=1e-5)
    labels = net.predict_labels(X)
    assert labels.shape == (256, T)
    np.testing.assert_array_equal(labels, outputs.argmax(-1))


def test_accuracy_counts_the_real_positions_over_the_whole_epoch():
    metric = nnkit.metric("accuracy")
    loss = nnkit.loss("cross_entropy")
    labels = labels_with_ignored(seed=13)
    A = softmax(np.random.default_rng(14).normal(size=(M, T, V)))
    Y = one_hot(labels, loss)
    real = labels != -100
    expected = np.count_nonzero((A.argmax(-1) == labels) & real) / real.sum()
    assert metric.value(A, Y) == pytest.approx(expected)
    state = metric.init_state()
    for rows in (slice(0, 1), slice(1, 4)):  # batches with 3 and 17 real positions
        metric.update(state, A[rows], Y[rows])
    assert metric.result(state) == pytest.approx(expected)


def test_the_confusion_metrics_score_the_real_positions():
    loss = nnkit.loss("cross_entropy")
    labels = labels_with_ignored(seed=15)
    A = softmax(np.random.default_rng(16).normal(size=(M, T, V)))
    Y = one_hot(labels, loss)
    real = labels != -100
    micro = nnkit.metric("f1", average="micro").value(A, Y)
    assert micro == pytest.approx(np.mean(A.argmax(-1)[real] == labels[real]))


def test_validation_split_and_sample_weights_train_per_token():
    X = np.random.default_rng(17).integers(0, V, size=(40, T)).astype(float)
    net = language_model()
    history = net.fit(
        X, X.astype(int), epochs=2, verbose=0, validation_split=0.25,
        sample_weight=np.linspace(0, 1, 40),
    )
    assert set(history.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert np.isfinite(history.history["val_loss"]).all()


def test_mse_averages_over_every_element_of_per_position_outputs():
    loss = nnkit.loss("mse")
    rng = np.random.default_rng(18)
    A, Y = rng.normal(size=(M, T, 3)), rng.normal(size=(M, T, 3))
    assert loss.value(A, Y) == pytest.approx(np.mean((A - Y) ** 2))
    assert loss.per_sample(A, Y).shape == (M,)
    assert loss.per_sample(A, Y).mean() == pytest.approx(loss.value(A, Y))
    net = nnkit.Network([nnkit.Dense(3)], loss="mse", seed=0, dtype="float64")
    check_network_gradients(net, A, Y, np.array([1.0, 0.0, 2.0, 0.5]))


def test_a_loss_for_flat_outputs_is_refused_at_build():
    net = nnkit.Network([nnkit.Dense(4), nnkit.Dense(3)], loss="hinge")
    with pytest.raises(
        nnkit.ConfigurationError,
        match=r"returns samples of shape \(5, 3\), but the loss hinge .* compares flat "
        r"outputs .*flatten\(\).*'cross_entropy'",
    ):
        net.build((5, 2))


def test_class_weight_is_refused_for_per_token_targets():
    X = np.zeros((8, T))
    with pytest.raises(nnkit.DataError, match="class per position; give sample_weight"):
        language_model().fit(X, np.zeros((8, T), int), class_weight={0: 2.0}, verbose=0)


# -- bad targets ------------------------------------------------------------------


@pytest.mark.parametrize(
    "y, message",
    [
        (np.full((8, T), V), r"label 6 at sample 0, position 0, outside the output's 6 units: "
         r"labels must be 0\.\.5 \(or -100, the loss's ignore_index, for none\)"),
        (np.full((8, T), -1), r"label -1 at sample 0, position 0"),
        (np.zeros((8, T + 1), int), r"y has shape \(8, 6\) but the network's outputs have "
         r"samples of shape \(5, 6\): give targets of shape \(8, 5, 6\) \(or class labels "
         r"of shape \(8, 5\)\).*flatten\(\)"),
        (np.zeros(8, int), r"y has shape \(8,\) but .*flatten\(\)"),
        (np.full((8, T), 1.5), r"whole numbers 0\.\.5, got 1\.5"),
        (np.full((8, T), np.nan), "NaN"),
        (np.full((8, T), "a"), "must be numeric"),
        (np.zeros((7, T), int), "y has 7 rows but X has 8 samples"),
    ],
    ids=["too-large", "negative", "wrong-T", "per-sample", "fraction", "nan", "text", "rows"],
)
def test_bad_per_token_targets_get_clear_errors(y, message):
    X = np.zeros((8, T))
    with pytest.raises(nnkit.DataError, match=message):
        language_model().fit(X, y, verbose=0)


def test_dense_per_token_targets_are_checked_against_the_loss_range():
    X = np.zeros((8, T))
    with pytest.raises(nnkit.DataError, match=r"needs targets in \[0, 1\]"):
        language_model().fit(X, np.full((8, T, V), 2.0), verbose=0)
    # Soft targets of the output's shape train as they are.
    soft = np.full((8, T, V), 1.0 / V)
    history = language_model().fit(X, soft, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_a_per_token_network_exports_to_onnx_with_its_output_shape(tmp_path):
    pytest.importorskip("onnx")
    runtime = pytest.importorskip("onnxruntime")
    net = language_model()
    X = np.random.default_rng(19).integers(0, V, size=(3, T)).astype(np.float32)
    net.build((T,))
    model = net.to_onnx(tmp_path / "lm.onnx")
    declared = [d.dim_param or d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim]
    assert declared == ["N", T, V]
    session = runtime.InferenceSession(str(tmp_path / "lm.onnx"))
    (found,) = session.run(None, {"X": X})
    np.testing.assert_allclose(found, net.predict(X), rtol=1e-5, atol=1e-6)


def test_a_training_step_with_ignored_positions_follows_the_exact_gradient():
    """fit encodes the labels one-hot, but an ignored position is an all-zero row: the
    step must not take the one-hot shortcut, which divides by m and assumes rows of 1."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(6, 4, 3))
    labels = rng.integers(0, 5, size=(6, 4))
    labels[0, 1:] = labels[3, 2] = -100  # ignored positions
    net = nnkit.Network([nnkit.Dense(5, activation="softmax")], loss="cross_entropy",
                        optimizer=nnkit.optimizer("sgd", learning_rate=0.5), seed=0,
                        dtype="float64").build((4, 3))
    before = net.get_weights()
    expected = net.gradients(X, labels)
    net.fit(X, labels, epochs=1, batch_size=6, shuffle=False, verbose=0)
    for old, new, gradient in zip(before, net.get_weights(), expected.weights):
        np.testing.assert_allclose(new, old - 0.5 * gradient, rtol=1e-12, atol=1e-15)
