"""The ``nnkit`` command, run as a user runs it: in a real subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import nnkit


def nnkit_command(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "nnkit", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=300,
    )


def test_train_with_no_arguments_prints_epochs_and_test_accuracy():
    result = nnkit_command("train")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("data: bundled digits, 1348 training and 449 test samples")
    assert sum(line.startswith("epoch ") for line in lines) == 50
    accuracy = float(re.search(r"test accuracy: ([0-9.]+)", lines[-1]).group(1))
    assert accuracy >= 0.95


def test_train_options_change_the_network():
    result = nnkit_command(
        "train",
        "--layers",
        "16,8",
        "--optimizer",
        "sgd",
        "--learning-rate",
        "0.1",
        "--epochs",
        "3",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1 and "test accuracy" in result.stdout


def test_user_errors_are_one_line_with_a_nonzero_exit():
    result = nnkit_command("train", "--optimizer", "adma", "--epochs", "1")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "optimizer 'adma' is not registered. Did you mean 'adam'?" in result.stderr
    assert "Traceback" not in result.stderr
    bad_layers = nnkit_command("train", "--layers", "64,,32")
    assert bad_layers.returncode == 2 and "--layers has an empty item" in bad_layers.stderr
    zero_epochs = nnkit_command("train", "--epochs", "0")
    assert zero_epochs.returncode == 1 and "epochs must be a positive integer" in zero_epochs.stderr


def test_version_and_help():
    assert nnkit_command("--version").stdout.strip() == f"nnkit {nnkit.__version__}"
    help_text = nnkit_command("train", "--help").stdout
    assert "--learning-rate" in help_text and "examples:" in help_text


def test_plugins_lists_components_with_their_distribution():
    table = nnkit_command("plugins").stdout
    assert re.search(
        r"^activation\s+relu\s+nnkit_std\s+nnkit\s+" + re.escape(nnkit.__version__), table, re.M
    )
    listing = json.loads(nnkit_command("plugins", "--json").stdout)
    rows = {(row["kind"], row["name"]): row for row in listing["components"]}
    assert rows[("optimizer", "adam")]["distribution"] == "nnkit"
    assert listing["failed"] == []


def test_plugins_reports_disabled_plugins():
    listing = json.loads(
        nnkit_command("plugins", "--json", env={"NNKIT_DISABLE_PLUGINS": "nnkit"}).stdout
    )
    assert not [row for row in listing["components"] if row["distribution"] == "nnkit"]
    assert "nnkit_std" in listing["disabled"]


# -- the user's own files ---------------------------------------------------------------

SPECIES = ("setosa", "versicolor", "virginica")


def write_flowers(path, n=150, seed=0, with_target=True):
    """A small three-class CSV with a header, class names as the target."""
    generator = np.random.default_rng(seed)
    labels = generator.integers(0, 3, size=n)
    features = generator.normal(size=(n, 4)) * 0.3 + labels[:, None]
    lines = ["sepal_length,sepal_width,petal_length,petal_width" + (",species" * with_target)]
    for row, label in zip(features, labels):
        cells = [f"{value:.3f}" for value in row] + [SPECIES[label]] * with_target
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return labels


@pytest.fixture(scope="module")
def flowers(tmp_path_factory):
    """A CSV, a model trained on it through the CLI, and the training output."""
    folder = tmp_path_factory.mktemp("flowers")
    write_flowers(folder / "flowers.csv")
    model, plot = folder / "flowers.nnkit", folder / "curves.png"
    result = nnkit_command(
        "train",
        "--data",
        str(folder / "flowers.csv"),
        "--target",
        "species",
        "--layers",
        "16",
        "--learning-rate",
        "0.03",
        "--epochs",
        "40",
        "--early-stopping",
        "3",
        "--save",
        str(model),
        "--plot",
        str(plot),
    )
    assert result.returncode == 0, result.stderr
    return folder, model, result.stdout


def test_train_on_a_user_csv_saves_the_model_and_draws_the_curves(flowers):
    folder, model, output = flowers
    assert output.startswith("data: " + str(folder / "flowers.csv") + ", 112 training and 38 test")
    assert "4 features, 3 classes" in output.splitlines()[0]
    assert float(re.search(r"test accuracy: ([0-9.]+)", output).group(1)) >= 0.9
    assert f"saved the model to {model}" in output
    assert (folder / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert nnkit.load(model).metadata["classes"] == list(SPECIES)


def test_early_stopping_reports_where_it_stopped(tmp_path):
    write_flowers(tmp_path / "flowers.csv")
    result = nnkit_command(
        "train",
        "--data",
        str(tmp_path / "flowers.csv"),
        "--target",
        "species",
        "--learning-rate",
        "0.05",
        "--epochs",
        "200",
        "--early-stopping",
        "2",
    )
    assert result.returncode == 0, result.stderr
    stopped = re.search(r"stopped at epoch (\d+), kept the weights of epoch (\d+)", result.stdout)
    assert stopped and int(stopped.group(2)) < int(stopped.group(1)) < 200
    assert sum(line.startswith("epoch ") for line in result.stdout.splitlines()) == int(
        stopped.group(1)
    )


def test_summary_describes_the_saved_model(flowers):
    _, model, _ = flowers
    result = nnkit_command("summary", str(model))
    assert result.returncode == 0, result.stderr
    assert "dense" in result.stdout and "softmax" in result.stdout
    assert "classes: setosa, versicolor, virginica" in result.stdout
    assert "target: species (classification)" in result.stdout


def test_evaluate_scores_a_saved_model_on_labelled_data(flowers, tmp_path):
    _, model, _ = flowers
    write_flowers(tmp_path / "fresh.csv", seed=1)
    result = nnkit_command("evaluate", str(model), str(tmp_path / "fresh.csv"))
    assert result.returncode == 0, result.stderr
    scores = dict(line.split(": ") for line in result.stdout.splitlines())
    assert set(scores) == {"loss", "accuracy"} and float(scores["accuracy"]) >= 0.9


def test_predict_writes_class_names_or_probabilities(flowers, tmp_path):
    _, model, _ = flowers
    labels = write_flowers(tmp_path / "new.csv", n=30, seed=2, with_target=False)
    result = nnkit_command("predict", str(model), str(tmp_path / "new.csv"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "prediction" and len(lines) == 31
    assert np.mean([p == SPECIES[t] for p, t in zip(lines[1:], labels)]) >= 0.85

    out = tmp_path / "proba.csv"
    result = nnkit_command(
        "predict", str(model), str(tmp_path / "new.csv"), "--proba", "-o", str(out)
    )
    assert result.returncode == 0 and result.stdout == ""
    table = out.read_text().splitlines()
    assert table[0] == "p_setosa,p_versicolor,p_virginica"
    sums = [sum(float(cell) for cell in row.split(",")) for row in table[1:]]
    assert np.allclose(sums, 1.0, atol=1e-4)


def test_a_regression_target_trains_with_mse_and_predicts_numbers(tmp_path):
    generator = np.random.default_rng(3)
    X = generator.normal(size=(200, 3))
    y = X @ [1.5, -2.0, 0.5] + 0.25
    np.savez(tmp_path / "line.npz", X=X, y=y)
    model = tmp_path / "line.nnkit"
    result = nnkit_command(
        "train",
        "--data",
        str(tmp_path / "line.npz"),
        "--activation",
        "tanh",
        "--learning-rate",
        "0.01",
        "--epochs",
        "60",
        "--quiet",
        "--save",
        str(model),
    )
    assert result.returncode == 0, result.stderr
    assert re.match(r"test loss: [0-9.]+, test mae: ([0-9.]+)", result.stdout)
    assert float(re.search(r"test mae: ([0-9.]+)", result.stdout).group(1)) < 0.3
    predicted = nnkit_command("predict", str(model), str(tmp_path / "line.npz"))
    values = np.array([float(v) for v in predicted.stdout.splitlines()[1:]])
    assert np.mean(np.abs(values - y)) < 0.3


def write(path, text):
    path.write_text(text)
    return str(path)


def test_bad_data_files_get_a_one_line_message_naming_the_place(tmp_path):
    good = "a,b,label\n1,2,x\n3,4,y\n"
    cases = [
        (
            ["--data", str(tmp_path / "missing.csv"), "--target", "label"],
            "missing.csv: no such file",
        ),
        (
            ["--data", write(tmp_path / "g.csv", good), "--target", "colour"],
            "has no column 'colour'; its columns are: a, b, label",
        ),
        (
            [
                "--data",
                write(tmp_path / "n.csv", "a,b,label\n1,2,x\n3,oops,y\n"),
                "--target",
                "label",
            ],
            "line 3, column 'b': 'oops' is not a number",
        ),
        (
            ["--data", write(tmp_path / "r.csv", "a,b,label\n1,2,x\n3,y\n"), "--target", "label"],
            "line 3: 2 cells, but the header has 3",
        ),
        (["--data", write(tmp_path / "e.csv", ""), "--target", "label"], "e.csv is empty"),
        (
            ["--data", write(tmp_path / "h.csv", "a,b,label\n"), "--target", "label"],
            "has a header but no data rows",
        ),
        (["--data", write(tmp_path / "g2.csv", good)], "name the column to predict with --target"),
        (
            ["--data", write(tmp_path / "one.csv", "a,label\n1,x\n2,x\n"), "--target", "label"],
            "single class",
        ),
    ]
    for arguments, message in cases:
        result = nnkit_command("train", *arguments, "--epochs", "1")
        assert result.returncode == 1, (arguments, result.stdout)
        assert message in result.stderr, (message, result.stderr)
        assert result.stderr.startswith("nnkit: error: ") and result.stderr.count("\n") == 1


def test_model_commands_refuse_bad_models_and_mismatched_data(flowers, tmp_path):
    folder, model, _ = flowers
    not_a_model = write(tmp_path / "fake.nnkit", "hello")
    other_columns = write(tmp_path / "other.csv", "x,y,species\n1,2,setosa\n")
    unknown_class = tmp_path / "tulips.csv"
    write_flowers(unknown_class, n=5)
    unknown_class.write_text(unknown_class.read_text().replace("setosa", "tulip"))
    cases = [
        (["summary", not_a_model], "is not an nnkit model file"),
        (["summary", str(tmp_path / "none.nnkit")], "no model file"),
        (["predict", str(model), other_columns], "do not match the model's features"),
        (["evaluate", str(model), str(unknown_class)], "classes ['tulip'] the model was not"),
        (["evaluate", str(model), str(tmp_path / "gone.csv")], "gone.csv: no such file"),
    ]
    for arguments, message in cases:
        result = nnkit_command(*arguments)
        assert result.returncode == 1, arguments
        assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_every_command_has_help_with_examples():
    for command in ("train", "evaluate", "predict", "summary", "plugins"):
        result = nnkit_command(command, "--help")
        assert result.returncode == 0 and "examples:" in result.stdout, command
        assert f"nnkit {command}" in result.stdout
    assert nnkit_command("evaluate").returncode == 2  # arguments missing: argparse's code


def test_python_dash_m_and_the_console_script_agree():
    script = subprocess.run(["nnkit", "--version"], capture_output=True, text=True, timeout=60)
    assert script.stdout == nnkit_command("--version").stdout


def test_plugins_shows_a_plugin_that_failed_to_load_with_its_error(fake_distribution, tmp_path):
    fake_distribution("broken-nn", "raise ImportError('needs libfoo')", version="0.1")
    env = {"PYTHONPATH": str(tmp_path / "site-packages")}
    table = nnkit_command("plugins", env=env)
    assert table.returncode == 0
    assert "failed to load: broken_nn (broken-nn 0.1)" in table.stdout
    assert "needs libfoo" in table.stdout
    listing = json.loads(nnkit_command("plugins", "--json", env=env).stdout)
    assert listing["failed"][0]["distribution"] == "broken-nn"
    assert any(row["name"] == "relu" for row in listing["components"])


def test_a_closed_pipe_ends_the_command_quietly():
    """``nnkit plugins | head -1``: no traceback when the reader has gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is written
    try:
        result = subprocess.run(
            [sys.executable, "-m", "nnkit", "plugins"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 141
    assert result.stderr == ""


def test_plot_without_matplotlib_fails_before_training(tmp_path):
    """Without the plot extra, --plot is refused at once, not after the training."""
    program = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from nnkit.cli import main\n"
        f"raise SystemExit(main(['train', '--plot', {str(tmp_path / 'c.png')!r}]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert result.stdout == ""  # no epoch was trained
    assert 'pip install "nnkit[plot]"' in result.stderr and result.stderr.count("\n") == 1


def test_one_epoch_is_singular():
    result = nnkit_command("train", "--epochs", "1", "--quiet")
    assert "(trained 1 epoch in " in result.stdout


def test_an_unwritable_save_or_plot_path_fails_before_training(tmp_path):
    for option in ("--save", "--plot"):
        target = str(tmp_path / "missing" / "out.file")
        result = nnkit_command("train", option, target)
        assert result.returncode == 1 and result.stdout == ""
        assert f"{option} {target}: folder" in result.stderr and "does not exist" in result.stderr
