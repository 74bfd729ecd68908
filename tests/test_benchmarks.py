"""The benchmark's machinery (not its timings): rotation, ratios, systems, memory probe."""

from __future__ import annotations

import sys

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


def test_rounds_interleave_both_thread_settings_and_rotate_the_order(monkeypatch):
    monkeypatch.setattr(measure, "SETTLE_SECONDS", 0)
    calls: list[tuple[str, int]] = []
    recorders = [Recorder(name, []) for name in "abc"]
    settings = measure.thread_settings(cores=2)
    assert settings == [("1 thread", 1), ("2 threads", 2)]

    def run(recorder, setting):
        calls.append((recorder.name, setting.threads))
        return float(len(calls))

    times = measure.interleaved_rounds(recorders, settings, run, rounds=2)
    # Every round runs every system at both settings; the next round starts with the
    # other setting and the next system.
    assert calls == [
        ("a", 1), ("b", 1), ("c", 1), ("a", 2), ("b", 2), ("c", 2),
        ("b", 2), ("c", 2), ("a", 2), ("b", 1), ("c", 1), ("a", 1),
    ]  # fmt: skip
    assert times["1 thread", "a"] == [1.0, 12.0] and times["2 threads", "b"] == [5.0, 7.0]
    assert measure.thread_settings(cores=1) == [("1 thread", 1)]


def test_thread_limit_reaches_blas_and_pytorch(monkeypatch):
    from threadpoolctl import threadpool_info

    class FakeTorch:
        threads = 2

        def get_num_threads(self):
            return self.threads

        def set_num_threads(self, n):
            self.threads = n

    torch = FakeTorch()
    monkeypatch.setitem(sys.modules, "torch", torch)
    with measure.limited_threads(1):
        blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
        assert blas and all(pool["num_threads"] == 1 for pool in blas)
        assert torch.threads == 1
    assert torch.threads == 2


def test_a_system_in_another_process_times_itself():
    class Remote:
        name = "remote"

        def time_job(self, workload, action, threads):
            return {"train": 2.0, "predict": 1.0}[action] * threads

    tiny = workloads.mnist_like(n_samples=64)
    assert measure.time_job(Remote(), tiny, "predict", 2) == 2.0
    with pytest.raises(ValueError, match="unknown action 'fit'"):
        measure.time_job(numpy_loop.NumpyLoop(), tiny, "fit", 1)


def values_of_two_rounds():
    return {
        ("W1", "train", "1 thread", "nnkit"): [200.0, 180.0],
        ("W1", "train", "1 thread", "scikit-learn"): [100.0, 120.0],  # 2.0x and 1.5x
        ("W1", "train", "2 threads", "nnkit"): [300.0, 300.0],
        ("W1", "train", "2 threads", "scikit-learn"): [100.0, 300.0],  # 3.0x and 1.0x
        ("W1", "train", "1 thread", "GEMM bound"): [400.0, 400.0],  # 0.5x and 0.45x
        ("W2", "train time", "1 thread", "nnkit"): [0.1, 0.1],
        ("W2", "train time", "1 thread", "pytorch"): [0.5, 0.4],  # 0.2x and 0.25x
        ("W1", "memory", None, "nnkit"): [1.0],
        ("W1", "memory", None, "scikit-learn"): [4.0],  # 0.25x, whatever the threads
        ("W3", "inference", "1 thread", "NumPy CNN"): [30.0, 40.0],
        ("W3", "inference", "1 thread", "pytorch NCHW"): [20.0, 20.0],  # 1.5x and 2.0x
    }


def test_targets_are_judged_on_the_median_of_per_round_ratios():
    def judged(setting):
        return {
            (t["measure"], t["versus"]): (t["ratio"], t["low"], t["high"], t["met"])
            for t in run.evaluate_targets(values_of_two_rounds(), setting)
        }

    assert judged("1 thread") == {
        ("train", "scikit-learn"): (1.75, 1.5, 2.0, False),  # target >= 1.8
        ("train", "GEMM bound"): (0.475, 0.45, 0.5, False),
        ("train time", "pytorch"): (0.225, 0.2, 0.25, True),  # target <= 0.25
        ("memory", "scikit-learn"): (0.25, 0.25, 0.25, True),
    }
    assert judged("2 threads") == {
        ("train", "scikit-learn"): (2.0, 1.0, 3.0, True),
        ("memory", "scikit-learn"): (0.25, 0.25, 0.25, True),
    }


def test_the_report_shows_both_thread_settings_spreads_and_the_baseline():
    values = values_of_two_rounds()
    values["W1", "train", "1 thread", "baseline"] = [100.0, 200.0]  # nnkit 2.0x, 0.9x
    values["W1", "train", "2 threads", "baseline"] = [300.0, 300.0]

    class FakeBaseline:
        label = "git main (0123456789)"
        description = {"nnkit": "0.0.9", "path": "/tmp/site/nnkit"}

    machine = {
        "blas": "threadpoolctl is not installed",
        "versions": {"numpy": "2"},
        "python": "3",
        "cpu": "cpu",
        "cores": 2,
        "platform": "linux",
        "unset_for_this_run": [],
    }
    check = {"workload": "W1", "losses": {"nnkit": 2.0, "baseline": 2.0}, "same": True}
    settings = measure.thread_settings(cores=2)
    lines = run.report(values, settings, machine, ["a note"], [check], FakeBaseline())
    text = "\n".join(lines)
    assert "at 1 thread (medians):" in text and "at 2 threads (medians):" in text
    target = next(line for line in lines if "W1 train" in line and "vs scikit-learn" in line)
    assert "1.75x [1.50-2.00]" in target and "2.00x [1.00-3.00]" in target
    assert target.endswith("NOT met")
    reference = next(line for line in lines if "NumPy CNN vs pytorch NCHW" in line)
    assert "1.75x [1.50-2.00]" in reference
    assert "nnkit against the baseline, git main (0123456789): nnkit 0.0.9" in text
    after = lines[lines.index(next(x for x in lines if "against the baseline" in x)) :]
    versus_baseline = next(line for line in after if line.strip().startswith("W1 train"))
    assert "1.45x [0.90-2.00]" in versus_baseline and "1.00x [1.00-1.00]" in versus_baseline
    assert "correctness guard, W1" in text and "note: a note" in text


def test_arguments_quick_mode_and_workload_choice(capsys):
    quick = run.parse_arguments(["--quick", "--workloads", "w1,W3"])
    assert quick.workloads == ["W1", "W3"]
    assert (quick.rounds, quick.cnn_rounds, quick.no_memory) == (2, 1, True)
    assert quick.samples <= 2_048 and quick.cnn_samples <= 256
    with pytest.raises(SystemExit):
        run.parse_arguments(["--workloads", "W1,W9"])
    assert "unknown W9; choose from W1, W2, W3" in capsys.readouterr().err


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
    values = {
        ("W1", "train", "1 thread", "nnkit"): [90.0],
        ("W1", "train", "1 thread", "NumPy loop"): [100.0],
        ("W1", "train", "1 thread", "GEMM bound"): [200.0],
    }
    found = run.evaluate_references(values, "1 thread")
    assert {(r["system"], r["versus"]): r["ratio"] for r in found} == {
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
