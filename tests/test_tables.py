"""Training on tables: one model file gives one answer, whoever opens it."""

from __future__ import annotations

import csv
import re

import numpy as np
import onnxruntime
import threadpoolctl

import nnkit
import nnkit.sklearn

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
        capsys,
        "train",
        "--data",
        str(data),
        "--target",
        "price",
        "--loss",
        "mse",
        "--epochs",
        "20",
        "--quiet",
        "--save",
        str(model),
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
        "features": ["a", "b", "c"],
        "target": "price",
        "classes": None,
        "task": "regression",
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


# -- a penguins-like table: numbers, text, NA and empty cells, a text target ----------


def write_penguins(path, n=240, seed=0):
    """Palmer-penguins-like rows: four measurements, the island and the sex as text,
    ``NA`` and empty cells, and the species (text) to predict."""
    rng = np.random.default_rng(seed)
    species = rng.choice(["Adelie", "Chinstrap", "Gentoo"], n)
    centre = {
        "Adelie": (38.8, 18.3, 190, 3700),
        "Chinstrap": (48.8, 18.4, 196, 3730),
        "Gentoo": (47.5, 15.0, 217, 5080),
    }
    homes = {
        "Adelie": ["Torgersen", "Biscoe", "Dream"],
        "Chinstrap": ["Dream"],
        "Gentoo": ["Biscoe"],
    }
    lines = ["species,island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex"]
    for kind in species:
        bill, depth, flipper, mass = np.array(centre[kind]) * rng.normal(1, 0.04, 4)
        cells = [f"{bill:.1f}", f"{depth:.1f}", f"{flipper:.0f}", f"{mass:.0f}"]
        for i in range(4):
            if rng.random() < 0.04:
                cells[i] = "NA" if rng.random() < 0.5 else ""
        sex = rng.choice(["male", "female", "NA"], p=[0.47, 0.47, 0.06])
        lines.append(",".join([kind, rng.choice(homes[kind]), *cells, sex]))
    path.write_text("\n".join(lines) + "\n")


def _csv_rows(path, drop=("species",)):
    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    keep = [i for i, name in enumerate(rows[0]) if name not in drop]
    return [[row[i] for i in keep] for row in rows[1:]]


def test_penguins_train_without_preparation_and_answer_alike(tmp_path, capsys):
    data, model = tmp_path / "penguins.csv", tmp_path / "penguins.nnkit"
    write_penguins(data)
    code, out, err = run(
        capsys,
        "train",
        "--data",
        str(data),
        "--target",
        "species",
        "--epochs",
        "30",
        "--save",
        str(model),
    )
    assert code == 0, err
    assert "2 categorical, one-hot encoded: island, sex" in out
    assert re.search(r"missing cells: .*\d+ in bill_length_mm.*filled with the mean", out)
    accuracy = float(re.search(r"test accuracy: ([0-9.]+)", out).group(1))
    assert accuracy > 0.9

    code, out, err = run(capsys, "predict", str(model), str(data))
    assert code == 0, err
    by_cli = [line for line in out.splitlines()[1:]]
    rows = _csv_rows(data)
    loaded = nnkit.load(model)
    assert loaded.predict_labels(rows).tolist() == by_cli
    code, out, err = run(capsys, "predict", str(model), str(data), "--proba")
    assert code == 0, err
    proba = np.array([[float(v) for v in line.split(",")] for line in out.splitlines()[1:]])
    np.testing.assert_allclose(loaded.predict(rows), proba, atol=1e-5)
    estimator = nnkit.sklearn.NNClassifier.from_network(loaded)
    assert estimator.predict(rows).tolist() == by_cli
    np.testing.assert_allclose(estimator.predict_proba(rows), proba, atol=1e-5)

    code, _, err = run(capsys, "export", str(model), "-o", str(tmp_path / "p.onnx"))
    assert code == 1 and "text" in err and "ONNX" in err and "--drop" in err


