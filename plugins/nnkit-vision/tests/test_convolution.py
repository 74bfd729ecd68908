"""conv2d: its values against a direct convolution, its gradients against finite
differences, its shapes, buffers and dtypes."""

from __future__ import annotations

import numpy as np
import pytest
from wiring import bound, finite_difference_gradients

import nnkit
from nnkit.interfaces.workspace import Workspace
from nnkit.testing.numeric import assert_close

#: (kernel_size, stride, padding, input sample shape): odd, even and oblong kernels,
#: strides that do and do not divide the image, both paddings.
CONFIGURATIONS = [
    (3, 1, "same", (2, 6, 5)),
    (3, 2, "same", (2, 7, 6)),
    (2, 1, "same", (1, 5, 5)),
    (4, 1, "same", (2, 6, 7)),
    (3, 1, "valid", (3, 5, 6)),
    (5, 2, "valid", (1, 9, 8)),
    ((2, 3), (1, 2), "same", (2, 5, 7)),
    (1, 1, "valid", (3, 4, 4)),
    (1, 2, "valid", (2, 5, 5)),
]


def direct_convolution(x, W, b, stride, padding):
    """The convolution straight from its definition: for every output pixel, the sum
    over channels and kernel positions of ``W * patch``, plus ``b``."""
    top, bottom, left, right = padding
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    kh, kw = W.shape[2:]
    out_h = (xp.shape[2] - kh) // stride[0] + 1
    out_w = (xp.shape[3] - kw) // stride[1] + 1
    out = np.empty((x.shape[0], W.shape[0], out_h, out_w))
    for r in range(out_h):
        for c in range(out_w):
            patch = xp[:, :, r * stride[0] : r * stride[0] + kh, c * stride[1] : c * stride[1] + kw]
            out[:, :, r, c] = np.tensordot(patch, W, axes=([1, 2, 3], [1, 2, 3])) + b
    return out


def conv(kernel_size, stride, padding, **options):
    return nnkit.layer(
        "conv2d", filters=4, kernel_size=kernel_size, stride=stride, padding=padding, **options
    )


@pytest.mark.parametrize(("kernel_size", "stride", "padding", "shape"), CONFIGURATIONS)
def test_forward_is_the_direct_convolution(kernel_size, stride, padding, shape):
    layer, _ = bound(conv(kernel_size, stride, padding), shape)
    x = np.random.default_rng(1).normal(size=(3, *shape))
    y = layer.forward(x, Workspace())
    expected = direct_convolution(
        x, layer.params["W"], layer.params["b"], layer.stride, layer.grid.padding
    )
    assert y.shape == expected.shape == (3, *layer.build(shape, None))
    assert_close(y, expected, "conv2d output", rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("kernel_size", "padding", "height", "output"),
    [(3, "same", 28, 28), (3, "valid", 28, 26), (2, "same", 5, 5), (5, "same", 5, 5)],
)
def test_output_sizes(kernel_size, padding, height, output):
    layer = conv(kernel_size, 1, padding)
    assert layer.build((1, height, height), None) == (4, output, output)


def test_same_padding_with_a_stride_gives_ceil_of_size_over_stride():
    for height, stride in [(28, 2), (7, 2), (9, 3), (10, 3)]:
        layer = conv(3, stride, "same")
        expected = -(-height // stride)
        assert layer.build((1, height, height), None) == (4, expected, expected)
        assert layer.grid.padding == (1, 1, 1, 1)  # PyTorch's padding=(k - 1) // 2


@pytest.mark.parametrize(("kernel_size", "stride", "padding", "shape"), CONFIGURATIONS)
def test_gradients_match_finite_differences(kernel_size, stride, padding, shape):
    layer, store = bound(conv(kernel_size, stride, padding, activation="tanh", l2=0.1), shape)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, *shape))
    ws = Workspace()
    dy = rng.normal(size=layer.forward(x, ws, True).shape)
    dx = layer.backward(dy, ws, need_input_gradient=True).copy()
    grads = store.grads.copy()
    (x_at, dx_expected), (p_at, dp_expected) = finite_difference_gradients(layer, store, x, dy)
    assert_close(dx.reshape(-1)[x_at], dx_expected, "conv2d input gradient")
    assert_close(grads[p_at], dp_expected, "conv2d parameter gradients")


