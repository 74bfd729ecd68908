"""Pooling: values against a direct computation, gradients against finite differences,
ties, overlapping windows and whole-image means."""

from __future__ import annotations

import numpy as np
import pytest
from wiring import bound, finite_difference_gradients

import nnkit
from nnkit.interfaces.workspace import Workspace
from nnkit.testing.numeric import assert_close

#: (pool_size, stride, input sample shape): windows side by side (dividing the image or
#: not), overlapping, with gaps, oblong.
CONFIGURATIONS = [
    (2, None, (2, 6, 6)),
    (2, None, (2, 7, 5)),
    (3, 1, (2, 5, 6)),
    (2, 3, (1, 8, 7)),
    ((2, 3), None, (2, 6, 7)),
    ((3, 2), (2, 1), (1, 7, 5)),
    (1, None, (2, 3, 3)),
]


def direct_pooling(x, reduce, size, stride):
    """Each window reduced straight from its definition, one window at a time."""
    (ph, pw), (sh, sw) = size, stride
    out_h, out_w = (x.shape[2] - ph) // sh + 1, (x.shape[3] - pw) // sw + 1
    out = np.empty((*x.shape[:2], out_h, out_w))
    for r in range(out_h):
        for c in range(out_w):
            window = x[:, :, r * sh : r * sh + ph, c * sw : c * sw + pw]
            out[:, :, r, c] = reduce(window, axis=(2, 3))
    return out


@pytest.mark.parametrize("kind, reduce", [("max_pool2d", np.max), ("avg_pool2d", np.mean)])
@pytest.mark.parametrize(("pool_size", "stride", "shape"), CONFIGURATIONS)
def test_forward_is_the_direct_pooling(kind, reduce, pool_size, stride, shape):
    layer, _ = bound(nnkit.layer(kind, pool_size=pool_size, stride=stride), shape)
    x = np.random.default_rng(1).normal(size=(3, *shape))
    y = layer.forward(x, Workspace(), training=True)
    expected = direct_pooling(x, reduce, layer.pool_size, layer.stride or layer.pool_size)
    assert y.shape == (3, *layer.build(shape, None))
    assert_close(y, expected, f"{kind} output", rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("kind", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize(("pool_size", "stride", "shape"), CONFIGURATIONS)
def test_gradients_match_finite_differences(kind, pool_size, stride, shape, training):
    layer, store = bound(nnkit.layer(kind, pool_size=pool_size, stride=stride), shape)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, *shape))
    ws = Workspace()
    dy = rng.normal(size=layer.forward(x, ws, training).shape)
    dx = layer.backward(dy, ws, need_input_gradient=True)
    (x_at, expected), _ = finite_difference_gradients(layer, store, x, dy)
    assert_close(dx.reshape(-1)[x_at], expected, f"{kind} input gradient")


def test_max_pooling_gives_a_tied_window_gradient_to_its_first_maximum_only():
    layer, _ = bound(nnkit.layer("max_pool2d", pool_size=2), (1, 2, 4))
    x = np.array([[[[1.0, 1.0, 0.0, 5.0], [1.0, 1.0, 5.0, 5.0]]]])  # both windows tie
    for training in (True, False):
        ws = Workspace()
        layer.forward(x, ws, training)
        dx = layer.backward(np.array([[[[2.0, 3.0]]]]), ws, True)
        assert dx.tolist() == [[[[2.0, 0.0, 0.0, 3.0], [0.0, 0.0, 0.0, 0.0]]]]


def test_overlapping_max_windows_each_route_their_gradient():
    layer, _ = bound(nnkit.layer("max_pool2d", pool_size=2, stride=1), (1, 3, 3))
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 9.0  # the maximum of all four windows
    ws = Workspace()
    layer.forward(x, ws, True)
    dx = layer.backward(np.ones((1, 1, 2, 2)), ws, True)
    assert dx[0, 0, 1, 1] == 4.0 and dx.sum() == 4.0


def test_rows_and_columns_past_the_last_window_get_no_gradient():
    layer, _ = bound(nnkit.layer("max_pool2d", pool_size=2), (1, 5, 5))
    ws = Workspace()
    x = np.random.default_rng(3).normal(size=(4, 1, 5, 5))
    layer.forward(x, ws, True)
    layer.backward(np.ones((4, 1, 2, 2)), ws, True)  # fills the buffer
    layer.forward(x[:3], ws, True)  # a smaller batch reuses the same memory
    dx = layer.backward(np.ones((3, 1, 2, 2)), ws, True)
    assert np.all(dx[:, :, 4, :] == 0) and np.all(dx[:, :, :, 4] == 0)
    assert dx.sum() == 3 * 4


