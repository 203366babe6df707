"""Reading uploaded tables and turning them into a validated :class:`Dataset`.

Two layers:

* :func:`read_table` turns one file (a path, bytes, or an uploaded file object)
  into a DataFrame: format detection (CSV / TSV / Parquet), encoding checks,
  size limit.  It knows nothing about users or items.
* :func:`load_dataset` reads the interactions, items and optional users tables,
  maps their columns to the canonical names of :mod:`recsys_core.schema`,
  validates them and collects non-fatal findings as :class:`Notice` objects.

Every problem the analyst can fix is raised as :class:`DataValidationError`
with a message that names the file, says what was expected, what was found and
how to fix it.  Nothing here imports streamlit: the dashboard passes its
``UploadedFile`` objects straight in (they have ``.name`` and ``.getvalue()``).
"""
from __future__ import annotations

import codecs
import difflib
import io
import os
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, Union

import numpy as np
import pandas as pd

from recsys_core import recbole
from recsys_core.errors import DataValidationError, shown_path
from recsys_core.schema import ITEM, RATING, TIMESTAMP, USER, ColumnMap, Dataset, Notice

DEFAULT_MAX_BYTES = 200 * 1024 * 1024  # same order as Streamlit's default upload limit



class BinaryReadable(Protocol):
    """Open binary file, io.BytesIO, Streamlit UploadedFile, ... (``.getvalue()`` is used when present)."""

    def read(self, size: int = -1, /) -> bytes: ...


# A table can be given as a path, raw bytes, a binary file object or a (file name, bytes) pair.
TableSource = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryReadable, tuple[str, bytes]]
# load_dataset additionally accepts an in-memory DataFrame.
TableInput = Union[pd.DataFrame, TableSource]

_PARQUET_MAGIC = b"PAR1"
_ZIP_MAGIC = b"PK\x03\x04"  # .xlsx workbooks are zip archives too
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls workbooks
_GZIP_MAGIC = b"\x1f\x8b"

_TAB_EXTENSIONS = {".tsv", ".tab", *recbole.EXTENSIONS}  # RecBole atomic files are TSV
_COMMA_EXTENSIONS = {".csv"}
_PARQUET_EXTENSIONS = {".parquet", ".pq"}
_DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon"}

# Text cells that are turned into numbers: no leading zeros ("007", zip codes
# stay text), no exponent, no thousands separators -- i.e. only conversions
# that cannot lose information the analyst would care about.
_INT_TEXT = r"-?(?:0|[1-9][0-9]{0,17})"
_NUMBER_TEXT = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?"

# Unix timestamps above these magnitudes cannot be seconds (1e11 s is the year
# 5138), so they are taken as milli-, micro- or nanoseconds.
_UNIT_THRESHOLDS = ((1e17, 1e9, "nanoseconds"), (1e14, 1e6, "microseconds"), (1e11, 1e3, "milliseconds"))

_MAX_EXAMPLES = 5


# --------------------------------------------------------------------------
# read_table
# --------------------------------------------------------------------------


def read_table(
    source: TableSource,
    name: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    *,
    keep_as_text: Collection[str] = (),
) -> pd.DataFrame:
    """Read one CSV, TSV or Parquet table.

    ``source`` is a path, raw ``bytes``, a binary file-like object (anything
    with ``.getvalue()`` or ``.read()``, e.g. a Streamlit upload) or a
    ``(file_name, bytes)`` pair.  ``name`` is the file name used for format
    detection and in messages; it defaults to the path or the object's
    ``.name``.

    Format: Parquet is recognised by its ``PAR1`` magic bytes whatever the
    name; otherwise the file is text, ``.tsv``/``.tab`` default to tabs and
    ``.csv`` to commas, and the header line decides when the extension is
    missing, ambiguous (``.txt``) or contradicted (a ``.csv`` whose header has
    tabs but no commas).  Text must be UTF-8 (a BOM is fine).

    CSV/TSV cells are read as text first, so ids such as ``"007"`` never become
    ``7`` or ``7.0``.  Columns whose every non-empty cell is a plain number
    (no leading zeros) are then converted to numbers -- integers to ``int64``,
    or nullable ``Int64`` when some cells are empty so a year stays ``1995``
    rather than ``1995.0`` -- except columns listed in ``keep_as_text``.
    Only empty cells count as missing (``"NA"`` or ``"None"`` stay text).
    Parquet columns keep their stored types.  Column names are stripped of
    surrounding spaces.

    Raises :class:`DataValidationError` (naming the file) for missing, empty,
    too large, non-UTF-8, spreadsheet/compressed or malformed files.
    """
    name, data = _read_bytes(source, name, max_bytes)
    where = _file_phrase(name)
    if not data.strip() or data.strip() == codecs.BOM_UTF8:
        raise DataValidationError(
            f"{_cap(where)} is empty ({_format_size(len(data))}). "
            "Check that you picked the right file and that it was saved completely."
        )
    extension = Path(name).suffix.lower() if name else ""
    is_parquet = data.startswith(_PARQUET_MAGIC)
    if is_parquet:
        frame = _parse_parquet(data, where)
    else:
        _reject_binary_formats(data, extension, where)
        text = _decode_utf8(data, where)
        frame = _parse_delimited(text, extension, where)
    header = frame.attrs.pop("raw_header", None) or list(frame.columns)
    _reject_duplicate_columns([str(column).strip() for column in header], where)
    frame.columns = [str(column).strip() for column in frame.columns]
    typed = _from_recbole(frame, extension, where)
    if not is_parquet:
        frame = _numbers_from_text(frame, {*keep_as_text, *(c.name for c in typed)})
    return frame


