"""The benchmark's machinery (not its timings): rounds at both thread settings, ratios and
their spread, the systems, the baseline process, the NumPy CNN's gradients, memory probe."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from benchmarks import (
    baseline,
    baseline_worker,
    cnn_systems,
    environment,
    guard,
    measure,
    memory,
    nnkit_systems,
    numpy_cnn,
    numpy_loop,
    profile_fit,
    profile_inference,
    profile_loop,
    profile_training,
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
    quick = run.parse_arguments(["--quick", "--workloads", "w1,W3,w3bn"])
    assert quick.workloads == ["W1", "W3", "W3bn"]
    assert (quick.rounds, quick.cnn_rounds, quick.no_memory) == (2, 1, True)
    assert quick.samples <= 2_048 and quick.cnn_samples <= 256
    with pytest.raises(SystemExit):
        run.parse_arguments(["--workloads", "W1,W9"])
    assert "unknown W9; choose from W1, W2, W3, W3bn" in capsys.readouterr().err


def test_each_numpy_system_trains_and_predicts_a_small_workload():
    full = workloads.mnist_like(n_samples=512)
    small = workloads.Workload("tiny", full.X, full.y, (16,), 10, batch_size=64, epochs=1)
    for system in (systems.NNKit(), numpy_loop.NumpyLoop(), systems.ScikitLearn()):
        system.train(small)
        proba = system.predict(full.X)
        assert proba.shape == (512, 10) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    bound = systems.GemmBound()
    bound.train(small)
    # The bound only multiplies: its "prediction" is the last batch's output rows, the
    # product of the batch with each layer's weights in turn.
    last = full.X[-(512 % workloads.INFERENCE_BATCH or 512) :]
    expected = last @ bound.W[0].T @ bound.W[1].T
    np.testing.assert_allclose(bound.predict(full.X), expected, rtol=1e-4, atol=1e-3)
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
    theirs_all = [a for W, b in zip(loop.W, loop.b) for a in (W, b.ravel())]  # b as nnkit's (n,)
    for ours, theirs in zip(net.get_weights(), theirs_all):
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


def tiny_cnn(dtype=np.float64) -> numpy_cnn.NumpyCNN:
    return numpy_cnn.NumpyCNN(filters=(2, 3), hidden=5, n_classes=3, image=(2, 8, 8), dtype=dtype)


def test_the_numpy_cnn_gradients_match_finite_differences():
    net = tiny_cnn()
    rng = np.random.default_rng(0)
    net.parameters += rng.normal(0, 0.1, net.parameters.shape)  # biases away from zero too
    X, labels = rng.standard_normal((4, 2, 8, 8)), np.array([0, 1, 2, 1])
    net.forward(X, keep=True)
    net.backward(labels)
    analytic = net.gradients.copy()
    numeric = np.empty_like(analytic)
    for index in range(len(analytic)):
        saved = net.parameters[index]
        net.parameters[index] = saved + 1e-6
        above = net.loss(X, labels)
        net.parameters[index] = saved - 1e-6
        below = net.loss(X, labels)
        net.parameters[index] = saved
        numeric[index] = (above - below) / 2e-6
    assert np.abs(analytic).max() > 0.01
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


def test_col2im_is_the_adjoint_of_im2col():
    rng = np.random.default_rng(1)
    image = rng.standard_normal((2, 6, 4, 3))
    padded = np.zeros((2, 8, 6, 3))
    padded[:, 1:-1, 1:-1] = image
    cols = np.empty((2, 6, 4, 3, 3, 3))
    numpy_cnn.im2col(padded, cols)
    dcols = rng.standard_normal(cols.shape)
    dimage = np.empty_like(image)
    numpy_cnn.col2im(dcols, dimage)
    # <im2col(x), c> = <x, col2im(c)> for every x and c.
    assert np.vdot(cols, dcols) == pytest.approx(np.vdot(image, dimage), rel=1e-12)


def test_the_numpy_cnn_takes_and_gives_weights_in_pytorchs_layout_and_computes_its_forward():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(12, 5), nn.ReLU(), nn.Linear(5, 3),
    ).double()  # fmt: skip
    weights = [p.detach().numpy() for p in model.parameters()]
    net = tiny_cnn()
    net.set_weights(weights)
    for ours, theirs in zip(net.get_weights(), weights):
        np.testing.assert_array_equal(ours, theirs)
    X = np.random.default_rng(2).standard_normal((5, 2, 8, 8))
    with torch.no_grad():
        expected = torch.softmax(model(torch.from_numpy(X)), 1).numpy()
    np.testing.assert_allclose(net.forward(X), expected, rtol=1e-10, atol=1e-12)


def test_the_numpy_cnn_refuses_images_it_was_not_built_for():
    with pytest.raises(ValueError, match="multiples of 4"):
        numpy_cnn.NumpyCNN(image=(1, 6, 8))
    workload = workloads.small_cnn(n_samples=8)
    with pytest.raises(ValueError, match=r"built for \(2, 8, 8\): pass image=\(1, 28, 28\)"):
        tiny_cnn().train(workload)


def test_w3_systems_train_and_predict_a_few_images():
    images = workloads.small_cnn(n_samples=40)
    assert images.X.shape == (40, 1, 28, 28) and images.X.dtype == np.float32
    assert (images.batch_size, images.hidden, images.n_classes) == (64, (128,), 10)
    # The same network on 8x8 crops, so that the test takes a moment.
    tiny = replace(images, X=images.X[:, :, :8, :8].copy(), hidden=(16,), batch_size=16)
    bound = cnn_systems.GemmBoundCNN()
    assert bound.shapes(images, 64) == [
        (64 * 784, 9, 32), (64 * 196, 288, 64), (64, 3136, 128), (64, 128, 10),
    ]  # fmt: skip
    with measure.limited_threads(1):
        cnn = numpy_cnn.NumpyCNN(hidden=16, image=(1, 8, 8))
        cnn.train(tiny)
        assert len(cnn.losses) == 3 and cnn.predict(tiny.X).shape == (40, 10)
        bound.train(tiny)
        assert [dK.shape for dK in bound.dK] == [(9, 32), (288, 64), (256, 16), (16, 10)]
        assert bound.predict(tiny.X).shape == (workloads.CNN_INFERENCE_BATCH, 10)
        if importlib.util.find_spec("torch") is not None:
            # Its training is left to the benchmark: PyTorch's first backward pass in a
            # process takes seconds to set up.
            for channels_last in (False, True):
                pytorch = cnn_systems.PyTorchCNN(channels_last)
                pytorch.net = pytorch.model(tiny)
                proba = pytorch.predict(tiny.X)
                assert proba.shape == (40, 10) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)


def test_w3_without_nnkits_convolution_layers_runs_the_others_with_a_note(monkeypatch):
    monkeypatch.setattr(cnn_systems, "vision_missing", lambda: "not installed")
    lineup, notes = cnn_systems.available_cnn_systems()
    assert "nnkit" not in [system.name for system in lineup]
    assert {"NumPy CNN", "GEMM bound"} <= {system.name for system in lineup}
    assert notes[0].startswith("W3: nnkit's convolution layers (nnkit_vision) are not installed")


def test_nnkits_w3_network_is_built_from_the_vision_layers(monkeypatch):
    import nnkit

    made = []
    monkeypatch.setattr(nnkit, "layer", lambda name, **options: made.append((name, options)))
    monkeypatch.setattr(nnkit, "Network", lambda layers, **options: (layers, options))
    layers, options = nnkit_systems.NNKitCNN.network(workloads.small_cnn(n_samples=4))
    conv = {"kernel_size": 3, "padding": "same", "activation": "relu"}
    assert made == [
        ("conv2d", {"filters": 32, **conv}),
        ("max_pool2d", {"pool_size": 2}),
        ("conv2d", {"filters": 64, **conv}),
        ("max_pool2d", {"pool_size": 2}),
        ("flatten", {}),
    ]
    assert [layer.units for layer in layers[5:]] == [128, 10]
    assert options["loss"] == "cross_entropy"


def test_workloads_are_built_by_name():
    assert workloads.build("W1", 100).X.shape == (100, 784)
    assert workloads.build("W3", 10).X.shape == (10, 1, 28, 28)
    w3bn = workloads.build("W3bn", 10)
    assert w3bn.batch_norm and not workloads.build("W3", 10).batch_norm
    np.testing.assert_array_equal(w3bn.X, workloads.build("W3", 10).X)  # the same images
    with pytest.raises(ValueError, match="unknown workload 'W4': expected W1, W2, W3, W3bn"):
        workloads.build("W4")


def test_a_baseline_revision_must_exist():
    with pytest.raises(baseline.BaselineError, match="'no-such-rev' is not a revision"):
        baseline.resolve_revision("no-such-rev")
    with pytest.raises(baseline.BaselineError, match="neither a virtual environment"):
        baseline.Baseline("/no/such/venv")


def test_a_baseline_revision_is_exported_and_installed_without_dependencies(tmp_path):
    commit = baseline.resolve_revision("HEAD")
    assert len(commit) == 40
    source = baseline.export_revision(commit, tmp_path / "source")
    assert (source / "nnkit" / "__init__.py").is_file()
    assert (source / "plugins" / "nnkit_std" / "__init__.py").is_file()
    plugins = baseline.repository_plugins(source)
    assert [plugin.name for plugin in plugins] == ["nnkit-extras", "nnkit-text", "nnkit-vision"]
    command = baseline.install_command(source, tmp_path / "site", plugins)
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    assert "--no-deps" in command and command[-3 - len(plugins) :] == [
        "--target",
        str(tmp_path / "site"),
        str(source),
        *map(str, plugins),
    ]


def test_a_baseline_leaves_out_the_environments_plugins_the_revision_has_not(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    # The dev environment registers nnkit's own standard components as a plugin.
    assert "nnkit-numpy" in baseline.plugins_missing_from(site)
    info = site / "nnkit_numpy-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: nnkit_numpy\nVersion: 0.1.0\n")
    assert "nnkit-numpy" not in baseline.plugins_missing_from(site)


def test_the_baseline_child_drops_the_repositorys_folders_from_its_path(monkeypatch, tmp_path):
    repository, elsewhere = tmp_path / "repository", tmp_path / "elsewhere"
    editable = str(repository / "plugins" / "acme" / "src")  # what an editable install adds
    given = str(repository / "given")  # on PYTHONPATH: the parent put it there on purpose
    monkeypatch.setenv("PYTHONPATH", given)
    monkeypatch.setattr(sys, "path", [given, editable, str(elsewhere), str(repository)])
    assert baseline_worker.keep_out(str(repository)) == [editable, str(repository)]
    assert sys.path == [given, str(elsewhere)]
    assert baseline_worker.keep_out(None) == [] and sys.path == [given, str(elsewhere)]


def test_a_git_baseline_imports_the_revisions_nnkit_and_plugins_not_the_working_trees():
    with baseline.Baseline("git:HEAD") as other:
        folder = str(other._folder)
        assert other.description["path"].startswith(folder)
        # HEAD keeps nnkit-vision in the repository: the child has the revision's own
        # copy, even where the environment has the working tree's installed (editable).
        assert other.description["vision"] is True
        assert other.description["vision_path"].startswith(folder)


def test_a_baseline_process_times_the_same_jobs_and_reports_errors(tmp_path):
    tiny = workloads.mnist_like(n_samples=256)
    # The nnkit this interpreter imports from outside the repository: the installed one.
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    installed = subprocess.run(
        [sys.executable, "-c", "import nnkit, os; print(os.path.dirname(nnkit.__file__))"],
        cwd=tmp_path, env=environ, capture_output=True, text=True, check=True,
    ).stdout.strip()
    with baseline.Baseline(sys.executable) as other:
        assert other.description["nnkit"] and other.description["path"] == installed
        assert other.time_job(tiny, "train", 1) > 0
        assert measure.time_job(other, tiny, "predict", 1) > 0
        local = guard.same_loss(tiny, with_pytorch=False)["losses"]["nnkit"]
        assert other.guard_loss(tiny, guard.GUARD_SAMPLES) == pytest.approx(local, rel=1e-3)
        with pytest.raises(baseline.BaselineError, match="unknown action 'fit'"):
            other.time_job(tiny, "fit", 1)
        folder = other._folder
    assert not folder.exists()


def profile_lines(profile, argv, monkeypatch, capsys) -> list[str]:
    """What a profile's ``main(argv)`` prints, checked to fit the docs' code blocks."""
    for name in environment.OPENBLAS_OVERRIDES:  # no restart inside the test process
        monkeypatch.delenv(name, raising=False)
    assert profile.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(map(len, lines)) <= 84  # pasted into the docs' code blocks
    return lines


def test_the_inference_profile_builds_prediction_up_one_step_at_a_time(monkeypatch, capsys):
    argv = ["--samples", "1500", "--rounds", "1"]
    lines = profile_lines(profile_inference, argv, monkeypatch, capsys)
    assert lines[0].startswith("W1 inference, 1,500 samples, batch 1024, 1 thread")
    names = [line[2:44].strip() for line in lines[1:]]
    assert names[0].startswith("products, weights transposed") and names[-1].startswith(
        "nnkit Network.predict"
    )
    assert len(names) == 8 and all(line.endswith("of the bound") for line in lines[1:])


def test_the_inference_profiles_hand_written_stages_compute_what_nnkit_predicts():
    workload = workloads.mnist_like(n_samples=1500)
    system = systems.NNKit()
    system.train(workload.head(256))
    jobs, outputs = profile_inference.stages(system.net, workload.X)
    jobs["+ copy into the output"]()
    np.testing.assert_allclose(outputs, system.net.predict(workload.X), rtol=1e-5, atol=1e-6)
    outputs.fill(np.nan)
    jobs["nnkit Network.forward per batch"]()
    np.testing.assert_allclose(outputs, system.net.predict(workload.X), rtol=1e-6, atol=1e-7)


def test_the_training_profile_builds_the_loops_step_up_one_piece_at_a_time(monkeypatch, capsys):
    argv = ["--samples", "700", "--rounds", "1"]
    lines = profile_lines(profile_training, argv, monkeypatch, capsys)
    assert lines[0].startswith("W1 training, 700 samples, batch 128, 1 thread")
    names = [line[2:44].strip() for line in lines[1:]]
    assert names == [
        "GEMM bound",
        "products in the loop's arrays",
        *(f"+ {piece}" for piece in profile_training.PIECES),
        "NumPy loop",
        "nnkit fit",
    ]
    # Only the added pieces say what they cost; every line says its share of the bound.
    assert [line.split()[-6].startswith(("+", "-")) for line in lines[1:]] == [
        name.startswith("+") for name in names
    ]
    assert all(line.endswith("of the bound") for line in lines[1:])


def test_the_fit_profile_times_each_one_time_part_beside_both_trainings(monkeypatch, capsys):
    argv = ["--samples", "700", "--rounds", "1"]
    lines = profile_lines(profile_fit, argv, monkeypatch, capsys)
    assert lines[0].startswith("W1 training, 700 samples, batch 128, 1 thread")
    names = [line[2:36].strip() for line in lines[1:]]
    assert names == [
        "nnkit fit",
        "NumPy loop",
        *profile_fit.NNKIT_PARTS,
        *profile_fit.LOOP_PARTS,
        "one-time work nnkit adds",
        "nnkit fit minus NumPy loop",
    ]
    assert lines[1].endswith("100.0% of nnkit's fit")


def test_the_fit_profile_adds_nnkits_parts_and_takes_away_the_loops():
    fastest = {"nnkit fit": 0.400, "NumPy loop": 0.380}
    fastest.update(dict.fromkeys(profile_fit.NNKIT_PARTS, 0.004))
    fastest.update(dict.fromkeys(profile_fit.LOOP_PARTS, 0.002))
    times = {name: [seconds, seconds + 0.5] for name, seconds in fastest.items()}
    lines = profile_fit.report(times)
    added = 0.004 * len(profile_fit.NNKIT_PARTS) - 0.002 * len(profile_fit.LOOP_PARTS)
    assert lines[-2].split()[-6:-3] == [f"{added * 1000:.1f}", "ms", f"{added / 0.4:.1%}"]
    assert lines[-1].split()[-6:-3] == ["20.0", "ms", "5.0%"]


def test_the_training_profiles_last_stage_is_the_numpy_loop_batch_for_batch():
    workload = workloads.mnist_like(n_samples=700)
    weights = workloads.initial_weights(workload)
    loop = numpy_loop.NumpyLoop()
    loop.train(workload, weights=weights)
    full = profile_training.train_by_hand(workload, weights, len(profile_training.PIECES))
    for ours, theirs in zip(full, [a for W, b in zip(loop.W, loop.b) for a in (W, b.ravel())]):
        np.testing.assert_array_equal(ours, theirs)
    # Each earlier stage leaves out work, so it leaves the weights as they started.
    without_sgd = profile_training.train_by_hand(workload, weights, len(profile_training.PIECES) - 1)
    for ours, start in zip(without_sgd, weights):
        np.testing.assert_array_equal(ours, start)


def test_nnkits_w3bn_network_normalises_each_convolution_before_its_relu(monkeypatch):
    import nnkit

    made = []
    monkeypatch.setattr(nnkit, "layer", lambda name, **options: made.append((name, options)))
    monkeypatch.setattr(nnkit, "Network", lambda layers, **options: (layers, options))
    nnkit_systems.NNKitCNN.network(workloads.small_cnn_batch_norm(n_samples=4))
    conv = {"kernel_size": 3, "padding": "same"}
    as_pytorch = {"momentum": 0.9, "epsilon": 1e-5, "running_variance": "unbiased"}
    assert made == [
        ("conv2d", {"filters": 32, **conv}),
        ("batch_norm", as_pytorch),
        ("activation", {"activation": "relu"}),
        ("max_pool2d", {"pool_size": 2}),
        ("conv2d", {"filters": 64, **conv}),
        ("batch_norm", as_pytorch),
        ("activation", {"activation": "relu"}),
        ("max_pool2d", {"pool_size": 2}),
        ("flatten", {}),
    ]


def test_w3bn_runs_nnkit_and_pytorch_only_and_says_which_plugin_is_missing(monkeypatch):
    lineup, notes = cnn_systems.available_cnn_systems(batch_norm=True)
    names = [system.name for system in lineup]
    assert "NumPy CNN" not in names and "GEMM bound" not in names  # no batch normalisation
    assert "nnkit" in names
    monkeypatch.setattr(cnn_systems, "plugin_missing", lambda module: "not installed")
    lineup, notes = cnn_systems.available_cnn_systems(batch_norm=True)
    assert "nnkit" not in [system.name for system in lineup]
    assert notes[0] == (
        "W3bn: nnkit's batch_norm (nnkit_extras) is not installed, so nnkit was skipped: "
        "pip install ./plugins/nnkit-extras"
    )


def test_the_w3bn_guard_holds_nnkit_to_pytorchs_batchnorm2d():
    pytest.importorskip("torch")
    images = replace(workloads.small_cnn_batch_norm(n_samples=64), batch_size=16)
    model = cnn_systems.PyTorchCNN().model(images)
    assert [type(m).__name__ for m in model][:4] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]
    with measure.limited_threads(1):
        check = guard.same_cnn_loss(images, with_pytorch=True, with_nnkit=True)
    assert set(check["losses"]) == {"pytorch NCHW", "nnkit"} and check["same"] is True
    assert check["losses"]["nnkit"] == pytest.approx(check["losses"]["pytorch NCHW"], rel=1e-5)


def test_the_w3_guard_holds_nnkit_to_the_numpy_cnn():
    images = replace(workloads.small_cnn(n_samples=64), batch_size=16)
    with measure.limited_threads(1):
        check = guard.same_cnn_loss(images, with_pytorch=False, with_nnkit=True)
    assert set(check["losses"]) == {"NumPy CNN", "nnkit"} and check["same"] is True


def test_a_baseline_without_the_cnn_plugins_sits_out_w3_with_a_note():
    """A revision from before nnkit-vision (release 0.2.0) cannot run W3: the report says
    so, rather than leaving the baseline out without a word."""
    before_vision = {"nnkit": "0.1.0", "vision": False, "extras": True}
    note = run.baseline_sits_out(before_vision, "git e197bf0 (e197bf0ec6)", "W3", False)
    assert note == (
        "W3: the baseline, git e197bf0 (e197bf0ec6), has no nnkit_vision, so it sat out W3; "
        "a revision with plugins/nnkit-vision can take part"
    )
    no_extras = {"nnkit": "0.2.0", "vision": True, "extras": False}
    assert run.baseline_sits_out(no_extras, "git main", "W3", False) is None
    assert "has no nnkit_extras, so it sat out W3bn" in run.baseline_sits_out(
        no_extras, "git main", "W3bn", True
    )
    both = {"nnkit": "0.2.0", "vision": True, "extras": True}
    assert run.baseline_sits_out(both, "git main", "W3bn", True) is None
