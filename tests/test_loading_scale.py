"""Large uploads (issue 19 §2): loaded without a Python object per row, and read as pandas would read them."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest

from recsys_core.loading import load_dataset, read_table
from recsys_core.loading import tables

ROWS = 50_000


def interactions_csv(rows: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "user_id": rng.integers(0, rows // 20, rows),
            "item_id": [f"{i:05d}" for i in rng.integers(0, rows // 50, rows)],  # "00042": must stay text
            "rating": rng.integers(1, 6, rows),
            "timestamp": rng.integers(1_000_000_000, 1_700_000_000, rows),
        }
    )
    frame = pd.concat([frame, frame.iloc[:100]])  # 100 exact duplicates
    return frame.to_csv(index=False).encode()


def test_a_large_upload_holds_no_python_object_per_row():
    inter = interactions_csv(ROWS)
    items = pd.DataFrame({"item_id": [f"{i:05d}" for i in range(ROWS // 50)], "title": "a film"}).to_csv(index=False).encode()
    head = inter[: inter.index(b"\n", 2000) + 1]
    load_dataset(("ratings.csv", head), ("items.csv", items))  # imports and first-use caches outside the count
    tracemalloc.start()  # counts Python objects and numpy buffers (pyarrow's own memory is not traced)
    try:
        dataset = load_dataset(("ratings.csv", inter), ("items.csv", items))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    frame = dataset.interactions
    assert len(frame) == ROWS  # the duplicates were dropped
    assert [n.code for n in dataset.notices if n.code == "duplicate_interactions"]
    assert frame["item_id"].str.len().eq(5).all()  # "00042" stayed text
    assert not [c for c in frame.columns if frame[c].dtype == object], frame.dtypes
    kept = frame.memory_usage(deep=True).sum() / len(frame)
    assert kept <= 60, f"{kept:.0f} bytes per interaction kept"
    # The CSV's own bytes are ~27 per row and traced; a Python string per id would add ~100 per row.
    # Before pyarrow read the file and ids were compared as codes this was ~230 bytes per row.
    assert peak / len(frame) <= 120, f"peak {peak / len(frame):.0f} bytes per interaction of Python objects"


TRICKY = [
    # quoted separators and quotes, "NA"/"None" kept as text, empty cells missing, leading zeros kept
    'user_id,item_id,title,score,year\nu1,007,"Heat, the ""film""",4.5,1995\nNA,None,,3,\n,8,x,-0,2001\n',
    "\ufeffuser_id;item_id;rating\r\n1;2;5\r\n\r\n3;4;1.25\r\n",  # BOM, semicolons, CRLF, a blank line
    "user_id\titem_id\tyear\n1\t2\t1995\n3\t4\t\n",  # tabs; a year next to a missing one stays an integer
    "a,b\n 1, 2\n-3,+4\n1e3,0.50\n",  # spaces, a plus sign, an exponent: text, as pandas leaves them
]


@pytest.mark.parametrize("text", TRICKY)
def test_pyarrow_reads_files_exactly_as_pandas_does(text, monkeypatch):
    used = []
    real = tables._parse_with_arrow
    monkeypatch.setattr(tables, "_parse_with_arrow", lambda *a: used.append(1) or real(*a))
    fast = read_table(("t.csv", text.encode()), keep_as_text={"user_id"})
    assert used and real(text.encode(), tables._guess_delimiter(text.lstrip("\ufeff").splitlines()[0], ".csv")) is not None
    monkeypatch.setattr(tables, "_parse_with_arrow", lambda *a: None)  # pandas reads it
    slow = read_table(("t.csv", text.encode()), keep_as_text={"user_id"})
    pd.testing.assert_frame_equal(fast, slow)


@pytest.mark.parametrize(
    "text",
    [
        "user_id,item_id\nu1,i1,extra\nu2,i2\n",  # a long row
        "user_id,item_id\nu1\n",  # a short row
        'user_id,item_id\nu1,"i1\n',  # an unclosed quote
        'user_id,item_id\nu1,"i\n1"\n',  # a quoted line break
        "user_id,user_id\nu1,i1\n",  # repeated names
        "user_id\nu1\n",  # one column
    ],
)
def test_files_pyarrow_would_read_differently_are_left_to_pandas(text):
    delimiter = tables._guess_delimiter(text.splitlines()[0], ".csv")
    assert tables._parse_with_arrow(text.encode(), delimiter) is None
