"""Entities: the items and users tables, their ids, text fields and renames.

Each table's id column is checked (present, filled, unique) and moved to the front as ``item_id`` /
``user_id``; metadata columns may be renamed (a field's name is part of the text BERT reads); the
text fields are chosen (:func:`describe_fields` by default) and checked.  Coverage between the
entities and the interactions (items without metadata or without text, users without a profile, ...)
is reported as notices.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from recsys_core.errors import DataValidationError
from recsys_core.schema import ITEM, USER, Notice

from .columns import ids_in, require_column, required_ids
from .messages import MAX_EXAMPLES, agree, cap, column_list, counted, did_you_mean

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


_FORBIDDEN_IN_NAMES = (":", "|")  # the text format is "name: value | name: value"


def check_renames(
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
                f"Cannot rename '{old[:40]}': the {files} has no such column.{did_you_mean(old, available, 40)} "
                "Rename one of its metadata columns.",
                f"Looked in {' and '.join(label for *_, label, _ in tables)}. "
                f"Columns that can be renamed: {column_list(available) or '(none)'}.",
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
                    f"Columns of {label}: {column_list(table.columns)}.",
                )
        earlier = next((o for o, n in wanted.items() if n == new and any(o in t.columns for t, *_ in holders)), None)
        if earlier is not None:
            raise DataValidationError(
                f"'{earlier[:40]}' and '{old[:40]}' would both be renamed to '{new[:40]}': choose different new names."
            )
        wanted[old] = new
    return wanted


def with_renames(
    table: pd.DataFrame, fields: Sequence[str] | None, renames: dict[str, str]
) -> tuple[pd.DataFrame, list[str] | None]:
    """The table with its columns renamed, and the requested fields under their new names."""
    own = {old: new for old, new in renames.items() if old in table.columns}
    if fields is not None:
        fields = [own.get(field, field) for field in fields]
    return table.rename(columns=own), fields


def canonical_entities(
    raw: pd.DataFrame, id_col: str, canonical: str, role: str, label: str
) -> pd.DataFrame:
    """Check the id column of an items/users table and move it, renamed, to the front."""
    require_column(raw, id_col, label, f"{role} ids", f"{role} id column", f"--{role}s-{role}-col")
    if id_col != canonical and canonical in raw.columns:
        raise DataValidationError(
            f"{cap(label)} has both '{id_col}' (the chosen {role} id column) and '{canonical}': "
            f"rename or remove '{canonical}', or choose it as the {role} id column."
        )
    ids = required_ids(raw[id_col], id_col, label, f"{role} id")
    _reject_duplicate_ids(ids, id_col, label, role)
    table = raw.drop(columns=[id_col]).reset_index(drop=True)
    table.insert(0, canonical, ids.reset_index(drop=True))
    return table


def _reject_duplicate_ids(ids: pd.Series, column: str, label: str, role: str) -> None:
    counts = ids.value_counts()
    repeated = counts[counts > 1]
    if repeated.empty:
        return
    examples = ", ".join(f"'{value}' ({n} rows)" for value, n in repeated.head(MAX_EXAMPLES).items())
    first, n_first = next(iter(repeated.items()))
    raise DataValidationError(
        f"{cap(label)}: {counted(len(repeated), f'{role} id')} in column '{column}' "
        f"{agree(len(repeated), 'appears', 'appear')} on more than one row (e.g. {str(first)[:30]!r}, {n_first} rows): "
        "remove or merge the duplicates.",
        f"Examples: {examples}. Each {role} needs exactly one row.",
    )


def resolve_item_fields(items: pd.DataFrame, requested: Sequence[str] | None, label: str) -> list[str]:
    available = [column for column in items.columns if column != ITEM]
    if requested is None:
        fields = describe_fields(items, ITEM)
        if not fields:
            raise DataValidationError(
                f"No text fields selected: {label} has no text columns to describe the items; add one "
                "such as title or genres.",
                f"Columns found: {column_list(available)}.",
            )
        return fields
    fields = list(dict.fromkeys(requested))  # drop repeats, keep order
    if not fields:
        raise DataValidationError(
            "No text fields selected for the items. Select at least one column that describes "
            f"the items; available in {label}: {column_list(available)}."
        )
    _reject_unknown_fields(fields, available, label, "item")
    return fields


def resolve_user_fields(
    users: pd.DataFrame | None, requested: Sequence[str] | None, label: str
) -> list[str]:
    if users is None:
        if requested:
            raise DataValidationError(
                f"User text fields were selected ({column_list(requested)}) but no users file "
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
        hint = "".join(did_you_mean(field, available) for field in unknown[:3])
        raise DataValidationError(
            f"The selected {role} text field(s) {column_list(unknown, 3)} "
            f"{agree(len(unknown), 'does', 'do')} not exist in {label}:{hint[:60]} select fields it has.",
            f"Available fields: {column_list(available) or '(none)'}.",
        )


def add_items_without_metadata(
    items: pd.DataFrame, inter: pd.DataFrame, label: str, notices: list[Notice]
) -> pd.DataFrame:
    """Add interacted items missing from the items table, so the catalogue is complete."""
    unknown = ~ids_in(inter[ITEM], items[ITEM])
    if not unknown.any():
        return items
    new_ids = pd.unique(inter.loc[unknown, ITEM])
    n_interactions = int(unknown.sum())
    notices.append(
        Notice(
            "items_without_metadata",
            f"{counted(n_interactions, 'interaction')} {agree(n_interactions, 'refers', 'refer')} "
            f"to {counted(len(new_ids), 'item')} with no row in {label}; "
            f"{agree(len(new_ids), 'it was', 'they were')} added to the catalogue with empty "
            "metadata (no text).",
            n_interactions,
            severity="warning",  # those items are known only by their id
        )
    )
    # Nullable ints, so a year column does not become 1995.0 once empty rows are added.
    items = items.astype({c: "Int64" for c in items.columns if pd.api.types.is_integer_dtype(items[c])})
    added = pd.DataFrame({ITEM: pd.Series(new_ids, dtype=items[ITEM].dtype)})
    return pd.concat([items, added], ignore_index=True)


MOSTLY_EMPTY_TEXT = 0.5  # above this share of items without text, results rest mostly on ids: warn


def check_item_text(items: pd.DataFrame, fields: list[str], label: str, notices: list[Notice]) -> None:
    """Text features are the point of the model: no text at all is an error, mostly none a warning.

    ``items`` are the items the interactions use (the training set), so a catalogue full of
    described items that nobody interacted with does not hide interactions with text-less ids.
    """
    empty = pd.Series(True, index=items.index)
    for field in fields:
        values = items[field]
        empty &= values.isna() | (values.astype(str).str.strip() == "")
    n_empty, n = int(empty.sum()), len(items)
    fields_text = column_list(fields)
    if n_empty == n:
        raise DataValidationError(
            f"No interacted item has text in {column_list(fields, 3)}: check that {label} uses the interactions' item ids.",
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


def note_items_without_interactions(items: pd.DataFrame, inter: pd.DataFrame, notices: list[Notice]) -> None:
    n_cold = int((~ids_in(items[ITEM], inter[ITEM])).sum())
    if n_cold:
        notices.append(
            Notice(
                "items_without_interactions",
                f"{counted(n_cold, 'item')} in the catalogue {agree(n_cold, 'has', 'have')} "
                "no interactions; only text describes them.",
                n_cold,
            )
        )


def note_profile_coverage(
    users: pd.DataFrame, inter: pd.DataFrame, label: str, notices: list[Notice]
) -> None:
    n_idle = int((~ids_in(users[USER], inter[USER])).sum())
    if n_idle:
        notices.append(
            Notice(
                "users_without_interactions",
                f"{counted(n_idle, 'user')} in {label} {agree(n_idle, 'has', 'have')} "
                "no interactions.",
                n_idle,
            )
        )
    no_profile = ~ids_in(inter[USER], users[USER])
    n_rows = int(no_profile.sum())
    if n_rows:
        n_people = int(inter.loc[no_profile, USER].nunique())
        notices.append(
            Notice(
                "interactions_without_user_profile",
                f"{counted(n_rows, 'interaction')} {agree(n_rows, 'comes', 'come')} from "
                f"{counted(n_people, 'user')} with no row in {label}, so "
                f"{agree(n_people, 'that user has', 'those users have')} no profile text.",
                n_rows,
                severity="warning",  # those users are known only by their history
            )
        )
