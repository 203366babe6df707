"""Users described by files rather than by the training data: their histories and profiles.

``recommend``, ``explain`` and ``evaluate`` take an interactions file (``--interactions``), and the
first two a profiles file (``--profiles``), for users a saved model never saw; the model serves them without
retraining from what these files say (``Recommender.new_user_context``).  This module reads both
files into one :class:`NewUser` per user id, with the same checks and messages as training data.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from recsys_core.errors import DataValidationError
from recsys_core.schema import ITEM, RATING, TIMESTAMP, USER, ColumnMap

from .entities import canonical_entities
from .interactions import load_interactions
from .messages import cap, column_list
from .tables import DEFAULT_MAX_BYTES, TableInput, load_table


@dataclass(frozen=True)
class NewUser:
    """One user as the files describe them.

    items: history, oldest first (empty for a user known only by a profile); ratings: aligned with
    ``items`` when the interactions file has a rating column, else None; profile: the model's user
    fields this user has a value for (None without a profiles file or a row for this user).
    """

    items: tuple[str, ...] = ()
    ratings: tuple[float, ...] | None = None
    profile: dict[str, object] | None = None


def load_new_users(
    interactions: TableInput | None = None,
    profiles: TableInput | None = None,
    *,
    columns: ColumnMap = ColumnMap(),
    profile_id_col: str = USER,
    profile_fields: Sequence[str] = (),
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> dict[str, NewUser]:
    """Every user of either file, in id order.

    ``profile_fields`` are the user fields the model was trained on (``Catalog.user_fields``): a
    profile is only those fields, in that order, because any other column would change the text the
    encoder reads and the model never learned from it.  A profiles file with none of them raises
    :class:`DataValidationError` (it would give every user an empty profile without a word).
    """
    histories: dict[str, tuple[tuple[str, ...], tuple[float, ...] | None]] = {}
    if interactions is not None:
        frame = load_interactions(interactions, columns=columns, max_bytes=max_bytes)
        frame = frame.sort_values([USER, TIMESTAMP], kind="stable")
        rated = RATING in frame.columns
        for user, rows in frame.groupby(USER, sort=True):
            ratings = tuple(rows[RATING].astype(float)) if rated else None
            histories[str(user)] = (tuple(rows[ITEM].astype(str)), ratings)
    found = load_profiles(profiles, profile_id_col, profile_fields, max_bytes) if profiles is not None else {}
    return {
        user: NewUser(*histories.get(user, ((), None)), profile=found.get(user))
        for user in sorted(set(histories) | set(found))
    }


def load_profiles(
    source: TableInput, id_col: str = USER, fields: Sequence[str] = (), max_bytes: int = DEFAULT_MAX_BYTES
) -> dict[str, dict[str, object]]:
    """User id → the values of ``fields`` (empty cells left out) from a users table."""
    raw, label = load_table(source, "profiles", max_bytes, (id_col,))
    table = canonical_entities(raw, id_col, USER, "user", label)
    kept = [f for f in fields if f in table.columns]
    if fields and not kept:
        others = [c for c in table.columns if c != USER]
        raise DataValidationError(
            f"{cap(label)} has none of the model's user fields ({column_list(list(fields))}); it has "
            f"{column_list(others) if others else 'only the id column'}. Give the profile file the model was trained "
            "with, or rename its columns to those fields."
        )
    profiles = {}
    for row in table[[USER, *kept]].itertuples(index=False, name=None):
        values = {f: v for f, v in zip(kept, row[1:]) if not (pd.isna(v) or str(v).strip() == "")}
        if values:  # a row with every field empty describes nobody
            profiles[str(row[0])] = values
    return profiles