def test_every_problem_of_a_table_is_reported_at_once(tmp_path, capsys):
    data = tmp_path / "broken.csv"
    write_penguins(data, n=30)
    lines = data.read_text().splitlines()
    lines[3] += ",extra"
    lines[5] = "NA" + lines[5][lines[5].index(",") :]
    lines[8] = lines[8].rsplit(",", 1)[0]
    data.write_text("\n".join(lines) + "\n")
    code, _, err = run(capsys, "train", "--data", str(data), "--target", "species")
    assert code == 1 and err.count("\n") == 1 and "3 problems" in err
    assert "line 4: 8 cells" in err and "line 6, column 'species': the target is missing" in err
    assert "line 9: 6 cells" in err


def test_columns_can_be_dropped_declared_categorical_and_left_unimputed(tmp_path, capsys):
    data, model = tmp_path / "penguins.csv", tmp_path / "p.nnkit"
    write_penguins(data, n=120)
    code, out, err = run(
        capsys,
        "train",
        "--data",
        str(data),
        "--target",
        "species",
        "--epochs",
        "2",
        "--drop",
        "sex",
        "--categorical",
        "flipper_length_mm",
        "--save",
        str(model),
    )
    assert code == 0, err
    assert "dropped: sex (--drop)" in out
    assert "2 categorical, one-hot encoded: island, flipper_length_mm" in out
    code, out, err = run(capsys, "predict", str(model), str(data))  # sex is left out again
    assert code == 0, err and len(out.splitlines()) == 121
    code, _, err = run(
        capsys,
        "train",
        "--data",
        str(data),
        "--target",
        "species",
        "--impute",
        "none",
    )
    assert code == 1 and "--impute none" in err and "bill_length_mm" in err
    code, _, err = run(
        capsys,
        "train",
        "--data",
        str(data),
        "--target",
        "species",
        "--drop",
        "beak",
    )
    assert code == 1 and "no column 'beak'" in err


# -- an adult-census-like table: 10 columns, 4 of them categorical ---------------------

ADULT_CATEGORIES = {
    "workclass": ["Private", "Self-emp", "Gov", "?"],
    "education": ["HS-grad", "Some-college", "Bachelors", "Masters", "Doctorate"],
    "occupation": ["Sales", "Tech", "Craft", "Exec", "Service", "Clerical"],
    "marital": ["Married", "Never-married", "Divorced"],
}


def write_adult(path, n=3000, seed=0):
    """Income above 50K from age, education, hours and the rest, with interactions."""
    rng = np.random.default_rng(seed)
    columns = {name: rng.choice(values, n) for name, values in ADULT_CATEGORIES.items()}
    age = rng.integers(18, 80, n)
    hours = rng.normal(40, 10, n).clip(5, 90).round()
    gain = np.where(rng.random(n) < 0.1, rng.exponential(5000, n), 0).round()
    loss = np.where(rng.random(n) < 0.05, rng.exponential(1500, n), 0).round()
    years = rng.integers(1, 16, n)
    weight = rng.normal(190_000, 100_000, n).clip(10_000).round()
    education = {v: i for i, v in enumerate(ADULT_CATEGORIES["education"])}
    score = (
        0.04 * (age - 40)
        - 0.0012 * (age - 45) ** 2
        + 0.05 * (hours - 40)
        + 0.6 * np.vectorize(education.get)(columns["education"])
        + 1.2 * (columns["marital"] == "Married")
        + 0.8 * (columns["occupation"] == "Exec")
        + 0.0003 * gain
        - 0.0002 * loss
        + 0.05 * years
        - 1.5
    )
    income = np.where(score + rng.logistic(0, 0.6, n) > 0, ">50K", "<=50K")
    names = [
        "age",
        "workclass",
        "fnlwgt",
        "education",
        "years",
        "marital",
        "occupation",
        "capital_gain",
        "capital_loss",
        "hours",
        "income",
    ]
    lines = [",".join(names)]
    for i in range(n):
        lines.append(
            ",".join(
                str(v)
                for v in (
                    age[i],
                    columns["workclass"][i],
                    weight[i],
                    columns["education"][i],
                    years[i],
                    columns["marital"][i],
                    columns["occupation"][i],
                    gain[i],
                    loss[i],
                    hours[i],
                    income[i],
                )
            )
        )
    path.write_text("\n".join(lines) + "\n")


