"""The benchmark's machinery (not its timings): rotation, ratios, systems, memory probe."""

from __future__ import annotations

import numpy as np

from benchmarks import measure, memory, run, systems, workloads


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
    for system in (systems.NNKit(), systems.ScikitLearn()):
        system.train(small)
        proba = system.predict(full.X)
        assert proba.shape == (512, 10) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    bound = systems.GemmBound()
    bound.train(small)
    # The bound only multiplies: its "prediction" is the last batch's output columns.
    assert bound.predict(full.X).shape == (10, 512 % systems.INFERENCE_BATCH or 512)
    assert [w.shape for w in bound.W] == [(16, 784), (10, 16)]


def test_the_memory_probe_reads_this_process():
    before = memory.peak_mib()
    block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
    assert memory.peak_mib() >= before + 60 and memory.resident_mib() > 60
    del block
