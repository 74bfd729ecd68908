"""The augmentation layers: each transform against a plain NumPy (and PyTorch) reference
for what it drew, the identity at inference and in ONNX, seeded and resumable."""

from __future__ import annotations

import numpy as np
import pytest
from wiring import bound

import nnkit
from nnkit.interfaces.workspace import Workspace

X = np.random.default_rng(0).normal(size=(40, 2, 6, 6))
LAYERS = {
    "random_flip": {"mode": "horizontal_and_vertical"},
    "random_crop": {"padding": 2},
    "random_translation": {"height_factor": 0.3},
    "random_rotation": {},
    "random_noise": {"stddev": 0.5},
}


def trained(name, x=X, **arguments):
    """The layer's training output for ``x``, its workspace and the layer."""
    layer, _ = bound(nnkit.layer(name, **arguments), x.shape[1:])
    ws = Workspace()
    return layer.forward(x, ws, training=True), ws, layer


def test_random_flip_mirrors_the_samples_it_drew():
    y, ws, _ = trained("random_flip", mode="horizontal_and_vertical")
    vertical, horizontal = ws.drawn
    assert 5 < vertical.sum() < 35 and 5 < horizontal.sum() < 35
    for i in range(len(X)):
        expected = X[i, :, ::-1] if vertical[i] else X[i]
        expected = expected[:, :, ::-1] if horizontal[i] else expected
        np.testing.assert_array_equal(y[i], expected)
    _, ws, _ = trained("random_flip", mode="horizontal")
    assert not ws.drawn[0].any() and ws.drawn[1].any()


def test_random_rotation_is_np_rot90_and_torch_rot90_of_the_turns_it_drew():
    y, ws, _ = trained("random_rotation")
    assert set(ws.drawn) == {0, 1, 2, 3}
    for i, k in enumerate(ws.drawn):
        np.testing.assert_array_equal(y[i], np.rot90(X[i], k, axes=(1, 2)))
    torch = pytest.importorskip("torch")
    for i, k in enumerate(ws.drawn):
        expected = torch.rot90(torch.tensor(X[i]), int(k), dims=(1, 2)).numpy()
        np.testing.assert_array_equal(y[i], expected)


def test_random_crop_is_a_window_of_the_padded_image():
    y, ws, _ = trained("random_crop", padding=2)
    rows, cols = ws.drawn
    assert set(rows) == set(cols) == {-2, -1, 0, 1, 2}
    padded = np.pad(X, ((0, 0), (0, 0), (2, 2), (2, 2)))
    for i in range(len(X)):
        top, left = 2 - rows[i], 2 - cols[i]
        np.testing.assert_array_equal(y[i], padded[i, :, top : top + 6, left : left + 6])
    assert y.shape == X.shape


def test_random_translation_shifts_by_at_most_its_factor():
    y, ws, _ = trained("random_translation", height_factor=0.3, width_factor=0.0)
    rows, cols = ws.drawn
    assert set(rows) == {-1, 0, 1} and not cols.any()  # 0.3 of 6 rows is 1 pixel
    for i in range(len(X)):
        np.testing.assert_array_equal(y[i], np.roll(X[i], rows[i], axis=1) * (
            (np.arange(6) - rows[i] >= 0) & (np.arange(6) - rows[i] < 6))[:, None])


def test_random_noise_adds_gaussian_noise_of_its_stddev():
    big = np.zeros((200, 2, 10, 10))
    y, _, layer = trained("random_noise", big, stddev=0.5)
    assert abs(y.std() - 0.5) < 0.01 and abs(y.mean()) < 0.01
    ws = Workspace()
    layer.forward(big, ws, training=True)
    assert layer.backward(X, ws) is X  # noise leaves gradients alone


@pytest.mark.parametrize("name", LAYERS)
def test_augmentation_is_the_identity_at_inference(name):
    layer, _ = bound(nnkit.layer(name, **LAYERS[name]), X.shape[1:])
    ws = Workspace()
    assert layer.forward(X, ws, training=False) is X
    assert layer.backward(X, ws) is X


