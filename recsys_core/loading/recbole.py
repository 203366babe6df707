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

:func:`read_typed` applies all of this to a table as it is read (:mod:`.tables`), and
:func:`note_recbole` turns what was done into the ``recbole_format`` notice.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from recsys_core.errors import DataValidationError
from recsys_core.schema import Notice

from .messages import agree, cap, column_list

EXTENSIONS = frozenset({".inter", ".item", ".user"})
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
    labels = []
    for column in typed:
        values = frame[column.name]
        if column.type == "float":
            frame[column.name] = _numbers(values)
        elif column.type == "float_seq":
            frame[column.name] = _join_tokens(values)
        elif column.type == "token_seq":
            if _is_label_list(values):  # otherwise words, such as a tokenised title: kept as they are
                frame[column.name] = _join_tokens(values)
                labels.append(column.name)
    return RecboleHeader(tuple(typed), tuple(labels))


def read_typed(frame: pd.DataFrame, extension: str, where: str) -> tuple[TypedColumn, ...]:
    """Read a RecBole atomic file's typed header and cells (see above), in place.

    Returns the typed columns (none for an ordinary table); what was done is kept
    in ``frame.attrs["recbole"]`` so that :func:`note_recbole` can tell the analyst.
    """
    typed = typed_header(list(frame.columns), extension)
    if not typed:
        return ()
    names = clean_names(frame.columns, typed)
    seen: dict[str, str] = {}
    for original, name in zip(frame.columns, names):
        if name in seen:
            raise DataValidationError(
                f"{cap(where)} has two columns named '{name}' once the RecBole types are removed "
                f"('{seen[name]}' and '{original}'): rename or remove one."
            )
        seen[name] = original
    frame.columns = names
    frame.attrs["recbole"] = convert_cells(frame, typed)
    return typed


def note_recbole(frame: pd.DataFrame, label: str, notices: list[Notice]) -> None:
    """Add the ``recbole_format`` notice when :func:`read_typed` read ``frame`` as a RecBole file."""
    header = frame.attrs.pop("recbole", None)
    if header is None:
        return
    shown = ", ".join(f"{old} → {new}" for old, new in header.renamed()[:3])
    more = ", …" if len(header.columns) > 3 else ""
    lists = (
        f" {column_list(header.label_lists)} {agree(len(header.label_lists), 'holds', 'hold')} label lists, written as "
        "'Action, Comedy'."
        if header.label_lists
        else ""
    )
    notices.append(
        Notice(
            "recbole_format",
            f"Read {label} as a RecBole atomic file: type suffixes removed from the column names ({shown}{more}).{lists}",
            len(header.columns),
        )
    )


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
