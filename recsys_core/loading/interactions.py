"""Interactions: who interacted with what, when, and how they rated it.

The interaction columns are picked by a :class:`ColumnMap` and renamed to the canonical ``user_id``,
``item_id``, ``rating`` and ``timestamp``; ratings become numbers, timestamps unix seconds (unix numbers
in any unit or ISO dates), duplicates are dropped and ``min_rating`` is applied, each with a notice.
:func:`load_interactions` reads an interactions table on its own (new histories to score).
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from recsys_core.errors import DataValidationError
from recsys_core.schema import ITEM, RATING, TIMESTAMP, USER, ColumnMap, Notice

from .columns import optional_column, require_column, required_ids, to_numbers
from .messages import agree, cap, column_list, counted, first_example, value_examples
from .tables import DEFAULT_MAX_BYTES, TableInput, load_table

# Unix timestamps above these magnitudes cannot be seconds (1e11 s is the year
# 5138), so they are taken as milli-, micro- or nanoseconds.
_UNIT_THRESHOLDS = ((1e17, 1e9, "nanoseconds"), (1e14, 1e6, "microseconds"), (1e11, 1e3, "milliseconds"))


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
    raw, label = load_table(source, "interactions", max_bytes, (columns.user, columns.item))
    inter, _, has_timestamps = canonical_interactions(raw, columns, label, notices=[])
    inter = drop_duplicate_interactions(inter, has_timestamps, notices=[])
    return sort_by_user_and_time(inter)


def sort_by_user_and_time(inter: pd.DataFrame) -> pd.DataFrame:
    """Rows ordered by user id, then time; ties keep their order (``sort_values(kind="stable")``'s result).

    ``inter`` is used up: its columns are moved into the sorted frame returned.

    Sorted on integer codes, not on the id text: codes numbered in the ids' sorted order sort the
    same way, and comparing 3M strings was 9 s of a 3M-row load.  Two stable sorts, time then user,
    order by user then time; numpy sorts the narrow user codes by radix.
    """
    users, distinct = pd.factorize(inter[USER], sort=True)
    users = users.astype(np.min_scalar_type(max(len(distinct) - 1, 0)))  # uint16 up to 65,536 users
    by_time = np.argsort(inter[TIMESTAMP].to_numpy(), kind="stable")
    order = by_time[np.argsort(users[by_time], kind="stable")]
    del users, by_time
    # Column by column, each given up as soon as its sorted copy exists: the whole frame is never held
    # twice (for a 3M-row file that was the load's peak).
    columns = {column: inter.pop(column).array.take(order) for column in list(inter.columns)}
    return pd.DataFrame(columns)


def canonical_interactions(
    raw: pd.DataFrame, columns: ColumnMap, label: str, notices: list[Notice]
) -> tuple[pd.DataFrame, bool, bool]:
    """Pick, rename and type the interaction columns; returns (frame, has_ratings, has_timestamps)."""
    if raw.empty:
        raise DataValidationError(
            f"{cap(label)} has no rows of interactions, only column names: check that you picked the right "
            "file and that it was exported completely.",
            f"Columns found: {column_list(raw.columns)}.",
        )
    user_col = require_column(raw, columns.user, label, "user ids", "user id column", "--user-col")
    item_col = require_column(raw, columns.item, label, "item ids", "item id column", "--item-col")
    rating_col = optional_column(raw, columns.rating, RATING, label, "ratings")
    time_col = optional_column(raw, columns.timestamp, TIMESTAMP, label, "timestamps")

    frame = pd.DataFrame(
        {
            USER: required_ids(raw[user_col], user_col, label, "user id"),
            ITEM: required_ids(raw[item_col], item_col, label, "item id"),
        }
    )
    if time_col is not None:
        frame[TIMESTAMP] = _parse_timestamps(raw[time_col], time_col, label, notices)
    else:
        frame[TIMESTAMP] = np.arange(len(raw), dtype="int64")  # file order stands in for time
    if rating_col is not None:
        frame[RATING] = _parse_ratings(raw[rating_col], rating_col, label)
    return frame, rating_col is not None, time_col is not None


def _parse_ratings(values: pd.Series, column: str, label: str) -> pd.Series:
    numbers = to_numbers(values)
    bad = numbers.isna() | ~np.isfinite(numbers.fillna(0))
    if bad.any():
        raise DataValidationError(
            f"{cap(label)}: {counted(bad.sum(), 'value')} in the rating column '{column}' "
            f"{agree(bad.sum(), 'is', 'are')} not a number ({first_example(values, bad)}): fix those rows or choose no rating column.",
            f"Examples: {value_examples(values, bad)}. Ratings must be numbers such as 4 or 4.5.",
        )
    return numbers.astype("float64")


def _parse_timestamps(values: pd.Series, column: str, label: str, notices: list[Notice]) -> pd.Series:
    """Return int64 unix seconds, accepting unix numbers or ISO dates/datetimes."""
    if pd.api.types.is_datetime64_any_dtype(values):
        seconds = _datetimes_to_seconds(pd.to_datetime(values, utc=True))
    else:
        numbers = to_numbers(values)
        if numbers.notna().all():
            seconds = _unix_numbers_to_seconds(numbers, notices)
        else:
            text = values.astype(str).str.strip()
            dates = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
            seconds = _datetimes_to_seconds(dates.where(values.notna()))
    bad = seconds.isna() | ~np.isfinite(seconds.fillna(0))
    if bad.any():
        raise DataValidationError(
            f"{cap(label)}: {counted(bad.sum(), 'value')} in the timestamp column '{column}' "
            f"{agree(bad.sum(), 'is', 'are')} not a date or time ({first_example(values, bad)}): "
            "use unix seconds or ISO dates like 2024-03-31.",
            f"Examples: {value_examples(values, bad)}. Use one format for the whole column: unix time in seconds or "
            "milliseconds (e.g. 1700000000) or ISO dates such as 2024-03-31 14:05:00. Fix or delete those rows, "
            "or choose no timestamp column.",
        )
    future = seconds > time.time() + 366 * 86400
    if future.any():
        latest = pd.Timestamp(int(seconds.max()), unit="s").strftime("%Y-%m-%d")
        notices.append(
            Notice(
                "timestamps_in_future",
                f"{counted(future.sum(), 'timestamp')} in '{column}' {agree(future.sum(), 'lies', 'lie')} more than a year in the future "
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
                    f"{counted(in_unit.sum(), 'timestamp')} looked like unix time in {unit} "
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


def drop_duplicate_interactions(
    inter: pd.DataFrame, has_timestamps: bool, notices: list[Notice]
) -> pd.DataFrame:
    # The (user, item) pair as one integer, so each id's text is hashed once; then equal rows are found
    # next to each other in a stable sort, which keeps file order among them: the first one is kept.
    # (pandas' duplicated() hashed every key column anew: +270 MiB at the peak of a 3M-row load.)
    users = pd.factorize(inter[USER])[0].astype("int64")
    items, distinct_items = pd.factorize(inter[ITEM])
    pair = users * len(distinct_items) + items
    del users, items
    if has_timestamps:
        times = inter[TIMESTAMP].to_numpy()
        order = np.lexsort((times, pair))
        times = times[order]
        equal = times[1:] == times[:-1]
        del times
    else:
        order = np.argsort(pair, kind="stable")
        equal = np.ones(max(len(pair) - 1, 0), dtype=bool)
    pair = pair[order]
    equal &= pair[1:] == pair[:-1]  # each row against the one before it in the sort
    del pair
    duplicated = np.zeros(len(inter), dtype=bool)
    duplicated[order[1:][equal]] = True
    del order, equal
    n_dropped = int(duplicated.sum())
    if n_dropped:
        same = "user, item and timestamp" if has_timestamps else "user and item"
        notices.append(
            Notice(
                "duplicate_interactions",
                f"Removed {counted(n_dropped, 'duplicate interaction')} (same {same} as an "
                "earlier row); the first of each was kept.",
                n_dropped,
                severity="warning",  # rows of the analyst's data were dropped
            )
        )
    return inter[~duplicated] if n_dropped else inter


def apply_min_rating(
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
            f"Columns found: {column_list(source_columns)}.",
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
                f"Left out {counted(n_dropped, 'interaction')} rated below {min_rating:g}.",
                n_dropped,
            )
        )
    return inter[keep]


def note_single_interaction_users(inter: pd.DataFrame, notices: list[Notice]) -> None:
    per_user = inter[USER].value_counts()
    n_single = int((per_user == 1).sum())
    if n_single:
        notices.append(
            Notice(
                "single_interaction_users",
                f"{counted(n_single, 'user')} {agree(n_single, 'has', 'have')} only one "
                "interaction: too little history to learn from or to evaluate on.",
                n_single,
                severity="warning",  # these users train and evaluate poorly
            )
        )
