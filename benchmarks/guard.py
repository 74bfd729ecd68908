"""The correctness guard: speed must never come from doing less work.

nnkit, the hand-written NumPy loop and PyTorch (when installed) start from the same
weights, see the same batches in the same order, and must end at the same loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.numpy_loop import NumpyLoop
from benchmarks.systems import NNKit, PyTorch
from benchmarks.workloads import Workload, initial_weights

GUARD_SAMPLES = 6_000
RELATIVE_TOLERANCE = 1e-3


def same_loss(workload: Workload, with_pytorch: bool) -> dict[str, Any]:
    """Each system's loss on the guard's samples after one unshuffled epoch from the
    same weights, and whether all agree with nnkit's."""
    X, y = workload.X[:GUARD_SAMPLES], workload.y[:GUARD_SAMPLES]
    part = Workload(
        workload.name,
        X,
        y,
        workload.hidden,
        workload.n_classes,
        workload.batch_size,
        1,
        workload.learning_rate,
    )
    weights = initial_weights(workload)

    net = NNKit.network(workload).build(X.shape[1])
    net.set_weights(weights)
    net.fit(X, y, epochs=1, batch_size=workload.batch_size, shuffle=False, verbose=0)
    losses = {"nnkit": net.evaluate(X, y)["loss"]}

    loop = NumpyLoop()
    loop.train(part, weights=weights, shuffle=False)
    probabilities = loop.predict(X)[np.arange(len(y)), y]
    losses["NumPy loop"] = -float(np.mean(np.log(np.maximum(probabilities, 1e-7))))

    if with_pytorch:
        losses["pytorch"] = _pytorch_loss(workload, X, y, weights)
    same = all(
        abs(loss - losses["nnkit"]) <= RELATIVE_TOLERANCE * abs(loss) for loss in losses.values()
    )
    return {"losses": losses, "same": same}


def _pytorch_loss(workload: Workload, X: np.ndarray, y: np.ndarray, weights) -> float:
    import torch

    model = PyTorch().model(workload)
    linears = [layer for layer in model if isinstance(layer, torch.nn.Linear)]
    with torch.no_grad():
        for linear, W, b in zip(linears, weights[0::2], weights[1::2]):
            linear.weight.copy_(torch.from_numpy(W))
            linear.bias.copy_(torch.from_numpy(b[:, 0]))
    optimizer = torch.optim.SGD(model.parameters(), lr=workload.learning_rate)
    loss_function = torch.nn.CrossEntropyLoss()
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    for start in range(0, len(X), workload.batch_size):
        optimizer.zero_grad()
        batch = slice(start, start + workload.batch_size)
        loss_function(model(X_t[batch]), y_t[batch]).backward()
        optimizer.step()
    with torch.no_grad():
        return float(loss_function(model(X_t), y_t))