def test_first_layer_skips_the_input_gradient_but_not_the_parameters():
    layer, store = bound(conv(3, 1, "same"), (1, 5, 5))
    x = np.random.default_rng(3).normal(size=(2, 1, 5, 5))
    ws = Workspace()
    dy = np.ones((2, 4, 5, 5))
    layer.forward(x, ws, True)
    assert layer.backward(dy, ws, need_input_gradient=False) is None
    assert np.allclose(layer.grads["b"], 2 * 25)  # db sums dy over pixels and samples
    assert np.any(store.grads != 0)


def test_weights_are_filters_channels_kernel_height_kernel_width():
    layer, _ = bound(nnkit.layer("conv2d", filters=5, kernel_size=(2, 3)), (3, 8, 8))
    assert layer.params["W"].shape == (5, 3, 2, 3)
    assert layer.params["b"].shape == (5,)


def test_initializers_see_the_fans_of_a_kernel():
    seen = []

    class Recording(nnkit.Initializer):
        def sample(self, shape, fan_in, fan_out, rng, dtype):
            seen.append((shape, fan_in, fan_out))
            return np.zeros(shape, dtype)

    layer = nnkit.layer("conv2d", filters=5, kernel_size=3, kernel_initializer=Recording())
    bound(layer, (2, 6, 6))
    assert seen[0] == ((5, 2, 3, 3), 2 * 9, 5 * 9)


def test_relu_layers_start_from_he_initialisation():
    layer = nnkit.layer("conv2d", filters=4, kernel_size=3, activation="relu")
    assert type(layer.kernel_initializer).__name__ == "HeNormal"


def test_buffers_are_reused_from_batch_to_batch_and_float32_stays_float32():
    layer, store = bound(conv(3, 1, "same", activation="relu"), (2, 6, 6), dtype=np.float32)
    ws = Workspace()
    rng = np.random.default_rng(4)
    arrays = []
    for _ in range(2):
        x = rng.normal(size=(8, 2, 6, 6)).astype(np.float32)
        y = layer.forward(x, ws, True)
        dx = layer.backward(np.ones_like(y), ws, True)
        arrays.append((ws.X_col, y, dx))
        assert y.dtype == dx.dtype == store.grads.dtype == np.float32
    for first, second in zip(*arrays):
        assert np.shares_memory(first, second)


def test_a_softmax_activation_normalises_over_the_filters_of_each_pixel():
    layer, _ = bound(conv(3, 1, "same", activation="softmax"), (2, 4, 4))
    y = layer.forward(np.random.default_rng(5).normal(size=(3, 2, 4, 4)), Workspace())
    assert np.allclose(y.sum(axis=1), 1)


def test_the_configuration_round_trips_through_the_constructor():
    layer = conv((2, 3), (1, 2), "same", activation="relu", l2=0.01)
    again = type(layer)(**layer.get_config())
    assert again.kernel_size == (2, 3) and again.stride == (1, 2)
    assert again.padding == "same" and again.l2 == 0.01


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"filters": 0, "kernel_size": 3}, "conv2d filters must be a positive integer"),
        ({"filters": 2, "kernel_size": 0}, "conv2d kernel_size must be a positive integer or"),
        ({"filters": 2, "kernel_size": (3,)}, "conv2d kernel_size must be a positive integer"),
        ({"filters": 2, "kernel_size": 3, "stride": 1.5}, "conv2d stride must be"),
        (
            {"filters": 2, "kernel_size": 3, "padding": "full"},
            "conv2d padding must be one of 'valid', 'same' or a number of zeros, got 'full'",
        ),
        ({"filters": 2, "kernel_size": 3, "padding": -1}, "conv2d padding must be an integer >= 0"),
        ({"filters": 2, "kernel_size": 3, "padding": (1, 2, 3)}, "conv2d padding must be an"),
        ({"filters": 2, "kernel_size": 3, "dilation": 0}, "conv2d dilation must be a positive"),
        ({"filters": 2, "kernel_size": 3, "groups": 0}, "conv2d groups must be a positive"),
        (
            {"filters": 6, "kernel_size": 3, "groups": 4},
            "conv2d filters must divide by groups: 6 filters cannot be split into 4 groups",
        ),
        ({"filters": 2, "kernel_size": 3, "l2": -1}, "conv2d l2 must be a finite number >= 0"),
        ({"filters": 2, "kernel_size": 3, "l2": np.inf}, "conv2d l2 must be a finite number"),
    ],
)
def test_bad_arguments_are_refused_with_the_reason(arguments, message):
    with pytest.raises(nnkit.ConfigurationError, match=message.replace("(", r"\(")):
        nnkit.layer("conv2d", **arguments)


