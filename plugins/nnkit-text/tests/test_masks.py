"""Masks of padded positions in the sequence layers: recurrent layers skip padded steps
(PyTorch's packed sequences), attention ignores padded keys (PyTorch's
``key_padding_mask``), global pooling reads real steps only; checked in float64 to
1e-10, forward and gradients."""

from __future__ import annotations

import numpy as np
import pytest
from wiring import bound, randomised

import nnkit
from nnkit.interfaces.workspace import Workspace
from nnkit.testing.numeric import assert_close

TOLERANCE = 1e-10
LENGTHS = [6, 3, 1, 5]  # real steps of each sequence, padded at the end to 6


def padding_mask(lengths=LENGTHS, steps=6):
    return np.arange(steps)[None, :] < np.asarray(lengths)[:, None]


def check(name, found, expected):
    assert_close(found, expected, name, TOLERANCE, TOLERANCE)


def masked_call(layer, x, mask, dy):
    ws = Workspace()
    ws.mask = mask
    y = layer.forward(x, ws, True).copy()
    dx = layer.backward(dy, ws, True)
    return y, dx


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_recurrent_layers_skip_padded_steps_as_pytorchs_packed_sequences(kind, return_sequences):
    torch = pytest.importorskip("torch")
    from test_against_pytorch import recurrent_module

    layer = randomised(bound(nnkit.layer(kind, units=4, return_sequences=return_sequences),
                             (6, 3))[0])
    module = recurrent_module(kind, layer)
    mask = padding_mask()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 6, 3))
    xt = torch.tensor(x, requires_grad=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        xt, torch.tensor(LENGTHS), batch_first=True, enforce_sorted=False
    )
    out, last = module(packed)
    states, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=6)
    h_n = (last[0] if kind == "lstm" else last)[0]
    if return_sequences:
        dy = rng.normal(size=(4, 6, 4)) * mask[:, :, None]  # the loss gives padding none
        (states * torch.tensor(dy)).sum().backward()
        expected = states.detach().numpy()
    else:
        dy = rng.normal(size=(4, 4))
        (h_n * torch.tensor(dy)).sum().backward()
        expected = h_n.detach().numpy()
    y, dx = masked_call(layer, x, mask, dy)
    if return_sequences:
        check(f"{kind} output at real steps", y[mask], expected[mask])
        # A padded step outputs the state carried from the last real one.
        last_real = y[np.arange(4), np.asarray(LENGTHS) - 1]
        assert np.array_equal(y[1, 3:], np.broadcast_to(last_real[1], (3, 4)))
    else:
        check(f"{kind} last real state", y, expected)
    check(f"{kind} input gradient", dx, xt.grad.numpy())
    assert not np.any(dx[~mask])
    check(f"{kind} dW", layer.grads["W"], module.weight_ih_l0.grad.numpy().T)
    check(f"{kind} dU", layer.grads["U"], module.weight_hh_l0.grad.numpy().T)
    check(f"{kind} db", layer.grads["b"], module.bias_ih_l0.grad.numpy())
    if kind == "gru":
        check("gru dc", layer.grads["b_recurrent"], module.bias_hh_l0.grad.numpy()[8:])
    assert layer.compute_mask(x, mask) is (mask if return_sequences else None)


@pytest.mark.parametrize("causal", [False, True])
def test_attention_ignores_padded_keys_as_pytorchs_key_padding_mask(causal):
    torch = pytest.importorskip("torch")
    T, d, heads = 6, 6, 2
    layer = randomised(bound(nnkit.layer("multi_head_attention", heads=heads, key_dim=3,
                                         causal=causal), (T, d))[0])
    module = torch.nn.MultiheadAttention(d, heads, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        module.in_proj_weight.copy_(torch.tensor(layer.params["W_qkv"].T))
        module.in_proj_bias.copy_(torch.tensor(layer.params["b_qkv"]))
        module.out_proj.weight.copy_(torch.tensor(layer.params["W_o"].T))
        module.out_proj.bias.copy_(torch.tensor(layer.params["b_o"]))
    mask = padding_mask()
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, T, d))
    dy = rng.normal(size=(4, T, d)) * mask[:, :, None]
    xt = torch.tensor(x, requires_grad=True)
    causal_mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    yt = module(
        xt, xt, xt, key_padding_mask=torch.tensor(~mask),
        attn_mask=causal_mask if causal else None, need_weights=False,
    )[0]
    (yt * torch.tensor(dy)).sum().backward()
    y, dx = masked_call(layer, x, mask, dy)
    check("attention output at real steps", y[mask], yt.detach().numpy()[mask])
    check("attention input gradient", dx, xt.grad.numpy())
    assert not np.any(dx[~mask])
    check("dW_qkv", layer.grads["W_qkv"], module.in_proj_weight.grad.numpy().T)
    check("db_qkv", layer.grads["b_qkv"], module.in_proj_bias.grad.numpy())
    check("dW_o", layer.grads["W_o"], module.out_proj.weight.grad.numpy().T)
    check("db_o", layer.grads["b_o"], module.out_proj.bias.grad.numpy())
    assert layer.compute_mask(x, mask) is mask


def test_attention_of_a_sequence_of_padding_only_is_finite():
    layer = randomised(bound(nnkit.layer("multi_head_attention", heads=1, key_dim=2), (3, 2))[0])
    mask = np.array([[True, True, False], [False, False, False]])
    x = np.random.default_rng(4).normal(size=(2, 3, 2))
    y, dx = masked_call(layer, x, mask, np.ones((2, 3, 2)) * mask[:, :, None])
    assert np.isfinite(y).all() and np.isfinite(dx).all()
    check("padding only: the output bias", y[1], np.broadcast_to(layer.params["b_o"], (3, 2)))


