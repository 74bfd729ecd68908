"""The layers against PyTorch's, weights copied across: outputs, parameter gradients and
input gradients agree to 1e-10 in float64."""

from __future__ import annotations

import numpy as np
import pytest
from wiring import bound, randomised

import nnkit
from nnkit.interfaces.workspace import Workspace
from nnkit.testing.numeric import assert_close

torch = pytest.importorskip("torch")

TOLERANCE = 1e-10


def tensor(array):
    return torch.tensor(np.array(array), dtype=torch.float64, requires_grad=True)


def run_both(layer, module, x, ws=None):
    """Forward both on ``x``, backward both from the same random ``dy``; returns
    ``(y, dx, y_torch, dx_torch)``."""
    ws = Workspace() if ws is None else ws
    y = layer.forward(x, ws, True)
    xt = tensor(x)
    yt = module(xt)
    dy = np.random.default_rng(9).normal(size=y.shape)
    (yt * torch.tensor(dy)).sum().backward()
    dx = layer.backward(dy, ws, True)
    return y, dx, yt.detach().numpy(), xt.grad.numpy()


def check(name, found, expected):
    assert_close(found, expected, name, TOLERANCE, TOLERANCE)


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 6), (7,)])
def test_layer_norm(shape):
    layer = randomised(bound(nnkit.layer("layer_norm"), shape)[0])
    module = torch.nn.LayerNorm(shape[-1], eps=1e-5, dtype=torch.float64)
    with torch.no_grad():
        module.weight.copy_(torch.tensor(layer.params["gamma"]))
        module.bias.copy_(torch.tensor(layer.params["beta"]))
    x = np.random.default_rng(1).normal(size=(3, *shape)) * 3 + 1
    y, dx, yt, dxt = run_both(layer, module, x)
    check("output", y, yt)
    check("input gradient", dx, dxt)
    check("dgamma", layer.grads["gamma"], module.weight.grad.numpy())
    check("dbeta", layer.grads["beta"], module.bias.grad.numpy())


def recurrent_module(kind, layer):
    """PyTorch's layer with ``layer``'s weights: ``W = weight_ih_l0ᵀ``, ``U =
    weight_hh_l0ᵀ``, and the biases as the layers' docstrings map them."""
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    module = cls(layer.features, layer.units, batch_first=True, dtype=torch.float64)
    h = layer.units
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.tensor(layer.params["W"].T))
        module.weight_hh_l0.copy_(torch.tensor(layer.params["U"].T))
        module.bias_ih_l0.copy_(torch.tensor(layer.params["b"]))
        recurrent_bias = np.zeros(module.bias_hh_l0.shape)
        if kind == "gru":  # the candidate's recurrent bias is a parameter of its own
            recurrent_bias[2 * h :] = layer.params["b_recurrent"]
        module.bias_hh_l0.copy_(torch.tensor(recurrent_bias))
    return module


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_recurrent_layers(kind, return_sequences):
    layer = randomised(bound(nnkit.layer(kind, units=4, return_sequences=return_sequences),
                             (6, 3))[0])
    module = recurrent_module(kind, layer)

    def last_or_all(xt):
        out = module(xt)[0]
        return out if return_sequences else out[:, -1]

    x = np.random.default_rng(1).normal(size=(5, 6, 3))
    y, dx, yt, dxt = run_both(layer, last_or_all, x)
    check(f"{kind} output", y, yt)
    check(f"{kind} input gradient", dx, dxt)
    check(f"{kind} dW", layer.grads["W"], module.weight_ih_l0.grad.numpy().T)
    check(f"{kind} dU", layer.grads["U"], module.weight_hh_l0.grad.numpy().T)
    check(f"{kind} db", layer.grads["b"], module.bias_ih_l0.grad.numpy())
    if kind == "gru":
        check("gru dc", layer.grads["b_recurrent"], module.bias_hh_l0.grad.numpy()[8:])


