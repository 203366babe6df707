"""A catalogue grown by new data: new items and users added, changed texts re-encoded, histories extended.

An incremental update (``recsys_core.update``) starts here.  Only the texts that are new or changed are
encoded; every other vector is reused, so adding a week of data to a 100k-item catalogue costs the new
items, not the catalogue.  Existing items keep their index (the model's id-embedding rows follow the
index), new items come after them.  The catalogue passed in is never changed: a model other sessions
are serving keeps its own.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .catalog import Catalog, EncodeFn
from .errors import DataValidationError
from .loading.messages import column_list
from .progress import Progress
from .schema import ITEM, RATING, TIMESTAMP, USER, Increment, Notice
from .text import FieldText, build_field_text


@dataclass(frozen=True)
class CatalogChanges:
    """What new data changed in a catalogue.

    new_positions: user → a bool per item of their grown history (oldest first), True where the
        interaction is new; only users with new interactions are listed.
    """

    added_items: tuple[str, ...] = ()
    changed_items: tuple[str, ...] = ()
    added_users: tuple[str, ...] = ()  # users with neither a history nor a profile before
    extended_users: tuple[str, ...] = ()  # known users given new interactions
    added_interactions: int = 0
    repeats_skipped: int = 0  # new rows for an item already in that user's history
    added_profiles: int = 0
    changed_profiles: int = 0
    new_positions: Mapping[str, np.ndarray] = field(default_factory=dict)
    notices: tuple[Notice, ...] = ()


def grow_catalog(
    catalog: Catalog, increment: Increment, encode: EncodeFn, progress: Progress | None = None
) -> tuple[Catalog, CatalogChanges]:
    """``catalog`` with ``increment`` added, and what changed.

    Raises :class:`DataValidationError` (nothing changed) when the new data cannot be read by this model:
    interactions with items that are in neither the catalogue nor the items file, no ratings where the
    model's data had them, no timestamps where it had them (new rows could not be put in order), an
    items or users file with none of the model's fields, new items without text, or profiles for a
    model trained without them.
    """
    notices = list(increment.notices)
    added_ids, added_texts, changed_rows, changed_texts = _item_texts(catalog, increment.items)
    index = dict(catalog.item_index)
    index.update({item: catalog.n_items + k for k, item in enumerate(added_ids)})
    _check_interactions(catalog, increment, index, notices)
    profiles = _profile_texts(catalog, increment.users)
    new_profile_ids = [u for u, (row, _) in profiles.items() if row is None]
    changed_profile_rows = [row for row, _ in profiles.values() if row is not None]
    texts = ([t.text for t in added_texts] + [t.text for t in changed_texts]
             + [profiles[u][1].text for u in new_profile_ids]
             + [t.text for row, t in profiles.values() if row is not None])
    vectors = encode(texts, progress) if texts else np.zeros((0, catalog.text_dim), np.float32)
    cut = np.cumsum([len(added_texts), len(changed_texts), len(new_profile_ids)])
    added_vecs, changed_vecs, new_profile_vecs, changed_profile_vecs = np.split(vectors, cut)

    item_vectors = np.concatenate([catalog.item_vectors, added_vecs.astype(catalog.item_vectors.dtype)])
    item_texts = list(catalog.item_texts) + added_texts
    for row, text, vector in zip(changed_rows, changed_texts, changed_vecs):
        item_texts[row], item_vectors[row] = text, vector
    profile_vectors = np.concatenate([catalog.profile_vectors.reshape(-1, catalog.text_dim),
                                      new_profile_vecs.astype(catalog.item_vectors.dtype)])
    profile_texts = list(catalog.profile_texts) + [profiles[u][1] for u in new_profile_ids]
    for row, vector in zip(changed_profile_rows, changed_profile_vecs):
        profile_texts[row], profile_vectors[row] = profiles[catalog.profile_ids[row]][1], vector

    histories, ratings, times = dict(catalog.histories), dict(catalog.ratings), dict(catalog.times)
    new_positions: dict[str, np.ndarray] = {}
    repeats = added = 0
    for user, rows in increment.interactions.groupby(USER, sort=False):
        user = str(user)
        items = rows[ITEM].map(index).to_numpy(np.int64)
        old = histories.get(user, np.zeros(0, np.int64))
        fresh = ~np.isin(items, old)  # an item already in the history is no new interaction
        repeats += int((~fresh).sum())
        if not fresh.any():
            continue
        merged = np.concatenate([old, items[fresh]])
        is_new = np.concatenate([np.zeros(len(old), bool), np.ones(int(fresh.sum()), bool)])
        order = np.arange(len(merged))
        if catalog.times:  # new rows may fall between old ones: the history stays oldest first
            stamps = np.concatenate([times.get(user, np.zeros(0, np.int64)),
                                     rows[TIMESTAMP].to_numpy(np.int64)[fresh]])
            order = np.argsort(stamps, kind="stable")
            times[user] = stamps[order]
        if catalog.ratings:
            given = rows[RATING].to_numpy(np.float32)[fresh]
            ratings[user] = np.concatenate([ratings.get(user, np.zeros(0, np.float32)), given])[order]
        histories[user], new_positions[user] = merged[order], is_new[order]
        added += int(fresh.sum())
    if repeats:
        notices.append(Notice("repeats_skipped", f"{repeats:,} new interactions were already in their user's "
                              "history and were skipped (each user–item pair counts once).", repeats))

    grown = Catalog(
        item_ids=list(catalog.item_ids) + added_ids,
        item_texts=item_texts,
        item_vectors=item_vectors,
        item_fields=list(catalog.item_fields),
        user_fields=list(catalog.user_fields),
        profile_ids=list(catalog.profile_ids) + new_profile_ids,
        profile_texts=profile_texts,
        profile_vectors=profile_vectors,
        histories=histories,
        ratings=ratings,
        times=times,
    )
    known = set(catalog.histories) | set(catalog.profile_index)
    touched = set(new_positions) | set(new_profile_ids)
    return grown, CatalogChanges(
        added_items=tuple(added_ids),
        changed_items=tuple(catalog.item_ids[r] for r in changed_rows),
        added_users=tuple(sorted(touched - known)),
        extended_users=tuple(sorted(u for u in new_positions if u in catalog.histories)),
        added_interactions=added,
        repeats_skipped=repeats,
        added_profiles=len(new_profile_ids),
        changed_profiles=len(changed_profile_rows),
        new_positions=new_positions,
        notices=tuple(notices),
    )


def _some(ids: list[str], shown: int = 3) -> str:
    """"e.g. 'i9', 'i12' and 40 more": the first ids of a list, kept short for a message."""
    head = ", ".join(repr(i[:30]) for i in ids[:shown])
    return f"e.g. {head}" + (f" and {len(ids) - shown:,} more" if len(ids) > shown else "")


def _merged_text(old: FieldText | None, record: dict, fields: list[str], present: list[str]) -> FieldText:
    """The text of a row: a new entity's fields, or a known one's with the non-empty given values replaced
    (a column the file lacks, or an empty cell, keeps the known value)."""
    values: dict[str, object] = old.values() if old is not None else {}
    for name in present:
        value = record.get(name)
        if not (value is None or pd.isna(value) or str(value).strip() == ""):
            values[name] = value
    return build_field_text(values, fields)


def _fields_present(table: pd.DataFrame, fields: list[str], id_col: str, label: str, role: str) -> list[str]:
    present = [f for f in fields if f in table.columns]
    if not present:
        others = [c for c in table.columns if c != id_col]
        raise DataValidationError(
            f"The {label} file has none of the model's {role} fields ({column_list(fields)}); it has "
            f"{column_list(others) if others else 'only the id column'}. Name its columns like the fields the "
            "model was trained on."
        )
    return present


def _item_texts(catalog: Catalog, items: pd.DataFrame | None):
    """(new ids, their texts, rows of known items whose text changed, the new texts)."""
    added_ids: list[str] = []
    added_texts: list[FieldText] = []
    changed_rows: list[int] = []
    changed_texts: list[FieldText] = []
    if items is None:
        return added_ids, added_texts, changed_rows, changed_texts
    fields = catalog.item_fields
    present = _fields_present(items, fields, ITEM, "new items", "item")
    without_text = []
    for record in items[[ITEM, *present]].to_dict("records"):
        item = str(record[ITEM])
        row = catalog.item_index.get(item)
        text = _merged_text(None if row is None else catalog.item_texts[row], record, fields, present)
        if row is None:
            if not text.text:
                without_text.append(item)
            added_ids.append(item)
            added_texts.append(text)
        elif text.text != catalog.item_texts[row].text:
            changed_rows.append(row)
            changed_texts.append(text)
    if without_text:
        raise DataValidationError(
            f"{len(without_text):,} new items have no text in {column_list(fields)} "
            f"({_some(without_text)}): the model scores a new item from its text. Fill in their metadata."
        )
    return added_ids, added_texts, changed_rows, changed_texts


def _check_interactions(catalog: Catalog, increment: Increment, index: Mapping[str, int], notices: list[Notice]) -> None:
    inter = increment.interactions
    unknown = ~inter[ITEM].isin(index.keys())
    if unknown.any():
        missing = list(dict.fromkeys(inter.loc[unknown, ITEM].astype(str)))
        raise DataValidationError(
            f"{int(unknown.sum()):,} new interactions are with {len(missing):,} items that are neither in the "
            f"model's catalogue nor in the new items file ({_some(missing)}): give those items' metadata "
            "in a new items file, or check the item id column."
        )
    if catalog.ratings and not increment.has_ratings:
        raise DataValidationError(
            "The model's data had ratings, the new interactions have no rating column: add the ratings "
            "(or name the rating column), so new histories mean what the old ones do."
        )
    if increment.has_ratings and not catalog.ratings:
        notices.append(Notice("ratings_ignored", "The new interactions have ratings, the model's data had none: "
                              "the ratings are ignored (every interaction counts as a like, as before)."))
    if catalog.times and not increment.has_timestamps:
        raise DataValidationError(
            "The model's data had timestamps, the new interactions have none: add a timestamp column (or name "
            "it), so new interactions can be put in order with the old ones."
        )


def _profile_texts(catalog: Catalog, users: pd.DataFrame | None) -> dict[str, tuple[int | None, FieldText]]:
    """user → (their profile row, or None for a new profile; the new text), for new or changed profiles."""
    if users is None:
        return {}
    if not catalog.user_fields:
        raise DataValidationError(
            "This model was trained without user profiles, so it cannot read a new users file: leave it out "
            "(new users are served from their interactions)."
        )
    fields = catalog.user_fields
    present = _fields_present(users, fields, USER, "new users", "user")
    found: dict[str, tuple[int | None, FieldText]] = {}
    for record in users[[USER, *present]].to_dict("records"):
        user = str(record[USER])
        row = catalog.profile_index.get(user)
        text = _merged_text(None if row is None else catalog.profile_texts[row], record, fields, present)
        if text.text and (row is None or text.text != catalog.profile_texts[row].text):
            found[user] = (row, text)
    return found
