"""The ``nnkit`` command, run as a user runs it: in a real subprocess."""

from __future__ import annotations

import argparse
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nnkit

from .test_registry import GOOD_PLUGIN


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
        r"^activation\s+relu\s+nnkit_std\s+nnkit-numpy\s+" + re.escape(nnkit.__version__), table, re.M
    )
    listing = json.loads(nnkit_command("plugins", "--json").stdout)
    rows = {(row["kind"], row["name"]): row for row in listing["components"]}
    assert rows[("optimizer", "adam")]["distribution"] == "nnkit-numpy"
    assert listing["failed"] == []


def test_plugins_reports_disabled_plugins():
    listing = json.loads(
        nnkit_command("plugins", "--json", env={"NNKIT_DISABLE_PLUGINS": "nnkit-numpy"}).stdout
    )
    assert not [row for row in listing["components"] if row["distribution"] == "nnkit-numpy"]
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
    assert result.returncode == 0  # and says what it wrote, where nothing else shows it
    assert result.stdout == f"wrote the probabilities for 30 rows to {out}\n"
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
    # The load warning is one line of its own, as errors are.
    warning_lines = [line for line in table.stderr.splitlines() if line.strip()]
    assert len(warning_lines) == 1, table.stderr
    assert warning_lines[0].startswith("nnkit: warning: nnkit plugin broken_nn (broken-nn 0.1) was not loaded")
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
    assert 'pip install "nnkit-numpy[plot]"' in result.stderr and result.stderr.count("\n") == 1


def test_one_epoch_is_singular():
    result = nnkit_command("train", "--epochs", "1", "--quiet")
    assert "(trained 1 epoch in " in result.stdout


def test_an_unwritable_save_or_plot_path_fails_before_training(tmp_path):
    for option in ("--save", "--plot"):
        target = str(tmp_path / "missing" / "out.file")
        result = nnkit_command("train", option, target)
        assert result.returncode == 1 and result.stdout == ""
        assert f"{option} {target}: folder" in result.stderr and "does not exist" in result.stderr


# -- real CSVs: scaling, files from pandas, flags ------------------------------------------


def run(capsys, *args: str) -> tuple[int, str, str]:
    """The command run in this process (faster than a subprocess): code, stdout, stderr."""
    from nnkit.cli import main

    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_houses(path, n=800, seed=0):
    """House prices in the hundreds of thousands, as pandas' to_csv writes them: an
    unnamed index column first. The noise has a mean absolute size of about 16,000."""
    generator = np.random.default_rng(seed)
    area = generator.uniform(40, 250, n)
    rooms = generator.integers(1, 6, n)
    age = generator.uniform(0, 80, n).round()
    distance = generator.uniform(0.5, 30, n)
    noise = generator.normal(0, 20_000, n)
    price = np.round(
        100_000 + 3_000 * area + 15_000 * rooms - 800 * age - 2_000 * distance + noise
    )
    lines = [",area,bedrooms,age,distance_km,price"]
    for i in range(n):
        lines.append(f"{i},{area[i]:.1f},{rooms[i]},{age[i]:.0f},{distance[i]:.2f},{price[i]:.0f}")
    path.write_text("\n".join(lines) + "\n")
    return price


HOUSE_EXAMPLE = ("--target", "price", "--loss", "mse", "--activation", "tanh", "--quiet")


def test_the_help_house_price_example_gives_a_sensible_error(tmp_path, capsys):
    """Unscaled, this example predicted about 0 (test MAE ~ 430,000) and exited 0."""
    data, model = tmp_path / "houses.csv", tmp_path / "houses.nnkit"
    price = write_houses(data)
    code, out, err = run(capsys, "train", "--data", str(data), *HOUSE_EXAMPLE, "--save", str(model))
    assert code == 0, err
    mae = float(re.search(r"test mae: ([0-9.]+)", out).group(1))
    assert mae < 25_000  # the noise alone is ~16,000; the spread of prices ~160,000
    assert "first column is unnamed" in err and err.startswith("nnkit: note: ")
    loaded = nnkit.load(model)
    assert loaded.metadata["features"] == ["area", "bedrooms", "age", "distance_km"]
    # The imputer and the standardisation are the model's first layers.
    assert [type(layer).__name__ for layer in loaded.layers[:2]] == ["Impute", "Standardize"]
    assert len(loaded.layers[1].mean) == 4
    assert loaded.layers[-1].mean == [pytest.approx(np.mean(price), rel=0.05)]

    code, out, _ = run(capsys, "evaluate", str(model), str(data))
    assert code == 0 and float(re.search(r"mae: ([0-9.]+)", out).group(1)) < 25_000
    features = tmp_path / "new.csv"
    features.write_text("\n".join(line.rsplit(",", 1)[0] for line in data.read_text().splitlines()))
    code, out, _ = run(capsys, "predict", str(model), str(features))
    predicted = np.array([float(v) for v in out.splitlines()[1:]])
    assert code == 0 and np.mean(np.abs(predicted - price)) < 25_000

    code, out, _ = run(capsys, "train", "--data", str(data), *HOUSE_EXAMPLE, "--no-scale")
    assert code == 0 and float(re.search(r"test mae: ([0-9.]+)", out).group(1)) > 100_000


