"""The choices an analyst makes when loading data, as one typed, JSON-safe object: :class:`LoadOptions`.

``load_dataset(interactions, items, users, **options.kwargs())`` loads with them; ``to_dict`` /
``from_dict`` store them (the dashboard reloads a session's uploads with the same options).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..schema import ITEM, USER, ColumnMap


@dataclass(frozen=True)
class LoadOptions:
    """The keyword arguments of :func:`~recsys_core.loading.load_dataset` that say how to read the files.

    Everything but ``max_bytes`` (a limit of the machine, not a choice about the data).  Sequences are
    tuples so that the options are hashable; build from lists and dicts with :meth:`of`.
    """

    columns: ColumnMap = ColumnMap()
    item_fields: tuple[str, ...] | None = None
    user_fields: tuple[str, ...] | None = None
    min_rating: float | None = None
    item_id_col: str = ITEM
    user_id_col: str = USER
    rename: tuple[tuple[str, str], ...] | None = None  # (old, new) pairs, in order

    @classmethod
    def of(cls, *, columns: ColumnMap = ColumnMap(), item_fields: Sequence[str] | None = None,
           user_fields: Sequence[str] | None = None, min_rating: float | None = None,
           item_id_col: str = ITEM, user_id_col: str = USER,
           rename: Mapping[str, str] | None = None) -> LoadOptions:
        """The options from ``load_dataset``'s own keyword arguments (lists, a rename dict)."""
        return cls(
            columns=columns,
            item_fields=None if item_fields is None else tuple(item_fields),
            user_fields=None if user_fields is None else tuple(user_fields),
            min_rating=None if min_rating is None else float(min_rating),
            item_id_col=item_id_col, user_id_col=user_id_col,
            rename=None if rename is None else tuple(rename.items()),
        )

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``load_dataset(interactions, items, users, **options.kwargs())``."""
        return {
            "columns": self.columns, "item_fields": self.item_fields, "user_fields": self.user_fields,
            "min_rating": self.min_rating, "item_id_col": self.item_id_col, "user_id_col": self.user_id_col,
            "rename": None if self.rename is None else dict(self.rename),
        }

    def to_dict(self) -> dict:
        """Plain JSON types only; :meth:`from_dict` reads it back."""
        return {
            "columns": {"user": self.columns.user, "item": self.columns.item,
                        "rating": self.columns.rating, "timestamp": self.columns.timestamp},
            "item_fields": None if self.item_fields is None else list(self.item_fields),
            "user_fields": None if self.user_fields is None else list(self.user_fields),
            "min_rating": self.min_rating,
            "item_id_col": self.item_id_col,
            "user_id_col": self.user_id_col,
            "rename": None if self.rename is None else [list(pair) for pair in self.rename],
        }

    @classmethod
    def from_dict(cls, data: object) -> LoadOptions:
        """Strictly typed: anything unexpected raises ValueError (or KeyError for a missing key)."""
        if not isinstance(data, dict):
            raise ValueError("options are not an object")
        columns = data["columns"]
        if not isinstance(columns, dict):
            raise ValueError("columns are not an object")
        rating = data["min_rating"]
        if rating is not None and (isinstance(rating, bool) or not isinstance(rating, (int, float))
                                   or not math.isfinite(rating)):
            raise ValueError("min_rating is not a number")
        rename = data["rename"]
        return cls(
            columns=ColumnMap(user=_text(columns["user"]), item=_text(columns["item"]),
                              rating=_text_or_none(columns["rating"]), timestamp=_text_or_none(columns["timestamp"])),
            item_fields=_texts_or_none(data["item_fields"]),
            user_fields=_texts_or_none(data["user_fields"]),
            min_rating=None if rating is None else float(rating),
            item_id_col=_text(data["item_id_col"]),
            user_id_col=_text(data["user_id_col"]),
            rename=None if rename is None else tuple((_text(p[0]), _text(p[1])) for p in _pairs(rename)),
        )


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, found {type(value).__name__}")
    return value


def _text_or_none(value: object) -> str | None:
    return None if value is None else _text(value)


def _texts_or_none(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError("expected a list of names")
    return tuple(_text(v) for v in value)


def _pairs(value: object) -> list:
    if not isinstance(value, list) or not all(isinstance(p, list) and len(p) == 2 for p in value):
        raise ValueError("expected a list of [old, new] pairs")
    return value
