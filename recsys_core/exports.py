"""CSV files for people to open in a spreadsheet, safe against formula injection.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is run as a formula by Excel, LibreOffice and Google Sheets (OWASP
"CSV injection").  Item titles, ids and profile fields come from uploaded
files, so every exported CSV goes through :func:`neutralise_cell`.

The rule, chosen so that the file both opens safely and reads back exactly:

* a text cell starting with one of those characters, or with a single quote,
  gets one extra leading single quote (``=HYPERLINK(…)`` → ``'=HYPERLINK(…)``,
  ``'tis`` → ``''tis``); spreadsheets show the quote-prefixed cell as text;
* plain numbers are left alone (``-0.25``, ``+3``, ``1e-5``), so scores stay
  numbers and numeric ids such as ``-1`` are unchanged;
* everything else is written as it is.

Because leading quotes are always doubled, the escaping is reversible:
:func:`restore_cell` drops one leading quote when it is followed by one of the
trigger characters or another quote.  :func:`read_csv` does that for a whole
file, so ``read_csv(to_csv_bytes(df))`` gives back the same ids and texts.
A plain ``pandas.read_csv`` also works and differs only for cells that were
neutralised (they keep their leading quote).
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd

from . import durable
from .errors import RecsysError

# What spreadsheets treat as the start of a formula (OWASP list), and the quote used to neutralise it.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise_cell(value: str) -> str:
    """``value`` as it must be written to a CSV cell (see the module docstring)."""
    if not value or _NUMBER.fullmatch(value):
        return value
    if value.startswith(FORMULA_STARTS) or value.startswith(QUOTE):
        return QUOTE + value
    return value


def restore_cell(value: str) -> str:
    """Inverse of :func:`neutralise_cell`: the original text of a cell read from an exported CSV."""
    if len(value) > 1 and value[0] == QUOTE and (value[1] == QUOTE or value[1] in FORMULA_STARTS):
        return value[1:]
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names are neutralised; numeric columns are untouched."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        out[column] = values.map(lambda v: neutralise_cell(v) if isinstance(v, str) else v)
    out.columns = [neutralise_cell(str(c)) for c in out.columns]
    return out


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV of ``frame`` (no index) with formula injection neutralised: what a download button serves."""
    return safe_frame(frame).to_csv(index=False).encode("utf-8")


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write :func:`to_csv_bytes` to ``path`` atomically (see :func:`write_output`)."""
    return write_output(path, to_csv_bytes(frame), "out.csv")


def write_output(path: str | Path, data: bytes, example: str) -> Path:
    """Write a command's output file atomically (``durable.write_file``: a reader sees the old or the new
    file, and two writers never collide).

    Raises RecsysError when ``path`` is a folder (``example`` names a file to suggest in it), instead of
    leaving a temporary file behind.
    """
    path = Path(path)
    if path.is_dir():
        raise RecsysError(f"{path} is a folder: give a file name, e.g. {path / example}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    durable.write_file(path, data)
    return path


def read_csv(source, **kwargs) -> pd.DataFrame:
    """Read a CSV written by this module back with every cell as the original text.

    ``source`` is anything ``pandas.read_csv`` accepts, or ``bytes``.  Cells are
    read as strings (so ids such as ``007`` survive); convert numeric columns
    yourself, e.g. ``frame["score"].astype(float)``.
    """
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(bytes(source))
    frame = pd.read_csv(source, dtype=str, keep_default_na=False, **kwargs)
    frame.columns = [restore_cell(str(c)) for c in frame.columns]
    for column in frame.columns:
        frame[column] = frame[column].map(restore_cell)
    return frame


__all__ = ["FORMULA_STARTS", "neutralise_cell", "read_csv", "restore_cell", "safe_frame", "to_csv_bytes", "write_csv"]
