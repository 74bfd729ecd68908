"""batch_norm of image samples ``(channels, height, width)``: statistics per channel over
the batch and the pixels, as PyTorch's ``BatchNorm2d``; flat samples unchanged."""

from __future__ import annotations

import numpy as np
import pytest

import nnkit
from nnkit.engine.parameters import ParameterStore
from nnkit.interfaces.workspace import Workspace
from nnkit.testing import check_component

SHAPE = (3, 4, 5)
BATCHES = [np.random.default_rng(30 + i).normal(2.0, 3.0, size=(6, *SHAPE)) for i in range(4)]


def batch_norm(shape, **arguments):
    """A batch_norm built for samples of ``shape`` and bound as a network binds it."""
    layer = nnkit.layer("batch_norm", **arguments)
    layer.build(tuple(shape), np.random.default_rng(0))
    store = ParameterStore([layer.parameter_shapes()], np.dtype("float64"))
    layer.bind(store.value_views[0], store.grad_views[0])
    layer.initialize(np.random.default_rng(1))
    return layer


def test_batch_norm_of_images_is_pytorchs_batchnorm2d_in_training_and_eval():
    torch = pytest.importorskip("torch")
    ours = batch_norm(SHAPE, momentum=0.9, epsilon=1e-5, running_variance="unbiased")
    rng = np.random.default_rng(3)
    gamma, beta = rng.normal(size=3), rng.normal(size=3)
    ours.params["gamma"][:, 0], ours.params["beta"][:, 0] = gamma, beta
    theirs = torch.nn.BatchNorm2d(3, momentum=0.1, eps=1e-5, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(gamma))
        theirs.bias.copy_(torch.tensor(beta))
    theirs.train()
    dy = rng.normal(size=BATCHES[0].shape)
    for batch in BATCHES:
        ws = Workspace()
        output = ours.forward(batch, ws, training=True)
        dx = ours.backward(dy, ws)
        ours.commit_state()  # as the network's optimizer step does
        x = torch.tensor(batch, requires_grad=True)
        y = theirs(x)
        y.backward(torch.tensor(dy))
        np.testing.assert_allclose(output, y.detach().numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(dx, x.grad.numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(ours.grads["gamma"].ravel(), theirs.weight.grad.numpy(),
                                   rtol=0, atol=1e-10)
        np.testing.assert_allclose(ours.grads["beta"].ravel(), theirs.bias.grad.numpy(),
                                   rtol=0, atol=1e-10)
        theirs.weight.grad, theirs.bias.grad = None, None
    np.testing.assert_allclose(ours.running_mean.ravel(), theirs.running_mean.numpy(),
                               rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.running_var.ravel(), theirs.running_var.numpy(),
                               rtol=0, atol=1e-10)
    theirs.eval()
    probe = rng.normal(size=(2, *SHAPE))
    ws = Workspace()
    output = ours.forward(probe, ws, training=False)
    x = torch.tensor(probe, requires_grad=True)
    y = theirs(x)
    y.backward(torch.tensor(dy[:2]))
    np.testing.assert_allclose(output, y.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.backward(dy[:2], ws), x.grad.numpy(), rtol=0, atol=1e-10)


def test_batch_norm_of_images_keeps_one_gamma_and_beta_per_channel():
    ours = batch_norm(SHAPE)
    assert ours.params["gamma"].shape == (3, 1) and ours.running_mean.shape == (3, 1)
    ours.forward(BATCHES[0], Workspace(), training=True)
    ours.commit_state()
    expected = 0.01 * BATCHES[0].mean(axis=(0, 2, 3))
    np.testing.assert_allclose(ours.running_mean.ravel(), expected, rtol=1e-13)


def test_batch_norm_refuses_samples_that_are_neither_flat_nor_images():
    with pytest.raises(nnkit.ConfigurationError, match=r"\(units,\), or images .*got \(3, 4\)"):
        batch_norm((3, 4))


def test_batch_norm_of_images_passes_the_conformance_kit():
    layer = nnkit.layer("batch_norm", momentum=0.9)
    layer.example_input_shape = (2, 3, 4)  # images, not the flat default
    check_component(layer)


def test_batch_norm_of_images_is_saved_and_loaded(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(1.0, 2.0, size=(24, *SHAPE)), rng.integers(0, 2, size=24)
    net = nnkit.Network(
        [nnkit.layer("batch_norm", momentum=0.5), nnkit.layer("flatten"),
         nnkit.Dense(2, activation="softmax")],
        loss="cross_entropy", seed=0,
    )
    net.fit(X, y, epochs=2, batch_size=8, verbose=0)
    net.save(tmp_path / "model.nnkit")
    loaded = nnkit.load(tmp_path / "model.nnkit")
    np.testing.assert_array_equal(loaded.layers[0].running_var, net.layers[0].running_var)
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))


def layout(array: np.ndarray) -> list[int]:
    """The axes of ``array`` from the slowest-varying in memory to the fastest."""
    return sorted(range(array.ndim), key=lambda axis: -array.strides[axis])


@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_batch_norm_of_images_keeps_the_vision_layers_memory_order(training):
    """Images come from nnkit-vision's layers as ``(m, C, H, W)`` views of ``(C, H, W, m)``
    blocks: batch_norm reads them without a copy and gives its output and input gradient
    in that order too, so the next convolution or pooling reads them as they stand; a
    batch in any other order gives the same numbers."""
    ours = batch_norm(SHAPE, momentum=0.9)
    rng = np.random.default_rng(4)
    ours.params["gamma"][:, 0], ours.params["beta"][:, 0] = rng.normal(size=3), rng.normal(size=3)
    samples_last = np.ascontiguousarray(BATCHES[0].transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    dy = np.ascontiguousarray(rng.normal(size=(6, *SHAPE)).transpose(1, 2, 3, 0))
    dy = dy.transpose(3, 0, 1, 2)
    results = []
    for x, gradient in ((samples_last, dy), (BATCHES[0], np.ascontiguousarray(dy))):
        ws = Workspace()
        output = ours.forward(x, ws, training=training)
        dx = ours.backward(gradient, ws)
        assert layout(output) == layout(dx) == [1, 2, 3, 0]
        results.append((output.copy(), dx.copy(), ours.grads["gamma"].copy()))
    for first, second in zip(*results):
        np.testing.assert_allclose(first, second, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("order", ["C", "F"], ids=["rows", "columns"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_of_flat_samples_computes_0_2_0s_formula_bit_for_bit(order, dtype):
    """Flat samples, in rows (a first layer, predict) or columns (after a dense layer in
    training): ``gamma ((x - mean) / sqrt(var + epsilon)) + beta`` with NumPy's mean and
    variance over the batch, as nnkit 0.2.0 computed it, so its model files train and
    predict the same."""
    ours = nnkit.layer("batch_norm")
    ours.build((300,), np.random.default_rng(0))
    store = ParameterStore([ours.parameter_shapes()], np.dtype(dtype))  # as a network's
    ours.bind(store.value_views[0], store.grad_views[0])
    ours.params["gamma"][:, 0] = np.random.default_rng(7).normal(size=300)
    ours.params["beta"][:, 0] = 0.5
    x = np.random.default_rng(8).normal(2.0, 3.0, size=(97, 300)).astype(dtype)
    x = np.asarray(x, order=order)
    gamma, beta, columns = ours.params["gamma"], ours.params["beta"], x.T
    mean, var = columns.mean(axis=1, keepdims=True), columns.var(axis=1, keepdims=True)
    expected = (gamma * ((columns - mean) * (1 / np.sqrt(var + ours.epsilon))) + beta).T
    output = ours.forward(x, Workspace(), training=True)
    assert output.dtype == dtype
    np.testing.assert_array_equal(output, expected)
    np.testing.assert_array_equal(ours._pending[1], var)
