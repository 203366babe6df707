"""RecBole atomic files (``.inter``, ``.item``, ``.user``) as ordinary tables.

RecBole, a widely used recommender benchmark library, ships its data sets as
tab-separated "atomic files" whose header names carry a type:
``user_id:token	item_id:token	rating:float	timestamp:float``.  Analysts
arrive with these files, so :func:`recsys_core.loading.read_table` accepts them:

* names lose their type suffix (``user_id:token`` → ``user_id``), so the
  usual column names, defaults and ``--user-col`` etc. apply unchanged;
* ``token`` cells stay text (``zip_code`` "02139" keeps its zero, ``age`` is a
  category);
* ``float`` cells become numbers (whole numbers as integers, as from a CSV);
* ``token_seq`` cells are space-separated token lists.  A column of labels
  (genres: a few distinct tokens, each reused across rows -- see
  ``_is_label_list`` for the exact rule) is written as a list,
  ``"Action Comedy"`` → ``"Action, Comedy"``, the same text a Parquet list cell
  gets; any other ``token_seq`` column (RecBole tokenises titles this way:
  ``movie_title`` "Toy Story") is words and stays ``"Toy Story"``;
* ``float_seq`` cells (numbers, never words) become ``"0.5, 1.25"``.

A file is read this way when its extension is one of :data:`EXTENSIONS`
(typed names are stripped; untyped ones are kept as they are), or, whatever
its name, when *every* column name carries a RecBole type.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

EXTENSIONS = frozenset({".inter", ".item", ".user"})
TYPES = ("token", "token_seq", "float", "float_seq")
MAX_LABELS_PER_CELL = 10  # more tokens than this per cell reads as prose, not as a label list
MAX_SINGLE_USE_LABELS = 1 / 3  # share of distinct tokens used by one cell only; about 1/2 in any text (Zipf)

_TYPED_NAME = re.compile(r"(?P<name>.*?\S)\s*:(?P<type>token_seq|token|float_seq|float)")


@dataclass(frozen=True)
class TypedColumn:
    """One column of a RecBole header: ``movie_title:token_seq`` is ("movie_title:token_seq", "movie_title", "token_seq")."""

    original: str
    name: str
    type: str


@dataclass(frozen=True)
class RecboleHeader:
    """What reading a table as a RecBole atomic file did (kept on the frame as ``attrs["recbole"]``)."""

    columns: tuple[TypedColumn, ...]
    label_lists: tuple[str, ...] = ()  # token_seq columns written as "Action, Comedy"
    word_lists: tuple[str, ...] = ()  # token_seq columns kept as words ("Toy Story")

    def renamed(self) -> list[tuple[str, str]]:
        return [(c.original, c.name) for c in self.columns]


def typed_header(columns: Sequence[object], extension: str) -> tuple[TypedColumn, ...]:
    """The typed columns of a RecBole header, or ``()`` when the table is not read as RecBole."""
    typed = []
    for column in columns:
        match = _TYPED_NAME.fullmatch(str(column))
        if match:
            typed.append(TypedColumn(str(column), match["name"], match["type"]))
    if not typed:
        return ()
    if extension.lower() in EXTENSIONS or len(typed) == len(columns):
        return tuple(typed)
    return ()  # a stray "ratio:float" in an ordinary CSV is that column's real name


def clean_names(columns: Iterable[object], typed: Sequence[TypedColumn]) -> list[str]:
    """Column names without their RecBole type suffixes."""
    new = {c.original: c.name for c in typed}
    return [new.get(str(column), str(column)) for column in columns]


def convert_cells(frame: pd.DataFrame, typed: Sequence[TypedColumn]) -> RecboleHeader:
    """Turn the typed cells of ``frame`` (already renamed) into text or numbers, in place."""
    labels, words = [], []
    for column in typed:
        values = frame[column.name]
        if column.type == "float":
            frame[column.name] = _numbers(values)
        elif column.type == "float_seq":
            frame[column.name] = _join_tokens(values)
        elif column.type == "token_seq":
            if _is_label_list(values):
                frame[column.name] = _join_tokens(values)
                labels.append(column.name)
            else:
                words.append(column.name)
    return RecboleHeader(tuple(typed), tuple(labels), tuple(words))


def _numbers(values: pd.Series) -> pd.Series:
    """Numbers for a float column; whole numbers (ratings 1-5, unix seconds) as integers, as a CSV would give.

    A column with a cell that is not a number is returned unchanged: the loader
    names that cell when it needs the column (ratings, timestamps).
    """
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().sum() != values.notna().sum() or not numbers.notna().any():
        return values
    numbers = numbers.astype("float64")
    finite = numbers.dropna()
    if (finite.abs() < 2**53).all() and (finite % 1 == 0).all():
        return numbers.astype("Int64") if numbers.isna().any() else numbers.astype("int64")
    return numbers


def _is_label_list(values: pd.Series) -> bool:
    """Genres-like: a few labels, each reused across rows.  Titles and prose are words.

    Words follow Zipf's law: about half the distinct words of any text occur only
    once, however large the catalogue, while every label of a label set recurs.
    So a column is a label list when fewer than :data:`MAX_SINGLE_USE_LABELS` of
    its distinct tokens appear in only one cell, it has fewer distinct tokens
    than non-empty cells, and cells are short.  A sample too small to tell is
    read as words, which loses nothing.
    """
    text = values.dropna()
    if text.empty or not (pd.api.types.is_string_dtype(text) or pd.api.types.is_object_dtype(text)):
        return False
    text = text.astype(str)
    if text.str.contains(",", regex=False).any():  # already punctuated text: splitting on spaces would mangle it
        return False
    tokens = text.str.split()
    n_cells = int((tokens.str.len() > 0).sum())
    cells_per_token = Counter(token for cell in tokens for token in set(cell))
    if not cells_per_token or len(cells_per_token) >= n_cells or tokens.str.len().mean() > MAX_LABELS_PER_CELL:
        return False
    single_use = sum(1 for n in cells_per_token.values() if n == 1) / len(cells_per_token)
    return single_use < MAX_SINGLE_USE_LABELS


def _join_tokens(values: pd.Series) -> pd.Series:
    def join(cell: object) -> object:
        return ", ".join(cell.split()) if isinstance(cell, str) else cell

    return values.map(join)
