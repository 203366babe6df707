"""Reading one table: a file (path, bytes, upload) or a DataFrame becomes a DataFrame.

:func:`read_table` detects the format (CSV / TSV / Parquet, RecBole atomic files via :mod:`.recbole`),
checks the size and the encoding, and turns plainly numeric text columns into numbers.  It knows nothing
about users or items.  :func:`load_table` is what the interactions, items and users loaders call: it
also accepts a DataFrame and names the table for their messages ("the items file 'x.csv'").

Nothing here imports streamlit: the dashboard passes its ``UploadedFile`` objects straight in (they
have ``.name`` and ``.getvalue()``).
"""
from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any, Protocol, Union

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from recsys_core.errors import DataValidationError, shown_path

from . import recbole
from .messages import cap, file_phrase, format_size

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
    where = file_phrase(name)
    if not data.strip() or data.strip() == codecs.BOM_UTF8:
        raise DataValidationError(
            f"{cap(where)} is empty ({format_size(len(data))}). "
            "Check that you picked the right file and that it was saved completely."
        )
    extension = Path(name).suffix.lower() if name else ""
    is_parquet = data.startswith(_PARQUET_MAGIC)
    if is_parquet:
        frame = _parse_parquet(data, where)
    else:
        _reject_binary_formats(data, extension, where)
        _check_utf8(data, where)
        delimiter = _guess_delimiter(_header_line(data), extension)
        frame = _parse_with_arrow(data, delimiter)
        if frame is None:  # something pyarrow refuses or reads differently: pandas reads it and words the message
            frame = _parse_delimited(_decode_utf8(data, where), delimiter, where)
        del data  # the bytes of a large upload are as large as the frame: do not keep them while converting
    header = frame.attrs.pop("raw_header", None) or list(frame.columns)
    _reject_duplicate_columns([str(column).strip() for column in header], where)
    frame.columns = [str(column).strip() for column in frame.columns]
    typed = recbole.read_typed(frame, extension, where)
    if not is_parquet:
        frame = _numbers_from_text(frame, {*keep_as_text, *(c.name for c in typed)})
    return frame


def _reject_duplicate_columns(names: list[str], where: str) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if name in seen:
            raise DataValidationError(
                f"{cap(where)} has two columns named '{name}' (columns {seen[name]} and {position}): rename or remove one.",
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
            raise DataValidationError(f"{cap(file_phrase(name))} {problem}. Check the path and try again.")
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
            f"{cap(file_phrase(name))} is {format_size(size)}, over the {format_size(max_bytes)} limit: "
            "remove rows or columns you do not need, or save it as Parquet.",
            "Parquet is usually several times smaller. Or raise the limit (the max_bytes setting) if this "
            "computer has enough memory.",
        )


def _reject_binary_formats(data: bytes, extension: str, where: str) -> None:
    """Give a specific message for files that are clearly not CSV/TSV text."""
    if extension in _PARQUET_EXTENSIONS:
        raise DataValidationError(
            f"{cap(where)} is named like a Parquet file but is not one (it does not start with "
            "the Parquet marker 'PAR1'). Export it again as Parquet, or as CSV UTF-8."
        )
    if data.startswith(_ZIP_MAGIC) or data.startswith(_OLE_MAGIC):
        raise DataValidationError(
            f"{cap(where)} looks like an Excel workbook or a ZIP archive, not a CSV/TSV/Parquet table: "
            "save it as CSV UTF-8, or unzip it first.",
            "In Excel use Save As → 'CSV UTF-8 (Comma delimited)'.",
        )
    if data.startswith(_GZIP_MAGIC):
        raise DataValidationError(
            f"{cap(where)} is compressed (gzip). Decompress it first and use the CSV/TSV inside."
        )
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE) or _looks_like_utf16(data):
        raise DataValidationError(
            f"{cap(where)} is saved as UTF-16 ('Unicode Text' in Excel), not UTF-8: re-save it as UTF-8 and upload it again.",
            "In Excel: Save As → 'CSV UTF-8 (Comma delimited)'; in LibreOffice choose character set 'Unicode (UTF-8)'.",
        )
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise DataValidationError(
            f"{cap(where)} contains a NUL byte (line {line}), so it is binary or damaged, not CSV text: export it again.",
            f"First NUL byte at byte {nul}. CSV/TSV files are plain UTF-8 text; Parquet files start with 'PAR1'.",
        )


