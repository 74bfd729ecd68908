"""W4's and W5's correctness guard: nnkit and PyTorch train the same model alike.

PyTorch's model takes nnkit's initial weights, both train one unshuffled epoch on the
guard's sequences in the same batches with the same optimiser, and each then reports
its per-token cross-entropy on them: the losses must agree, so that speed never comes
from doing less.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.guard import RELATIVE_TOLERANCE
from benchmarks.sequence_systems import NNKitSequence, PyTorchSequence
from benchmarks.sequence_workloads import SequenceWorkload

#: Eight batches of 32: enough optimiser steps for a wrong gradient to show.
SEQUENCE_GUARD_SAMPLES = 256


def same_sequence_loss(workload: SequenceWorkload, with_pytorch: bool) -> dict[str, Any]:
    """nnkit's and (when installed) PyTorch's losses after one unshuffled epoch on the
    guard's sequences from the same weights, and whether they agree."""
    part = workload.head(SEQUENCE_GUARD_SAMPLES)
    net = NNKitSequence.network(part).build(part.X.shape[1:])
    initial = [np.array(w) for w in net.get_weights()]
    net.fit(part.X, part.y, epochs=1, batch_size=part.batch_size, shuffle=False, verbose=0)
    losses = {"nnkit": float(net.evaluate(part.X, part.y)["loss"])}
    if with_pytorch:
        losses["pytorch"] = _pytorch_loss(part, initial)
    same = all(
        abs(loss - losses["nnkit"]) <= RELATIVE_TOLERANCE * abs(loss) for loss in losses.values()
    )
    return {"losses": losses, "same": same}


def _pytorch_loss(workload: SequenceWorkload, weights: list[np.ndarray]) -> float:
    import torch

    pytorch = PyTorchSequence()
    model = pytorch.model(workload)
    parameters = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in zip(torch_names(workload), torch_layout(workload, weights)):
            parameters[name].copy_(torch.from_numpy(value))
    if workload.model == "lstm":
        # nnkit's LSTM keeps one bias; Adam would move PyTorch's second one as well.
        parameters["lstm.bias_hh_l0"].requires_grad_(False)
    pytorch.epochs(model, workload, shuffle=False)
    with torch.no_grad():
        logits = model(torch.from_numpy(workload.X)).reshape(-1, workload.vocabulary)
        targets = torch.from_numpy(workload.y).reshape(-1)
        return float(torch.nn.functional.cross_entropy(logits, targets))


def torch_names(workload: SequenceWorkload) -> list[str]:
    """The names of PyTorch's parameters in the order `torch_layout` gives them."""
    if workload.model == "gpt":
        blocks = [
            f"blocks.{block}.{name}"
            for block in range(workload.blocks)
            for name in (
                "norm1.weight",
                "norm1.bias",
                "attention.in_proj_weight",
                "attention.in_proj_bias",
                "attention.out_proj.weight",
                "attention.out_proj.bias",
                "norm2.weight",
                "norm2.bias",
                "fc1.weight",
                "fc1.bias",
                "fc2.weight",
                "fc2.bias",
            )
        ]
        return [
            "tokens.weight",
            "positions",
            *blocks,
            "norm.weight",
            "norm.bias",
            "head.weight",
            "head.bias",
        ]
    return [
        "tokens.weight",
        "lstm.weight_ih_l0",
        "lstm.weight_hh_l0",
        "lstm.bias_ih_l0",
        "lstm.bias_hh_l0",
        "head.weight",
        "head.bias",
    ]


def torch_layout(workload: SequenceWorkload, weights: list[np.ndarray]) -> list[np.ndarray]:
    """nnkit's weights (``Network.get_weights`` order) as PyTorch's model holds them,
    named by `torch_names`.

    W4: one for one; attention's ``W_qkv`` and ``W_o`` are the transposes of
    ``in_proj_weight`` and ``out_proj.weight``. W5: the LSTM's ``W`` and ``U`` are the
    transposes of ``weight_ih`` and ``weight_hh``, and its one bias is ``bias_ih`` with
    ``bias_hh`` at zero.
    """
    if workload.model == "gpt":
        # Per block: gamma, beta, W_qkv, b_qkv, W_o, b_o, gamma, beta, W1, b1, W2, b2.
        transposed = {2 + 12 * block + at for block in range(workload.blocks) for at in (2, 4)}
        return [w.T.copy() if i in transposed else w for i, w in enumerate(weights)]
    embedding, W, U, b, head_W, head_b = weights
    return [embedding, W.T.copy(), U.T.copy(), b, np.zeros_like(b), head_W, head_b]