@pytest.mark.parametrize("name", ["global_avg_pool1d", "global_max_pool1d"])
def test_global_pools_read_real_steps_only_and_drop_the_mask(name):
    layer = bound(nnkit.layer(name), (6, 3))[0]
    mask = padding_mask()
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 6, 3))
    dy = rng.normal(size=(4, 3))
    y, dx = masked_call(layer, x, mask, dy)
    reduce = np.mean if name == "global_avg_pool1d" else np.max
    expected = np.stack([reduce(x[i, :L], axis=0) for i, L in enumerate(LENGTHS)])
    check("pooled over the real steps", y, expected)
    assert not np.any(dx[~mask])
    np.testing.assert_allclose(dx.sum(axis=1), dy if name.endswith("max_pool1d") else dy)
    assert layer.compute_mask(x, mask) is None
    none = np.zeros((1, 6), bool)  # a sequence without a real step pools to zeros
    y, dx = masked_call(layer, x[:1], none, dy[:1])
    assert not np.any(y) and not np.any(dx)


def test_conv1d_refuses_a_mask_naming_the_layer():
    net = nnkit.Network(
        [nnkit.layer("embedding", input_dim=5, output_dim=2, mask_zero=True),
         nnkit.layer("conv1d", filters=2, kernel_size=2), nnkit.layer("global_avg_pool1d"),
         nnkit.Dense(2, activation="softmax")],
        loss="cross_entropy",
    )
    with pytest.raises(nnkit.ConfigurationError, match=r"layer 2 \(conv1d .*\): Conv1D does not "
                       r"handle masks, but a mask of padded positions reaches it"):
        net.build((6,))


def padded_tokens(rng, m=300, steps=8):
    lengths = rng.integers(1, steps + 1, m)
    X = np.zeros((m, steps))
    for i, length in enumerate(lengths):
        X[i, :length] = rng.integers(1, 6, length)
    return X, lengths


def classifier(steps, kind="lstm"):
    return nnkit.Network(
        [nnkit.layer("embedding", input_dim=6, output_dim=4, mask_zero=True),
         nnkit.layer(kind, units=8), nnkit.Dense(2, activation="softmax")],
        loss="cross_entropy", optimizer="adam", seed=0,
    )


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_a_masked_classifier_does_not_see_how_much_padding_there_is(kind):
    rng = np.random.default_rng(6)
    X, _ = padded_tokens(rng, m=40)
    net = classifier(8, kind)
    net.fit(X, (X == 3).any(axis=1).astype(int), epochs=1, verbose=0)
    longer = classifier(12, kind)
    longer.build((12,))
    longer.set_weights(net.get_weights())
    padded = np.concatenate([X, np.zeros((40, 4))], axis=1)
    np.testing.assert_allclose(longer.predict(padded), net.predict(X), rtol=1e-5, atol=1e-6)


def test_an_lstm_learns_from_padded_sequences():
    rng = np.random.default_rng(7)
    X, _ = padded_tokens(rng)
    y = (X == 3).any(axis=1).astype(int)
    net = classifier(8)
    history = net.fit(X, y, epochs=30, verbose=0)
    assert history.history["accuracy"][-1] > 0.9


def test_masked_network_gradients_match_finite_differences():
    from nnkit.testing import check_network_gradients

    rng = np.random.default_rng(8)
    X, _ = padded_tokens(rng, m=4, steps=5)
    net = nnkit.Network(
        [nnkit.layer("embedding", input_dim=6, output_dim=3, mask_zero=True),
         nnkit.layer("gru", units=3, return_sequences=True),
         nnkit.layer("multi_head_attention", heads=1, key_dim=2),
         nnkit.Dense(6, activation="softmax")],
        loss="cross_entropy", seed=0, dtype="float64",
    )
    check_network_gradients(net, X, np.roll(X, -1, axis=1).astype(int), np.arange(1.0, 5.0))


def test_a_masked_token_model_leaves_padded_positions_out_of_loss_and_accuracy():
    rng = np.random.default_rng(9)
    X, lengths = padded_tokens(rng, m=6, steps=5)
    net = nnkit.Network(
        [nnkit.layer("embedding", input_dim=6, output_dim=3, mask_zero=True),
         nnkit.layer("lstm", units=4, return_sequences=True),
         nnkit.Dense(6, activation="softmax")],
        loss="cross_entropy", seed=0, dtype="float64",
    )
    targets = rng.integers(0, 6, size=X.shape)
    A = net.predict(X)
    real = X != 0
    picked = np.take_along_axis(A, targets[..., None], -1)[..., 0]
    expected_loss = -np.log(picked[real]).mean()
    expected_accuracy = np.mean(A.argmax(-1)[real] == targets[real])
    scores = net.evaluate(X, targets, batch_size=4)  # two batches, 4 and 2 sequences
    assert scores["accuracy"] == pytest.approx(expected_accuracy)
    # Batch by batch the loss is each batch's mean, weighed by its sequences.
    one_batch = net.evaluate(X, targets)
    assert one_batch["loss"] == pytest.approx(expected_loss, rel=1e-10)
    # Combined with ignore_index: a position ignored and one masked both drop out.
    targets[0, 0] = -100
    real[0, 0] = False
    expected_loss = -np.log(picked[real]).mean()
    assert net.evaluate(X, targets)["loss"] == pytest.approx(expected_loss, rel=1e-10)