def _looks_like_utf16(data: bytes) -> bool:
    """UTF-16 without a byte-order mark: ASCII text with a NUL byte next to almost every character."""
    sample = data[:4096]
    if len(sample) < 4:
        return False
    even, odd = sample[0::2], sample[1::2]
    return max(even.count(0) / len(even), odd.count(0) / len(odd)) > 0.4


def _check_utf8(data: bytes, where: str) -> None:
    """Raise :func:`_decode_utf8`'s message unless ``data`` is UTF-8, without holding a decoded copy of it."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view, step = memoryview(data), 1 << 20
    try:
        for start in range(0, len(data), step):
            decoder.decode(view[start : start + step], final=start + step >= len(data))
    except UnicodeDecodeError:
        _decode_utf8(data, where)


def _decode_utf8(data: bytes, where: str) -> str:
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as error:
        position = bom + error.start
        line = data.count(b"\n", 0, position) + 1
        raise DataValidationError(
            f"{cap(where)} is not UTF-8 text (byte 0x{data[position]:02X} on line {line}): "
            "re-save it as UTF-8 and upload it again.",
            f"Byte {position} is not valid UTF-8; the file was probably saved as Windows-1252/Latin-1. "
            "In Excel: Save As → 'CSV UTF-8 (Comma delimited)'; in LibreOffice choose character set "
            "'Unicode (UTF-8)'.",
        ) from None


def _header_line(data: bytes) -> str:
    """The first non-blank line of the file (without a BOM), read from as little of it as needed."""
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    size = 1 << 16
    while True:
        lines = data[start : start + size].decode("utf-8", errors="ignore").splitlines()
        complete = lines if start + size >= len(data) else lines[:-1]  # the last one may be cut
        line = next((line for line in complete if line.strip()), None)
        if line is not None or start + size >= len(data):
            return line or ""
        size *= 4


def _guess_delimiter(header: str, extension: str) -> str:
    """Pick the separator from the extension, checked against the header line.

    The header is the most reliable line to sniff: data lines may contain
    quoted commas (e.g. movie titles), column names rarely do.
    """
    default = "\t" if extension in _TAB_EXTENSIONS else "," if extension in _COMMA_EXTENSIONS else None
    counts = {delimiter: header.count(delimiter) for delimiter in _DELIMITER_NAMES}
    if default is not None and counts[default] > 0:
        return default
    best = max(counts, key=lambda delimiter: counts[delimiter])
    if counts[best] > 0:
        return best
    return default or ","  # a single-column file: the separator does not matter


def _parse_with_arrow(data: bytes, delimiter: str) -> pd.DataFrame | None:
    """Every cell as text, read by pyarrow's multi-threaded CSV reader; None when pandas must read the file.

    pandas' reader (:func:`_parse_delimited`) takes several times as long and as much memory on a
    large upload, but it is the one whose behaviour the messages describe.  So pyarrow reads only
    files it reads exactly as pandas would: a header of two or more distinct, non-blank names, every
    row as long as the header, at least one row.  Anything else (short or long rows, repeated names, ...) makes
    pyarrow fail or the checks below say no, and pandas reads the file and reports the problem.
    """
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    names = _header_names(data[start : start + (1 << 16)], delimiter)
    if not names or len(names) < 2 or any(not name.strip() for name in names) or len(set(names)) != len(names):
        return None
    try:
        table = pa_csv.read_csv(
            pa.py_buffer(memoryview(data)[start:]),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=True),
            # Only empty cells are missing, as for pandas below: "NA" or "None" can be real ids or titles.
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.large_string() for name in names}, null_values=[""], strings_can_be_null=True
            ),
        )
    except (pa.ArrowException, ValueError):
        return None
    if table.column_names != names or table.num_rows == 0 or any(t != pa.large_string() for t in table.schema.types):
        return None
    if b'"' in data and (data.count(b'"') % 2 or _any_line_break(table)):
        # Quoted line breaks are rare in these tables, and pyarrow reads an unclosed quote as a value running
        # to the end of the file where pandas reports it: leave any of that to pandas.
        return None
    # Each column is freed as soon as it is converted, so the table and the frame are not both held whole.
    return table.to_pandas(self_destruct=True, split_blocks=True)


def _any_line_break(table: pa.Table) -> bool:
    return any(pc.any(pc.match_substring_regex(column, "[\r\n]")).as_py() for column in table.columns)


def _header_names(head: bytes, delimiter: str) -> list[str] | None:
    """Column names of the first non-blank row of ``head`` (the file's start), as a CSV reader splits them."""
    text = head.decode("utf-8", errors="ignore")
    try:
        rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
        return next((row for row in rows if row), None)
    except csv.Error:
        return None


def _parse_delimited(text: str, delimiter: str, where: str) -> pd.DataFrame:
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
                f"{cap(where)} has rows with more values than the header has columns{line}: quote values "
                f"that contain a {kind}, or fix those lines."
            )
        # pandas renames a repeated column 'x' to 'x.1'; keep the names as written to report repeats.
        frame.attrs["raw_header"] = pd.read_csv(io.StringIO(text), sep=delimiter, header=None, nrows=1, dtype=str).iloc[0].tolist()
        return frame
    except pd.errors.EmptyDataError:
        raise DataValidationError(
            f"{cap(where)} has no header row and no data. Check that you picked the right file."
        ) from None
    except pd.errors.ParserError as error:
        kind = _DELIMITER_NAMES[delimiter]
        detail = str(error).strip().splitlines()[-1] if str(error).strip() else ""
        raise DataValidationError(
            f"{cap(where)} could not be read as {kind}-separated text: quote values that contain a "
            f"{kind} or a quote, or fix the line.",
            f"{detail}. Excel and most tools add the double quotes when saving as CSV.",
        ) from None