def test_tsv_and_delimiter_reach_every_command(tmp_path, capsys):
    text = (tmp_path / "flowers.csv", write_flowers(tmp_path / "flowers.csv"))[0].read_text()
    (tmp_path / "flowers.tsv").write_text(text.replace(",", "\t"))
    (tmp_path / "flowers.txt").write_text(text.replace(",", ";"))
    model = str(tmp_path / "m.nnkit")
    code, _, err = run(
        capsys, "train", "--data", str(tmp_path / "flowers.tsv"), "--target", "species",
        "--epochs", "3", "--quiet", "--save", model,
    )  # fmt: skip
    assert code == 0, err
    semicolons = str(tmp_path / "flowers.txt")
    code, out, _ = run(capsys, "evaluate", model, semicolons, "--delimiter", ";")
    assert code == 0 and out.startswith("loss: ")
    code, out, _ = run(capsys, "predict", model, semicolons, "--delimiter", ";")
    assert code == 0 and len(out.splitlines()) == 151


def test_option_errors_name_the_option(capsys):
    for arguments, message in [
        (["--test-size", "1.5"], "--test-size must be a fraction between 0 and 1"),
        (["--validation-split", "1"], "--validation-split must be a fraction"),
        (["--batch-size", "0"], "--batch-size must be a positive integer, got 0"),
        (["--early-stopping", "0"], "--early-stopping must be a positive integer"),
        (["--learning-rate", "inf"], "--learning-rate must be a positive finite number"),
        (["--seed", "-1"], "--seed must be a non-negative integer, got -1"),
    ]:
        code, out, err = run(capsys, "train", *arguments)
        assert code == 1 and out == "", arguments
        assert err == f"nnkit: error: {err[len('nnkit: error: ') :]}" and message in err, err
        assert err.count("\n") == 1


def test_early_stopping_help_says_it_holds_out_a_tenth():
    from nnkit.cli import build_parser

    help_text = " ".join(
        build_parser()._subparsers._group_actions[0].choices["train"].format_help().split()
    )
    assert "validates on 10% of the training data" in help_text


def test_predict_into_a_missing_folder_says_so(flowers, tmp_path, capsys):
    folder, model, _ = flowers
    target = tmp_path / "nowhere" / "out.csv"
    code, out, err = run(
        capsys, "predict", str(model), str(folder / "flowers.csv"), "-o", str(target)
    )
    assert code == 1 and out == ""
    assert f"-o {target}: folder {target.parent} does not exist" in err


def test_layers_take_registered_layers_with_arguments(tmp_path, capsys):
    from nnkit.cli.layer_specs import LayerSpec, build_layers, parse_layers

    specs = parse_layers("conv2d:16:3,max_pool2d:2,flatten,dense:64, 32,dropout:rate=0.25")
    assert specs[0] == LayerSpec("conv2d", (16, 3), {}, "conv2d:16:3")
    assert specs[2] == LayerSpec("flatten", (), {}, "flatten")
    assert specs[4] == LayerSpec("dense", (32,), {}, "32")
    assert specs[5].kwargs == {"rate": 0.25}
    assert parse_layers("reshape:1x8x8,dense:8:activation=none")[0].args == ((1, 8, 8),)
    layers = build_layers(parse_layers("dense:8:activation=tanh,dropout:0.2,4"), "relu")
    assert [type(layer).__name__ for layer in layers] == ["Dense", "Dropout", "Dense"]
    assert layers[0].units == 8 and type(layers[0].activation).__name__ == "Tanh"
    assert type(layers[2].activation).__name__ == "ReLU" and layers[1].rate == 0.2
    for text, message in [
        ("64,,32", "--layers has an empty item"),
        ("64,0", "layer sizes must be positive"),
        ("dense:rate=1:8", "positional argument '8' after a keyword one"),
        ("dense:8:=3", "is not a keyword argument"),
        ("dense::8", "an empty argument"),
        ("3x3", "neither"),
    ]:
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            parse_layers(text)
    for text, message in [
        ("dropout:0.1:2:3", "layer 'dropout' takes at most"),
        ("dense:8:units=4", "units given twice"),
        ("dense:0", "--layers dense:0: "),
    ]:
        with pytest.raises(nnkit.ConfigurationError, match=message):
            build_layers(parse_layers(text), "relu")
    code, out, err = run(
        capsys, "train", "--layers", "dense:16,dropout:0.1", "--epochs", "2", "--quiet"
    )
    assert code == 0 and "test accuracy" in out, err
    code, _, err = run(capsys, "train", "--layers", "dense:16,dropuot:0.1", "--epochs", "1")
    assert code == 1 and "layer 'dropuot' is not registered. Did you mean 'dropout'?" in err


