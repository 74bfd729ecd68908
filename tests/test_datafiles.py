"""Reading users' CSV files: the fast reader and the careful one agree, and errors point
at the right line of the file."""

from __future__ import annotations

import numpy as np
import pytest

import nnkit
from nnkit.files import data_files as datafiles

CSV = """
a,b,"label"
1.5,2,x

3,"4.25", y
-1e3,0,"z"
"""


def test_the_fast_and_the_careful_reader_agree(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(CSV)
    table = datafiles.CsvTable(path, "label")
    assert (table.header, table.header_line) == (["a", "b", "label"], 2)
    lines = [(n, t) for n, t in table._lines() if n > 2 and t.strip()]
    fast = table._parse(lines)
    careful = table._parse_checked(lines)
    assert np.array_equal(fast[0], careful[0]) and fast[1] == careful[1] == ["x", "y", "z"]
    assert fast[2].tolist() == [3, 5, 6]  # the file lines of the rows
    data = datafiles.read_data_file(path, "label")
    assert data.X.tolist() == [[1.5, 2.0], [3.0, 4.25], [-1000.0, 0.0]]
    assert data.y.tolist() == ["x", "y", "z"] and data.feature_names == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,label\n1,x\n\n\n2,\n", "line 5, column 'label': the target is empty"),
        ("a,label\n1,x\n\noops,y\n", "line 4, column 'a': 'oops' is not a number"),
        ("\n\na,label\n1,x\n2\n", "line 5: 1 cells, but the header has 2"),
        ("a,label\n\n", "has a header but no data rows"),
        ("a,b,label\n1,2,x\n1,2,3,y\n", "line 3: 4 cells, but the header has 3"),
        ('a,b,label\n1,2,x\n"1",2,3,y\n', "line 3: 4 cells, but the header has 3"),
        ("a,b,label\n1,2,x\n\n1,nan,y\n", "line 4, column 'b': nan is not a finite number"),
        ("a,b,label\n1,2,x\n1,-inf,y\n", "line 3, column 'b': -inf is not a finite"),
        ("a,b,label\n1,2,3\n1,2,inf\n", "line 3, column 'label': the target 'inf' is not"),
    ],
)
def test_errors_name_the_line_of_the_file_blank_lines_included(tmp_path, text, message):
    path = tmp_path / "data.csv"
    path.write_text(text)
    with pytest.raises(nnkit.DataError, match=message):
        datafiles.read_data_file(path, "label")


def test_a_row_with_an_extra_cell_is_refused_not_shifted(tmp_path):
    """``1,2,3,4,5,yes`` under a 4-column header once trained as X=[1,2,3], y="4"."""
    path = tmp_path / "extra.csv"
    path.write_text("a,b,c,label\n1,2,3,no\n1,2,3,4,5,yes\n")
    with pytest.raises(nnkit.DataError, match=r"extra.csv, line 3: 6 cells, but the header has 4"):
        datafiles.read_data_file(path, "label")


def test_non_finite_values_are_reported_by_their_line_in_the_file(tmp_path):
    rows = [f"{i},{i + 1},{'xy'[i % 2]}" for i in range(40)]
    rows[30] = "30,inf,x"  # the header is line 1 and a blank line follows it
    path = tmp_path / "data.csv"
    path.write_text("a,b,label\n\n" + "\n".join(rows) + "\n")
    with pytest.raises(nnkit.DataError, match=r"data.csv, line 33, column 'b': inf is not"):
        datafiles.read_data_file(path, "label")


def test_a_bad_utf8_byte_anywhere_names_the_file_and_line(tmp_path):
    path = tmp_path / "latin1.csv"
    lines = ["a,b,label"] + [f"{i},{i},x" for i in range(2000)]  # well past 8 KiB
    path.write_bytes("\n".join(lines).encode() + b"\n1,2,caf\xe9\n")
    assert path.stat().st_size > 8192
    with pytest.raises(nnkit.DataError, match=r"latin1.csv, line 2002: byte 0xe9 .* not UTF-8"):
        datafiles.read_data_file(path, "label")
    header = tmp_path / "header.csv"
    header.write_bytes(b"a,caf\xe9\n1,2\n")
    with pytest.raises(nnkit.DataError, match=r"header.csv, line 1: byte 0xe9"):
        datafiles.read_data_file(header, "a")


