"""The correctness guard: speed must never come from doing less work.

nnkit, the hand-written NumPy loop, PyTorch (when installed) and the baseline (when
given) start from the same weights, see the same batches in the same order, and must end
at the same loss. For W3, nnkit, the NumPy CNN and PyTorch do the same; for W3bn, with
its batch normalisations, nnkit and PyTorch.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmarks.nnkit_systems import cnn_guard_loss, guard_loss
from benchmarks.numpy_cnn import NumpyCNN
from benchmarks.numpy_loop import NumpyLoop
from benchmarks.systems import PyTorch
from benchmarks.workloads import Workload, initial_weights

if TYPE_CHECKING:
    from benchmarks.baseline import Baseline

GUARD_SAMPLES = 6_000
CNN_GUARD_SAMPLES = 640
RELATIVE_TOLERANCE = 1e-3


def same_loss(
    workload: Workload, with_pytorch: bool, baseline: Baseline | None = None
) -> dict[str, Any]:
    """Each system's loss on the guard's samples after one unshuffled epoch from the
    same weights, and whether all agree with nnkit's."""
    part = replace(workload.head(GUARD_SAMPLES), epochs=1)
    X, y = part.X, part.y
    weights = initial_weights(workload)
    losses = {"nnkit": guard_loss(part)}

    loop = NumpyLoop()
    loop.train(part, weights=weights, shuffle=False)
    probabilities = loop.predict(X)[np.arange(len(y)), y]
    losses["NumPy loop"] = -float(np.mean(np.log(np.maximum(probabilities, 1e-7))))

    if with_pytorch:
        losses["pytorch"] = _pytorch_loss(workload, X, y, weights)
    if baseline is not None:
        losses["baseline"] = baseline.guard_loss(workload, GUARD_SAMPLES)
    return _agreement(losses, "nnkit")


def same_cnn_loss(workload: Workload, with_pytorch: bool, with_nnkit: bool) -> dict[str, Any]:
    """W3 and W3bn: the losses of nnkit (``with_nnkit``), the NumPy CNN (W3 only: it has
    no batch normalisation) and PyTorch (``with_pytorch``) on the guard's images after one
    unshuffled epoch from PyTorch's initial weights, and whether they agree. Without
    PyTorch, nnkit starts from the NumPy CNN's weights, or from its own for W3bn."""
    part = replace(workload.head(CNN_GUARD_SAMPLES), epochs=1)
    losses: dict[str, float] = {}
    weights: list[np.ndarray] | None = None
    if with_pytorch:
        import torch

        from benchmarks.cnn_systems import PyTorchCNN

        pytorch = PyTorchCNN()
        torch.manual_seed(0)
        model = pytorch.model(part)
        weights = [p.detach().numpy().copy() for p in model.parameters()]
        losses[pytorch.name] = _pytorch_epoch_loss(model, part, part.X, part.y)
    if not workload.batch_norm:
        cnn = NumpyCNN(image=part.X.shape[1:], n_classes=part.n_classes)
        if weights is None:  # the fresh weights its training starts from
            weights = cnn.get_weights()
        cnn.train(part, weights=weights, shuffle=False)
        losses[cnn.name] = cnn.loss(part.X, part.y)
    if with_nnkit:
        losses["nnkit"] = cnn_guard_loss(part, weights)
    return _agreement(losses, next(iter(losses)))


def _agreement(losses: dict[str, float], reference: str) -> dict[str, Any]:
    same = all(
        abs(loss - losses[reference]) <= RELATIVE_TOLERANCE * abs(loss) for loss in losses.values()
    )
    return {"losses": losses, "same": same}


def _pytorch_loss(workload: Workload, X: np.ndarray, y: np.ndarray, weights) -> float:
    import torch

    model = PyTorch().model(workload)
    linears = [layer for layer in model if isinstance(layer, torch.nn.Linear)]
    with torch.no_grad():
        for linear, W, b in zip(linears, weights[0::2], weights[1::2]):
            linear.weight.copy_(torch.from_numpy(W))
            linear.bias.copy_(torch.from_numpy(b))
    return _pytorch_epoch_loss(model, workload, X, y)


def _pytorch_epoch_loss(model: Any, workload: Workload, X: np.ndarray, y: np.ndarray) -> float:
    """Train ``model`` one unshuffled epoch of plain SGD on ``X`` and ``y`` in the
    workload's batches, and return its cross-entropy on them afterwards."""
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=workload.learning_rate)
    loss_function = torch.nn.CrossEntropyLoss()
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    for start in range(0, len(X), workload.batch_size):
        optimizer.zero_grad()
        batch = slice(start, start + workload.batch_size)
        loss_function(model(X_t[batch]), y_t[batch]).backward()
        optimizer.step()
    model.eval()  # W3bn's normalisations use their running statistics, as nnkit's evaluate
    with torch.no_grad():
        return float(loss_function(model(X_t), y_t))