def test_numpy_numbers_are_accepted_as_the_l2_weight_as_dense_accepts_them():
    for l2 in (np.float32(0.5), np.float64(0.25), np.int64(1)):
        layer = nnkit.layer("conv2d", filters=2, kernel_size=3, l2=l2)
        assert type(layer.l2) is float and layer.l2 == float(l2) == nnkit.Dense(2, l2=l2).l2


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    for kernel_size, stride, padding, shape in CONFIGURATIONS:
        layer, _ = bound(conv(kernel_size, stride, padding), shape)
        x = np.random.default_rng(6).normal(size=(3, *shape))
        ws = Workspace()
        y = layer.forward(x, ws, True)
        top, bottom, left, right = layer.grid.padding
        xt = torch.tensor(x, requires_grad=True)
        W = torch.tensor(layer.params["W"].copy(), requires_grad=True)
        b = torch.tensor(layer.params["b"].copy(), requires_grad=True)
        padded = torch.nn.functional.pad(xt, (left, right, top, bottom))
        yt = torch.nn.functional.conv2d(padded, W, b, stride=layer.stride)
        dy = np.random.default_rng(7).normal(size=y.shape)
        (yt * torch.tensor(dy)).sum().backward()
        dx = layer.backward(dy, ws, True)
        what = f"kernel {kernel_size}, stride {stride}, padding {padding}"
        assert_close(y, yt.detach().numpy(), f"output ({what})", 1e-10, 1e-10)
        assert_close(dx, xt.grad.numpy(), f"input gradient ({what})", 1e-10, 1e-10)
        assert_close(layer.grads["W"], W.grad.numpy(), f"dW ({what})", 1e-10, 1e-10)
        assert_close(layer.grads["b"], b.grad.numpy(), f"db ({what})", 1e-10, 1e-10)


@pytest.mark.parametrize(("kernel_size", "stride", "padding", "shape"), CONFIGURATIONS)
def test_large_inference_batches_are_convolved_in_blocks_with_the_same_result(
    kernel_size, stride, padding, shape, monkeypatch
):
    import nnkit_vision.convolution

    layer, store = bound(conv(kernel_size, stride, padding, activation="relu"), shape)
    x = np.random.default_rng(8).normal(size=(6, *shape))
    whole = Workspace()
    expected = layer.forward(x, whole, training=False).copy()
    dy = np.random.default_rng(9).normal(size=expected.shape)
    expected_dx = layer.backward(dy, whole, True).copy()
    expected_grads = store.grads.copy()
    # Blocks of one output row (or as few as fit): X_col is never built whole.
    monkeypatch.setattr(nnkit_vision.convolution, "INFERENCE_BLOCK", 1)
    blocks = Workspace()
    # (Products of other sizes may round differently in the last bit.)
    assert_close(layer.forward(x, blocks, training=False), expected, "output", 1e-12, 1e-12)
    assert blocks.X_col is None
    dx = layer.backward(dy, blocks, True)  # builds X_col again
    assert_close(dx, expected_dx, "input gradient", 1e-12, 1e-12)
    assert_close(store.grads, expected_grads, "parameter gradients", 1e-12, 1e-12)