@pytest.mark.parametrize("name", LAYERS)
def test_augmentation_backward_is_the_transpose_of_forward(name):
    """<dy, forward(x)> = <backward(dy), x> for a linear map; noise is x + a constant."""
    y, ws, layer = trained(name, **LAYERS[name])
    dy = np.random.default_rng(1).normal(size=y.shape)
    dx = layer.backward(dy, ws)
    if name == "random_noise":
        np.testing.assert_array_equal(dx, dy)
    else:
        np.testing.assert_allclose(np.sum(dy * y), np.sum(dx * X), rtol=1e-12)
        assert dx.shape == X.shape


def test_augmentation_refuses_what_it_cannot_do():
    with pytest.raises(nnkit.ConfigurationError, match="random_flip mode must be one of"):
        nnkit.layer("random_flip", mode="diagonal")
    with pytest.raises(nnkit.ConfigurationError, match="random_crop padding must be"):
        nnkit.layer("random_crop", padding=-1)
    with pytest.raises(nnkit.ConfigurationError, match="needs them square, got 6x5"):
        nnkit.Network([nnkit.layer("random_rotation")]).build((1, 6, 5))
    with pytest.raises(nnkit.ConfigurationError, match="random_noise takes images"):
        nnkit.Network([nnkit.layer("random_noise")]).build(64)


def network(seed=3, dtype="float32"):
    return nnkit.Network(
        [*(nnkit.layer(name, **arguments) for name, arguments in LAYERS.items()),
         nnkit.layer("conv2d", filters=3, kernel_size=3, activation="relu"),
         nnkit.layer("flatten"), nnkit.Dense(2, activation="softmax")],
        loss="cross_entropy", optimizer="adam", seed=seed, dtype=dtype,
    )


def test_augmentation_is_seeded_and_a_resumed_run_draws_the_same(tmp_path):
    rng = np.random.default_rng(1)
    data, labels = rng.normal(size=(32, 2, 6, 6)), rng.integers(0, 2, size=32)
    first, second = network(), network()
    first.fit(data, labels, epochs=1, batch_size=8, verbose=0)
    second.fit(data, labels, epochs=1, batch_size=8, verbose=0)
    np.testing.assert_array_equal(first.predict(data), second.predict(data))
    first.save(tmp_path / "model.nnkit")
    resumed = nnkit.load(tmp_path / "model.nnkit")
    first.fit(data, labels, epochs=1, batch_size=8, verbose=0, shuffle=False)
    resumed.fit(data, labels, epochs=1, batch_size=8, verbose=0, shuffle=False)
    np.testing.assert_array_equal(resumed.predict(data), first.predict(data))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_augmentation_is_the_identity_in_onnxruntime(dtype):
    onnxruntime = pytest.importorskip("onnxruntime")
    net = network(dtype=dtype).build((2, 6, 6))
    model = net.to_onnx()
    plain = nnkit.Network(network(dtype=dtype).layers[len(LAYERS):], dtype=dtype)
    expected = [node.op_type for node in plain.build((2, 6, 6)).to_onnx().graph.node]
    found = [node.op_type for node in model.graph.node]
    assert found == expected  # no node at all for the augmentation layers
    data = np.random.default_rng(2).normal(size=(6, 2, 6, 6)).astype(dtype)
    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(["Y"], {"X": data})[0], net.predict(data),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", LAYERS)
def test_what_a_call_drew_stays_in_its_workspace(name):
    """A second call in between (another thread's) changes nothing the first one's
    backward returns: the layer keeps no state of its own between the two passes."""
    layer, _ = bound(nnkit.layer(name, **LAYERS[name]), X.shape[1:])
    first, other = Workspace(), Workspace()
    y = layer.forward(X, first, training=True)
    layer.forward(X[::-1].copy(), other, training=True)
    dy = np.random.default_rng(4).normal(size=y.shape)
    dx = layer.backward(dy, first)
    if name == "random_noise":
        np.testing.assert_array_equal(dx, dy)
    else:
        np.testing.assert_allclose(np.sum(dy * y), np.sum(dx * X), rtol=1e-12)