@pytest.mark.parametrize("causal", [True, False])
def test_multi_head_attention(causal):
    T, d, heads = 5, 6, 2
    layer = randomised(bound(nnkit.layer("multi_head_attention", heads=heads, key_dim=d // heads,
                                         causal=causal), (T, d))[0])
    module = torch.nn.MultiheadAttention(d, heads, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        module.in_proj_weight.copy_(torch.tensor(layer.params["W_qkv"].T))
        module.in_proj_bias.copy_(torch.tensor(layer.params["b_qkv"]))
        module.out_proj.weight.copy_(torch.tensor(layer.params["W_o"].T))
        module.out_proj.bias.copy_(torch.tensor(layer.params["b_o"]))
    mask = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64)

    def attend(xt):
        if causal:
            return module(xt, xt, xt, attn_mask=mask, is_causal=True, need_weights=False)[0]
        return module(xt, xt, xt, need_weights=False)[0]

    x = np.random.default_rng(1).normal(size=(3, T, d))
    y, dx, yt, dxt = run_both(layer, attend, x)
    check("attention output", y, yt)
    check("attention input gradient", dx, dxt)
    check("dW_qkv", layer.grads["W_qkv"], module.in_proj_weight.grad.numpy().T)
    check("db_qkv", layer.grads["b_qkv"], module.in_proj_bias.grad.numpy())
    check("dW_o", layer.grads["W_o"], module.out_proj.weight.grad.numpy().T)
    check("db_o", layer.grads["b_o"], module.out_proj.bias.grad.numpy())


def test_causal_attention_at_a_step_ignores_every_later_step():
    layer = randomised(bound(nnkit.layer("multi_head_attention", heads=2, key_dim=3,
                                         causal=True), (6, 4))[0])
    x = np.random.default_rng(2).normal(size=(2, 6, 4))
    changed = x.copy()
    changed[:, 4:] += 10
    before, after = (layer.forward(a, Workspace()).copy() for a in (x, changed))
    assert np.array_equal(before[:, :4], after[:, :4])
    assert not np.allclose(before[:, 4:], after[:, 4:])


CONV1D = [  # (kernel_size, stride, padding, dilation, steps)
    (3, 1, "valid", 1, 8),
    (3, 1, "same", 1, 7),
    (4, 1, "same", 1, 7),
    (3, 2, "valid", 2, 11),
    (2, 3, "same", 3, 10),
    (3, 1, "causal", 2, 9),
    (1, 1, "valid", 1, 4),
]


@pytest.mark.parametrize(("kernel_size", "stride", "padding", "dilation", "steps"), CONV1D)
def test_conv1d(kernel_size, stride, padding, dilation, steps):
    layer = randomised(bound(nnkit.layer("conv1d", filters=4, kernel_size=kernel_size,
                                         stride=stride, padding=padding, dilation=dilation),
                             (steps, 3))[0])
    W, b = tensor(layer.params["W"]), tensor(layer.params["b"])
    before, after = layer.pads

    def convolve(xt):  # PyTorch's channels-first layout, and back
        padded = torch.nn.functional.pad(xt.transpose(1, 2), (before, after))
        out = torch.nn.functional.conv1d(padded, W, b, stride=stride, dilation=dilation)
        return out.transpose(1, 2)

    x = np.random.default_rng(1).normal(size=(3, steps, 3))
    y, dx, yt, dxt = run_both(layer, convolve, x)
    check("conv1d output", y, yt)
    check("conv1d input gradient", dx, dxt)
    check("conv1d dW", layer.grads["W"], W.grad.numpy())
    check("conv1d db", layer.grads["b"], b.grad.numpy())


def test_conv1d_same_padding_is_pytorchs():
    layer = randomised(bound(nnkit.layer("conv1d", filters=2, kernel_size=4, padding="same",
                                         dilation=2), (9, 3))[0])
    module = torch.nn.Conv1d(3, 2, 4, padding="same", dilation=2, dtype=torch.float64)
    with torch.no_grad():
        module.weight.copy_(torch.tensor(layer.params["W"]))
        module.bias.copy_(torch.tensor(layer.params["b"]))
    x = np.random.default_rng(3).normal(size=(2, 9, 3))
    expected = module(torch.tensor(x).transpose(1, 2)).transpose(1, 2).detach().numpy()
    check("conv1d same output", layer.forward(x, Workspace()), expected)


@pytest.mark.parametrize(("name", "reduce"), [("global_max_pool1d", "amax"),
                                              ("global_avg_pool1d", "mean")])
def test_global_pools(name, reduce):
    layer, _ = bound(nnkit.layer(name), (6, 4))
    x = np.random.default_rng(1).normal(size=(3, 6, 4))
    x[0, 2, 1] = x[0, 4, 1] = 9  # a tie: the gradient goes to the first
    y, dx, yt, dxt = run_both(layer, lambda xt: getattr(torch, reduce)(xt, dim=1), x)
    check(f"{name} output", y, yt)
    if reduce == "mean":
        check(f"{name} input gradient", dx, dxt)
    else:  # torch.amax shares a tie's gradient; nnkit gives it to the first maximum
        assert dx[0, 4, 1] == 0 and dx[0, 2, 1] == dxt[0, 2, 1] + dxt[0, 4, 1]
        dxt[0, 2, 1], dxt[0, 4, 1] = dx[0, 2, 1], 0
        check(f"{name} input gradient", dx, dxt)
