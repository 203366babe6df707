"""The encoded catalogue: item and user texts, their vectors, and the id ↔ index maps.

Items are encoded once each; a user's history is represented by the vectors
of the items in it, so no item text is ever encoded twice.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import DataValidationError
from .progress import Progress
from .schema import ITEM, RATING, TIMESTAMP, USER, Dataset
from .text import FieldText, build_field_text, build_texts

# texts (and an optional progress callback) → (len(texts), dim) float32 vectors
EncodeFn = Callable[[Sequence[str], Progress | None], np.ndarray]


@dataclass
class Catalog:
    """Everything the model needs about items and users, indexed by position.

    item_vectors: (n_items, T) pooled encoder vectors of the item texts.
    profile_vectors: (n_profiles, T) vectors of user profile texts; ``profile_index`` maps user id → row.
    histories: user id → item indices, oldest first (all known interactions).
    ratings: user id → the rating of each history item (float32, aligned with ``histories``; NaN where
        unrated); empty when the data had no ratings.
    times: user id → unix seconds of each history item (aligned); empty when the data had no
        timestamps (its row order is no date) or for models saved before times were kept.
    """

    item_ids: list[str]
    item_texts: list[FieldText]
    item_vectors: np.ndarray
    item_fields: list[str]
    user_fields: list[str]
    profile_ids: list[str]
    profile_texts: list[FieldText]
    profile_vectors: np.ndarray
    histories: dict[str, np.ndarray]
    ratings: dict[str, np.ndarray] = field(default_factory=dict)
    times: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.item_index = {item: i for i, item in enumerate(self.item_ids)}
        self.profile_index = {user: i for i, user in enumerate(self.profile_ids)}

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def text_dim(self) -> int:
        return int(self.item_vectors.shape[1])

    def profile_vector(self, user_id: str) -> np.ndarray | None:
        row = self.profile_index.get(user_id)
        return None if row is None else self.profile_vectors[row]

    def profile_text(self, user_id: str) -> FieldText | None:
        row = self.profile_index.get(user_id)
        return None if row is None else self.profile_texts[row]

    def ratings_of(self, user_id: str) -> np.ndarray | None:
        """The ratings of a known user's history (aligned with ``histories``), or None without ratings."""
        return self.ratings.get(user_id)

    def to_dataset(self) -> Dataset:
        """The data this catalogue holds, as a :class:`Dataset` to train on again (an update's retrain
        comparison): each item's and profile's field values, and every history with its ratings and times
        (without times, each history's order stands in for them)."""
        users = list(self.histories)
        lengths = [len(self.histories[u]) for u in users]
        frame = {
            USER: np.repeat(np.array(users, dtype=object), lengths),
            ITEM: np.array(self.item_ids, dtype=object)[np.concatenate([np.zeros(0, np.int64), *self.histories.values()])],
            TIMESTAMP: np.concatenate([np.zeros(0, np.int64)] + [
                self.times[u] if self.times else np.arange(n, dtype=np.int64) for u, n in zip(users, lengths)]),
        }
        if self.ratings:
            frame[RATING] = np.concatenate([np.zeros(0, np.float64)] + [self.ratings[u].astype(np.float64) for u in users])
        items = pd.DataFrame([{ITEM: i, **t.values()} for i, t in zip(self.item_ids, self.item_texts)],
                             columns=[ITEM, *self.item_fields])
        profiles = (pd.DataFrame([{USER: u, **t.values()} for u, t in zip(self.profile_ids, self.profile_texts)],
                                 columns=[USER, *self.user_fields]) if self.profile_ids else None)
        return Dataset(pd.DataFrame(frame), items, profiles, list(self.item_fields),
                       list(self.user_fields) if profiles is not None else [],
                       has_ratings=bool(self.ratings), has_timestamps=bool(self.times))

    def indices(self, item_ids) -> np.ndarray:
        """Catalogue indices of known item ids, in order; unknown ids are skipped."""
        return np.array([self.item_index[i] for i in item_ids if i in self.item_index], dtype=np.int64)


@dataclass(frozen=True)
class UserEvents:
    """One user's interactions, oldest first: item indices, unix seconds, ratings (None without)."""

    items: np.ndarray
    times: np.ndarray
    ratings: np.ndarray | None = None

    def where(self, keep: np.ndarray) -> "UserEvents":
        return UserEvents(self.items[keep], self.times[keep], None if self.ratings is None else self.ratings[keep])


def timed_histories(interactions: pd.DataFrame, item_index: dict[str, int]) -> dict[str, UserEvents]:
    """Each user's interactions, oldest first; items missing from ``item_index`` are skipped.

    Ratings come along when the frame has a rating column."""
    has_ratings = RATING in interactions.columns
    frame = interactions[[USER, ITEM, TIMESTAMP] + ([RATING] if has_ratings else [])].copy()
    frame["_idx"] = frame[ITEM].map(item_index)
    frame = frame.dropna(subset=["_idx"]).sort_values([USER, TIMESTAMP], kind="stable")
    return {
        str(u): UserEvents(
            g["_idx"].to_numpy(np.int64),
            g[TIMESTAMP].to_numpy(np.int64),
            g[RATING].to_numpy(np.float32) if has_ratings else None,
        )
        for u, g in frame.groupby(USER, sort=False)
    }


def build_catalog(dataset: Dataset, encode: EncodeFn, progress: Progress | None = None) -> Catalog:
    """Build texts for every item and profile and encode them with ``encode``.

    ``encode`` is usually ``TextEncoder.encode`` (through its cache); the pipeline
    hands in a Ray-backed one (``encoding.encoder_for``) when the job runs on Ray.
    """
    items = dataset.items
    item_ids = items[ITEM].astype(str).tolist()
    texts = build_texts(items, ITEM, dataset.item_fields)
    item_texts = [texts.get(i) or build_field_text({}, []) for i in item_ids]
    if item_ids and not any(t.text for t in item_texts):  # load_dataset says so first; this guards other callers
        raise DataValidationError(
            f"No item has any text in the fields {', '.join(dataset.item_fields) or '(none)'}: "
            "the model learns from item text. Choose fields that hold text for the items."
        )
    profile_ids: list[str] = []
    profile_texts: list[FieldText] = []
    if dataset.users is not None and dataset.user_fields:
        for uid, ft in build_texts(dataset.users, USER, dataset.user_fields).items():
            if ft.text:
                profile_ids.append(uid)
                profile_texts.append(ft)
    all_texts = [t.text for t in item_texts] + [t.text for t in profile_texts]
    vectors = encode(all_texts, progress)
    n = len(item_ids)
    index = {item: i for i, item in enumerate(item_ids)}
    events = timed_histories(dataset.interactions, index)
    return Catalog(
        item_ids=item_ids,
        item_texts=item_texts,
        item_vectors=vectors[:n],
        item_fields=list(dataset.item_fields),
        user_fields=list(dataset.user_fields),
        profile_ids=profile_ids,
        profile_texts=profile_texts,
        profile_vectors=vectors[n:].reshape(len(profile_ids), vectors.shape[1]) if len(vectors) else vectors,
        histories={u: e.items for u, e in events.items()},
        ratings={u: e.ratings for u, e in events.items() if e.ratings is not None} if dataset.has_ratings else {},
        times={u: e.times for u, e in events.items()} if dataset.has_timestamps else {},
    )