def test_npz_of_images_trains_from_the_command_line(tmp_path, capsys):
    """X of rank 4 is read, standardised per pixel and handed to the network."""
    generator = np.random.default_rng(0)
    labels = np.arange(60) % 2
    images = generator.normal(size=(60, 1, 4, 4)) + labels[:, None, None, None]
    np.savez(tmp_path / "images.npz", X=images, y=labels)
    model = tmp_path / "images.nnkit"
    data = ("--data", str(tmp_path / "images.npz"))
    code, out, err = run(capsys, "train", *data, "--epochs", "1")
    assert code == 1 and out.startswith("data: ") and err.count("\n") == 1
    assert "samples of shape (1, 4, 4)" in out and "end with flatten()" in err
    code, out, err = run(
        capsys, "train", *data, "--layers", "flatten,dense:8", "--epochs", "30", "--quiet",
        "--learning-rate", "0.01", "--save", str(model),
    )  # fmt: skip
    assert code == 0, err
    assert float(re.search(r"test accuracy: ([0-9.]+)", out).group(1)) >= 0.8
    assert nnkit.load(model).metadata["features"] is None
    code, out, err = run(capsys, "predict", str(model), str(tmp_path / "images.npz"))
    predicted = np.array([int(v) for v in out.splitlines()[1:]])
    assert code == 0 and np.mean(predicted == labels) >= 0.8


def test_a_diverged_run_fails_and_keeps_the_good_model(tmp_path, capsys):
    generator = np.random.default_rng(1)
    X = generator.normal(size=(120, 3))
    np.savez(tmp_path / "line.npz", X=X, y=X @ [1.0, -2.0, 0.5])
    model = tmp_path / "line.nnkit"
    common = ("train", "--data", str(tmp_path / "line.npz"), "--quiet", "--save", str(model))
    code, _, err = run(capsys, *common, "--epochs", "5")
    assert code == 0, err
    good = model.read_bytes()
    code, out, err = run(
        capsys, *common, "--optimizer", "sgd", "--learning-rate", "1e12", "--epochs", "30"
    )
    assert code == 1 and "test loss" not in out
    assert (
        err.startswith("nnkit: error: training stopped: the loss became") and err.count("\n") == 1
    )
    assert f"{model} was left as it was" in err and "smaller learning rate" in err
    assert model.read_bytes() == good


def test_every_error_is_one_line_and_debug_shows_the_traceback(tmp_path, capsys, monkeypatch):

    def broken(args):
        raise RuntimeError("something unexpected\nacross two lines")

    monkeypatch.setitem(nnkit.cli.COMMANDS, "train", broken)
    code, _, err = run(capsys, "train")
    assert code == 1 and err == (
        "nnkit: error: RuntimeError: something unexpected across two lines "
        "(run with --debug for the traceback)\n"
    )
    for arguments in (["--debug", "train"], ["train", "--debug"]):
        with pytest.raises(RuntimeError, match="something unexpected"):
            run(capsys, *arguments)


def test_a_plugin_constructor_that_raises_is_one_line(fake_distribution, tmp_path):
    fake_distribution(
        "shaky-nn",
        """
        from nnkit import hookimpl
        from nnkit_std.optimizers import SGD

        class Shaky(SGD):
            def __init__(self, learning_rate=0.01):
                raise RuntimeError("shaky is not configured")

        @hookimpl
        def register_optimizers(register):
            register("shaky", Shaky)
        """,
    )
    path = os.pathsep.join([str(tmp_path / "site-packages"), *sys.path])
    result = nnkit_command("train", "--optimizer", "shaky", env={"PYTHONPATH": path})
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (
        "nnkit: error: RuntimeError: shaky is not configured (run with --debug for the traceback)\n"
    )