def test_global_average_pooling_is_the_mean_of_each_channel():
    layer, store = bound(nnkit.layer("global_avg_pool2d"), (3, 4, 5))
    x = np.random.default_rng(4).normal(size=(2, 3, 4, 5))
    ws = Workspace()
    y = layer.forward(x, ws)
    assert_close(y, x.mean(axis=(2, 3)), "global_avg_pool2d output", 1e-12, 1e-12)
    dy = np.random.default_rng(5).normal(size=(2, 3))
    dx = layer.backward(dy, ws, True)
    assert_close(dx, np.broadcast_to(dy[:, :, None, None] / 20, x.shape), "its gradient", 1e-12, 0)


def test_float32_stays_float32():
    for name, arguments in [("max_pool2d", {"pool_size": 2}), ("avg_pool2d", {"pool_size": 2}),
                            ("global_avg_pool2d", {}), ("global_max_pool2d", {}),
                            ("max_pool2d", {"pool_size": 3, "stride": 1, "padding": 1}),
                            ("avg_pool2d", {"pool_size": 2, "padding": 1})]:
        layer, _ = bound(nnkit.layer(name, **arguments), (2, 4, 4), dtype=np.float32)
        x = np.random.default_rng(6).normal(size=(3, 2, 4, 4)).astype(np.float32)
        ws = Workspace()
        y = layer.forward(x, ws, True)
        dx = layer.backward(np.ones_like(y), ws, True)
        assert y.dtype == dx.dtype == np.float32, name


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("max_pool2d", {"pool_size": 0}, "max_pool2d pool_size must be a positive integer or"),
        ("avg_pool2d", {"pool_size": 2, "stride": (1, 2, 3)}, "avg_pool2d stride must be"),
    ],
)
def test_bad_arguments_are_refused_with_the_reason(name, arguments, message):
    with pytest.raises(nnkit.ConfigurationError, match=message):
        nnkit.layer(name, **arguments)


def test_max_pooling_against_pytorch():
    torch = pytest.importorskip("torch")
    for pool_size, stride, shape in CONFIGURATIONS:
        layer, _ = bound(nnkit.layer("max_pool2d", pool_size=pool_size, stride=stride), shape)
        x = np.random.default_rng(7).normal(size=(3, *shape))
        ws = Workspace()
        y = layer.forward(x, ws, True)
        xt = torch.tensor(x, requires_grad=True)
        stride = layer.stride or layer.pool_size
        yt = torch.nn.functional.max_pool2d(xt, layer.pool_size, stride=stride)
        dy = np.random.default_rng(8).normal(size=y.shape)
        (yt * torch.tensor(dy)).sum().backward()
        what = f"pool {pool_size}, stride {stride}"
        assert_close(y, yt.detach().numpy(), f"output ({what})", 0, 0)
        assert_close(layer.backward(dy, ws, True), xt.grad.numpy(), f"gradient ({what})", 1e-12, 0)


#: (pool_size, stride, padding, input sample shape): padding as PyTorch's (at most half
#: the pool on each side), on windows side by side, overlapping and with gaps.
PADDED = [
    (2, None, 1, (2, 5, 6)),
    (3, 1, 1, (2, 5, 6)),
    (3, 2, (1, 0), (1, 7, 6)),
    ((2, 4), (1, 3), (0, 2), (2, 5, 7)),
    (2, 3, ((1, 0), (0, 1)), (1, 6, 5)),
    (5, 2, 2, (1, 5, 5)),
]


def padded(x, padding, fill):
    top, bottom, left, right = padding
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=fill)


@pytest.mark.parametrize("kind, reduce, fill", [("max_pool2d", np.max, -np.inf),
                                                ("avg_pool2d", np.mean, 0.0)])
