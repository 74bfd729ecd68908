"""The correctness guard: speed must never come from doing less work.

nnkit and PyTorch start from the same weights, see the same batches in the same order,
and must end at the same loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.systems import NNKit, PyTorch
from benchmarks.workloads import Workload, initial_weights

GUARD_SAMPLES = 6_000
RELATIVE_TOLERANCE = 1e-3


def same_loss_as_pytorch(workload: Workload) -> dict[str, Any]:
    import torch

    X, y = workload.X[:GUARD_SAMPLES], workload.y[:GUARD_SAMPLES]
    weights = initial_weights(workload)

    net = NNKit.network(workload).build(X.shape[1])
    net.set_weights(weights)
    net.fit(X, y, epochs=1, batch_size=workload.batch_size, shuffle=False, verbose=0)
    nnkit_loss = net.evaluate(X, y)["loss"]

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
        pytorch_loss = float(loss_function(model(X_t), y_t))
    same = abs(nnkit_loss - pytorch_loss) <= RELATIVE_TOLERANCE * abs(pytorch_loss)
    return {"nnkit_loss": nnkit_loss, "pytorch_loss": pytorch_loss, "same": bool(same)}
