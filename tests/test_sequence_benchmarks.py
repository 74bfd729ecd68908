"""W4 and W5 of ``python -m benchmarks``: the language models, their GEMM bound, guard
and report."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from benchmarks import measure, run
from benchmarks.sequence_run import SEQUENCE_TARGETS, measure_sequences
from benchmarks.sequence_systems import GemmBoundSequence, NNKitSequence, PyTorchSequence
from benchmarks.sequence_workloads import build_sequence, markov_tokens

needs_text = pytest.mark.skipif(
    importlib.util.find_spec("nnkit_text") is None
    or importlib.util.find_spec("nnkit_extras") is None,
    reason="W4 and W5 are built from nnkit-text's layers and nnkit-extras' GELU",
)


def test_w4_and_w5_run_only_when_named():
    assert run.parse_arguments([]).workloads == ["W1", "W2", "W3", "W3bn"]
    assert run.parse_arguments(["--workloads", "w4,W5"]).workloads == ["W4", "W5"]
    with pytest.raises(SystemExit):
        run.parse_arguments(["--workloads", "W6"])


def test_the_help_names_w4_and_w5():
    shown = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "W4  a tiny GPT" in shown and "W5  an LSTM language model" in shown


def test_the_tokens_follow_a_seeded_chain_and_the_targets_are_the_next_token():
    X, y = markov_tokens(8, 64, 96, seed=3)
    again, _ = markov_tokens(8, 64, 96, seed=3)
    np.testing.assert_array_equal(X, again)
    np.testing.assert_array_equal(X[:, 1:], y[:, :-1])
    assert X.shape == y.shape == (8, 64) and 0 <= X.min() and y.max() < 96
    W4, W5 = build_sequence("W4"), build_sequence("W5")
    assert (W4.X.shape, W4.batch_size, W4.weight_decay) == ((1024, 64), 32, 0.01)
    assert (W5.X.shape, W5.units, W5.d_model) == ((2048, 64), 128, 64)


def test_the_gemm_bound_counts_every_product_and_both_its_gradients():
    forward, backward = GemmBoundSequence.products(build_sequence("W4", 32), 32)
    assert len(forward) == 6 * 2 + 1 and len(backward) == 2 * len(forward)
    flops = sum(2 * max(b, 1) * r * i * c * n for b, r, i, c, n in forward)
    # Per block: qkv 3d^2, out d^2, MLP 8d^2 per token, and 2 T d for the scores and P V.
    d, T, tokens = 128, 64, 32 * 64
    assert flops == 2 * tokens * (2 * (12 * d * d + 2 * T * d) + d * 96)
    assert sum(2 * max(b, 1) * r * i * c * n for b, r, i, c, n in backward) == 2 * flops
    forward, backward = GemmBoundSequence.products(build_sequence("W5", 32), 32)
    assert [n for *_, n in forward] == [1, 64, 1]  # the recurrent product step by step
    bound = GemmBoundSequence()
    workload = build_sequence("W5", 32)
    bound.train(workload)
    assert bound.predict(workload.X).shape == (32 * 64, 96)  # the head, last


@needs_text
@pytest.mark.parametrize("name", ["W4", "W5"])
def test_nnkit_trains_and_predicts_next_token_probabilities(name):
    workload = build_sequence(name, 32)
    system = NNKitSequence()
    system.train(workload)
    probabilities = system.predict(workload.X[:5])
    assert probabilities.shape == (5, 64, 96)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1, rtol=1e-5)


@needs_text
@pytest.mark.parametrize("name", ["W4", "W5"])
def test_the_guard_finds_nnkit_and_pytorch_at_the_same_loss(name):
    pytest.importorskip("torch")
    from benchmarks.sequence_guard import same_sequence_loss

    check = same_sequence_loss(build_sequence(name, 256), with_pytorch=True)
    assert check["same"], check
    losses = check["losses"]
    assert abs(losses["nnkit"] - losses["pytorch"]) < 1e-4 * losses["nnkit"]
    # Trained: below the loss of a uniform guess over the vocabulary, log 96.
    assert losses["nnkit"] < np.log(96)


def test_pytorch_predicts_the_same_shapes():
    pytest.importorskip("torch")
    workload = build_sequence("W5", 32)
    system = PyTorchSequence()
    system.train(workload)
    assert system.predict(workload.X[:3]).shape == (3, 64, 96)


@needs_text
def test_a_quick_w5_run_reports_tokens_per_second_and_its_targets(monkeypatch):
    monkeypatch.setattr(measure, "SETTLE_SECONDS", 0)
    settings = [measure.ThreadSetting("1 thread", 1)]
    values, notes, checks = measure_sequences(["W5"], settings, rounds=1, quick=True)
    assert values["W5", "train", "1 thread", "nnkit"][0] > 0
    assert {key[3] for key in values} >= {"nnkit", "GEMM bound"}
    assert [check["workload"] for check in checks] == ["W5"]
    lines = run.report(values, settings, _machine(), notes, checks)
    assert any("W5 train tokens/s" in line for line in lines)
    judged = {(t["workload"], t["versus"]) for t in run.evaluate_targets(values, "1 thread")}
    assert ("W5", "pytorch") in judged or importlib.util.find_spec("torch") is None
    assert all(target in run.TARGETS for target in SEQUENCE_TARGETS)


def _machine() -> dict:
    return {
        "blas": [],
        "versions": {},
        "python": "3",
        "cpu": "cpu",
        "cores": 1,
        "platform": "linux",
        "unset_for_this_run": [],
    }


@needs_text
@pytest.mark.parametrize("action", ["train", "predict"])
def test_the_sequence_profile_lists_where_nnkits_time_goes(action, monkeypatch, capsys):
    from benchmarks import environment, profile_sequences

    for name in environment.OPENBLAS_OVERRIDES:  # no restart inside the test process
        monkeypatch.delenv(name, raising=False)
    assert profile_sequences.main(["W5", "--action", action, "--sequences", "32"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"W5 {action}, 32 sequences, 1 thread: nnkit ")
    assert "its GEMM bound" in lines[1] and lines[2].split() == ["own", "s", "share", "function"]
    rows = lines[3:]
    assert len(rows) == profile_sequences.TOP
    shares = [float(row.split()[1].rstrip("%")) for row in rows]
    assert shares == sorted(shares, reverse=True) and sum(shares) <= 100.5
    # The LSTM's loops are among them, and every line fits the docs' code blocks.
    assert any("nnkit_text/recurrent.py" in row for row in rows)
    assert max(map(len, lines)) <= 84


def test_the_sequence_profile_refuses_an_unknown_workload_or_count(monkeypatch, capsys):
    from benchmarks import environment, profile_sequences

    for name in environment.OPENBLAS_OVERRIDES:  # no restart inside the test process
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit):
        profile_sequences.main(["W6"])
    assert "invalid choice: 'W6'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        profile_sequences.main(["W5", "--sequences", "0"])
    assert "expected a positive whole number, got '0'" in capsys.readouterr().err


@needs_text
def test_the_lstm_profile_times_nnkits_lstm_against_the_bound_and_pytorch(monkeypatch, capsys):
    from benchmarks import environment, profile_lstm

    for name in environment.OPENBLAS_OVERRIDES:  # no restart inside the test process
        monkeypatch.delenv(name, raising=False)
    assert profile_lstm.main(["--batches", "1", "--rounds", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    with_torch = importlib.util.find_spec("torch") is not None
    stages = 4 if with_torch else 2
    assert len(lines) == 2 * (1 + stages)
    titles = [lines[0], lines[1 + stages]]
    assert titles[0].startswith("W5's LSTM, training: 1 batches of 32, 1 thread")
    assert titles[1].startswith("W5's LSTM, inference: 1 batches of 128, 1 thread")
    names = [line[2:44].strip() for line in lines if line.startswith("  ")]
    expected = ["GEMM bound of the layer's products", "nnkit lstm"]
    if with_torch:
        expected += ["PyTorch nn.LSTM (oneDNN, its default)", "PyTorch nn.LSTM, oneDNN off"]
    assert names == expected * 2
    assert all(line.endswith("of the bound") for line in lines if line.startswith("  "))
    assert max(map(len, lines)) <= 84


def test_the_lstm_profiles_bound_multiplies_what_the_layer_multiplies(monkeypatch):
    """The bound's products are W5's: a training call does 4 once (x W, dW, dU, dx) and
    2 per step, an inference call 1 once and 1 per step."""
    from benchmarks import profile_lstm

    calls = []
    original = np.matmul

    def counting(A, B, out):
        calls.append((A.shape, B.shape))
        return original(A, B, out=out)

    for training, expected in ((True, 4 + 2 * 64), (False, 1 + 64)):
        run = profile_lstm.gemm_bound(8, training)
        calls.clear()
        with monkeypatch.context() as patch:
            patch.setattr(profile_lstm.np, "matmul", counting)
            run()
        assert len(calls) == expected
        assert ((8 * 64, 64), (64, 512)) in calls and ((8, 128), (128, 512)) in calls
        assert (((8, 512), (512, 128)) in calls) == training