@pytest.mark.parametrize(("pool_size", "stride", "padding", "shape"), PADDED)
def test_padded_pooling_is_the_direct_pooling_of_the_padded_images(
    kind, reduce, fill, pool_size, stride, padding, shape
):
    layer, _ = bound(nnkit.layer(kind, pool_size=pool_size, stride=stride, padding=padding),
                     shape)
    x = np.random.default_rng(21).normal(size=(3, *shape))
    y = layer.forward(x, Workspace(), training=True)
    expected = direct_pooling(padded(x, layer.padding, fill), reduce, layer.pool_size,
                              layer.stride or layer.pool_size)
    assert y.shape == (3, *layer.build(shape, None))
    assert_close(y, expected, f"{kind} output", rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("kind", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize(("pool_size", "stride", "padding", "shape"), PADDED)
def test_padded_pooling_gradients_match_finite_differences(
    kind, pool_size, stride, padding, shape, training
):
    layer, store = bound(
        nnkit.layer(kind, pool_size=pool_size, stride=stride, padding=padding), shape)
    rng = np.random.default_rng(22)
    x = rng.normal(size=(2, *shape))
    ws = Workspace()
    dy = rng.normal(size=layer.forward(x, ws, training).shape)
    dx = layer.backward(dy, ws, need_input_gradient=True)
    assert dx.shape == x.shape
    (x_at, expected), _ = finite_difference_gradients(layer, store, x, dy)
    assert_close(dx.reshape(-1)[x_at], expected, f"{kind} input gradient")


def test_padding_larger_than_half_the_pool_is_refused_as_pytorch_refuses_it():
    with pytest.raises(nnkit.ConfigurationError, match=(
        r"max_pool2d padding must be at most half the pool size on each side, got padding "
        r"\[2, 1\] for a 3x3 pool; use less padding or a larger pool_size"
    )):
        nnkit.layer("max_pool2d", pool_size=3, padding=(2, 1))
    with pytest.raises(nnkit.ConfigurationError, match="avg_pool2d padding must be an integer"):
        nnkit.layer("avg_pool2d", pool_size=3, padding=-1)


def test_padding_round_trips_through_the_configuration():
    layer = nnkit.layer("avg_pool2d", pool_size=3, stride=2, padding=(1, 0))
    assert layer.get_config()["padding"] == [1, 0]
    assert type(layer)(**layer.get_config()).padding == (1, 1, 0, 0)


def test_padded_pooling_against_pytorch():
    """nn.MaxPool2d(padding=) and nn.AvgPool2d(padding=) (count_include_pad=True):
    outputs and input gradients, in float64."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(23)
    for pool_size, stride, padding in [(2, None, 1), (3, 1, 1), (3, 2, (1, 0)),
                                       ((2, 4), (1, 3), (0, 2)), (5, 2, 2)]:
        for kind, reference in [("max_pool2d", torch.nn.MaxPool2d),
                                ("avg_pool2d", torch.nn.AvgPool2d)]:
            layer, _ = bound(nnkit.layer(kind, pool_size=pool_size, stride=stride,
                                         padding=padding), (2, 7, 6))
            x = rng.normal(size=(3, 2, 7, 6))
            ws = Workspace()
            y = layer.forward(x, ws, True)
            xt = torch.tensor(x, requires_grad=True)
            yt = reference(pool_size, stride=stride, padding=padding)(xt)
            dy = rng.normal(size=y.shape)
            (yt * torch.tensor(dy)).sum().backward()
            what = f"{kind}, pool {pool_size}, stride {stride}, padding {padding}"
            assert_close(y, yt.detach().numpy(), f"output ({what})", 1e-10, 1e-10)
            assert_close(layer.backward(dy, ws, True), xt.grad.numpy(), f"gradient ({what})",
                         1e-10, 1e-10)


def test_global_max_pooling_is_the_maximum_of_each_channel():
    layer, store = bound(nnkit.layer("global_max_pool2d"), (3, 4, 5))
    x = np.random.default_rng(24).normal(size=(2, 3, 4, 5))
    for training in (True, False):
        ws = Workspace()
        y = layer.forward(x, ws, training)
        assert_close(y, x.max(axis=(2, 3)), "global_max_pool2d output", 0, 0)
        dy = np.random.default_rng(25).normal(size=(2, 3))
        dx = layer.backward(dy, ws, True)
        expected = np.where(x == x.max(axis=(2, 3), keepdims=True), dy[:, :, None, None], 0)
        assert_close(dx, expected, "its gradient", 0, 0)
    (x_at, numeric), _ = finite_difference_gradients(layer, store, x, dy)
    assert_close(dx.reshape(-1)[x_at], numeric, "global_max_pool2d input gradient")


def test_global_max_pooling_gives_a_tie_to_the_first_maximum():
    layer, _ = bound(nnkit.layer("global_max_pool2d"), (1, 2, 2))
    ws = Workspace()
    layer.forward(np.array([[[[0.0, 3.0], [3.0, 3.0]]]]), ws, True)
    assert layer.backward(np.array([[2.0]]), ws, True).tolist() == [[[[0.0, 2.0], [0.0, 0.0]]]]


def test_global_max_pooling_against_pytorch():
    torch = pytest.importorskip("torch")
    layer, _ = bound(nnkit.layer("global_max_pool2d"), (3, 5, 4))
    x = np.random.default_rng(26).normal(size=(4, 3, 5, 4))
    ws = Workspace()
    y = layer.forward(x, ws, True)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.AdaptiveMaxPool2d(1)(xt).flatten(1)
    dy = np.random.default_rng(27).normal(size=y.shape)
    (yt * torch.tensor(dy)).sum().backward()
    assert_close(y, yt.detach().numpy(), "output", 1e-10, 1e-10)
    assert_close(layer.backward(dy, ws, True), xt.grad.numpy(), "gradient", 1e-10, 1e-10)