CRAFTED = [
    ({"features": 5}, "metadata's 'features' should be a non-empty list of column names, got 5"),
    ({"classes": []}, "'classes' should be a list of two or more class names, got []"),
    ({"classes": "abc"}, "'classes' should be a list of two or more class names"),
    ({"classes": [[1], [2], [3]]}, "'classes' should be distinct class names"),
    ({"classes": ["a", "b"]}, "'classes' should be one class per output unit (3)"),
    ({"target": 3}, "'target' should be a column name"),
    ({"scaling": [1]}, "'scaling' should be"),
    ({"scaling": {"features": {"mean": [0] * 4, "scale": [0] * 4}}}, "'scale' must be positive"),
    ({"scaling": {"features": {"mean": "x", "scale": [1] * 4}}}, "'mean' is not a list"),
]


@pytest.mark.parametrize(("crafted", "message"), CRAFTED)
def test_crafted_metadata_is_one_clear_line_in_every_command(
    flowers, tmp_path, capsys, crafted, message
):
    folder, good, _ = flowers
    network = nnkit.load(good)
    network.metadata = {**network.metadata, **crafted}
    model = tmp_path / "crafted.nnkit"
    network.save(model)
    data = str(folder / "flowers.csv")
    for arguments in (
        ["summary", str(model)],
        ["evaluate", str(model), data],
        ["predict", str(model), data],
    ):
        code, out, err = run(capsys, *arguments)
        assert code == 1 and err.count("\n") == 1, (arguments, err)
        assert err.startswith(f"nnkit: error: {model}: ") and message in err, err


def test_a_model_needing_a_missing_plugin_is_one_line(
    fake_distribution, isolated_registry, tmp_path, capsys
):
    fake_distribution("acme-nn", GOOD_PLUGIN, version="2.3")
    isolated_registry()
    model = tmp_path / "cube.nnkit"
    nnkit.Network([nnkit.Dense(2, activation="cube")], loss="mse").build(3).save(model)
    isolated_registry(NNKIT_DISABLE_PLUGINS="acme-nn")
    code, _, err = run(capsys, "summary", str(model))
    assert code == 1 and err.count("\n") == 1 and "pip install acme-nn" in err


# -- predict streams -------------------------------------------------------------------------


def test_predict_streams_in_chunks_with_the_same_output(flowers, tmp_path, capsys, monkeypatch):
    from nnkit.files import data_files as datafiles

    _, model, _ = flowers
    data = tmp_path / "many.csv"
    write_flowers(data, n=2600, seed=4, with_target=False)
    whole = tmp_path / "whole.csv"
    code, _, _ = run(capsys, "predict", str(model), str(data), "--proba", "-o", str(whole))
    assert code == 0
    sizes = []
    chunks = datafiles.CsvTable.cell_chunks

    def recorded(table, rows):
        for chunk in chunks(table, rows):
            sizes.append(len(chunk.cells))
            yield chunk

    monkeypatch.setattr(datafiles, "CHUNK_CELLS", 5)  # the smallest: one inference batch
    monkeypatch.setattr(datafiles.CsvTable, "cell_chunks", recorded)
    streamed = tmp_path / "streamed.csv"
    code, _, _ = run(capsys, "predict", str(model), str(data), "--proba", "-o", str(streamed))
    assert code == 0 and sizes == [1024, 1024, 552]
    assert streamed.read_bytes() == whole.read_bytes()
    assert len(whole.read_text().splitlines()) == 2601
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_failed_predict_leaves_no_output_file(flowers, tmp_path, capsys):
    _, model, _ = flowers
    data = tmp_path / "late.csv"
    write_flowers(data, n=3000, with_target=False)
    data.write_text(data.read_text() + "1,2,3,oops\n")
    out = tmp_path / "out.csv"
    code, _, err = run(capsys, "predict", str(model), str(data), "-o", str(out))
    assert code == 1 and "line 3002, column 'petal_width': 'oops' is not a number" in err
    assert list(tmp_path.iterdir()) == [data]


