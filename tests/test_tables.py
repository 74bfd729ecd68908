"""Training on tables: one model file gives one answer, whoever opens it."""

from __future__ import annotations

import numpy as np

import nnkit

from .test_cli import run, write_houses


def _features_file(data, path):
    """The data file without its target column (the last one)."""
    path.write_text("\n".join(line.rsplit(",", 1)[0] for line in data.read_text().splitlines()))
    return path


def test_a_cli_model_predicts_the_same_in_python(tmp_path, capsys):
    """The file's standardisation was applied by nnkit predict only: Python answered
    52.8 where nnkit predict said 221,037."""
    data, model = tmp_path / "houses.csv", tmp_path / "houses.nnkit"
    write_houses(data, n=300)
    code, _, err = run(
        capsys, "train", "--data", str(data), "--target", "price", "--loss", "mse", "--epochs", "20", "--quiet",
        "--save", str(model),
    )
    assert code == 0, err
    features = _features_file(data, tmp_path / "new.csv")
    code, out, err = run(capsys, "predict", str(model), str(features))
    assert code == 0, err
    by_cli = np.array([float(v) for v in out.splitlines()[1:]])
    raw = np.loadtxt(features, delimiter=",", skiprows=1)[:, 1:]  # no index column
    by_python = nnkit.load(model).predict(raw)[:, 0]
    np.testing.assert_allclose(by_python, by_cli, rtol=1e-5)


def _version_020_file(path, rng):
    """A model as nnkit 0.2.0's nnkit train saved it: the scaling in the metadata."""
    network = nnkit.Network(
        [nnkit.Dense(8, activation="tanh"), nnkit.Dense(1)], loss="mse", optimizer="adam", seed=0
    ).build(3)
    mean, scale = [10.0, -2.0, 300.0], [2.0, 0.5, 40.0]
    network.metadata = {
        "features": ["a", "b", "c"], "target": "price", "classes": None, "task": "regression",
        "scaling": {
            "features": {"mean": mean, "scale": scale},
            "target": {"mean": [200_000.0], "scale": [50_000.0]},
        },
    }
    network.save(path)
    X = rng.normal(size=(20, 3)) * scale + mean
    inner = network.predict((X - mean) / np.array(scale))
    return X, inner * 50_000.0 + 200_000.0


def test_a_version_020_file_answers_in_python_as_it_did_in_the_cli(tmp_path, capsys):
    model = tmp_path / "old.nnkit"
    X, as_the_cli_did = _version_020_file(model, np.random.default_rng(0))
    loaded = nnkit.load(model)
    np.testing.assert_allclose(loaded.predict(X), as_the_cli_did, rtol=1e-5)
    assert "scaling" not in loaded.metadata
    data = tmp_path / "new.csv"
    data.write_text("a,b,c\n" + "\n".join(",".join(f"{v:.17g}" for v in row) for row in X) + "\n")
    code, out, err = run(capsys, "predict", str(model), str(data))
    assert code == 0, err
    by_cli = np.array([float(v) for v in out.splitlines()[1:]])
    np.testing.assert_allclose(by_cli, as_the_cli_did[:, 0], rtol=1e-5)
