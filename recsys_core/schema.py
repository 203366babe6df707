"""Typed data passed between the loading, text, training and serving layers.

Ids are always strings once loaded (``"42"`` and ``42`` are the same user), so
that a CSV, a Parquet file and a typed-in id all agree.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

# Canonical column names inside a Dataset, whatever the uploaded files called them.
USER = "user_id"
ITEM = "item_id"
RATING = "rating"
TIMESTAMP = "timestamp"


@dataclass(frozen=True)
class ColumnMap:
    """Which columns of the uploaded interaction file hold what.

    ``rating``/``timestamp`` of ``None`` mean "use a column of that canonical
    name if there is one, otherwise go without".
    """

    user: str = USER
    item: str = ITEM
    rating: str | None = None
    timestamp: str | None = None


Severity = Literal["info", "warning"]


@dataclass(frozen=True)
class Notice:
    """One finding of validation that did not stop loading (e.g. duplicates dropped).

    ``severity`` is final: the loader decides it where it makes the notice, and every page and the CLI
    show it as given.  "warning": rows were dropped, or results may be poor or misleading (shown
    prominently, and again before training); "info": worth knowing, such as what a setting did.
    """

    code: str  # stable machine-readable key, e.g. "duplicate_interactions"
    message: str  # one sentence for the analyst
    count: int = 0
    severity: Severity = "info"

    @property
    def is_warning(self) -> bool:
        return self.severity == "warning"


@dataclass
class Dataset:
    """Validated, canonical data ready for text building and training.

    interactions: columns ``user_id`` (str), ``item_id`` (str), ``timestamp``
        (int64 unix seconds; the row order when the upload had none) and
        ``rating`` (float64) when the upload had ratings.  Sorted by user, then time.
    items: ``item_id`` (str, unique) plus metadata columns, as uploaded.
    users: ``user_id`` (str, unique) plus profile columns, or None.
    item_fields / user_fields: the metadata columns that become text, in order.
    notices: what validation fixed or wants the analyst to know.
    """

    interactions: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame | None
    item_fields: list[str]
    user_fields: list[str]
    has_ratings: bool = False
    has_timestamps: bool = False
    notices: list[Notice] = field(default_factory=list)

    @property
    def n_users(self) -> int:
        return int(self.interactions[USER].nunique())

    @property
    def n_items(self) -> int:
        return int(len(self.items))

    def summary(self) -> dict[str, int]:
        return {
            "interactions": int(len(self.interactions)),
            "users": self.n_users,
            "items": self.n_items,
            "users_with_profiles": 0 if self.users is None else int(len(self.users)),
        }


@dataclass
class Increment:
    """New data for a model that is already trained (``recsys_core.update``), validated and canonical.

    interactions: the new interactions, columns as ``Dataset.interactions`` (``rating`` only when the file
        had one), sorted by user, then time.
    items: ``item_id`` plus metadata columns for new items and for known items whose text changed, or None.
    users: ``user_id`` plus profile columns for new or changed profiles, or None.
    What the rows mean for one model (new or known, changed or not) is decided against its catalogue
    (``catalog_growth.grow_catalog``); loading only checks the files.
    """

    interactions: pd.DataFrame
    items: pd.DataFrame | None = None
    users: pd.DataFrame | None = None
    has_ratings: bool = False
    has_timestamps: bool = False
    notices: list[Notice] = field(default_factory=list)