def test_mismatched_columns_are_listed_quickly_for_wide_files(tmp_path, capsys):
    names = [f"f{i}" for i in range(20_000)]
    network = nnkit.Network([nnkit.Dense(1)], loss="mse").build(len(names))
    network.metadata = {"features": names, "task": "regression"}
    network.save(tmp_path / "wide.nnkit")
    other = [f"g{i}" for i in range(20_000)]
    (tmp_path / "wide.csv").write_text(",".join(other) + "\n" + ",".join(["0"] * 20_000) + "\n")
    code, _, err = run(capsys, "predict", str(tmp_path / "wide.nnkit"), str(tmp_path / "wide.csv"))
    assert code == 1 and err.count("\n") == 1
    assert "missing ['f0', 'f1'," in err and "and 19990 more" in err and "unexpected ['g0'" in err


def test_export_writes_an_onnx_model_with_the_scaling_inside(tmp_path, capsys):
    import onnxruntime

    data, model, onnx_file = tmp_path / "houses.csv", tmp_path / "houses.nnkit", tmp_path / "h.onnx"
    write_houses(data, n=200)
    code, _, err = run(capsys, "train", "--data", str(data), *HOUSE_EXAMPLE, "--epochs", "3", "--save", str(model))
    assert code == 0, err
    features = tmp_path / "new.csv"
    features.write_text("\n".join(line.rsplit(",", 1)[0] for line in data.read_text().splitlines()))
    code, out, _ = run(capsys, "predict", str(model), str(features))
    predicted = np.array([float(v) for v in out.splitlines()[1:]])

    code, out, err = run(capsys, "export", str(model), "-o", str(onnx_file))
    assert code == 0, err
    assert out.strip() == f"wrote {onnx_file}"
    raw = np.loadtxt(features, delimiter=",", skiprows=1, dtype=np.float32)[:, 1:]  # no index
    session = onnxruntime.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    found = session.run(["Y"], {"X": raw})[0][:, 0]
    np.testing.assert_allclose(found, predicted, rtol=1e-4)  # predict prints 6 significant digits

    code, _, err = run(capsys, "export", str(model), "-o", str(tmp_path / "no" / "h.onnx"))
    assert code == 1 and "folder" in err and "does not exist" in err


def test_predictions_written_with_o_get_the_usual_file_mode(flowers, tmp_path, capsys):
    """A new file gets the umask's default (it was always 0600); a replaced one keeps its mode."""
    _, model, _ = flowers
    data = tmp_path / "flowers.csv"
    write_flowers(data, n=20, seed=3, with_target=False)
    new, old = tmp_path / "new.csv", tmp_path / "old.csv"
    old.write_text("stale\n")
    old.chmod(0o640)
    previous = os.umask(0o022)
    try:
        for target in (new, old):
            code, _, err = run(capsys, "predict", str(model), str(data), "-o", str(target))
            assert code == 0, err
    finally:
        os.umask(previous)
    assert stat.S_IMODE(new.stat().st_mode) == 0o644
    assert stat.S_IMODE(old.stat().st_mode) == 0o640
    assert old.read_text().startswith("prediction")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flowers.csv", "new.csv", "old.csv"]


# -- the CNN spelling of --layers ----------------------------------------------------------


def test_train_help_shows_the_layer_grammar_with_an_image_example(capsys):
    from nnkit.cli.layer_specs import FIRST_PARTY_LAYERS

    with pytest.raises(SystemExit):
        run(capsys, "train", "--help")
    shown = capsys.readouterr().out
    assert "NAME:ARG:KEY=VALUE" in shown and "reshape:1x8x8,conv2d:16:3" in shown
    for name, source in FIRST_PARTY_LAYERS.items():
        assert name in shown and f"pip install ./{source}" in shown


def test_the_first_party_table_names_what_those_plugins_register():
    # Read from the checkout's plugins, as the catalogue is, whatever is installed.
    import importlib.util

    from nnkit.cli.layer_specs import FIRST_PARTY_LAYERS

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("catalogue", root / "docs/hooks/catalogue.py")
    assert spec is not None and spec.loader is not None
    catalogue = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(catalogue)
    theirs = {}
    for folder in sorted((root / "plugins").glob("nnkit-*")):
        _, components = catalogue.checkout_components(folder.name)
        theirs.update({c.name: f"plugins/{folder.name}" for c in components if c.kind == "layer"})
    assert theirs == FIRST_PARTY_LAYERS


def test_flat_digits_into_conv2d_are_told_the_cli_spelling_of_reshape(capsys):
    code, out, err = run(capsys, "train", "--layers", "conv2d:8:3,flatten", "--epochs", "1")
    assert code == 1 and "reshape:1x8x8 first in --layers" in err
    assert "reshape((" not in err  # the Python spelling, which --layers does not take


