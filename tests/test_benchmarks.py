"""The benchmark's machinery (not its timings): rotation, ratios, systems, memory probe."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import (
    environment,
    guard,
    measure,
    memory,
    numpy_loop,
    profile_loop,
    run,
    systems,
    workloads,
)


class Recorder:
    def __init__(self, name: str, calls: list[str]) -> None:
        self.name, self.calls = name, calls


def test_round_robin_rotates_the_order_every_round(monkeypatch):
    monkeypatch.setattr(measure, "SETTLE_SECONDS", 0)
    calls: list[str] = []
    recorders = [Recorder(name, calls) for name in "abc"]
    times = measure.round_robin(recorders, lambda r: calls.append(r.name) or 1.0, rounds=3)
    assert calls == list("abcbcacab")
    assert times == {"a": [1.0] * 3, "b": [1.0] * 3, "c": [1.0] * 3}


def test_targets_are_judged_as_ratios_in_the_right_direction():
    results = {
        ("W1", "train", "nnkit"): 200.0,
        ("W1", "train", "scikit-learn"): 100.0,  # 2.0x, target >= 1.8: met
        ("W1", "train", "GEMM bound"): 400.0,  # 0.5x, target >= 0.7: not met
        ("W2", "train time", "nnkit"): 0.1,
        ("W2", "train time", "pytorch"): 0.5,  # 0.2x, target <= 0.25: met
    }
    judged = {
        (t["measure"], t["versus"]): (t["ratio"], t["met"]) for t in run.evaluate_targets(results)
    }
    assert judged == {
        ("train", "scikit-learn"): (2.0, True),
        ("train", "GEMM bound"): (0.5, False),
        ("train time", "pytorch"): (0.2, True),
    }


def test_each_numpy_system_trains_and_predicts_a_small_workload():
    full = workloads.mnist_like(n_samples=512)
    small = workloads.Workload("tiny", full.X, full.y, (16,), 10, batch_size=64, epochs=1)
    for system in (systems.NNKit(), numpy_loop.NumpyLoop(), systems.ScikitLearn()):
        system.train(small)
        proba = system.predict(full.X)
        assert proba.shape == (512, 10) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    bound = systems.GemmBound()
    bound.train(small)
    # The bound only multiplies: its "prediction" is the last batch's output columns.
    assert bound.predict(full.X).shape == (10, 512 % workloads.INFERENCE_BATCH or 512)
    assert [w.shape for w in bound.W] == [(16, 784), (10, 16)]


def test_references_are_ratios_of_the_named_systems():
    results = {
        ("W1", "train", "nnkit"): 90.0,
        ("W1", "train", "NumPy loop"): 100.0,
        ("W1", "train", "GEMM bound"): 200.0,
    }
    assert {(r["system"], r["versus"]): r["ratio"] for r in run.evaluate_references(results)} == {
        ("NumPy loop", "GEMM bound"): 0.5,
        ("nnkit", "NumPy loop"): 0.9,
    }


def test_the_numpy_loop_computes_what_nnkit_computes():
    full = workloads.mnist_like(n_samples=700)
    # Three hidden layers and a last batch of 60 samples: every path of the loop.
    workload = workloads.Workload("small", full.X, full.y, (24, 16, 12), 10, 64, 2)
    weights = workloads.initial_weights(workload)
    net = systems.NNKit.network(workload).build(full.X.shape[1])
    net.set_weights(weights)
    net.fit(full.X, full.y, epochs=2, batch_size=64, shuffle=False, verbose=0)
    loop = numpy_loop.NumpyLoop()
    loop.train(workload, weights=weights, shuffle=False)
    np.testing.assert_allclose(loop.predict(full.X), net.predict(full.X), rtol=1e-4, atol=1e-6)
    for ours, theirs in zip(net.get_weights(), [a for pair in zip(loop.W, loop.b) for a in pair]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)


def test_the_guard_compares_every_system_with_nnkit():
    full = workloads.mnist_like(n_samples=1_000)
    check = guard.same_loss(full, with_pytorch=False)
    assert check["same"] is True and set(check["losses"]) == {"nnkit", "NumPy loop"}
    assert check["losses"]["nnkit"] == pytest.approx(check["losses"]["NumPy loop"], rel=1e-4)


def test_the_loop_profile_times_every_line_of_an_epoch(monkeypatch, capsys):
    for name in environment.OPENBLAS_OVERRIDES:  # no restart inside the test process
        monkeypatch.delenv(name, raising=False)
    assert profile_loop.main(["--samples", "1024"]) == 0
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    # Both functions are timed line by line: 1024 samples make 8 batches of 128, each
    # gathered once and sent through 3 layers.
    gather = next(line for line in lines if "X.take(rows" in line)
    forward = next(line for line in lines if "Z = np.matmul(W, A[-1]" in line)
    assert gather.split()[1] == "8" and forward.split()[1] == str(8 * 3)


def test_the_memory_probe_reads_this_process():
    # Touch enough memory to lift the high-water mark past any earlier peak.
    resident, peak = memory.resident_mib(), memory.peak_mib()
    size = int(peak - resident) + 64
    block = np.ones(size * 2**20 // 8)
    assert memory.resident_mib() >= resident + size - 4
    assert memory.peak_mib() >= max(peak, resident + size - 4)
    del block