def test_an_adult_like_table_scores_near_gradient_boosting(tmp_path, capsys):
    from sklearn import ensemble as sklearn_ensemble  # a dev dependency, as threadpoolctl
    data = tmp_path / "adult.csv"
    write_adult(data)
    code, out, err = run(
        capsys,
        "train",
        "--data",
        str(data),
        "--target",
        "income",
        "--epochs",
        "15",
        "--quiet",
        "--seed",
        "0",
    )
    assert code == 0, err
    accuracy = float(re.search(r"test accuracy: ([0-9.]+)", out).group(1))

    rows = _csv_rows(data, drop=("income",))
    labels = np.array([line.rsplit(",", 1)[1] for line in data.read_text().splitlines()[1:]])
    train, test, _, _ = nnkit.data.train_test_split(
        np.arange(len(rows)), np.arange(len(rows)), 0.25, seed=0
    )
    table = np.array(rows, dtype=object)
    categorical = [1, 3, 5, 6]
    encoded = np.empty(table.shape)
    for column in range(table.shape[1]):
        if column in categorical:
            _, encoded[:, column] = np.unique(table[:, column], return_inverse=True)
        else:
            encoded[:, column] = table[:, column].astype(float)
    # One thread: OpenMP's threads on a shared machine make the fit ten times slower.
    with threadpoolctl.threadpool_limits(1):
        boosting = sklearn_ensemble.HistGradientBoostingClassifier(
            categorical_features=categorical, random_state=0
        ).fit(encoded[train], labels[train])
    assert accuracy >= boosting.score(encoded[test], labels[test]) - 0.03


# -- a house-price-like regression: one answer from the CLI, Python and ONNX -----------


def test_house_prices_agree_in_the_cli_python_and_onnx(tmp_path, capsys):
    data, model, exported = tmp_path / "houses.csv", tmp_path / "h.nnkit", tmp_path / "h.onnx"
    price = write_houses(data, n=1000)
    lines = data.read_text().splitlines()
    rng = np.random.default_rng(5)
    for i in rng.choice(np.arange(1, len(lines)), 60, replace=False):  # missing cells
        cells = lines[i].split(",")
        cells[rng.integers(1, 5)] = "NA"
        lines[i] = ",".join(cells)
    data.write_text("\n".join(lines) + "\n")
    code, out, err = run(
        capsys,
        "train",
        "--data",
        str(data),
        "--target",
        "price",
        "--loss",
        "mse",
        "--epochs",
        "40",
        "--save",
        str(model),
    )
    assert code == 0, err
    features = _features_file(data, tmp_path / "new.csv")
    code, out, err = run(capsys, "predict", str(model), str(features))
    assert code == 0, err
    by_cli = np.array([float(v) for v in out.splitlines()[1:]])
    rows = [line.split(",")[1:] for line in features.read_text().splitlines()[1:]]
    raw = np.array([[np.nan if v == "NA" else float(v) for v in row] for row in rows])
    by_python = nnkit.load(model).predict(rows)[:, 0]
    code, _, err = run(capsys, "export", str(model), "-o", str(exported))
    assert code == 0, err
    session = onnxruntime.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    by_onnx = session.run(["Y"], {"X": raw.astype(np.float32)})[0][:, 0]
    np.testing.assert_allclose(by_python, by_cli, rtol=1e-5)  # predict writes 8 digits
    np.testing.assert_allclose(by_onnx, by_python, rtol=1e-5)
    by_sklearn = nnkit.sklearn.NNRegressor.from_network(nnkit.load(model)).predict(raw)
    np.testing.assert_allclose(by_sklearn, by_python, rtol=1e-5)
    for predicted in (by_cli, by_python, by_onnx, by_sklearn):
        assert 1 - np.mean((predicted - price) ** 2) / np.var(price) > 0.9


def test_text_in_a_column_of_numbers_is_listed_cell_by_cell(tmp_path, capsys):
    data = tmp_path / "typos.csv"
    data.write_text("a,b,label\n1,2,x\n3,oops,y\n4,5,x\n6,7,y\n8,eight,x\n")
    code, _, err = run(capsys, "train", "--data", str(data), "--target", "label")
    assert code == 1 and err.count("\n") == 1 and "2 problems" in err
    assert "line 3, column 'b': 'oops' is not a number" in err
    assert "line 6, column 'b': 'eight' is not a number" in err and "--categorical" in err
