"""spatial_dropout2d: whole channels dropped in training, the identity at inference."""

from __future__ import annotations

import numpy as np
import pytest
from wiring import bound

import nnkit
from nnkit.interfaces.workspace import Workspace

X = np.random.default_rng(0).normal(size=(200, 4, 3, 5)) + 10  # no value near 0


def test_spatial_dropout_zeroes_whole_channels_and_scales_the_rest():
    layer, _ = bound(nnkit.layer("spatial_dropout2d", rate=0.25), X.shape[1:])
    ws = Workspace()
    y = layer.forward(X, ws, training=True)
    ratio = y / X
    per_channel = ratio.reshape(200, 4, -1)
    # Every pixel of a channel shares its fate: all 0, or all 1 / (1 - rate).
    np.testing.assert_allclose(per_channel, per_channel[:, :, :1].repeat(15, axis=2))
    assert set(np.round(np.unique(per_channel), 12)) == {0.0, round(1 / 0.75, 12)}
    dropped = (per_channel[:, :, 0] == 0).mean()
    assert 0.2 < dropped < 0.3  # 800 channels, about a quarter dropped
    dy = np.ones_like(X)
    np.testing.assert_allclose(layer.backward(dy, ws), ratio, rtol=1e-14)  # dy/dx = y/x


def test_spatial_dropout_is_the_identity_at_inference():
    layer, _ = bound(nnkit.layer("spatial_dropout2d", rate=0.9), X.shape[1:])
    ws = Workspace()
    assert layer.forward(X, ws, training=False) is X
    assert layer.backward(X, ws) is X


def test_spatial_dropout_refuses_flat_samples_and_bad_rates():
    with pytest.raises(nnkit.ConfigurationError, match=r"spatial_dropout2d takes images"):
        nnkit.Network([nnkit.layer("spatial_dropout2d")]).build(64)
    with pytest.raises(nnkit.ConfigurationError, match="spatial_dropout2d rate"):
        nnkit.layer("spatial_dropout2d", rate=1.5)


def network():
    return nnkit.Network(
        [nnkit.layer("conv2d", filters=3, kernel_size=3, padding="same", activation="relu"),
         nnkit.layer("spatial_dropout2d", rate=0.5), nnkit.layer("flatten"),
         nnkit.Dense(2, activation="softmax")],
        loss="cross_entropy", optimizer="adam", seed=3,
    )


def test_spatial_dropout_draws_the_same_channels_in_a_resumed_run(tmp_path):
    rng = np.random.default_rng(1)
    data, labels = rng.normal(size=(32, 2, 5, 5)), rng.integers(0, 2, size=32)
    first, second = network(), network()
    first.fit(data, labels, epochs=1, batch_size=8, verbose=0)
    second.fit(data, labels, epochs=1, batch_size=8, verbose=0)
    np.testing.assert_array_equal(first.predict(data), second.predict(data))  # seeded
    first.save(tmp_path / "model.nnkit")
    resumed = nnkit.load(tmp_path / "model.nnkit")
    first.fit(data, labels, epochs=1, batch_size=8, verbose=0, shuffle=False)
    resumed.fit(data, labels, epochs=1, batch_size=8, verbose=0, shuffle=False)
    np.testing.assert_array_equal(resumed.predict(data), first.predict(data))


def test_spatial_dropout_is_the_identity_in_onnxruntime():
    onnxruntime = pytest.importorskip("onnxruntime")
    net = network().build((2, 5, 5))
    data = np.random.default_rng(2).normal(size=(6, 2, 5, 5)).astype(np.float32)
    session = onnxruntime.InferenceSession(net.to_onnx().SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    found = session.run(["Y"], {"X": data})[0]
    np.testing.assert_allclose(found, net.predict(data), rtol=1e-5, atol=1e-6)


def test_spatial_dropout_keeps_each_calls_mask_in_its_workspace():
    """Another call (another thread's) between a forward and its backward changes
    nothing that backward returns."""
    layer, _ = bound(nnkit.layer("spatial_dropout2d", rate=0.5), X.shape[1:])
    first, other = Workspace(), Workspace()
    y = layer.forward(X, first, training=True)
    layer.forward(X, other, training=True)
    assert not np.array_equal(first.mask, other.mask)  # the two calls drew differently
    np.testing.assert_allclose(layer.backward(np.ones_like(X), first), y / X, rtol=1e-14)