def test_a_field_over_the_csv_modules_limit_is_read_quoted_or_not(tmp_path):
    # The csv module's 131,072-character limit does not decide: quoted or not, the
    # field is read, and its value (1e140000, infinite) is what is refused.
    for quote in ('"', ""):
        path = tmp_path / "huge.csv"
        path.write_text(f"a,label\n1,x\n{quote}" + "9" * 140_000 + f"{quote},y\n")
        with pytest.raises(nnkit.DataError, match=r"huge.csv, line 3, column 'a': inf is not"):
            datafiles.read_data_file(path, "label")


def test_an_unnamed_first_column_is_an_index_and_left_out_with_a_note(tmp_path):
    path = tmp_path / "pandas.csv"
    path.write_text(",a,b,label\n0,1.5,2,x\n1,3,4,y\n")
    data = datafiles.read_data_file(path, "label")
    assert data.feature_names == ["a", "b"] and data.X.tolist() == [[1.5, 2.0], [3.0, 4.0]]
    assert len(data.notes) == 1 and "taken for a row index" in data.notes[0]
    again = tmp_path / "again.csv"
    again.write_text("Unnamed: 0,a,label\n0,1,x\n")
    assert datafiles.read_data_file(again, "label").feature_names == ["a"]


def test_tsv_files_and_the_delimiter_option(tmp_path):
    tsv = tmp_path / "data.tsv"
    tsv.write_text("a\tb\tlabel\n1\t2\tx\n3\t4\ty\n")
    assert datafiles.read_data_file(tsv, "label").X.tolist() == [[1, 2], [3, 4]]
    semicolons = tmp_path / "data.csv"
    semicolons.write_text("a;b;label\n1;2;x\n")
    assert datafiles.read_data_file(semicolons, "label", delimiter=";").y.tolist() == ["x"]
    with pytest.raises(nnkit.DataError, match=r"one column holding a semicolon; give --delimiter"):
        datafiles.read_data_file(semicolons, "label")
    with pytest.raises(nnkit.DataError, match="--delimiter must be one character"):
        datafiles.read_data_file(semicolons, "label", delimiter=";;")


def test_a_wrong_target_suggests_the_closest_column(tmp_path):
    path = tmp_path / "iris.csv"
    path.write_text("sepal_length,petal_length,species\n1,2,x\n")
    with pytest.raises(nnkit.DataError, match=r"no column 'specie'; did you mean 'species'\?"):
        datafiles.read_data_file(path, "specie")
    with pytest.raises(nnkit.DataError, match=r"did you mean 'species'\?"):
        datafiles.read_data_file(path, "Species")


def test_header_checks_handle_tens_of_thousands_of_columns(tmp_path):
    """One repeated name among 80,000 columns (this took a minute when each name was
    counted against the whole header)."""
    names = [f"c{i}" for i in range(80_000)]
    names[-1] = "c7"
    path = tmp_path / "wide.csv"
    path.write_text(",".join(names) + "\n")
    with pytest.raises(nnkit.DataError, match=r"repeats column names \['c7'\]"):
        datafiles.read_data_file(path, "c0")


def test_chunks_cover_every_row_once_with_its_line(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("a,b\n" + "".join(f"{i},{-i}\n" for i in range(25)))
    table = datafiles.CsvTable(path)
    chunks = list(table.chunks(rows=10))
    assert [len(X) for X, _, _ in chunks] == [10, 10, 5]
    assert np.concatenate([X for X, _, _ in chunks])[:, 0].tolist() == list(range(25))
    assert chunks[2][2].tolist() == [22, 23, 24, 25, 26]


def test_npz_features_of_any_rank(tmp_path):
    images = tmp_path / "images.npz"
    np.savez(images, X=np.zeros((6, 1, 4, 4)), y=np.arange(6) % 2)
    data = datafiles.read_data_file(images)
    assert data.X.shape == (6, 1, 4, 4) and data.feature_names is None
    np.savez(images, X=np.zeros(6))
    with pytest.raises(nnkit.DataError, match="at least one feature axis"):
        datafiles.read_data_file(images)