def _from_recbole(frame: pd.DataFrame, extension: str, where: str) -> tuple[recbole.TypedColumn, ...]:
    """Read a RecBole atomic file's typed header and cells (see :mod:`recsys_core.recbole`), in place.

    Returns the typed columns (none for an ordinary table); what was done is kept
    in ``frame.attrs["recbole"]`` so that :func:`load_dataset` can tell the analyst.
    """
    typed = recbole.typed_header(list(frame.columns), extension)
    if not typed:
        return ()
    names = recbole.clean_names(frame.columns, typed)
    seen: dict[str, str] = {}
    for original, name in zip(frame.columns, names):
        if name in seen:
            raise DataValidationError(
                f"{_cap(where)} has two columns named '{name}' once the RecBole types are removed "
                f"('{seen[name]}' and '{original}'): rename or remove one."
            )
        seen[name] = original
    frame.columns = names
    frame.attrs["recbole"] = recbole.convert_cells(frame, typed)
    return typed


def _reject_duplicate_columns(names: list[str], where: str) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if name in seen:
            raise DataValidationError(
                f"{_cap(where)} has two columns named '{name}' (columns {seen[name]} and {position}): rename or remove one.",
            )
        seen[name] = position


def _read_bytes(source: TableSource, name: str | None, max_bytes: int) -> tuple[str | None, bytes]:
    """Return (file name, content), refusing content above ``max_bytes``."""
    if isinstance(source, tuple):
        if len(source) != 2:
            raise TypeError("A table given as a tuple must be (file_name, bytes).")
        file_name, content = source
        return _read_bytes(content, name or file_name, max_bytes)

    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        name = name or str(source)
        if not path.is_file():
            problem = "is a folder, not a file" if path.is_dir() else "does not exist"
            raise DataValidationError(f"{_cap(_file_phrase(name))} {problem}. Check the path and try again.")
        # Check the size before reading so a huge file is refused without loading it.
        _check_size(path.stat().st_size, max_bytes, name)
        return name, path.read_bytes()

    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        _check_size(len(data), max_bytes, name)
        return name, data

    if hasattr(source, "getvalue") or hasattr(source, "read"):
        own_name = getattr(source, "name", None)
        name = name or (own_name if isinstance(own_name, str) else None)
        declared_size = getattr(source, "size", None)  # Streamlit UploadedFile knows its size
        if isinstance(declared_size, int):
            _check_size(declared_size, max_bytes, name)
        data = _read_file_object(source, max_bytes)
        _check_size(len(data), max_bytes, name)
        return name, data

    raise TypeError(
        f"Cannot read a table from {type(source).__name__}: pass a path, bytes, "
        "a binary file object or a pandas DataFrame."
    )


def _read_file_object(source: Any, max_bytes: int) -> bytes:
    if hasattr(source, "getvalue"):
        # getvalue() returns the whole buffer even if someone already read from it.
        data = source.getvalue()
    else:
        if getattr(source, "seekable", lambda: False)():
            source.seek(0)
        # One byte more than allowed is enough to know the file is too large.
        data = source.read(max_bytes + 1)
    if isinstance(data, str):
        raise TypeError("The file object returns text; open the file in binary mode ('rb').")
    return bytes(data)


def _check_size(size: int, max_bytes: int, name: str | None) -> None:
    if size > max_bytes:
        raise DataValidationError(
            f"{_cap(_file_phrase(name))} is {_format_size(size)}, over the {_format_size(max_bytes)} limit: "
            "remove rows or columns you do not need, or save it as Parquet.",
            "Parquet is usually several times smaller. Or raise the limit (the max_bytes setting) if this "
            "computer has enough memory.",
        )


def _reject_binary_formats(data: bytes, extension: str, where: str) -> None:
    """Give a specific message for files that are clearly not CSV/TSV text."""
    if extension in _PARQUET_EXTENSIONS:
        raise DataValidationError(
            f"{_cap(where)} is named like a Parquet file but is not one (it does not start with "
            "the Parquet marker 'PAR1'). Export it again as Parquet, or as CSV UTF-8."
        )
    if data.startswith(_ZIP_MAGIC) or data.startswith(_OLE_MAGIC):
        raise DataValidationError(
            f"{_cap(where)} looks like an Excel workbook or a ZIP archive, not a CSV/TSV/Parquet table: "
            "save it as CSV UTF-8, or unzip it first.",
            "In Excel use Save As → 'CSV UTF-8 (Comma delimited)'.",
        )
    if data.startswith(_GZIP_MAGIC):
        raise DataValidationError(
            f"{_cap(where)} is compressed (gzip). Decompress it first and use the CSV/TSV inside."
        )
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE) or _looks_like_utf16(data):
        raise DataValidationError(
            f"{_cap(where)} is saved as UTF-16 ('Unicode Text' in Excel), not UTF-8: re-save it as UTF-8 and upload it again.",
            "In Excel: Save As → 'CSV UTF-8 (Comma delimited)'; in LibreOffice choose character set 'Unicode (UTF-8)'.",
        )
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise DataValidationError(
            f"{_cap(where)} contains a NUL byte (line {line}), so it is binary or damaged, not CSV text: export it again.",
            f"First NUL byte at byte {nul}. CSV/TSV files are plain UTF-8 text; Parquet files start with 'PAR1'.",
        )


def _looks_like_utf16(data: bytes) -> bool:
    """UTF-16 without a byte-order mark: ASCII text with a NUL byte next to almost every character."""
    sample = data[:4096]
    if len(sample) < 4:
        return False
    even, odd = sample[0::2], sample[1::2]
    return max(even.count(0) / len(even), odd.count(0) / len(odd)) > 0.4


def _decode_utf8(data: bytes, where: str) -> str:
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as error:
        position = bom + error.start
        line = data.count(b"\n", 0, position) + 1
        raise DataValidationError(
            f"{_cap(where)} is not UTF-8 text (byte 0x{data[position]:02X} on line {line}): "
            "re-save it as UTF-8 and upload it again.",
            f"Byte {position} is not valid UTF-8; the file was probably saved as Windows-1252/Latin-1. "
            "In Excel: Save As → 'CSV UTF-8 (Comma delimited)'; in LibreOffice choose character set "
            "'Unicode (UTF-8)'.",
        ) from None


