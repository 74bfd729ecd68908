"""Reading users' CSV files: the fast reader and the careful one agree, and errors point
at the right line of the file."""

from __future__ import annotations

import numpy as np
import pytest

import nnkit
from nnkit import datafiles

CSV = """
a,b,"label"
1.5,2,x

3,"4.25", y
-1e3,0,"z"
"""


def test_the_fast_and_the_careful_reader_agree(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(CSV)
    header, header_line = datafiles._read_header(path)
    assert (header, header_line) == (["a", "b", "label"], 2)
    fast = datafiles._parse_fast(path, header_line, [0, 1], 2)
    careful = datafiles._parse_checked(path, header, header_line, [0, 1], 2)
    assert np.array_equal(fast[0], careful[0]) and fast[1] == careful[1] == ["x", "y", "z"]
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
    ],
)
def test_errors_name_the_line_of_the_file_blank_lines_included(tmp_path, text, message):
    path = tmp_path / "data.csv"
    path.write_text(text)
    with pytest.raises(nnkit.DataError, match=message):
        datafiles.read_data_file(path, "label")
