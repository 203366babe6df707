"""Loading the three tables into one validated :class:`Dataset`: :func:`load_dataset`.

The order of the work, and nothing else: each step lives with its concept (:mod:`.tables` reads,
:mod:`.interactions` and :mod:`.entities` validate and report, :mod:`.recbole` notes RecBole files).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from recsys_core.errors import DataValidationError
from recsys_core.schema import ITEM, TIMESTAMP, USER, ColumnMap, Dataset, Notice

from . import recbole
from .entities import (
    add_items_without_metadata,
    canonical_entities,
    check_item_text,
    check_renames,
    note_items_without_interactions,
    note_profile_coverage,
    resolve_item_fields,
    resolve_user_fields,
    with_renames,
)
from .interactions import (
    apply_min_rating,
    canonical_interactions,
    drop_duplicate_interactions,
    note_single_interaction_users,
)
from .columns import ids_in
from .messages import cap
from .tables import DEFAULT_MAX_BYTES, TableInput, load_table


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
    :mod:`recsys_core.loading.recbole`); a notice says so.

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

    raw, inter_label = load_table(interactions, "interactions", max_bytes, (columns.user, columns.item))
    recbole.note_recbole(raw, inter_label, notices)
    inter, has_ratings, has_timestamps = canonical_interactions(raw, columns, inter_label, notices)
    inter = drop_duplicate_interactions(inter, has_timestamps, notices)
    if min_rating is not None:
        inter = apply_min_rating(inter, min_rating, has_ratings, list(raw.columns), inter_label, notices)

    raw_items, items_label = load_table(items, "items", max_bytes, (item_id_col,))
    recbole.note_recbole(raw_items, items_label, notices)
    item_table = canonical_entities(raw_items, item_id_col, ITEM, "item", items_label)
    if item_table.empty:
        raise DataValidationError(
            f"{cap(items_label)} has column names but no rows. Every item needs a row with its "
            "id and metadata (title, description, ...): check that you picked the right file."
        )
    user_table, users_label = None, ""
    if users is not None:
        raw_users, users_label = load_table(users, "users", max_bytes, (user_id_col,))
        recbole.note_recbole(raw_users, users_label, notices)
        user_table = canonical_entities(raw_users, user_id_col, USER, "user", users_label)
    if rename:
        tables = [(item_table, "items", items_label, item_id_col)]
        if user_table is not None:
            tables.append((user_table, "users", users_label, user_id_col))
        renames = check_renames(rename, tables)
        item_table, item_fields = with_renames(item_table, item_fields, renames)
        if user_table is not None:
            user_table, user_fields = with_renames(user_table, user_fields, renames)
    chosen_item_fields = resolve_item_fields(item_table, item_fields, items_label)
    item_table = add_items_without_metadata(item_table, inter, items_label, notices)
    check_item_text(item_table[ids_in(item_table[ITEM], inter[ITEM])], chosen_item_fields, items_label, notices)
    note_items_without_interactions(item_table, inter, notices)

    if user_table is not None:
        note_profile_coverage(user_table, inter, users_label, notices)
        chosen_user_fields = resolve_user_fields(user_table, user_fields, users_label)
    else:
        chosen_user_fields = resolve_user_fields(None, user_fields, "")

    note_single_interaction_users(inter, notices)
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
