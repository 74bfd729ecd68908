"""zero_padding2d and cropping2d: values, gradients, buffers reused by batches of
other sizes, and PyTorch's padding and slicing."""

from __future__ import annotations

import numpy as np
import pytest
from wiring import bound, finite_difference_gradients

import nnkit
from nnkit.interfaces.workspace import Workspace
from nnkit.testing.numeric import assert_close

#: (argument, its margins (top, bottom, left, right)).
MARGINS = [(1, (1, 1, 1, 1)), ((2, 0), (2, 2, 0, 0)), (((0, 1), (3, 2)), (0, 1, 3, 2))]


@pytest.mark.parametrize(("argument", "margin"), MARGINS)
def test_zero_padding_adds_zeros_around_each_image(argument, margin):
    layer, store = bound(nnkit.layer("zero_padding2d", padding=argument), (2, 4, 5))
    top, bottom, left, right = margin
    x = np.random.default_rng(1).normal(size=(3, 2, 4, 5))
    ws = Workspace()
    y = layer.forward(x, ws, True)
    expected = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    assert y.shape == (3, *layer.build((2, 4, 5), None))
    assert_close(y, expected, "zero_padding2d output", 0, 0)
    dy = np.random.default_rng(2).normal(size=y.shape)
    dx = layer.backward(dy, ws, True)
    assert_close(dx, dy[:, :, top : top + 4, left : left + 5], "its gradient", 0, 0)
    (x_at, numeric), _ = finite_difference_gradients(layer, store, x, dy)
    assert_close(dx.reshape(-1)[x_at], numeric, "zero_padding2d input gradient")


@pytest.mark.parametrize(("argument", "margin"), MARGINS)
def test_cropping_cuts_rows_and_columns_from_the_edges(argument, margin):
    layer, store = bound(nnkit.layer("cropping2d", cropping=argument), (2, 6, 7))
    top, bottom, left, right = margin
    x = np.random.default_rng(3).normal(size=(3, 2, 6, 7))
    ws = Workspace()
    y = layer.forward(x, ws, True)
    assert y.shape == (3, *layer.build((2, 6, 7), None))
    assert_close(y, x[:, :, top : 6 - bottom, left : 7 - right], "cropping2d output", 0, 0)
    dy = np.random.default_rng(4).normal(size=y.shape)
    dx = layer.backward(dy, ws, True)
    assert_close(dx, np.pad(dy, ((0, 0), (0, 0), (top, bottom), (left, right))), "gradient",
                 0, 0)
    (x_at, numeric), _ = finite_difference_gradients(layer, store, x, dy)
    assert_close(dx.reshape(-1)[x_at], numeric, "cropping2d input gradient")


def test_the_zeros_stay_zero_when_a_batch_of_another_size_reuses_the_buffers():
    pad, _ = bound(nnkit.layer("zero_padding2d", padding=1), (1, 3, 3))
    crop, _ = bound(nnkit.layer("cropping2d", cropping=1), (1, 5, 5))
    ws_pad, ws_crop = Workspace(), Workspace()
    rng = np.random.default_rng(5)
    for m in (4, 2):
        y = pad.forward(rng.normal(size=(m, 1, 3, 3)) + 10, ws_pad, True)
        assert np.all(y[:, :, 0] == 0) and np.all(y[:, :, :, -1] == 0)
        crop.forward(rng.normal(size=(m, 1, 5, 5)), ws_crop, True)
        dx = crop.backward(rng.normal(size=(m, 1, 3, 3)) + 10, ws_crop, True)
        assert np.all(dx[:, :, -1] == 0) and np.all(dx[:, :, :, 0] == 0)


@pytest.mark.parametrize(
    ("name", "arguments", "shape", "message"),
    [
        ("zero_padding2d", {"padding": -1}, None, "zero_padding2d padding must be an integer"),
        ("cropping2d", {"cropping": (1, 2, 3)}, None, "cropping2d cropping must be an integer"),
        ("cropping2d", {"cropping": ((2, 2), (0, 0))}, (1, 4, 6),
         r"cropping2d cannot cut 2\+2 rows and 0\+0 columns from 4x6 images"),
    ],
)
def test_bad_margins_are_refused_with_the_reason(name, arguments, shape, message):
    with pytest.raises(nnkit.ConfigurationError, match=message):
        bound(nnkit.layer(name, **arguments), shape or (1, 5, 5))


def test_the_margins_round_trip_through_the_configuration():
    for name, argument in [("zero_padding2d", "padding"), ("cropping2d", "cropping")]:
        layer = nnkit.layer(name, **{argument: ((1, 0), (2, 2))})
        assert layer.get_config() == {argument: [[1, 0], [2, 2]]}
        assert type(layer)(**layer.get_config()).margin == (1, 0, 2, 2)


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(6).normal(size=(2, 3, 6, 5))
    for name, argument in [("zero_padding2d", "padding"), ("cropping2d", "cropping")]:
        layer, _ = bound(nnkit.layer(name, **{argument: ((1, 0), (2, 1))}), (3, 6, 5))
        ws = Workspace()
        y = layer.forward(x, ws, True)
        xt = torch.tensor(x, requires_grad=True)
        # PyTorch pads (left, right, top, bottom) and crops by slicing.
        yt = (torch.nn.ZeroPad2d((2, 1, 1, 0))(xt) if name == "zero_padding2d"
              else xt[:, :, 1:, 2:-1])
        dy = np.random.default_rng(7).normal(size=y.shape)
        (yt * torch.tensor(dy)).sum().backward()
        assert_close(y, yt.detach().numpy(), f"{name} output", 0, 0)
        assert_close(layer.backward(dy, ws, True), xt.grad.numpy(), f"{name} gradient", 0, 0)
