"""conv2d_transpose: against a direct scatter, finite differences and PyTorch's
nn.ConvTranspose2d."""

from __future__ import annotations

import numpy as np
import pytest
from wiring import bound, finite_difference_gradients

import nnkit
from nnkit.interfaces.workspace import Workspace
from nnkit.testing.numeric import assert_close

#: (kernel_size, stride, padding, output_padding, input sample shape)
CONFIGURATIONS = [
    (3, 1, 0, 0, (2, 4, 5)),
    (3, 2, 1, 1, (2, 3, 4)),
    (2, 2, 0, 0, (1, 3, 3)),
    (4, 2, 1, 0, (3, 4, 3)),
    ((2, 3), (1, 3), (1, 2), (0, 2), (2, 3, 3)),
    (1, 2, 0, 1, (2, 3, 2)),
]


def direct_transpose(x, W, b, stride, padding, output_padding):
    """Each input pixel's kernel, scaled by the pixel, added where it lands."""
    (sh, sw), (ph, pw), (oh, ow) = stride, padding, output_padding
    m, _, h, w = x.shape
    kh, kw = W.shape[2:]
    full = np.zeros((m, W.shape[1], (h - 1) * sh + kh + oh, (w - 1) * sw + kw + ow))
    for r in range(h):
        for c in range(w):
            full[:, :, r * sh : r * sh + kh, c * sw : c * sw + kw] += np.einsum(
                "nc,cfij->nfij", x[:, :, r, c], W)
    out = full[:, :, ph : full.shape[2] - ph, pw : full.shape[3] - pw]
    return out + b[None, :, None, None]


def transpose(kernel_size, stride, padding, output_padding, **options):
    return nnkit.layer("conv2d_transpose", filters=3, kernel_size=kernel_size, stride=stride,
                       padding=padding, output_padding=output_padding, **options)


@pytest.mark.parametrize(("kernel_size", "stride", "padding", "output_padding", "shape"),
                         CONFIGURATIONS)
def test_forward_is_the_direct_scatter(kernel_size, stride, padding, output_padding, shape):
    layer, _ = bound(transpose(kernel_size, stride, padding, output_padding), shape)
    layer.params["b"][...] = np.arange(3.0)
    x = np.random.default_rng(1).normal(size=(2, *shape))
    y = layer.forward(x, Workspace())
    expected = direct_transpose(x, layer.params["W"], layer.params["b"], layer.stride,
                                layer.padding, layer.output_padding)
    assert y.shape == expected.shape == (2, *layer.build(shape, None))
    assert layer.params["W"].shape == (shape[0], 3, *layer.kernel_size)
    assert_close(y, expected, "conv2d_transpose output", 1e-12, 1e-12)


@pytest.mark.parametrize(("kernel_size", "stride", "padding", "output_padding", "shape"),
                         CONFIGURATIONS)
def test_gradients_match_finite_differences(kernel_size, stride, padding, output_padding,
                                            shape):
    layer, store = bound(
        transpose(kernel_size, stride, padding, output_padding, activation="tanh", l2=0.1),
        shape)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, *shape))
    ws = Workspace()
    dy = rng.normal(size=layer.forward(x, ws, True).shape)
    dx = layer.backward(dy, ws, True).copy()
    grads = store.grads.copy()
    (x_at, dx_expected), (p_at, dp_expected) = finite_difference_gradients(layer, store, x, dy)
    assert_close(dx.reshape(-1)[x_at], dx_expected, "conv2d_transpose input gradient")
    assert_close(grads[p_at], dp_expected, "conv2d_transpose parameter gradients")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"padding": 3}, r"conv2d_transpose padding must be less than the kernel_size"),
        ({"output_padding": 2, "stride": 2}, "output_padding must be less than the stride"),
        ({"padding": -1}, "conv2d_transpose padding must be an integer >= 0"),
    ],
)
def test_bad_arguments_are_refused_with_the_reason(arguments, message):
    with pytest.raises(nnkit.ConfigurationError, match=message):
        nnkit.layer("conv2d_transpose", filters=2, kernel_size=3, **arguments)


def test_the_configuration_round_trips_through_the_constructor():
    layer = transpose((2, 3), 2, (1, 0), 1, activation="relu")
    again = type(layer)(**layer.get_config())
    assert (again.kernel_size, again.stride, again.padding, again.output_padding) == (
        (2, 3), (2, 2), (1, 0), (1, 1))


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    for kernel_size, stride, padding, output_padding, shape in CONFIGURATIONS:
        layer, _ = bound(transpose(kernel_size, stride, padding, output_padding), shape)
        reference = torch.nn.ConvTranspose2d(shape[0], 3, kernel_size, stride=stride,
                                             padding=padding,
                                             output_padding=output_padding).double()
        with torch.no_grad():
            reference.weight.copy_(torch.tensor(layer.params["W"]))
            layer.params["b"][...] = reference.bias.numpy()
        x = rng.normal(size=(3, *shape))
        ws = Workspace()
        y = layer.forward(x, ws, True)
        xt = torch.tensor(x, requires_grad=True)
        yt = reference(xt)
        dy = rng.normal(size=y.shape)
        (yt * torch.tensor(dy)).sum().backward()
        dx = layer.backward(dy, ws, True)
        what = f"kernel {kernel_size}, stride {stride}, padding {padding}, {output_padding}"
        assert_close(y, yt.detach().numpy(), f"output ({what})", 1e-10, 1e-10)
        assert_close(dx, xt.grad.numpy(), f"input gradient ({what})", 1e-10, 1e-10)
        assert_close(layer.grads["W"], reference.weight.grad.numpy(), f"dW ({what})",
                     1e-10, 1e-10)
        assert_close(layer.grads["b"], reference.bias.grad.numpy(), f"db ({what})",
                     1e-10, 1e-10)
