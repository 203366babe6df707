"""What each history item adds to a pair's score through *every* path, by removing it.

A history item reaches the score through its text vector, its id embedding,
its recency (slot position embedding and recency logit) and the model's
candidate-conditioned attention, which also re-weights every other item.
Text IG (``levels.py``) sees only the first path.  Here every item of the
model's window (the latest ≤ 20, newest first) is judged by the game

    v(S) = score of the pair when the window items not in S are removed from the history,

removed exactly as ``what_if`` removes them (the remaining items move up a
slot, older items beyond the window slide in).  An item's **full-path
contribution** is its removal effect ``v(all) − v(all but k)``: one batched
re-score of the small model for the whole window, no text re-encoded.

They add up with one explicit remainder:

    Σ_k contribution_k + together = score − v(∅),

``v(∅)`` being the score without the window's items and ``together`` what the
items do jointly beyond their single removals (items that stand in for each
other: removing any one changes little, removing all changes much).

Why removal and not an additive split (both measured by
``bench/history_agreement.py``, see docs/explanations.md): the demo model
attends mostly to the newest items, and a removed item's place is taken by the
next one, so items substitute for each other.  Shapley values in this game and
integrated gradients over a masked→present gate on each slot's whole
representation (both in the bench script, built on ``HistoryGame``) credit
substitutes with large shares that removing them does not bear out.

Nothing shared is mutated, so every thread gets the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..batching import make_user_input
from ..recommender import Recommender, UserContext
from .pair import full_rank
from .types import HistoryContribution

ROWS_PER_BATCH = 512  # variant histories re-scored per model call
REMOVAL_TOP = 5  # items whose removal also gets a full-catalogue rank (one catalogue scoring each)


@dataclass
class HistoryGame:
    """The pair's score as a function of which window items are present (see the module docstring)."""

    recommender: Recommender
    ctx: UserContext
    item: int
    window: int  # number of players: the latest ``window`` history items, slot 0 = newest

    def without(self, absent: np.ndarray) -> UserContext:
        """The user (history oldest first, with its ratings) without the window slots marked in ``absent`` (H,) bool.

        By slot, not by id: an item the user met twice keeps its other occurrence (``what_if`` with that
        id removes both; the two agree whenever an id occurs once).
        """
        n = len(self.ctx.history)
        return self.ctx.without(n - 1 - np.flatnonzero(absent))

    def without_slots(self, slots) -> UserContext:
        """The user without the window items at ``slots`` (0 = newest)."""
        absent = np.zeros(self.window, bool)
        absent[list(slots)] = True
        return self.without(absent)

    def scores(self, present: np.ndarray) -> np.ndarray:
        """Scores (B,) for presence masks (B, H) over the window slots."""
        model = self.recommender.model
        vectors = torch.from_numpy(self.recommender.catalog.item_vectors)
        idx = torch.tensor([self.item])
        out = np.empty(len(present))
        with torch.inference_mode():
            for start in range(0, len(present), ROWS_PER_BATCH):
                rows = present[start : start + ROWS_PER_BATCH]
                variants = [self.without(~row) for row in rows]
                user = make_user_input([v.history for v in variants], [self.ctx.profile_vector] * len(rows), vectors,
                                       model.config.max_history, [v.ratings for v in variants], model.config.rating_scale)
                out[start : start + len(rows)] = model.score(user, vectors[idx], idx)[:, 0].double().numpy()
        return out

    def rescored(self, sets) -> list[tuple[int, float]]:
        """(rank, score) of the item for the user without each set of window slots, by re-scoring the whole
        catalogue in one batched call: the rank among the items unseen in *that* history (a removed item is
        eligible again), as the recommender would serve it.  Callers bound the number of sets per call."""
        contexts = [self.without_slots(slots) for slots in sets]
        if not contexts:
            return []
        scores = self.recommender.score_many(contexts)
        return [(full_rank(self.recommender, c, self.item, row), float(row[self.item])) for c, row in zip(contexts, scores)]


@dataclass
class Removal:
    """The pair after removing one window item (the same change as ``what_if(remove_history=[it])``)."""

    slot: int
    score: float  # score without the item
    rank: int  # rank without the item, among the items the user has not seen (1 = top)


@dataclass
class HistoryPaths:
    """Full-path contributions (removal effects) of the window items, and ranks without the largest ones."""

    contributions: np.ndarray  # (h,) score − score without item k, slot order (0 = newest)
    score: float  # v(all): the served score
    empty_score: float  # v(∅): the score without the window's items (older ones slide in)
    removals: dict[int, Removal]  # slot → the pair without that item (the ``top`` largest |contributions|)

    @property
    def together(self) -> float:
        """What the window's items do jointly beyond their single removals: the remainder that makes
        ``Σ contributions + together = score − empty_score`` exact."""
        return self.score - self.empty_score - float(self.contributions.sum())


def history_paths(recommender: Recommender, ctx: UserContext, item: int, window: int, top: int = REMOVAL_TOP) -> HistoryPaths:
    """Removal effect of each of the latest ``window`` history items, the score without all of them, and
    the full-catalogue rank without each of the ``top`` items by |effect|.  Only the small recommender runs."""
    window = min(window, len(ctx.history), recommender.model.config.max_history)
    game = HistoryGame(recommender, ctx, item, window)
    effects, full, empty = leave_one_out(game)
    chosen = [int(s) for s in np.argsort(-np.abs(effects), kind="stable")[:top]]
    return HistoryPaths(effects, full, empty, removal_effects(game, chosen))


def full_path_items(items: list[HistoryContribution], paths: HistoryPaths) -> list[HistoryContribution]:
    """Text-only history contributions (``rollup.history_contributions``) turned into full-path ones:
    ``attribution`` becomes the removal effect, the text part is kept as ``text_attribution`` and the rest
    is ``other_attribution``; largest |attribution| first."""
    out = []
    for h in items:
        if h.position >= len(paths.contributions):
            out.append(h)
            continue
        total = float(paths.contributions[h.position])
        removal = paths.removals.get(h.position)
        out.append(
            replace(
                h,
                attribution=total,
                text_attribution=h.attribution,
                other_attribution=total - h.attribution,
                score_without=paths.score - total,
                rank_without=removal.rank if removal is not None else None,
            )
        )
    return sorted(out, key=lambda h: -abs(h.attribution))


def removal_effects(game: HistoryGame, slots: list[int]) -> dict[int, Removal]:
    """Score and full rank of the pair with each of ``slots`` removed on its own."""
    if not slots:
        return {}
    outcomes = game.rescored([(slot,) for slot in slots])
    return {slot: Removal(slot, score, rank) for slot, (rank, score) in zip(slots, outcomes)}


def leave_one_out(game: HistoryGame) -> tuple[np.ndarray, float, float]:
    """(h,) removal effect of every window item (score − score without it), v(all) and v(∅): one batched re-score."""
    h = game.window
    present = np.ones((h + 2, h), bool)
    present[np.arange(1, h + 1), np.arange(h)] = False
    present[-1] = False
    values = game.scores(present)
    return values[0] - values[1 : h + 1], float(values[0]), float(values[-1])
