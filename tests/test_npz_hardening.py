"""`.npz` data files: one-line errors naming the file and the member, for the API and
every command that reads data; complex and datetime features refused as the API does."""

from __future__ import annotations

import re
import zipfile

import numpy as np
import pytest

import nnkit
from nnkit.errors import DataError
from nnkit.files.data_files import read_data_file


def run(capsys, *args: str) -> tuple[int, str]:
    from nnkit.cli import main

    code = main(list(args))
    return code, capsys.readouterr().err


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "m.nnkit"
    nnkit.Network([nnkit.Dense(2, activation="softmax")], seed=0).build(3).save(path)
    return path


def npy_renamed(tmp_path):
    path = tmp_path / "data.npz"
    with path.open("wb") as file:
        np.save(file, np.ones((4, 3)))
    return path


def member_not_an_array(tmp_path):
    path = tmp_path / "data.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("X.npy", b"these are not the bytes of an array file")
    return path


def no_rows(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, X=np.zeros((0, 3)), y=np.zeros(0))
    return path


def complex_features(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, X=np.ones((6, 3)) + 2j, y=np.array([0, 1] * 3))
    return path


def datetime_features(tmp_path):
    path = tmp_path / "data.npz"
    X = np.array(["2024-01-01"] * 18, dtype="datetime64[D]").reshape(6, 3)
    np.savez(path, X=X, y=np.array([0, 1] * 3))
    return path


CASES = {
    "npy renamed": (npy_renamed, r"data\.npz.*one \.npy array, not an \.npz archive"),
    "member not an array": (member_not_an_array, r"data\.npz.*member X\.npy is not a NumPy array"),
    "no rows": (no_rows, r"data\.npz.*X has no rows"),
    "complex": (complex_features, r"data\.npz.*X must be real-valued, got complex"),
    "datetime": (datetime_features, r"data\.npz.*X must be numeric, got values of type datetime"),
}


@pytest.mark.parametrize("case", CASES)
def test_the_api_names_the_file_and_the_member(tmp_path, case):
    make, message = CASES[case]
    with pytest.raises(DataError, match=message):
        read_data_file(make(tmp_path))


@pytest.mark.parametrize("case", CASES)
def test_train_gives_one_line_naming_the_file(tmp_path, capsys, case):
    make, message = CASES[case]
    code, err = run(capsys, "train", "--data", str(make(tmp_path)), "--epochs", "1")
    assert code == 1 and err.count("\n") == 1
    assert err.startswith("nnkit: error: ") and re.search(message, err), err


@pytest.mark.parametrize("case", ["npy renamed", "member not an array", "complex", "datetime"])
def test_predict_and_evaluate_give_one_line_naming_the_file(tmp_path, capsys, model, case):
    make, message = CASES[case]
    data = make(tmp_path)
    for command in (["predict", str(model), str(data)], ["evaluate", str(model), str(data)]):
        code, err = run(capsys, *command)
        assert code == 1 and err.count("\n") == 1 and re.search(message, err), err