def _guess_delimiter(text: str, extension: str) -> str:
    """Pick the separator from the extension, checked against the header line.

    The header is the most reliable line to sniff: data lines may contain
    quoted commas (e.g. movie titles), column names rarely do.
    """
    default = "\t" if extension in _TAB_EXTENSIONS else "," if extension in _COMMA_EXTENSIONS else None
    header = next((line for line in text.splitlines() if line.strip()), "")
    counts = {delimiter: header.count(delimiter) for delimiter in _DELIMITER_NAMES}
    if default is not None and counts[default] > 0:
        return default
    best = max(counts, key=lambda delimiter: counts[delimiter])
    if counts[best] > 0:
        return best
    return default or ","  # a single-column file: the separator does not matter


def _parse_delimited(text: str, extension: str, where: str) -> pd.DataFrame:
    delimiter = _guess_delimiter(text, extension)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,  # "NA"/"None" can be real ids or titles; only blanks are missing
            na_values=[""],
        )
        if not isinstance(frame.index, pd.RangeIndex):
            # pandas silently turns the surplus leading values of over-long rows into an index.
            kind = _DELIMITER_NAMES[delimiter]
            longer = np.flatnonzero(frame.iloc[:, -1].notna().to_numpy()) if frame.shape[1] else []
            line = f" (e.g. line {int(longer[0]) + 2})" if len(longer) else ""
            raise DataValidationError(
                f"{_cap(where)} has rows with more values than the header has columns{line}: quote values "
                f"that contain a {kind}, or fix those lines."
            )
        # pandas renames a repeated column 'x' to 'x.1'; keep the names as written to report repeats.
        frame.attrs["raw_header"] = pd.read_csv(io.StringIO(text), sep=delimiter, header=None, nrows=1, dtype=str).iloc[0].tolist()
        return frame
    except pd.errors.EmptyDataError:
        raise DataValidationError(
            f"{_cap(where)} has no header row and no data. Check that you picked the right file."
        ) from None
    except pd.errors.ParserError as error:
        kind = _DELIMITER_NAMES[delimiter]
        detail = str(error).strip().splitlines()[-1] if str(error).strip() else ""
        raise DataValidationError(
            f"{_cap(where)} could not be read as {kind}-separated text: quote values that contain a "
            f"{kind} or a quote, or fix the line.",
            f"{detail}. Excel and most tools add the double quotes when saving as CSV.",
        ) from None


def _parse_parquet(data: bytes, where: str) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except Exception as error:  # pyarrow raises many unrelated types for corrupt files
        raise DataValidationError(
            f"{_cap(where)} starts like a Parquet file but could not be read; it may be truncated or corrupt: export it again.",
            str(error)[:500],
        ) from None
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(_join_list)
    return frame


