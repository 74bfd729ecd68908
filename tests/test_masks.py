"""Masks of padded positions: made by an embedding's ``mask_zero`` or the ``masking``
layer, carried beside the data, refused by layers that would mix padding into real
positions, left out of losses and metrics, and checked by the conformance kit."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import nnkit
from nnkit.interfaces.workspace import Workspace
from nnkit.testing import check_component, check_network_gradients, subject_of
from nnkit.testing.layer_checks import layer_masked_positions

V, T = 6, 5


def padded_codes(m: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.integers(1, V, size=(m, T)).astype(float)
    lengths = rng.integers(1, T + 1, size=m)
    X[np.arange(T)[None, :] >= lengths[:, None]] = 0  # padded at the end with code 0
    return X


def token_model(dtype: str = "float32") -> nnkit.Network:
    return nnkit.Network(
        [nnkit.layer("embedding", input_dim=V, output_dim=4, mask_zero=True),
         nnkit.Dense(8, activation="tanh"), nnkit.layer("dropout", rate=0.0),
         nnkit.Dense(V, activation="softmax")],
        loss="cross_entropy", optimizer="adam", seed=0, dtype=dtype,
    )


class MeanOverTime(nnkit.Layer):
    """The mean over the time steps, reading the mask: ``(T, d)`` to ``(d,)``."""

    example_input_shape = (4, 3)
    supports_masking = True

    def build(self, input_shape, rng):
        return (input_shape[-1],)

    def compute_mask(self, x, mask):
        return None

    def weights(self, ws, x):
        mask = np.ones(x.shape[:2], bool) if ws.mask is None else ws.mask
        return (mask / np.maximum(mask.sum(axis=1, keepdims=True), 1)).astype(x.dtype)

    def forward(self, x, ws, training=False):
        ws.w = self.weights(ws, x)
        return np.einsum("mt,mtd->md", ws.w, x)

    def backward(self, dy, ws, need_input_gradient=True):
        return ws.w[:, :, None] * dy[:, None, :]


class MeanOverEveryStep(MeanOverTime):
    """Declares masking but averages over padded steps too: the defect the kit catches."""

    def weights(self, ws, x):
        return np.full(x.shape[:2], 1 / x.shape[1], dtype=x.dtype)


# -- the kit --------------------------------------------------------------------------


def test_the_kit_catches_masked_positions_given_gradient():
    with pytest.raises(AssertionError, match="masked positions given gradient"):
        layer_masked_positions(subject_of(MeanOverEveryStep()))
    layer_masked_positions(subject_of(MeanOverTime()))


def test_the_kit_checks_embedding_codes_and_masking_with_masks():
    for layer in (
        nnkit.layer("embedding", input_dim=5, output_dim=3, mask_zero=True),
        nnkit.layer("masking", mask_value=0.0),
    ):
        check_component(layer)


# -- making and carrying masks -----------------------------------------------------


def test_embedding_mask_zero_masks_code_zero():
    embedding = nnkit.layer("embedding", input_dim=V, output_dim=2, mask_zero=True)
    X = padded_codes()
    np.testing.assert_array_equal(embedding.compute_mask(X, None), X != 0)
    assert embedding.makes_mask()
    assert not nnkit.layer("embedding", input_dim=V, output_dim=2).makes_mask()
    with pytest.raises(nnkit.ConfigurationError, match="mask_zero must be True"):
        nnkit.layer("embedding", input_dim=V, output_dim=2, mask_zero="yes")


def test_masking_masks_steps_whose_features_all_equal_the_value():
    layer = nnkit.layer("masking", mask_value=-1.0)
    layer.build((3, 2), np.random.default_rng(0))
    x = np.array([[[1.0, -1.0], [-1.0, -1.0], [0.5, 2.0]]])
    mask = layer.compute_mask(x, None)
    np.testing.assert_array_equal(mask, [[True, False, True]])
    ws = Workspace()
    ws.mask = None
    y = layer.forward(x, ws)
    np.testing.assert_array_equal(y, [[[1.0, -1.0], [0.0, 0.0], [0.5, 2.0]]])
    with pytest.raises(nnkit.ConfigurationError, match=r"masking takes sequences"):
        nnkit.Network([nnkit.layer("masking"), nnkit.Dense(1)]).build((4,))


def test_a_network_without_a_mask_making_layer_carries_no_mask():
    net = nnkit.Network([nnkit.layer("embedding", input_dim=V, output_dim=2),
                         nnkit.Dense(V, activation="softmax")], loss="cross_entropy")
    assert not net.graph.masked
    ws = Workspace()
    net.build((T,))
    net.forward(padded_codes(), ws)
    assert ws.output_mask is None
    assert token_model().graph.masked


def test_a_layer_that_would_mix_padding_in_is_refused_at_build_naming_it():
    net = nnkit.Network(
        [nnkit.layer("embedding", input_dim=V, output_dim=2, mask_zero=True), "flatten",
         nnkit.Dense(2, activation="softmax")],
        loss="cross_entropy",
    )
    with pytest.raises(
        nnkit.ConfigurationError,
        match=r"layer 2 \(flatten .*\): Flatten does not handle masks, but a mask of padded "
        r"positions reaches it",
    ):
        net.build((T,))


def test_an_output_mask_needs_a_loss_that_leaves_masked_positions_out():
    net = nnkit.Network(
        [nnkit.layer("embedding", input_dim=V, output_dim=2, mask_zero=True), nnkit.Dense(1)],
        loss="mse",
    )
    with pytest.raises(nnkit.ConfigurationError, match=r"loss mse .* cannot leave masked"):
        net.build((T,))


# -- losses and metrics -------------------------------------------------------------


def test_loss_and_accuracy_leave_padded_positions_out():
    net = token_model("float64")
    X = padded_codes()
    targets = np.random.default_rng(1).integers(0, V, size=X.shape)
    A = net.predict(X)
    real = X != 0
    picked = np.take_along_axis(A, targets[..., None], -1)[..., 0]
    scores = net.evaluate(X, targets)
    assert scores["loss"] == pytest.approx(-np.log(picked[real]).mean(), rel=1e-12)
    assert scores["accuracy"] == pytest.approx(np.mean(A.argmax(-1)[real] == targets[real]))
    # Sample weights weigh sequences; ignore_index drops positions besides the mask.
    weights = np.linspace(0.5, 2.0, X.shape[0])
    targets[0, 0] = -100
    real[0, 0] = False
    weighted = (weights[:, None] * np.where(real, -np.log(picked), 0)).sum() / real.sum()
    assert net.evaluate(X, targets, sample_weight=weights)["loss"] == pytest.approx(
        weighted, rel=1e-12
    )


def test_masked_gradients_match_finite_differences():
    net = token_model("float64")
    X = padded_codes(m=4)
    check_network_gradients(net, X, np.roll(X, -1, axis=1).astype(int), np.arange(1.0, 5.0))


def test_gradients_over_real_steps_only_behind_a_masking_layer():
    X = np.random.default_rng(2).normal(size=(4, T, 3))
    X[1, 3:] = 0.0  # padded steps: finite differences would make them real
    X[3, 1:] = 0.0
    net = nnkit.Network(
        [nnkit.layer("masking"), nnkit.Dense(4, activation="tanh"),
         nnkit.Dense(3, activation="softmax")],
        loss="cross_entropy", seed=0, dtype="float64",
    )
    check_network_gradients(net, X, np.random.default_rng(3).integers(0, 3, size=(4, T)))
    gradients = net.gradients(X, np.zeros((4, T), int))
    assert not np.any(gradients.inputs[1, 3:]) and not np.any(gradients.inputs[3, 1:])


def test_masked_training_learns_only_from_real_positions():
    X = padded_codes(m=200, seed=4)
    targets = np.where(X != 0, (X.astype(int) + 1) % V, 0)  # padding labelled 0, masked
    net = token_model()
    history = net.fit(X, targets, epochs=40, verbose=0)
    assert history.history["accuracy"][-1] > 0.95


# -- graphs, threads, files, ONNX -----------------------------------------------------


def test_masks_flow_along_the_edges_of_a_drawn_graph():
    codes = nnkit.Input(shape=(T,))
    embedded = nnkit.layer("embedding", input_dim=V, output_dim=3, mask_zero=True)(codes)
    hidden = nnkit.Dense(4, activation="tanh")(embedded)
    pooled = MeanOverTime()(hidden)
    out = nnkit.Dense(2, activation="softmax")(pooled)
    net = nnkit.Network(inputs=[codes], outputs=[out], loss="cross_entropy", seed=0,
                        dtype="float64")
    X = padded_codes()
    longer = nnkit.Network(
        inputs=[c := nnkit.Input(shape=(T + 3,))],
        outputs=[nnkit.Dense(2, activation="softmax")(MeanOverTime()(nnkit.Dense(
            4, activation="tanh")(nnkit.layer("embedding", input_dim=V, output_dim=3,
                                              mask_zero=True)(c))))],
        loss="cross_entropy", dtype="float64",
    )
    net.build((T,))
    longer.build((T + 3,))
    longer.set_weights(net.get_weights())
    padded = np.concatenate([X, np.zeros((X.shape[0], 3))], axis=1)
    np.testing.assert_allclose(longer.predict(padded), net.predict(X), rtol=1e-12)


def test_element_wise_merges_combine_masks_and_concatenate_refuses_them():
    def skip_block(steps: int) -> nnkit.Network:
        codes = nnkit.Input(shape=(steps,))
        embedded = nnkit.layer("embedding", input_dim=V, output_dim=3, mask_zero=True)(codes)
        joined = nnkit.layer("add")([nnkit.Dense(3)(embedded), embedded])
        out = nnkit.Dense(2, activation="softmax")(MeanOverTime()(joined))
        net = nnkit.Network(inputs=[codes], outputs=[out], loss="cross_entropy", seed=0,
                            dtype="float64")
        return net.build((steps,))

    X = padded_codes()
    net, longer = skip_block(T), skip_block(T + 3)
    longer.set_weights(net.get_weights())
    padded = np.concatenate([X, np.zeros((X.shape[0], 3))], axis=1)
    np.testing.assert_allclose(longer.predict(padded), net.predict(X), rtol=1e-12)
    net.fit(X, np.arange(X.shape[0]) % 2, epochs=1, verbose=0)  # trains through the merge
    add = nnkit.layer("add")
    mask = np.array([[True, False]])
    assert add.compute_mask_inputs([X, X], [mask, None]) is mask
    np.testing.assert_array_equal(
        add.compute_mask_inputs([X, X], [mask, np.array([[False, True]])]), [[False, False]]
    )
    codes = nnkit.Input(shape=(T,))
    embedded = nnkit.layer("embedding", input_dim=V, output_dim=3, mask_zero=True)(codes)
    glued = nnkit.layer("concatenate")([nnkit.Dense(3)(embedded), embedded])
    out = nnkit.Dense(2, activation="softmax")(MeanOverTime()(glued))
    refused = nnkit.Network(inputs=[codes], outputs=[out], loss="cross_entropy")
    with pytest.raises(nnkit.ConfigurationError,
                       match=r"layer 3 \(concatenate .*\): Concatenate merges values that carry"):
        refused.build((T,))


def test_threads_each_get_their_own_masks():
    net = token_model()
    batches = [padded_codes(m=16, seed=seed) for seed in range(4)]
    expected = [net.predict(batch) for batch in batches]
    found: dict[int, list[np.ndarray]] = {i: [] for i in range(4)}

    def predict(index: int) -> None:
        for _ in range(20):
            found[index].append(net.predict(batches[index]))

    threads = [threading.Thread(target=predict, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index in range(4):
        for result in found[index]:
            np.testing.assert_array_equal(result, expected[index])


def test_mask_settings_are_saved_and_loaded(tmp_path):
    net = nnkit.Network(
        [nnkit.layer("masking", mask_value=-1.0), nnkit.Dense(3, activation="softmax")],
        loss="cross_entropy", seed=0,
    )
    X = np.random.default_rng(5).normal(size=(6, T, 2))
    X[:, -1] = -1.0
    net.fit(X, np.zeros((6, T), int), epochs=1, verbose=0)
    net.save(tmp_path / "masked.nnkit")
    loaded = nnkit.load(tmp_path / "masked.nnkit")
    assert loaded.layers[0].mask_value == -1.0
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))
    lm = token_model()
    lm.build((T,))
    lm.save(tmp_path / "lm.nnkit")
    assert nnkit.load(tmp_path / "lm.nnkit").layers[0].mask_zero is True


def test_onnx_export_refuses_a_mask_naming_the_layer(tmp_path):
    pytest.importorskip("onnx")
    net = token_model()
    net.build((T,))
    with pytest.raises(nnkit.ConfigurationError, match="embedding with mask_zero=True"):
        net.to_onnx(tmp_path / "lm.onnx")


# -- an explicit mask input -------------------------------------------------------------


def explicit_mask_model(steps: int = T) -> nnkit.Network:
    """Sequences ``(steps, 3)`` and their 0/1 mask ``(steps,)`` as two inputs, a class
    per step out."""
    values, given = nnkit.Input(shape=(steps, 3), name="x"), nnkit.Input(shape=(steps,), name="mask")
    masked = nnkit.layer("apply_mask")([values, given])
    out = nnkit.Dense(2, activation="softmax")(nnkit.Dense(4, activation="tanh")(masked))
    return nnkit.Network(inputs=[values, given], outputs=[out], loss="cross_entropy", seed=0,
                         dtype="float64")


def sequences_and_mask(m: int = 8, seed: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, T + 1, size=m)
    return rng.normal(size=(m, T, 3)), (np.arange(T)[None, :] < lengths[:, None]).astype(float)


def test_apply_mask_masks_the_steps_its_mask_input_marks_0():
    X, mask = sequences_and_mask()
    labels = (X[:, :, 0] > 0).astype(int)
    net = explicit_mask_model().build(T * 3 + T)  # the inputs side by side
    real = mask == 1
    found = net.predict({"x": X, "mask": mask})
    # the same as reading the mask off a padding value
    by_value = nnkit.Network(
        [nnkit.layer("masking", mask_value=0.0), nnkit.Dense(4, activation="tanh"),
         nnkit.Dense(2, activation="softmax")],
        loss="cross_entropy", dtype="float64",
    ).build((T, 3))
    by_value.set_weights(net.get_weights())
    np.testing.assert_allclose(by_value.predict(X * mask[:, :, None])[real], found[real],
                               rtol=1e-12)
    loss = net.evaluate({"x": X, "mask": mask}, labels)["loss"]
    assert loss == pytest.approx(by_value.evaluate(X * mask[:, :, None], labels)["loss"])
    unmasked = net.evaluate({"x": X, "mask": np.ones_like(mask)}, labels)["loss"]
    assert unmasked != pytest.approx(loss)  # the padded steps were left out


def test_apply_mask_trains_without_reading_padding_and_round_trips(tmp_path):
    X, mask = sequences_and_mask(m=40)
    labels = (X[:, :, 0] > 0).astype(int)
    net, other = explicit_mask_model(), explicit_mask_model()
    net.fit({"x": X, "mask": mask}, labels, epochs=3, verbose=0)
    noise = np.random.default_rng(7).normal(size=X.shape)
    other.fit({"x": np.where(mask[:, :, None] == 1, X, noise), "mask": mask}, labels,
              epochs=3, verbose=0)
    for trained, unaffected in zip(net.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(trained, unaffected)  # padding took no part
    first = explicit_mask_model().build(T * 3 + T).get_weights()
    assert not np.array_equal(first[0], net.get_weights()[0])  # it did train
    net.save(tmp_path / "explicit.nnkit")
    loaded = nnkit.load(tmp_path / "explicit.nnkit")
    np.testing.assert_array_equal(
        loaded.predict({"x": X, "mask": mask}), net.predict({"x": X, "mask": mask})
    )


def test_apply_mask_refuses_a_mask_that_is_not_0_or_1_and_shapes_that_do_not_fit():
    X, mask = sequences_and_mask()
    net = explicit_mask_model().build(T * 3 + T)  # the inputs side by side
    lengths = mask.sum(axis=1, keepdims=True) * np.ones_like(mask)
    with pytest.raises(nnkit.DataError, match=r"0 \(a padded step\) or 1 \(a real step\)"):
        net.predict({"x": X, "mask": lengths})
    values, given = nnkit.Input(shape=(T, 3)), nnkit.Input(shape=(T + 1,))
    out = nnkit.Dense(2)(nnkit.layer("apply_mask")([values, given]))
    with pytest.raises(nnkit.ConfigurationError, match=r"one 0/1 entry per step"):
        nnkit.Network(inputs=[values, given], outputs=[out]).build(T * 3 + T + 1)


def test_apply_mask_passes_the_kit_and_is_refused_by_the_onnx_export(tmp_path):
    check_component(nnkit.layer("apply_mask"))
    pytest.importorskip("onnx")
    net = explicit_mask_model().build(T * 3 + T)  # the inputs side by side
    with pytest.raises(nnkit.ConfigurationError, match="apply_mask makes a mask"):
        net.to_onnx(tmp_path / "explicit.onnx")


def test_the_layer_harness_hands_a_layer_a_mask_and_reports_its_output_mask():
    harness = nnkit.testing.LayerHarness(MeanOverTime(), input_shape=(T, 2))
    x = np.random.default_rng(8).normal(size=(3, T, 2))
    mask = np.ones((3, T), bool)
    mask[1, 2:] = False
    y = harness.forward(x, mask=mask).copy()
    np.testing.assert_allclose(y[1], x[1, :2].mean(axis=0))  # over the real steps only
    np.testing.assert_allclose(y[0], x[0].mean(axis=0))
    dx = harness.backward(np.ones((3, 2)))
    assert not np.any(dx[1, 2:])
    assert harness.output_mask is None  # the time axis, and the mask, are gone
    np.testing.assert_allclose(harness.forward(x)[1], x[1].mean(axis=0))  # no mask: all steps
    masking = nnkit.testing.LayerHarness(nnkit.layer("masking"), input_shape=(T, 2))
    x[2, 3:] = 0.0
    masking.forward(x)
    np.testing.assert_array_equal(masking.output_mask[2], [True] * 3 + [False] * 2)
    with pytest.raises(nnkit.DataError, match=r"booleans of shape \(batch, time_steps\)"):
        harness.forward(x, mask=mask.astype(float))


def test_the_kit_fails_a_merge_that_gives_its_mask_input_gradient():
    from nnkit.testing.merge_checks import merge_gradients

    class LeakyMask(type(nnkit.layer("apply_mask"))):
        def backward_inputs(self, dy, ws, need_input_gradient=True):
            dx, dmask = super().backward_inputs(dy, ws, need_input_gradient)
            return [dx, dmask + 1.0]  # the defect: gradient for a 0/1 mask

    with pytest.raises(AssertionError, match="declared non-differentiable"):
        merge_gradients(subject_of(LeakyMask()))
    merge_gradients(subject_of(nnkit.layer("apply_mask")))
