"""upsampling2d: nearest and bilinear, against direct computations, finite differences
and PyTorch's nn.Upsample."""

from __future__ import annotations

import numpy as np
import pytest
from wiring import bound, finite_difference_gradients

import nnkit
from nnkit.interfaces.workspace import Workspace
from nnkit.testing.numeric import assert_close

#: (size, input sample shape)
SIZES = [(2, (2, 3, 4)), ((1, 3), (1, 4, 2)), ((3, 2), (2, 1, 5))]


@pytest.mark.parametrize(("size", "shape"), SIZES)
def test_nearest_repeats_each_pixel(size, shape):
    layer, _ = bound(nnkit.layer("upsampling2d", size=size), shape)
    x = np.random.default_rng(1).normal(size=(3, *shape))
    y = layer.forward(x, Workspace())
    sh, sw = layer.size
    assert_close(y, x.repeat(sh, axis=2).repeat(sw, axis=3), "upsampling2d output", 0, 0)


def bilinear(x, sh, sw):
    """Bilinear upsampling pixel by pixel, from PyTorch's align_corners=False formula."""
    m, c, h, w = x.shape
    out = np.empty((m, c, h * sh, w * sw))
    for r in range(h * sh):
        for q in range(w * sw):
            sr, sq = max((r + 0.5) / sh - 0.5, 0), max((q + 0.5) / sw - 0.5, 0)
            r0, q0 = min(int(sr), h - 1), min(int(sq), w - 1)
            r1, q1 = min(r0 + 1, h - 1), min(q0 + 1, w - 1)
            tr, tq = sr - r0, sq - q0
            out[:, :, r, q] = ((1 - tr) * ((1 - tq) * x[:, :, r0, q0] + tq * x[:, :, r0, q1])
                               + tr * ((1 - tq) * x[:, :, r1, q0] + tq * x[:, :, r1, q1]))
    return out


@pytest.mark.parametrize(("size", "shape"), SIZES)
def test_bilinear_interpolates_between_neighbours(size, shape):
    layer, _ = bound(nnkit.layer("upsampling2d", size=size, interpolation="bilinear"), shape)
    x = np.random.default_rng(2).normal(size=(3, *shape))
    y = layer.forward(x, Workspace())
    assert_close(y, bilinear(x, *layer.size), "bilinear output", 1e-12, 1e-12)


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize(("size", "shape"), SIZES)
def test_gradients_match_finite_differences(size, shape, interpolation):
    layer, store = bound(nnkit.layer("upsampling2d", size=size, interpolation=interpolation),
                         shape)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, *shape))
    ws = Workspace()
    dy = rng.normal(size=layer.forward(x, ws, True).shape)
    dx = layer.backward(dy, ws, True)
    (x_at, expected), _ = finite_difference_gradients(layer, store, x, dy)
    assert_close(dx.reshape(-1)[x_at], expected, f"{interpolation} input gradient")


def test_float32_stays_float32():
    for interpolation in ("nearest", "bilinear"):
        layer, _ = bound(nnkit.layer("upsampling2d", interpolation=interpolation), (2, 3, 3),
                         dtype=np.float32)
        x = np.random.default_rng(4).normal(size=(2, 2, 3, 3)).astype(np.float32)
        ws = Workspace()
        y = layer.forward(x, ws, True)
        assert y.dtype == layer.backward(np.ones_like(y), ws, True).dtype == np.float32


def test_bad_arguments_are_refused_with_the_reason():
    with pytest.raises(nnkit.ConfigurationError, match=(
        "upsampling2d interpolation must be one of 'nearest', 'bilinear', got 'bicubic'"
    )):
        nnkit.layer("upsampling2d", interpolation="bicubic")
    with pytest.raises(nnkit.ConfigurationError, match="upsampling2d size must be a positive"):
        nnkit.layer("upsampling2d", size=0)


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    for size, shape in SIZES:
        for interpolation in ("nearest", "bilinear"):
            layer, _ = bound(
                nnkit.layer("upsampling2d", size=size, interpolation=interpolation), shape)
            x = rng.normal(size=(3, *shape))
            ws = Workspace()
            y = layer.forward(x, ws, True)
            xt = torch.tensor(x, requires_grad=True)
            reference = torch.nn.Upsample(
                scale_factor=layer.size, mode=interpolation,
                **({"align_corners": False} if interpolation == "bilinear" else {}))
            yt = reference(xt)
            dy = rng.normal(size=y.shape)
            (yt * torch.tensor(dy)).sum().backward()
            what = f"{interpolation}, size {size}"
            assert_close(y, yt.detach().numpy(), f"output ({what})", 1e-10, 1e-10)
            assert_close(layer.backward(dy, ws, True), xt.grad.numpy(), f"gradient ({what})",
                         1e-10, 1e-10)