def _parse_parquet(data: bytes, where: str) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except Exception as error:  # pyarrow raises many unrelated types for corrupt files
        raise DataValidationError(
            f"{cap(where)} starts like a Parquet file but could not be read; it may be truncated or corrupt: export it again.",
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
        numbers = _arrow_numbers(frame[column])
        if numbers is not None:
            frame[column] = numbers
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


def _arrow_numbers(values: pd.Series) -> pd.Series | np.ndarray | None:
    """The same conversion done by pyarrow on an Arrow-backed text column, or None when it does not apply.

    The text is matched and converted in C: pandas' ``to_numeric`` on 3M Arrow strings made a
    Python object of each, 12 s of a 3M-row load.  A column that is not numeric is returned as
    itself (unchanged); None leaves the column to pandas (a column that is not Arrow text).
    """
    if not isinstance(values.dtype, pd.StringDtype) or values.dtype.storage != "pyarrow":
        return None
    cells = pa.chunked_array(pa.array(values))
    if cells.null_count == len(cells):
        return values
    for pattern, kind in ((_INT_TEXT, pa.int64()), (_NUMBER_TEXT, pa.float64())):
        if pc.all(pc.match_substring_regex(cells, f"^(?:{pattern})$")).as_py():
            numbers = pc.cast(cells, kind)
            if kind == pa.float64():
                return numbers.to_numpy()  # missing cells become NaN
            if numbers.null_count:
                return pd.Int64Dtype().__from_arrow__(numbers)  # a year stays 1995 next to missing ones
            return numbers.to_numpy()
    return values


def load_table(
    source: TableInput, role: str, max_bytes: int, id_columns: Iterable[str | None]
) -> tuple[pd.DataFrame, str]:
    """The ``role`` table ("interactions", "items", "users") and a phrase naming it in messages ("the items file 'x.csv'").

    A DataFrame is copied, never modified; a file is read by :func:`read_table` with ``id_columns`` kept as text.
    """
    if isinstance(source, pd.DataFrame):
        frame = source.copy()  # never modify the caller's frame
        frame.columns = [str(column).strip() for column in frame.columns]
        label = f"the {role} table"
        recbole.read_typed(frame, "", label)  # a RecBole file read with pandas: every name typed
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
