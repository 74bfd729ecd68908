"""``python -m benchmarks.profile_lstm``: W5's LSTM alone, nnkit's against PyTorch's.

Times the LSTM of W5 (64 inputs, 128 units, 64 steps, every step's state returned) by
itself at 1 thread: forward and backward on batches of 32, as training runs it, and
forward on batches of 128, as inference does. Four stages, each once per round in
rotating order, each line its fastest round:

- the GEMM bound of the layer's products, alone (the input product over all steps,
  the 64 recurrent products one step at a time, and in training the 64 back, the
  weights' gradients and the input gradient): what any NumPy LSTM must spend;
- nnkit's ``lstm`` layer (``nnkit.testing.LayerHarness``, float32);
- PyTorch's ``nn.LSTM`` as it runs by default on the CPU, through oneDNN's fused
  recurrent kernel;
- PyTorch's ``nn.LSTM`` with oneDNN turned off (``torch.backends.mkldnn.enabled =
  False``): its own step-by-step loop of products and element-wise operations, the way
  a NumPy implementation has to run it.

It shows where W5's distance to PyTorch comes from: by default PyTorch runs the whole
sequence in one native kernel, close to the bound of its products; its own loop of
steps, the only way NumPy can run one, is slower than nnkit's.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.environment import reexec_without_blas_overrides
from benchmarks.profile_sequences import positive

#: W5's LSTM: inputs (the embedding's width), units, steps.
FEATURES, UNITS, STEPS = 64, 128, 64


def gemm_bound(m: int, training: bool) -> Callable[[], None]:
    """The layer's products for a batch of ``m`` sequences, on preallocated arrays."""
    rng = np.random.default_rng(0)
    rows, gates = m * STEPS, 4 * UNITS

    def arrays(r: int, i: int, c: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (
            rng.standard_normal((r, i), dtype=np.float32),
            rng.standard_normal((i, c), dtype=np.float32),
            np.empty((r, c), np.float32),
        )

    once = [arrays(rows, FEATURES, gates)]  # x W, every step at once
    per_step = [arrays(m, UNITS, gates)]  # h_{t-1} U
    if training:
        per_step.append(arrays(m, gates, UNITS))  # dh_{t-1} = da_t Uᵀ
        once += [
            arrays(FEATURES, rows, gates),  # dW = Xᵀ dA
            arrays(UNITS, rows, gates),  # dU = Hᵀ dA
            arrays(rows, gates, FEATURES),  # dx = dA Wᵀ
        ]

    def run() -> None:
        for A, B, C in once:
            np.matmul(A, B, out=C)
        for _ in range(STEPS):
            for A, B, C in per_step:
                np.matmul(A, B, out=C)

    return run


def nnkit_lstm(m: int, training: bool) -> Callable[[], None]:
    """nnkit's ``lstm`` layer on a batch of ``m`` sequences: forward (and backward)."""
    import nnkit
    from nnkit.testing import LayerHarness

    layer = nnkit.layer("lstm", units=UNITS, return_sequences=True)
    harness = LayerHarness(layer, (STEPS, FEATURES), dtype=np.float32)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((m, STEPS, FEATURES), dtype=np.float32)
    dy = rng.standard_normal((m, STEPS, UNITS), dtype=np.float32)

    def run() -> None:
        harness.forward(x, training=training)
        if training:
            harness.backward(dy)

    return run


def pytorch_lstm(m: int, training: bool, onednn: bool) -> Callable[[], None]:
    """PyTorch's ``nn.LSTM`` on a batch of ``m`` sequences, with oneDNN on or off."""
    import torch

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(FEATURES, UNITS, batch_first=True)
    x = torch.randn(m, STEPS, FEATURES, requires_grad=training)
    dy = torch.randn(m, STEPS, UNITS)

    def run() -> None:
        previous = torch.backends.mkldnn.enabled
        torch.backends.mkldnn.enabled = onednn
        try:
            if training:
                output, _ = lstm(x)
                output.backward(dy)
            else:
                with torch.no_grad():
                    lstm(x)
        finally:
            torch.backends.mkldnn.enabled = previous

    return run


def stages(m: int, training: bool, batches: int) -> dict[str, Callable[[], None]]:
    """Each stage's job: ``batches`` calls on batches of ``m`` sequences. The PyTorch
    stages only when PyTorch is installed."""
    import importlib.util

    makers: dict[str, Callable[[], Callable[[], None]]] = {
        "GEMM bound of the layer's products": lambda: gemm_bound(m, training),
        "nnkit lstm": lambda: nnkit_lstm(m, training),
    }
    if importlib.util.find_spec("torch") is not None:
        makers["PyTorch nn.LSTM (oneDNN, its default)"] = lambda: pytorch_lstm(m, training, True)
        makers["PyTorch nn.LSTM, oneDNN off"] = lambda: pytorch_lstm(m, training, False)
    jobs = {}
    for name, make in makers.items():
        call = make()
        jobs[name] = _repeated(call, batches)
    return jobs


def _repeated(call: Callable[[], None], times: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(times):
            call()

    return run


def lines(batches: int, rounds: int) -> list[str]:
    """The report: training (batch 32, forward and backward) and inference (batch 128,
    forward), each stage's fastest round against the GEMM bound's."""
    from benchmarks.measure import limited_threads
    from benchmarks.stages import stage_lines, time_stages

    report: list[str] = []
    for title, m, training in (("training", 32, True), ("inference", 128, False)):
        jobs = stages(m, training, batches)
        with limited_threads(1):
            for job in jobs.values():
                job()  # warm-up: imports, first allocations, oneDNN's kernels
        times = time_stages(jobs, rounds)
        report.append(
            f"W5's LSTM, {title}: {batches} batches of {m}, 1 thread, "
            f"fastest of {rounds} rounds:"
        )
        report += stage_lines(times, min, adds=lambda name: False)
    return report


def main(argv: list[str] | None = None) -> int:
    reexec_without_blas_overrides("benchmarks.profile_lstm")
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_lstm", description=__doc__)
    parser.add_argument("--batches", type=positive, default=8, help="calls per round (default 8)")
    parser.add_argument("--rounds", type=positive, default=7, help="timed rounds (default 7)")
    args: Any = parser.parse_args(argv)
    print("\n".join(lines(args.batches, args.rounds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
