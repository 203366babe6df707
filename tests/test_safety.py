"""Uploaded text is data: exported CSVs cannot run formulas, model names cannot hold control characters."""
from __future__ import annotations

import io

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys_core.exports import neutralise_cell, read_csv, restore_cell, to_csv_bytes, write_csv
from recsys_core.errors import RecsysError

HOSTILE = ["=HYPERLINK(\"http://x\",\"y\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1,1)", "\t=1", "\r=1", "'=1", "'", "''x"]


@pytest.mark.parametrize("cell", HOSTILE)
def test_cells_that_start_a_formula_are_written_as_text(cell):
    written = neutralise_cell(cell)
    assert written.startswith("'")
    assert restore_cell(written) == cell


@pytest.mark.parametrize("cell", ["-0.25", "+3", "1e-5", "-12", "007", "plain title", "", "a=b"])
def test_numbers_and_ordinary_text_are_unchanged(cell):
    assert neutralise_cell(cell) == cell
    assert restore_cell(cell) == cell


def test_a_frame_round_trips_through_the_csv_bytes():
    frame = pd.DataFrame(
        {"user_id": ["=u1", "-1", "@me", "u,comma", "007"], "item_id": ["+i", "i2", "'q", "-x", "\ti"],
         "rank": [1, 2, 3, 4, 5], "score": [-0.5, 0.25, -1e-3, 3.0, -2.0]}
    )
    data = to_csv_bytes(frame)
    for line in data.decode().splitlines()[1:]:
        for cell in line.split(","):
            assert not cell.strip('"').startswith(("=", "+", "@", "\t", "\r")), line
    back = read_csv(data)
    assert back["user_id"].tolist() == frame["user_id"].tolist()
    assert back["item_id"].tolist() == frame["item_id"].tolist()
    assert back["score"].astype(float).tolist() == frame["score"].tolist()
    plain = pd.read_csv(io.BytesIO(data))  # an ordinary reader keeps numbers as numbers
    assert plain["score"].tolist() == frame["score"].tolist()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("=+-@'\t\r ab1.e,\"")), max_size=8))
def test_escaping_is_reversible_and_never_leaves_a_formula(cell):
    written = neutralise_cell(cell)
    assert restore_cell(written) == cell
    if written and written[0] in "=+-@\t\r":
        float(written)  # only plain numbers may start with a sign


def test_write_csv_refuses_a_folder_and_leaves_no_temporary(tmp_path):
    with pytest.raises(RecsysError, match="is a folder"):
        write_csv(pd.DataFrame({"a": ["x"]}), tmp_path)
    assert list(tmp_path.iterdir()) == []
    out = write_csv(pd.DataFrame({"a": ["=x"]}), tmp_path / "sub" / "o.csv")
    assert read_csv(out)["a"].tolist() == ["=x"]
    assert [p.name for p in out.parent.iterdir()] == ["o.csv"]