def test_reshape_takes_its_shape_as_colon_separated_numbers(capsys):
    from nnkit.cli.layer_specs import build_layers, parse_layers

    (layer,) = build_layers(parse_layers("reshape:1:8:8"), "relu")
    assert tuple(layer.shape) == (1, 8, 8)
    code, out, err = run(
        capsys, "train", "--layers", "reshape:1:8:8,conv2d:4:3,flatten", "--epochs", "1",
        "--quiet",
    )  # fmt: skip
    assert code == 0 and "test accuracy" in out, err
    with pytest.raises(nnkit.ConfigurationError, match="such as reshape:1x8x8"):
        build_layers(parse_layers("reshape:1x8x8:2"), "relu")


def test_a_first_party_layer_that_is_not_installed_names_its_distribution(
    capsys, monkeypatch, isolated_registry
):
    import importlib.metadata

    real = importlib.metadata.distribution

    def without_vision(name: str):
        if name == "nnkit-vision":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    isolated_registry(NNKIT_DISABLE_PLUGINS="nnkit-vision")
    monkeypatch.setattr(importlib.metadata, "distribution", without_vision)
    code, _, err = run(capsys, "train", "--layers", "conv2d:8:3,flatten", "--epochs", "1")
    assert code == 1 and "conv2d" in err and "pip install ./plugins/nnkit-vision" in err
    # Installed but disabled: the registry's own message says why it is missing.
    monkeypatch.setattr(importlib.metadata, "distribution", real)
    code, _, err = run(capsys, "train", "--layers", "conv2d:8:3,flatten", "--epochs", "1")
    assert code == 1 and "Plugins not loaded: nnkit_vision" in err


# -- --threads -----------------------------------------------------------------------------


def test_threads_limits_blas_while_training_and_restores_it(capsys, monkeypatch):
    from threadpoolctl import threadpool_info

    from nnkit.cli import train

    before = [pool["num_threads"] for pool in threadpool_info()]
    with train.blas_threads(1):
        assert {pool["num_threads"] for pool in threadpool_info()} == {1}
    assert [pool["num_threads"] for pool in threadpool_info()] == before
    seen = []
    real_fit = nnkit.Network.fit

    def fit(self, *args, **kwargs):
        seen.append({pool["num_threads"] for pool in threadpool_info()})
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(nnkit.Network, "fit", fit)
    code, out, err = run(capsys, "train", "--threads", "1", "--epochs", "2", "--quiet")
    assert code == 0 and "test accuracy" in out, err
    assert seen == [{1}]
    code, _, err = run(capsys, "train", "--threads", "0")
    assert code == 1 and "--threads must be a positive integer, got 0" in err


def test_threads_without_threadpoolctl_says_how_to_set_the_variables(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # as if not installed
    code, out, err = run(capsys, "train", "--threads", "1", "--epochs", "1")
    assert code == 1 and "pip install threadpoolctl" in err
    assert "OPENBLAS_NUM_THREADS=1" in err


def test_the_readme_iris_command_with_the_default_options_learns_iris(tmp_path):
    """The README's first CSV example, `nnkit train --data iris.csv --target species`,
    with every other option at its default."""
    from pathlib import Path

    iris = Path(__file__).resolve().parent.parent / "docs" / "data" / "iris.csv"
    result = nnkit_command("train", "--data", str(iris), "--target", "species", "--quiet")
    assert result.returncode == 0, result.stderr
    assert float(re.search(r"test accuracy: ([0-9.]+)", result.stdout).group(1)) >= 0.9


def test_regression_predictions_have_the_same_decimals_in_every_row(tmp_path, capsys):
    generator = np.random.default_rng(1)
    X = generator.normal(size=(200, 3))
    np.savez(tmp_path / "small.npz", X=X, y=X @ [0.3, -0.2, 0.5] + 0.01)
    model = tmp_path / "small.nnkit"
    code, _, err = run(
        capsys, "train", "--data", str(tmp_path / "small.npz"), "--epochs", "30", "--quiet",
        "--save", str(model),
    )  # fmt: skip
    assert code == 0, err
    code, out, err = run(capsys, "predict", str(model), str(tmp_path / "small.npz"))
    assert code == 0, err
    values = out.splitlines()[1:]
    decimals = {len(value.partition(".")[2]) for value in values}
    assert len(values) == 200 and len(decimals) == 1, decimals