def _join_list(value: Any) -> Any:
    """A Parquet list cell (genres = ['Drama', 'Crime']) as the text "Drama, Crime"; other values unchanged."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(str(v) for v in value if v is not None and not (isinstance(v, float) and np.isnan(v)))
    return value


def _numbers_from_text(frame: pd.DataFrame, keep_as_text: Collection[str]) -> pd.DataFrame:
    """Convert text columns that are plainly numeric (see :func:`read_table`)."""
    for column in frame.columns:
        if column in keep_as_text or str(column).strip() in keep_as_text:
            continue
        values = frame[column].dropna()
        if values.empty:
            continue
        if values.str.fullmatch(_INT_TEXT).all():
            numbers = pd.to_numeric(frame[column])
            frame[column] = numbers.astype("Int64") if numbers.isna().any() else numbers.astype("int64")
        elif values.str.fullmatch(_NUMBER_TEXT).all():
            frame[column] = pd.to_numeric(frame[column]).astype("float64")
    return frame


# --------------------------------------------------------------------------
# describe_fields
# --------------------------------------------------------------------------


def describe_fields(table: pd.DataFrame, id_col: str = ITEM) -> list[str]:
    """Default text fields of an items table: the columns worth turning into text.

    Rule, in column order, skipping ``id_col`` and columns that are entirely
    empty:

    * text-like columns (string, object or category dtype), and
    * integer columns whose name contains "year" (``year``, ``release_year``),
      because a year reads well as text while other numbers (budgets, counts,
      internal codes) usually do not.

    The dashboard uses this to pre-select fields; :func:`load_dataset` uses it
    when ``item_fields`` is None.
    """
    fields = []
    for column in table.columns:
        if column == id_col:
            continue
        values = table[column]
        if values.isna().all():
            continue
        is_text = (
            pd.api.types.is_string_dtype(values)
            or pd.api.types.is_object_dtype(values)
            or isinstance(values.dtype, pd.CategoricalDtype)
        )
        is_year = pd.api.types.is_integer_dtype(values) and "year" in str(column).lower()
        if is_text or is_year:
            fields.append(column)
    return fields


# --------------------------------------------------------------------------
# load_dataset
# --------------------------------------------------------------------------


def load_dataset(
    interactions: TableInput,
    items: TableInput,
    users: TableInput | None = None,
    *,
    columns: ColumnMap = ColumnMap(),
    item_fields: Sequence[str] | None = None,
    user_fields: Sequence[str] | None = None,
    min_rating: float | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    item_id_col: str = ITEM,
    user_id_col: str = USER,
    rename: Mapping[str, str] | None = None,
) -> Dataset:
    """Read, validate and canonicalise the three tables into a :class:`Dataset`.

    Each table may be a DataFrame (used as is, no size limit), a path, raw
    bytes, a ``(file_name, bytes)`` pair or a binary file object such as a
    Streamlit upload (see :func:`read_table`).

    ``columns`` says which interaction columns hold user, item, rating and
    timestamp; ``item_id_col``/``user_id_col`` name the id columns of the items
    and users tables.  Output uses the canonical names ``user_id``, ``item_id``,
    ``rating`` and ``timestamp``.

    ``item_fields`` defaults to :func:`describe_fields`; ``user_fields``
    defaults to every users column except the id.  ``min_rating`` keeps only
    interactions rated at least that value.

    ``rename`` renames metadata columns of the items and users tables,
    ``{"movie_title": "title"}``: a field's name is part of its text
    (``title: Heat | genres: …``), so it is what BERT reads.  Every table
    holding the old name is renamed; ``item_fields``/``user_fields`` may use
    either name.  An unknown column, an id column, a new name that is empty,
    contains ``:``/``|`` or is already a column of that table raise
    :class:`DataValidationError`.

    RecBole atomic files (``.inter``/``.item``/``.user``) are read by
    :func:`read_table` with their type suffixes removed (see
    :mod:`recsys_core.recbole`); a notice says so.

    Timestamps may be unix seconds (milli/micro/nanoseconds are recognised by
    their size and converted) or ISO dates/datetimes (taken as UTC when no
    zone is given).  Without a timestamp column the row order of the file is
    used as the time, so per-user order is preserved.

    Fatal problems raise :class:`DataValidationError`; fixable or informative
    findings (duplicates dropped, items added without metadata, ...) are
    returned in ``Dataset.notices``.  Items that appear in interactions but not
    in the items table are added to ``Dataset.items`` with empty metadata;
    users are *not* added to ``Dataset.users`` (a notice counts them).
    """
    notices: list[Notice] = []

    raw, inter_label = _load_table(interactions, "interactions", max_bytes, (columns.user, columns.item))
    _note_recbole(raw, inter_label, notices)
    inter, has_ratings, has_timestamps = _canonical_interactions(raw, columns, inter_label, notices)
    inter = _drop_duplicate_interactions(inter, has_timestamps, notices)
    if min_rating is not None:
        inter = _apply_min_rating(inter, min_rating, has_ratings, list(raw.columns), inter_label, notices)

    raw_items, items_label = _load_table(items, "items", max_bytes, (item_id_col,))
    _note_recbole(raw_items, items_label, notices)
    item_table = _canonical_entities(raw_items, item_id_col, ITEM, "item", items_label)
    if item_table.empty:
        raise DataValidationError(
            f"{_cap(items_label)} has column names but no rows. Every item needs a row with its "
            "id and metadata (title, description, ...): check that you picked the right file."
        )
    user_table, users_label = None, ""
    if users is not None:
        raw_users, users_label = _load_table(users, "users", max_bytes, (user_id_col,))
        _note_recbole(raw_users, users_label, notices)
        user_table = _canonical_entities(raw_users, user_id_col, USER, "user", users_label)
    if rename:
        tables = [(item_table, "items", items_label, item_id_col)]
        if user_table is not None:
            tables.append((user_table, "users", users_label, user_id_col))
        renames = _check_renames(rename, tables)
        item_table, item_fields = _renamed(item_table, item_fields, renames)
        if user_table is not None:
            user_table, user_fields = _renamed(user_table, user_fields, renames)
    chosen_item_fields = _resolve_item_fields(item_table, item_fields, items_label)
    item_table = _add_items_without_metadata(item_table, inter, items_label, notices)
    _check_item_text(item_table[item_table[ITEM].isin(inter[ITEM])], chosen_item_fields, items_label, notices)
    _note_items_without_interactions(item_table, inter, notices)

    if user_table is not None:
        _note_profile_coverage(user_table, inter, users_label, notices)
        chosen_user_fields = _resolve_user_fields(user_table, user_fields, users_label)
    else:
        chosen_user_fields = _resolve_user_fields(None, user_fields, "")

    _note_single_interaction_users(inter, notices)
    inter = inter.sort_values([USER, TIMESTAMP], kind="stable").reset_index(drop=True)
    return Dataset(
        interactions=inter,
        items=item_table,
        users=user_table,
        item_fields=chosen_item_fields,
        user_fields=chosen_user_fields,
        has_ratings=has_ratings,
        has_timestamps=has_timestamps,
        notices=notices,
    )


def _load_table(
    source: TableInput, role: str, max_bytes: int, id_columns: Iterable[str | None]
) -> tuple[pd.DataFrame, str]:
    """Return the table and a phrase naming it in messages ("the items file 'x.csv'")."""
    if isinstance(source, pd.DataFrame):
        frame = source.copy()  # never modify the caller's frame
        frame.columns = [str(column).strip() for column in frame.columns]
        label = f"the {role} table"
        _from_recbole(frame, "", label)  # a RecBole file read with pandas: every name typed
        return frame, label
    name = _source_name(source)
    keep = {column for column in id_columns if column}
    frame = read_table(source, max_bytes=max_bytes, keep_as_text=keep)
    return frame, f"the {role} file '{shown_path(name)}'" if name else f"the uploaded {role} file"


def _source_name(source: Any) -> str | None:
    if isinstance(source, tuple) and source:
        return str(source[0])
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    own_name = getattr(source, "name", None)
    return own_name if isinstance(own_name, str) else None


def load_interactions(
    source: TableInput,
    *,
    columns: ColumnMap = ColumnMap(),
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> pd.DataFrame:
    """Read and validate an interactions table on its own (e.g. new histories to score).

    Same column mapping, checks and output columns as ``Dataset.interactions``
    from :func:`load_dataset`: duplicates are dropped and rows sorted by user,
    then time.  Non-fatal findings are not reported here.
    """
    raw, label = _load_table(source, "interactions", max_bytes, (columns.user, columns.item))
    inter, _, has_timestamps = _canonical_interactions(raw, columns, label, notices=[])
    inter = _drop_duplicate_interactions(inter, has_timestamps, notices=[])
    return inter.sort_values([USER, TIMESTAMP], kind="stable").reset_index(drop=True)


# ---- interactions ----------------------------------------------------------


def _canonical_interactions(
    raw: pd.DataFrame, columns: ColumnMap, label: str, notices: list[Notice]
) -> tuple[pd.DataFrame, bool, bool]:
    """Pick, rename and type the interaction columns; returns (frame, has_ratings, has_timestamps)."""
    if raw.empty:
        raise DataValidationError(
            f"{_cap(label)} has no rows of interactions, only column names: check that you picked the right "
            "file and that it was exported completely.",
            f"Columns found: {_column_list(raw.columns)}.",
        )
    user_col = _require_column(raw, columns.user, label, "user ids", "user id column", "--user-col")
    item_col = _require_column(raw, columns.item, label, "item ids", "item id column", "--item-col")
    rating_col = _optional_column(raw, columns.rating, RATING, label, "ratings")
    time_col = _optional_column(raw, columns.timestamp, TIMESTAMP, label, "timestamps")

    frame = pd.DataFrame(
        {
            USER: _required_ids(raw[user_col], user_col, label, "user id"),
            ITEM: _required_ids(raw[item_col], item_col, label, "item id"),
        }
    )
    if time_col is not None:
        frame[TIMESTAMP] = _parse_timestamps(raw[time_col], time_col, label, notices)
    else:
        frame[TIMESTAMP] = np.arange(len(raw), dtype="int64")  # file order stands in for time
    if rating_col is not None:
        frame[RATING] = _parse_ratings(raw[rating_col], rating_col, label)
    return frame, rating_col is not None, time_col is not None


def _require_column(frame: pd.DataFrame, wanted: str, label: str, holds: str, setting: str, option: str) -> str:
    if wanted in frame.columns:
        return wanted
    raise DataValidationError(
        f"{_cap(label)} has no column '{wanted}' for the {holds}:{_did_you_mean(wanted, frame.columns, 40)} "
        f"choose the {setting} (CLI: {option}) or rename that column.",
        f"Columns found: {_column_list(frame.columns)}.",
    )


def _optional_column(
    frame: pd.DataFrame, mapped: str | None, canonical: str, label: str, holds: str
) -> str | None:
    """An explicitly mapped column must exist; otherwise use the canonical name if present."""
    if mapped is None:
        return canonical if canonical in frame.columns else None
    if mapped in frame.columns:
        return mapped
    raise DataValidationError(
        f"{_cap(label)} has no column '{mapped}' for the {holds}:{_did_you_mean(mapped, frame.columns, 40)} "
        f"choose another column, or none if the file has no {holds}.",
        f"Columns found: {_column_list(frame.columns)}.",
    )


def _parse_ratings(values: pd.Series, column: str, label: str) -> pd.Series:
    numbers = _to_numbers(values)
    bad = numbers.isna() | ~np.isfinite(numbers.fillna(0))
    if bad.any():
        raise DataValidationError(
            f"{_cap(label)}: {_count(bad.sum(), 'value')} in the rating column '{column}' "
            f"{_agree(bad.sum(), 'is', 'are')} not a number ({_first_example(values, bad)}): fix those rows or choose no rating column.",
            f"Examples: {_examples(values, bad)}. Ratings must be numbers such as 4 or 4.5.",
        )
    return numbers.astype("float64")


def _parse_timestamps(values: pd.Series, column: str, label: str, notices: list[Notice]) -> pd.Series:
    """Return int64 unix seconds, accepting unix numbers or ISO dates/datetimes."""
    if pd.api.types.is_datetime64_any_dtype(values):
        seconds = _datetimes_to_seconds(pd.to_datetime(values, utc=True))
    else:
        numbers = _to_numbers(values)
        if numbers.notna().all():
            seconds = _unix_numbers_to_seconds(numbers, notices)
        else:
            text = values.astype(str).str.strip()
            dates = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
            seconds = _datetimes_to_seconds(dates.where(values.notna()))
    bad = seconds.isna() | ~np.isfinite(seconds.fillna(0))
    if bad.any():
        raise DataValidationError(
            f"{_cap(label)}: {_count(bad.sum(), 'value')} in the timestamp column '{column}' "
            f"{_agree(bad.sum(), 'is', 'are')} not a date or time ({_first_example(values, bad)}): "
            "use unix seconds or ISO dates like 2024-03-31.",
            f"Examples: {_examples(values, bad)}. Use one format for the whole column: unix time in seconds or "
            "milliseconds (e.g. 1700000000) or ISO dates such as 2024-03-31 14:05:00. Fix or delete those rows, "
            "or choose no timestamp column.",
        )
    future = seconds > time.time() + 366 * 86400
    if future.any():
        latest = pd.Timestamp(int(seconds.max()), unit="s").strftime("%Y-%m-%d")
        notices.append(
            Notice(
                "timestamps_in_future",
                f"{_count(future.sum(), 'timestamp')} in '{column}' {_agree(future.sum(), 'lies', 'lie')} more than a year in the future "
                f"(latest {latest}); a temporal split puts them last. Check the dates if that is a typo.",
                int(future.sum()),
                severity="warning",
            )
        )
    return seconds.astype("int64")


def _unix_numbers_to_seconds(numbers: pd.Series, notices: list[Notice]) -> pd.Series:
    seconds = numbers.astype("float64")
    magnitude = seconds.abs()
    remaining = pd.Series(True, index=seconds.index)
    for threshold, per_second, unit in _UNIT_THRESHOLDS:
        in_unit = remaining & (magnitude > threshold)
        if in_unit.any():
            seconds[in_unit] = seconds[in_unit] / per_second
            notices.append(
                Notice(
                    "timestamps_converted",
                    f"{_count(in_unit.sum(), 'timestamp')} looked like unix time in {unit} "
                    "and were converted to seconds.",
                    int(in_unit.sum()),
                )
            )
        remaining &= ~in_unit
    return np.floor(seconds)


def _datetimes_to_seconds(dates: pd.Series) -> pd.Series:
    # The epoch in the column's own resolution: a nanosecond epoch would overflow for dates after 2262.
    unit = getattr(dates.dt, "unit", "ns")
    epoch = pd.Timestamp(0, tz="UTC").as_unit(unit)
    return (dates - epoch) // pd.Timedelta(seconds=1).as_unit(unit)


def _drop_duplicate_interactions(
    inter: pd.DataFrame, has_timestamps: bool, notices: list[Notice]
) -> pd.DataFrame:
    keys = [USER, ITEM, TIMESTAMP] if has_timestamps else [USER, ITEM]
    duplicated = inter.duplicated(keys)
    n_dropped = int(duplicated.sum())
    if n_dropped:
        same = "user, item and timestamp" if has_timestamps else "user and item"
        notices.append(
            Notice(
                "duplicate_interactions",
                f"Removed {_count(n_dropped, 'duplicate interaction')} (same {same} as an "
                "earlier row); the first of each was kept.",
                n_dropped,
            )
        )
    return inter[~duplicated]


def _apply_min_rating(
    inter: pd.DataFrame,
    min_rating: float,
    has_ratings: bool,
    source_columns: list[str],
    label: str,
    notices: list[Notice],
) -> pd.DataFrame:
    if not has_ratings:
        raise DataValidationError(
            f"A minimum rating of {min_rating:g} was set, but {label} has no rating column: "
            "choose the ratings column or clear the minimum rating.",
            f"Columns found: {_column_list(source_columns)}.",
        )
    keep = inter[RATING] >= min_rating
    if not keep.any():
        raise DataValidationError(
            f"No interactions are left after keeping only ratings of at least {min_rating:g}: "
            f"the ratings in {label} range from {inter[RATING].min():g} to "
            f"{inter[RATING].max():g}. Lower the minimum rating."
        )
    n_dropped = int((~keep).sum())
    if n_dropped:
        notices.append(
            Notice(
                "below_min_rating",
                f"Left out {_count(n_dropped, 'interaction')} rated below {min_rating:g}.",
                n_dropped,
            )
        )
    return inter[keep]


def _note_single_interaction_users(inter: pd.DataFrame, notices: list[Notice]) -> None:
    per_user = inter[USER].value_counts()
    n_single = int((per_user == 1).sum())
    if n_single:
        notices.append(
            Notice(
                "single_interaction_users",
                f"{_count(n_single, 'user')} {_agree(n_single, 'has', 'have')} only one "
                "interaction: too little history to learn from or to evaluate on.",
                n_single,
            )
        )


# ---- items and users ---------------------------------------------------------


def _note_recbole(frame: pd.DataFrame, label: str, notices: list[Notice]) -> None:
    header = frame.attrs.pop("recbole", None)
    if header is None:
        return
    shown = ", ".join(f"{old} → {new}" for old, new in header.renamed()[:3])
    more = ", …" if len(header.columns) > 3 else ""
    lists = (
        f" {_column_list(header.label_lists)} {_agree(len(header.label_lists), 'holds', 'hold')} label lists, written as "
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


_FORBIDDEN_IN_NAMES = (":", "|")  # the text format is "name: value | name: value"


def _check_renames(
    rename: Mapping[str, str], tables: list[tuple[pd.DataFrame, str, str, str]]
) -> dict[str, str]:
    """Validate ``old -> new`` renames of metadata columns against the items/users tables.

    ``tables`` holds (canonical table, role, label naming the file, the id column as the analyst named it).
    """
    wanted: dict[str, str] = {}
    for old, new in rename.items():
        old, new = str(old).strip(), str(new).strip()
        if old == new:
            continue
        holders = [(table, role, label) for table, role, label, _ in tables if old in table.columns]
        if old in {id_col for *_, id_col in tables} | {ITEM, USER}:
            raise DataValidationError(
                f"Cannot rename '{old[:40]}': it is an id column, not a text field. Ids keep the names item_id and "
                "user_id; to use another id column choose it (CLI: --items-item-col, --users-user-col)."
            )
        if not holders:
            available = list(dict.fromkeys(c for table, *_ in tables for c in table.columns if c not in (ITEM, USER)))
            files = " or ".join(role for _, role, _, _ in tables) + " file"
            raise DataValidationError(
                f"Cannot rename '{old[:40]}': the {files} has no such column.{_did_you_mean(old, available, 40)} "
                "Rename one of its metadata columns.",
                f"Looked in {' and '.join(label for *_, label, _ in tables)}. "
                f"Columns that can be renamed: {_column_list(available) or '(none)'}.",
            )
        bad = [c for c in _FORBIDDEN_IN_NAMES if c in new]
        if not new or bad or any(ord(c) < 32 for c in new):
            problem = "is empty" if not new else f"contains '{bad[0]}'" if bad else "contains a control character"
            raise DataValidationError(
                f"The new name for '{old[:40]}' {problem}: field names are part of the item text "
                "('title: Heat | genres: …'), so use words without ':' or '|', e.g. 'title'."
            )
        for table, role, label in holders:
            if new in table.columns:
                raise DataValidationError(
                    f"Cannot rename '{old[:40]}' to '{new[:40]}': the {role} file already has a column of that name. "
                    "Choose another new name.",
                    f"Columns of {label}: {_column_list(table.columns)}.",
                )
        earlier = next((o for o, n in wanted.items() if n == new and any(o in t.columns for t, *_ in holders)), None)
        if earlier is not None:
            raise DataValidationError(
                f"'{earlier[:40]}' and '{old[:40]}' would both be renamed to '{new[:40]}': choose different new names."
            )
        wanted[old] = new
    return wanted


def _renamed(
    table: pd.DataFrame, fields: Sequence[str] | None, renames: dict[str, str]
) -> tuple[pd.DataFrame, list[str] | None]:
    """The table with its columns renamed, and the requested fields under their new names."""
    own = {old: new for old, new in renames.items() if old in table.columns}
    if fields is not None:
        fields = [own.get(field, field) for field in fields]
    return table.rename(columns=own), fields


def _canonical_entities(
    raw: pd.DataFrame, id_col: str, canonical: str, role: str, label: str
) -> pd.DataFrame:
    """Check the id column of an items/users table and move it, renamed, to the front."""
    _require_column(raw, id_col, label, f"{role} ids", f"{role} id column", f"--{role}s-{role}-col")
    if id_col != canonical and canonical in raw.columns:
        raise DataValidationError(
            f"{_cap(label)} has both '{id_col}' (the chosen {role} id column) and '{canonical}': "
            f"rename or remove '{canonical}', or choose it as the {role} id column."
        )
    ids = _required_ids(raw[id_col], id_col, label, f"{role} id")
    _reject_duplicate_ids(ids, id_col, label, role)
    table = raw.drop(columns=[id_col]).reset_index(drop=True)
    table.insert(0, canonical, ids.reset_index(drop=True))
    return table


def _reject_duplicate_ids(ids: pd.Series, column: str, label: str, role: str) -> None:
    counts = ids.value_counts()
    repeated = counts[counts > 1]
    if repeated.empty:
        return
    examples = ", ".join(f"'{value}' ({n} rows)" for value, n in repeated.head(_MAX_EXAMPLES).items())
    first, n_first = next(iter(repeated.items()))
    raise DataValidationError(
        f"{_cap(label)}: {_count(len(repeated), f'{role} id')} in column '{column}' "
        f"{_agree(len(repeated), 'appears', 'appear')} on more than one row (e.g. {str(first)[:30]!r}, {n_first} rows): "
        "remove or merge the duplicates.",
        f"Examples: {examples}. Each {role} needs exactly one row.",
    )


def _resolve_item_fields(items: pd.DataFrame, requested: Sequence[str] | None, label: str) -> list[str]:
    available = [column for column in items.columns if column != ITEM]
    if requested is None:
        fields = describe_fields(items, ITEM)
        if not fields:
            raise DataValidationError(
                f"No text fields selected: {label} has no text columns to describe the items; add one "
                "such as title or genres.",
                f"Columns found: {_column_list(available)}.",
            )
        return fields
    fields = list(dict.fromkeys(requested))  # drop repeats, keep order
    if not fields:
        raise DataValidationError(
            "No text fields selected for the items. Select at least one column that describes "
            f"the items; available in {label}: {_column_list(available)}."
        )
    _reject_unknown_fields(fields, available, label, "item")
    return fields


def _resolve_user_fields(
    users: pd.DataFrame | None, requested: Sequence[str] | None, label: str
) -> list[str]:
    if users is None:
        if requested:
            raise DataValidationError(
                f"User text fields were selected ({_column_list(requested)}) but no users file "
                "was given. Add a users file with those columns, or clear the user fields."
            )
        return []
    available = [column for column in users.columns if column != USER]
    if requested is None:
        return available  # profile fields such as age or occupation all make useful text
    fields = list(dict.fromkeys(requested))
    _reject_unknown_fields(fields, available, label, "user")
    return fields


def _reject_unknown_fields(fields: list[str], available: list[str], label: str, role: str) -> None:
    unknown = [field for field in fields if field not in available]
    if unknown:
        hint = "".join(_did_you_mean(field, available) for field in unknown[:3])
        raise DataValidationError(
            f"The selected {role} text field(s) {_column_list(unknown, 3)} "
            f"{_agree(len(unknown), 'does', 'do')} not exist in {label}:{hint[:60]} select fields it has.",
            f"Available fields: {_column_list(available) or '(none)'}.",
        )


def _add_items_without_metadata(
    items: pd.DataFrame, inter: pd.DataFrame, label: str, notices: list[Notice]
) -> pd.DataFrame:
    """Add interacted items missing from the items table, so the catalogue is complete."""
    unknown = ~inter[ITEM].isin(items[ITEM])
    if not unknown.any():
        return items
    new_ids = pd.unique(inter.loc[unknown, ITEM])
    n_interactions = int(unknown.sum())
    notices.append(
        Notice(
            "items_without_metadata",
            f"{_count(n_interactions, 'interaction')} {_agree(n_interactions, 'refers', 'refer')} "
            f"to {_count(len(new_ids), 'item')} with no row in {label}; "
            f"{_agree(len(new_ids), 'it was', 'they were')} added to the catalogue with empty "
            "metadata (no text).",
            n_interactions,
        )
    )
    # Nullable ints, so a year column does not become 1995.0 once empty rows are added.
    items = items.astype({c: "Int64" for c in items.columns if pd.api.types.is_integer_dtype(items[c])})
    added = pd.DataFrame({ITEM: pd.Series(new_ids, dtype=items[ITEM].dtype)})
    return pd.concat([items, added], ignore_index=True)


MOSTLY_EMPTY_TEXT = 0.5  # above this share of items without text, results rest mostly on ids: warn


def _check_item_text(items: pd.DataFrame, fields: list[str], label: str, notices: list[Notice]) -> None:
    """Text features are the point of the model: no text at all is an error, mostly none a warning.

    ``items`` are the items the interactions use (the training set), so a catalogue full of
    described items that nobody interacted with does not hide interactions with text-less ids.
    """
    empty = pd.Series(True, index=items.index)
    for field in fields:
        values = items[field]
        empty &= values.isna() | (values.astype(str).str.strip() == "")
    n_empty, n = int(empty.sum()), len(items)
    fields_text = _column_list(fields)
    if n_empty == n:
        raise DataValidationError(
            f"No interacted item has text in {_column_list(fields, 3)}: check that {label} uses the interactions' item ids.",
            "Items that appear in the interactions but have no row in the items file get no text; "
            "a different id column or id format (e.g. '7' vs 'i7') is the usual cause.",
        )
    if n_empty / n > MOSTLY_EMPTY_TEXT:
        notices.append(
            Notice(
                "items_mostly_without_text",
                f"{n_empty / n:.0%} of the interacted items ({n_empty:,} of {n:,}) have no text in {fields_text}: "
                "recommendations will rest mostly on ids. Check that the items file matches the interactions.",
                n_empty,
                severity="warning",
            )
        )


def _note_items_without_interactions(items: pd.DataFrame, inter: pd.DataFrame, notices: list[Notice]) -> None:
    n_cold = int((~items[ITEM].isin(inter[ITEM])).sum())
    if n_cold:
        notices.append(
            Notice(
                "items_without_interactions",
                f"{_count(n_cold, 'item')} in the catalogue {_agree(n_cold, 'has', 'have')} "
                "no interactions; only text describes them.",
                n_cold,
            )
        )


def _note_profile_coverage(
    users: pd.DataFrame, inter: pd.DataFrame, label: str, notices: list[Notice]
) -> None:
    n_idle = int((~users[USER].isin(inter[USER])).sum())
    if n_idle:
        notices.append(
            Notice(
                "users_without_interactions",
                f"{_count(n_idle, 'user')} in {label} {_agree(n_idle, 'has', 'have')} "
                "no interactions.",
                n_idle,
            )
        )
    no_profile = ~inter[USER].isin(users[USER])
    n_rows = int(no_profile.sum())
    if n_rows:
        n_people = int(inter.loc[no_profile, USER].nunique())
        notices.append(
            Notice(
                "interactions_without_user_profile",
                f"{_count(n_rows, 'interaction')} {_agree(n_rows, 'comes', 'come')} from "
                f"{_count(n_people, 'user')} with no row in {label}, so "
                f"{_agree(n_people, 'that user has', 'those users have')} no profile text.",
                n_rows,
            )
        )


# ---- ids, numbers, message helpers -------------------------------------------


def _required_ids(values: pd.Series, column: str, label: str, what: str) -> pd.Series:
    ids = _ids_as_text(values)
    nul = ids.str.contains("\x00", regex=False).fillna(False).astype(bool)
    if nul.any():  # invisible on screen, cut off by C libraries, so two ids could look the same
        raise DataValidationError(
            f"{_cap(label)}: {_count(nul.sum(), what)} in column '{column}' {_agree(nul.sum(), 'contains', 'contain')} a NUL character: remove it from those ids.",
            f"{_cap(_row_list(nul))}.",
        )
    missing = ids.isna()
    if missing.any():
        n = int(missing.sum())
        raise DataValidationError(
            f"{_cap(label)}: {_count(n, 'row')} {_agree(n, 'has', 'have')} no {what} in column "
            f"'{column}' ({_row_list(missing)}): fill {_agree(n, 'it', 'them')} in or delete {_agree(n, 'that row', 'those rows')}.",
        )
    return ids


def _ids_as_text(values: pd.Series) -> pd.Series:
    """Ids as stripped strings; blanks become missing and 7.0 becomes "7".

    CSV ids arrive as text already; this matters for Parquet files and
    DataFrames, where ids may be integers or floats (floats when blanks forced
    pandas to use NaN).
    """
    if pd.api.types.is_float_dtype(values):
        integral = values.notna() & (values % 1 == 0)
        text = values.astype(str)
        text[integral] = values[integral].astype("int64").astype(str)
        return text.where(values.notna())
    text = values.astype(str).where(values.notna()).str.strip()
    return text.mask(text == "")


def _to_numbers(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return pd.Series(np.nan, index=values.index)  # True/False is not a rating or a time
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    return pd.to_numeric(values.astype(str).str.strip().where(values.notna()), errors="coerce")


def _row_numbers(mask: pd.Series) -> list[int]:
    # Spreadsheet numbering: the header is row 1, so the first data row is row 2.
    return [int(position) + 2 for position in np.flatnonzero(mask.to_numpy())]


def _row_list(mask: pd.Series) -> str:
    rows = _row_numbers(mask)
    shown = ", ".join(str(row) for row in rows[:_MAX_EXAMPLES])
    more = f" and {len(rows) - _MAX_EXAMPLES} more" if len(rows) > _MAX_EXAMPLES else ""
    return f"{'row' if len(rows) == 1 else 'rows'} {shown}{more}; row 1 is the header"


def _examples(values: pd.Series, mask: pd.Series) -> str:
    rows = _row_numbers(mask)[:_MAX_EXAMPLES]
    shown = values.to_numpy()[np.flatnonzero(mask.to_numpy())[:_MAX_EXAMPLES]]
    parts = [
        f"{'(empty)' if pd.isna(value) or str(value).strip() == '' else repr(str(value))} on row {row}"
        for value, row in zip(shown, rows)
    ]
    return ", ".join(parts) + " (row 1 is the header)"


def _column_list(columns: Iterable[Any], limit: int = 20) -> str:
    names = [f"'{column}'" for column in columns]
    if len(names) > limit:
        return ", ".join(names[:limit]) + f" and {len(names) - limit} more"
    return ", ".join(names)


def _did_you_mean(wanted: str, columns: Iterable[Any], limit: int = 200) -> str:
    names = [str(column) for column in columns]
    same_but_case = [name for name in names if name.lower() == wanted.lower()]
    close = same_but_case or difflib.get_close_matches(wanted, names, n=1, cutoff=0.6)
    return f" Did you mean '{close[0][:limit]}'?" if close else ""


def _first_example(values: pd.Series, mask: pd.Series) -> str:
    """The first offending value and its row, kept short for a message's first line."""
    row = _row_numbers(mask)[0]
    value = values.to_numpy()[np.flatnonzero(mask.to_numpy())[0]]
    shown = "(empty)" if pd.isna(value) or str(value).strip() == "" else repr(str(value)[:30])
    return f"e.g. {shown} on row {row}"


def _count(n: int, noun: str) -> str:
    n = int(n)
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _agree(n: int, one: str, many: str) -> str:
    return one if int(n) == 1 else many


def _format_size(n_bytes: int) -> str:
    if n_bytes < 1024:
        return f"{n_bytes} bytes"
    size = n_bytes / 1024
    for unit in ("KB", "MB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def _file_phrase(name: str | None) -> str:
    return f"the file '{shown_path(name)}'" if name else "the uploaded file"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]
