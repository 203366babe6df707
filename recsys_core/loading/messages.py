"""How loading messages are phrased: counts, row numbers, examples, column lists, file names.

Every :class:`~recsys_core.errors.DataValidationError` and :class:`~recsys_core.schema.Notice` of the
loading package words its numbers, rows and names with these helpers, so that all messages read
alike ("3 rows", "rows 2, 5; row 1 is the header", "Did you mean 'title'?").
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from recsys_core.errors import shown_path

MAX_EXAMPLES = 5


def row_numbers(mask: pd.Series) -> list[int]:
    # Spreadsheet numbering: the header is row 1, so the first data row is row 2.
    return [int(position) + 2 for position in np.flatnonzero(mask.to_numpy())]


def row_list(mask: pd.Series) -> str:
    rows = row_numbers(mask)
    shown = ", ".join(str(row) for row in rows[:MAX_EXAMPLES])
    more = f" and {len(rows) - MAX_EXAMPLES} more" if len(rows) > MAX_EXAMPLES else ""
    return f"{'row' if len(rows) == 1 else 'rows'} {shown}{more}; row 1 is the header"


def value_examples(values: pd.Series, mask: pd.Series) -> str:
    rows = row_numbers(mask)[:MAX_EXAMPLES]
    shown = values.to_numpy()[np.flatnonzero(mask.to_numpy())[:MAX_EXAMPLES]]
    parts = [
        f"{'(empty)' if pd.isna(value) or str(value).strip() == '' else repr(str(value))} on row {row}"
        for value, row in zip(shown, rows)
    ]
    return ", ".join(parts) + " (row 1 is the header)"


def column_list(columns: Iterable[Any], limit: int = 20) -> str:
    names = [f"'{column}'" for column in columns]
    if len(names) > limit:
        return ", ".join(names[:limit]) + f" and {len(names) - limit} more"
    return ", ".join(names)


def did_you_mean(wanted: str, columns: Iterable[Any], limit: int = 200) -> str:
    names = [str(column) for column in columns]
    same_but_case = [name for name in names if name.lower() == wanted.lower()]
    close = same_but_case or difflib.get_close_matches(wanted, names, n=1, cutoff=0.6)
    return f" Did you mean '{close[0][:limit]}'?" if close else ""


def first_example(values: pd.Series, mask: pd.Series) -> str:
    """The first offending value and its row, kept short for a message's first line."""
    row = row_numbers(mask)[0]
    value = values.to_numpy()[np.flatnonzero(mask.to_numpy())[0]]
    shown = "(empty)" if pd.isna(value) or str(value).strip() == "" else repr(str(value)[:30])
    return f"e.g. {shown} on row {row}"


def counted(n: int, noun: str) -> str:
    n = int(n)
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def agree(n: int, one: str, many: str) -> str:
    return one if int(n) == 1 else many


def format_size(n_bytes: int) -> str:
    if n_bytes < 1024:
        return f"{n_bytes} bytes"
    size = n_bytes / 1024
    for unit in ("KB", "MB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def file_phrase(name: str | None) -> str:
    return f"the file '{shown_path(name)}'" if name else "the uploaded file"


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]
