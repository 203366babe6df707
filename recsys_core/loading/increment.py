"""New interactions, items and profiles for a model that is already trained (an incremental update).

The files are read and checked like training data (same column mapping, messages and size limit), but
the items and users files hold only what is new or changed, so nothing here asks for text coverage of
every item: what each row means for a given model is decided against its catalogue
(``recsys_core.catalog_growth``).
"""
from __future__ import annotations

from recsys_core.errors import DataValidationError
from recsys_core.schema import ITEM, USER, ColumnMap, Increment, Notice

from .entities import canonical_entities
from .interactions import canonical_interactions, drop_duplicate_interactions, sort_by_user_and_time
from .messages import cap
from .tables import DEFAULT_MAX_BYTES, TableInput, load_table


def load_increment(
    interactions: TableInput,
    items: TableInput | None = None,
    users: TableInput | None = None,
    *,
    columns: ColumnMap = ColumnMap(),
    item_id_col: str = ITEM,
    user_id_col: str = USER,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Increment:
    """Read the new interactions (required) and optional items and users tables into an :class:`Increment`."""
    notices: list[Notice] = []
    raw, label = load_table(interactions, "new interactions", max_bytes, (columns.user, columns.item))
    inter, has_ratings, has_timestamps = canonical_interactions(raw, columns, label, notices)
    del raw
    inter = sort_by_user_and_time(drop_duplicate_interactions(inter, has_timestamps, notices))
    item_table = user_table = None
    if items is not None:
        raw_items, items_label = load_table(items, "new items", max_bytes, (item_id_col,))
        item_table = canonical_entities(raw_items, item_id_col, ITEM, "item", items_label)
        if len(item_table.columns) < 2:
            raise DataValidationError(
                f"{cap(items_label)} has only the item id column: give the items' metadata (title, genres, ...) "
                "in columns named like the model's item fields."
            )
    if users is not None:
        raw_users, users_label = load_table(users, "new users", max_bytes, (user_id_col,))
        user_table = canonical_entities(raw_users, user_id_col, USER, "user", users_label)
    return Increment(inter, item_table, user_table, has_ratings, has_timestamps, notices)