#: (kernel_size, stride, padding, dilation, groups, input sample shape): the options
#: ported models use: zeros given as numbers, dilated kernels, grouped and depthwise
#: convolutions, and their combinations.
OPTIONS = [
    (3, 1, 2, 1, 1, (1, 8, 8)),  # LeNet-5's padding=2 (with a 3x3 kernel)
    (5, 1, 2, 1, 1, (1, 8, 8)),
    (3, 2, (1, 2), 1, 1, (2, 6, 5)),
    (3, 1, ((0, 2), (1, 0)), 1, 1, (2, 5, 6)),
    (3, 1, "valid", 2, 1, (2, 7, 8)),
    ((2, 3), (2, 1), 1, (2, 3), 1, (1, 9, 10)),
    (3, 1, "same", 2, 1, (2, 6, 6)),
    (2, 1, "same", 3, 1, (1, 7, 6)),
    (3, 1, "same", 1, 2, (4, 5, 5)),
    (3, 2, 1, 1, 4, (4, 6, 7)),  # depthwise: a kernel per channel
    (3, 1, 2, 2, 2, (2, 7, 6)),
    (1, 1, 0, 1, 2, (4, 3, 3)),
]


def grouped_convolution(x, W, b, stride, padding, dilation, groups):
    """The convolution from its definition, group by group, with the dilated kernel
    written out as a larger one with zeros between its pixels."""
    (dh, dw), (kh, kw) = dilation, W.shape[2:]
    dilated = np.zeros((*W.shape[:2], dh * (kh - 1) + 1, dw * (kw - 1) + 1))
    dilated[:, :, ::dh, ::dw] = W
    per_group, filters = x.shape[1] // groups, W.shape[0] // groups
    return np.concatenate([
        direct_convolution(
            x[:, g * per_group : (g + 1) * per_group], dilated[g * filters : (g + 1) * filters],
            b[g * filters : (g + 1) * filters], stride, padding,
        )
        for g in range(groups)
    ], axis=1)


def conv_with(kernel_size, stride, padding, dilation, groups, **options):
    return nnkit.layer("conv2d", filters=4, kernel_size=kernel_size, stride=stride,
                       padding=padding, dilation=dilation, groups=groups, **options)


@pytest.mark.parametrize(("kernel_size", "stride", "padding", "dilation", "groups", "shape"),
                         OPTIONS)
