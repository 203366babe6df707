"""How much memory loading a set of tables takes, estimated from the files before they are parsed.

A server many analysts share must refuse an upload it cannot hold *before* it starts parsing it: by
the time ``load_dataset`` fails for lack of memory, every session on the server has felt it.  The
estimate counts data rows cheaply (newlines for text, the footer for Parquet) and prices them with
figures measured by ``bench/upload_memory.py`` (``docs/benchmarks.md``, "Loading a large
interactions upload"): while loading, the process grew by 153 B per interaction at 3M rows and by
~117 MB in all at 0.3M rows (pyarrow's modules and allocator arenas, a fixed cost); afterwards it
held 63 B per interaction.  The constants below round those up, so the estimate errs towards
refusing, and ``dataset_bytes`` measures what a loaded dataset really keeps.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import pandas as pd

from ..schema import Dataset

# Measured (see the module docstring) and rounded up.
PEAK_FIXED_BYTES = 100 * 1024 * 1024
PEAK_BYTES_PER_ROW = 200
HELD_BYTES_PER_ROW = 100
# Items and users tables are mostly text, kept as Arrow strings: what they hold tracks the file's size.
TEXT_TABLE_PEAK_FACTOR = 4
TEXT_TABLE_HELD_FACTOR = 2

_PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class LoadFootprint:
    """What loading some files will cost, in bytes of process memory on top of the files' own bytes."""

    rows: int  # data rows of the interactions file (header excluded)
    file_bytes: int  # the files themselves, which whoever received them already holds
    peak_bytes: int  # extra memory while ``load_dataset`` runs
    held_bytes: int  # extra memory the loaded dataset keeps


def count_rows(data: bytes) -> int:
    """Data rows of a CSV/TSV (newlines, less the header) or a Parquet file (its footer says)."""
    if data[:4] == _PARQUET_MAGIC:
        import pyarrow.parquet as pq

        try:
            return int(pq.ParquetFile(io.BytesIO(data)).metadata.num_rows)
        except Exception:  # a damaged footer: read_table will say what is wrong; price it by size
            return len(data) // 16
    # bytes.count is a memchr loop: ~30 ms for 80 MB.  A final line without "\n" still counts.
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    return max(lines - 1, 0)


def estimate_footprint(interactions: bytes, *others: bytes | None) -> LoadFootprint:
    """The footprint of loading ``interactions`` plus the items/users files in ``others``."""
    rows = count_rows(interactions)
    text_bytes = sum(len(b) for b in others if b is not None)
    return LoadFootprint(
        rows=rows,
        file_bytes=len(interactions) + text_bytes,
        peak_bytes=PEAK_FIXED_BYTES + PEAK_BYTES_PER_ROW * rows + TEXT_TABLE_PEAK_FACTOR * text_bytes,
        held_bytes=HELD_BYTES_PER_ROW * rows + TEXT_TABLE_HELD_FACTOR * text_bytes,
    )


def dataset_bytes(data: Dataset) -> int:
    """Bytes the dataset's tables hold (``memory_usage(deep=True)``: strings counted, not just pointers)."""
    frames: list[pd.DataFrame] = [data.interactions, data.items]
    if data.users is not None:
        frames.append(data.users)
    return int(sum(frame.memory_usage(deep=True).sum() for frame in frames))
