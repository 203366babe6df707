"""One way to score many users × many items: the ``Scorer`` interface and its memory budget.

Serving, evaluation, batch recommendation and the CLI all score through a
``Scorer``; the hybrid model and every baseline implement it.  Work is cut
into blocks of at most ``budget`` (user, item) pairs, the single knob that
bounds the memory of a scoring call (the model's activations grow as
users × items × hidden size; a baseline's dense score block as users × catalogue).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .baselines import Baseline
from .batching import history_matrix, make_user_input
from .model import HybridRecommender
from .ratings import RatingScale, liked

# (user, item) pairs scored per block: the model's (B, C, 3·dim) activations stay near 0.4 GB.
DEFAULT_BUDGET = 500_000


@dataclass(frozen=True)
class Users:
    """The user side of a scoring call: one history (item indices, oldest first) and profile vector per user,
    and, with explicit ratings, the ratings of each history (aligned; None for a user given without)."""

    histories: Sequence[np.ndarray]
    profiles: Sequence[np.ndarray | None]
    ratings: Sequence[np.ndarray | None] | None = None

    def __post_init__(self) -> None:
        if len(self.histories) != len(self.profiles):
            raise ValueError(f"{len(self.histories)} histories but {len(self.profiles)} profiles.")
        if self.ratings is not None and len(self.ratings) != len(self.histories):
            raise ValueError(f"{len(self.histories)} histories but {len(self.ratings)} rating lists.")

    def __len__(self) -> int:
        return len(self.histories)

    def rows(self, start: int, stop: int) -> "Users":
        ratings = None if self.ratings is None else self.ratings[start:stop]
        return Users(self.histories[start:stop], self.profiles[start:stop], ratings)


class Scorer(ABC):
    """Scores (logits or baseline scores; higher is better) of items for users, in bounded blocks."""

    name: str

    def __init__(self, n_items: int, budget: int = DEFAULT_BUDGET):
        if budget < 1:
            raise ValueError(f"budget must be at least 1 (user, item) pair, got {budget}.")
        self.n_items = n_items
        self.budget = budget

    def score(self, users: Users, items: np.ndarray | None = None) -> np.ndarray:
        """Scores ``(len(users), len(items))`` float32; ``items`` are catalogue indices (default: all)."""
        items = np.arange(self.n_items) if items is None else np.asarray(items, dtype=np.int64)
        return self._in_blocks(users, len(items), lambda block, cols: self._score_block(block, items[cols]))

    def _in_blocks(self, users: Users, n_items: int, score_block: Callable[[Users, slice], np.ndarray]) -> np.ndarray:
        """``(len(users), n_items)`` float32 filled block by block within the budget: ``score_block(users, cols)``
        scores one block of users against the requested items at positions ``cols``."""
        out = np.empty((len(users), n_items), dtype=np.float32)
        if len(users) == 0 or n_items == 0:
            return out
        item_block, user_block = self._blocks(n_items)
        for u0 in range(0, len(users), user_block):
            block = users.rows(u0, u0 + user_block)
            for i0 in range(0, n_items, item_block):
                cols = slice(i0, min(i0 + item_block, n_items))
                out[u0 : u0 + len(block), cols] = score_block(block, cols)
        return out

    def _blocks(self, n_requested: int) -> tuple[int, int]:
        """(items, users) per block for ``n_requested`` items a user: whole users when a user's row fits
        the budget, else item slices of one user."""
        item_block = min(n_requested, self.budget)
        return item_block, max(1, self.budget // item_block)

    @abstractmethod
    def _score_block(self, users: Users, items: np.ndarray) -> np.ndarray:
        """Scores (len(users), len(items)) of one block within the budget."""


class ModelScorer(Scorer):
    """The hybrid model over a catalogue's item vectors."""

    name = "HybridBERT"

    def __init__(self, model: HybridRecommender, item_vectors: np.ndarray, budget: int = DEFAULT_BUDGET):
        super().__init__(len(item_vectors), budget)
        self.model = model
        self.item_vectors = torch.from_numpy(np.ascontiguousarray(item_vectors))

    def _score_block(self, users: Users, items: np.ndarray, vectors: torch.Tensor | None = None) -> np.ndarray:
        """Scores of one block; ``vectors`` are the candidates' text vectors (default: the catalogue's)."""
        config = self.model.config
        user = make_user_input(users.histories, users.profiles, self.item_vectors, config.max_history,
                               users.ratings, config.rating_scale)
        idx = torch.from_numpy(items)
        with torch.inference_mode():
            return self.model.score(user, self.item_vectors[idx] if vectors is None else vectors, idx).numpy()

    def score_vectors(self, users: Users, vectors: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Scores ``(len(users), len(items))`` of catalogue items ``items`` as if their text vectors were
        ``vectors`` (C, T): what-if edits and contrast coalitions.  Histories still read the catalogue's
        vectors; the table is never written, so concurrent callers share one scorer safely."""
        items = np.asarray(items, dtype=np.int64)
        vectors = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
        return self._in_blocks(users, len(items), lambda block, cols: self._score_block(block, items[cols], vectors[cols]))


class BaselineScorer(Scorer):
    """A fitted classic baseline; histories are weighted by recency as in training.

    With a rating ``scale`` a baseline reads only the likes of a rated history (``ratings.liked``), as it
    was fitted on likes: co-occurrence methods have no notion of a disliked item."""

    def __init__(self, baseline: Baseline, n_items: int, budget: int = DEFAULT_BUDGET, scale: RatingScale | None = None):
        super().__init__(n_items, budget)
        self.baseline = baseline
        self.name = baseline.name
        self.scale = scale

    def _blocks(self, n_requested: int) -> tuple[int, int]:
        # A baseline scores the whole catalogue for each user whatever items are asked for,
        # so a block is whole users, as many as the budget allows at catalogue width.
        return n_requested, max(1, self.budget // max(self.n_items, 1))

    def _score_block(self, users: Users, items: np.ndarray) -> np.ndarray:
        histories = list(users.histories)
        if self.scale is not None and users.ratings is not None:
            histories = [h if r is None else h[liked(r, self.scale)] for h, r in zip(histories, users.ratings)]
        return self.baseline.score(history_matrix(histories, self.n_items))[:, items]


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores of each row, best first (no full sort)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)