def test_padding_dilation_and_groups_are_the_direct_convolution(
    kernel_size, stride, padding, dilation, groups, shape
):
    layer, _ = bound(conv_with(kernel_size, stride, padding, dilation, groups), shape)
    x = np.random.default_rng(11).normal(size=(3, *shape))
    y = layer.forward(x, Workspace())
    expected = grouped_convolution(x, layer.params["W"], layer.params["b"], layer.stride,
                                   layer.grid.padding, layer.dilation, groups)
    assert y.shape == expected.shape == (3, *layer.build(shape, None))
    assert layer.params["W"].shape == (4, shape[0] // groups, *layer.kernel_size)
    assert_close(y, expected, "conv2d output", rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("kernel_size", "stride", "padding", "dilation", "groups", "shape"),
                         OPTIONS)
def test_padding_dilation_and_groups_gradients_match_finite_differences(
    kernel_size, stride, padding, dilation, groups, shape
):
    layer, store = bound(
        conv_with(kernel_size, stride, padding, dilation, groups, activation="tanh", l2=0.1),
        shape)
    rng = np.random.default_rng(12)
    x = rng.normal(size=(2, *shape))
    ws = Workspace()
    dy = rng.normal(size=layer.forward(x, ws, True).shape)
    dx = layer.backward(dy, ws, need_input_gradient=True).copy()
    grads = store.grads.copy()
    (x_at, dx_expected), (p_at, dp_expected) = finite_difference_gradients(layer, store, x, dy)
    assert_close(dx.reshape(-1)[x_at], dx_expected, "conv2d input gradient")
    assert_close(grads[p_at], dp_expected, "conv2d parameter gradients")


@pytest.mark.parametrize(("kernel_size", "stride", "padding", "dilation", "groups", "shape"),
                         OPTIONS)
def test_grouped_inference_in_blocks_gives_the_same_result(
    kernel_size, stride, padding, dilation, groups, shape, monkeypatch
):
    import nnkit_vision.convolution

    layer, _ = bound(conv_with(kernel_size, stride, padding, dilation, groups), shape)
    x = np.random.default_rng(13).normal(size=(5, *shape))
    expected = layer.forward(x, Workspace(), training=False).copy()
    monkeypatch.setattr(nnkit_vision.convolution, "INFERENCE_BLOCK", 1)
    blocks = Workspace()
    assert_close(layer.forward(x, blocks, training=False), expected, "output", 1e-12, 1e-12)
    assert blocks.X_col is None


def test_the_options_round_trip_through_the_configuration():
    for padding, expected in [(2, [2, 2]), ((1, 3), [1, 3]), (((0, 1), (2, 2)), [[0, 1], [2, 2]]),
                              ("same", "same")]:
        layer = conv_with(3, 1, padding, (2, 1), 2)
        config = layer.get_config()
        assert config["padding"] == expected
        assert config["dilation"] == [2, 1] and config["groups"] == 2
        again = type(layer)(**config)
        assert again.padding == layer.padding and again.dilation == (2, 1)
        assert again.groups == 2


def test_a_dilated_kernel_larger_than_the_images_is_refused_with_its_span():
    with pytest.raises(nnkit.ConfigurationError, match=(
        r"conv2d's 3x3 kernel \(spanning 7x7\) is larger than its 5x5 input images; use a "
        r"smaller kernel_size, or padding='same'"
    )):
        bound(conv_with(3, 1, "valid", 3, 1), (1, 5, 5))


def test_channels_that_do_not_divide_by_groups_are_refused_at_build():
    with pytest.raises(nnkit.ConfigurationError, match=(
        r"conv2d with groups=2 needs input channels that divide by 2, got 3"
    )):
        bound(conv_with(3, 1, 1, 1, 2), (3, 5, 5))


def test_a_depthwise_convolution_has_one_kernel_per_channel_and_group_fans():
    layer, _ = bound(nnkit.layer("conv2d", filters=6, kernel_size=3, groups=3), (3, 5, 5))
    assert layer.params["W"].shape == (6, 1, 3, 3)
    assert layer.fans() == (9, 18)  # one channel in, two filters out per group


def test_padding_dilation_and_groups_against_pytorch():
    """nn.Conv2d with copied weights on every combination of a small grid of paddings,
    dilations and groups: outputs and every gradient to 1e-10 in float64."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(14)
    for padding in [0, 1, 2, (1, 2), "same"]:
        for dilation in [1, 2, (1, 2)]:
            for groups in [1, 2, 4]:
                for stride in [1, 2]:
                    if padding == "same" and stride != 1:
                        continue  # PyTorch refuses padding="same" with a stride
                    layer, _ = bound(conv_with(3, stride, padding, dilation, groups), (4, 7, 8))
                    x = rng.normal(size=(2, 4, 7, 8))
                    ws = Workspace()
                    reference = torch.nn.Conv2d(4, 4, 3, stride=stride, padding=padding,
                                                dilation=dilation, groups=groups).double()
                    with torch.no_grad():
                        reference.weight.copy_(torch.tensor(layer.params["W"]))
                        reference.bias.copy_(torch.tensor(rng.normal(size=4)))
                        layer.params["b"][...] = reference.bias.numpy()
                    y = layer.forward(x, ws, True)
                    xt = torch.tensor(x, requires_grad=True)
                    yt = reference(xt)
                    dy = rng.normal(size=y.shape)
                    (yt * torch.tensor(dy)).sum().backward()
                    dx = layer.backward(dy, ws, True)
                    what = (f"padding {padding}, dilation {dilation}, groups {groups}, "
                            f"stride {stride}")
                    assert_close(y, yt.detach().numpy(), f"output ({what})", 1e-10, 1e-10)
                    assert_close(dx, xt.grad.numpy(), f"input gradient ({what})", 1e-10, 1e-10)
                    assert_close(layer.grads["W"], reference.weight.grad.numpy(),
                                 f"dW ({what})", 1e-10, 1e-10)
                    assert_close(layer.grads["b"], reference.bias.grad.numpy(),
                                 f"db ({what})", 1e-10, 1e-10)
