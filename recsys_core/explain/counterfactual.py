"""The smallest change to a user's history that would move an item across the top-k boundary.

"What is the smallest set of my history items whose removal would make this item leave my top-10?"
and, for an item outside the top-k, the dual "…would put it in?".  The model is used as trained:
each candidate set is judged by re-scoring the whole catalogue for the user without those items
(``Recommender.score_many``), exactly as a recommendation would be served, so a returned set is
checked, never estimated.

The search, over the model's window (the latest ``max_history`` items; older ones reach the score
only by sliding into the window, so they are not candidates):

1. **Greedy.**  Grow a removal set one item at a time.  At each step every remaining window item is
   tried on top of the current set in one batched call of the small model (``HistoryGame``: the
   pair's score only), and the one that moves the score furthest towards the goal is added; the
   whole catalogue is then re-scored to see whether the item has crossed the boundary.  At most
   ``max_size`` items.
2. **Minimality.**  When the greedy set has ``s`` items, every set of fewer than ``s`` window items
   is checked by full re-scoring, smallest first, if there are at most ``exhaustive_budget`` of them:
   either one of them crosses (and is returned instead: the greedy set was not minimal) or none does,
   and the answer is *proven* minimal in size.  Past the budget, only the greedy set's own subsets
   with one item put back are checked (no item of the set is superfluous), and the answer is called
   heuristic.

Removing an item from the history also makes it eligible again, so the ranks after removal are among
the items the user has not seen *in that changed history*; that is what the recommender would serve.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass
from math import comb

import numpy as np

from ..progress import Checkpoint, Progress
from ..ratings import RatingScale
from ..recommender import Recommender, UserContext
from .history import HistoryGame
from .pair import full_rank, item_title

MAX_SIZE = 10  # largest removal set the greedy step grows
EXHAUSTIVE_BUDGET = 2_000  # smaller sets re-scored to prove minimality (20 window items: all pairs are 190)
RESCORE_BATCH = 64  # contexts per full-catalogue scoring call


@dataclass(frozen=True)
class RemovedItem:
    item_id: str
    title: str
    rating_label: str | None = None


@dataclass(frozen=True)
class Counterfactual:
    """The smallest history change found, checked by re-scoring the whole catalogue."""

    item_id: str
    title: str
    k: int
    goal: str  # "leave": the item is in the top-k and should leave it; "enter": the other way round
    rank_before: int
    score_before: float
    removed: tuple[RemovedItem, ...]  # empty when no set within the budget crosses the boundary
    rank_after: int | None
    score_after: float | None
    minimal: bool  # True: no smaller set of window items crosses (every one was re-scored)
    sets_checked: int  # removal sets re-scored over the whole catalogue
    seconds: float

    @property
    def found(self) -> bool:
        return self.rank_after is not None

    def summary(self) -> str:
        """The answer in plain words (titles are data: the caller shows this as text)."""
        inside = self.goal == "leave"
        where = f"is at rank {self.rank_before:,}, {'inside' if inside else 'outside'} the top {self.k}"
        if not self.found:
            return (f"“{self.title}” {where}. No removal of up to {MAX_SIZE} of the history items the model reads "
                    f"{'takes it out of' if inside else 'brings it into'} the top {self.k} "
                    f"({self.sets_checked:,} sets checked by re-scoring the catalogue).")
        names = ", ".join(f"“{r.title}”" + (f" (rated {r.rating_label})" if r.rating_label else "") for r in self.removed)
        n = len(self.removed)
        how_sure = ("no smaller set does: every smaller set was checked" if self.minimal
                    else "a smaller set may exist: the search was greedy, though no item of this set can be kept")
        return (f"“{self.title}” {where}. Without {names} in the history it would rank {self.rank_after:,} "
                f"(score {self.score_before:+.2f} → {self.score_after:+.2f}): "
                f"{n} item{'s' if n != 1 else ''} {'is' if n == 1 else 'are'} the smallest change found; {how_sure}.")

    def to_dict(self) -> dict:
        return {**asdict(self), "found": self.found, "summary": self.summary()}


def counterfactual(
    recommender: Recommender,
    ctx: UserContext,
    item: int,
    k: int = 10,
    *,
    max_size: int = MAX_SIZE,
    exhaustive_budget: int = EXHAUSTIVE_BUDGET,
    progress: Progress | None = None,
    cancel: Checkpoint | None = None,
) -> Counterfactual:
    """The smallest set of window history items whose removal moves ``item`` across the top-``k`` boundary."""
    started = time.perf_counter()
    say = progress or (lambda _f, _m: None)
    window = min(len(ctx.history), recommender.model.config.max_history)
    game = HistoryGame(recommender, ctx, item, window)
    scores = recommender.score_items(ctx)
    rank, score = full_rank(recommender, ctx, item, scores), float(scores[item])
    leave = rank <= k
    search = _Search(recommender, game, item, k, leave, cancel)

    say(0.0, "Greedy search over the history items")
    found = search.greedy(max_size)
    minimal = False
    if found is not None and len(found) > 1:
        smaller = sum(comb(window, j) for j in range(1, len(found)))
        if smaller <= exhaustive_budget:
            say(0.5, f"Checking the {smaller:,} smaller sets")
            found, minimal = search.smallest_below(found)
        else:
            say(0.5, "Checking that no item of the set can be kept")
            found = search.irreducible(found)
    elif found is not None:
        minimal = True  # one item: the empty set is the pair as served, which does not cross
    say(1.0, "Done")
    removed, rank_after, score_after = (), None, None
    if found is not None:
        slots = sorted(found)
        rank_after, score_after = search.outcome(slots)
        removed = tuple(_removed_item(recommender, ctx, s) for s in slots)
    return Counterfactual(
        item_id=recommender.catalog.item_ids[item], title=item_title(recommender, item), k=k,
        goal="leave" if leave else "enter", rank_before=rank, score_before=score, removed=removed,
        rank_after=rank_after, score_after=score_after, minimal=minimal, sets_checked=search.checked,
        seconds=time.perf_counter() - started,
    )


def _removed_item(recommender: Recommender, ctx: UserContext, slot: int) -> RemovedItem:
    position = len(ctx.history) - 1 - slot  # slot 0 is the newest item
    index = int(ctx.history[position])
    scale = recommender.model.config.rating_scale  # ratings are named only when the model reads them
    label = None
    if scale is not None and ctx.ratings is not None and np.isfinite(ctx.ratings[position]):
        label = RatingScale(*scale).stars(float(ctx.ratings[position]))
    return RemovedItem(recommender.catalog.item_ids[index], item_title(recommender, index), label)


class _Search:
    """Re-scoring of removal sets (window slots), counting each full-catalogue check."""

    def __init__(self, recommender: Recommender, game: HistoryGame, item: int, k: int, leave: bool,
                 cancel: Checkpoint | None):
        self.recommender, self.game, self.item, self.k, self.leave = recommender, game, item, k, leave
        self.cancel = cancel or (lambda: None)
        self.checked = 0
        self._outcomes: dict[tuple[int, ...], tuple[int, float]] = {}

    def outcomes(self, sets: list[tuple[int, ...]]) -> list[tuple[int, float]]:
        """(rank, score) of the item for the user without each set, by full re-scoring."""
        todo = [s for s in dict.fromkeys(sets) if s not in self._outcomes]
        for start in range(0, len(todo), RESCORE_BATCH):
            self.cancel()
            batch = todo[start : start + RESCORE_BATCH]
            self._outcomes.update(zip(batch, self.game.rescored(batch)))
            self.checked += len(batch)
        return [self._outcomes[s] for s in sets]

    def outcome(self, slots) -> tuple[int, float]:
        return self.outcomes([tuple(sorted(slots))])[0]

    def crosses(self, rank: int) -> bool:
        return rank > self.k if self.leave else rank <= self.k

    def greedy(self, max_size: int) -> tuple[int, ...] | None:
        chosen: list[int] = []
        for _ in range(min(max_size, self.game.window)):
            self.cancel()
            rest = [s for s in range(self.game.window) if s not in chosen]
            present = np.ones((len(rest), self.game.window), bool)
            present[:, chosen] = False
            present[np.arange(len(rest)), rest] = False
            pair_scores = self.game.scores(present)
            best = int(np.argmin(pair_scores) if self.leave else np.argmax(pair_scores))
            chosen.append(rest[best])
            if self.crosses(self.outcome(chosen)[0]):
                return tuple(sorted(chosen))
        return None

    def smallest_below(self, found: tuple[int, ...]) -> tuple[tuple[int, ...], bool]:
        """The first crossing set of fewer items than ``found``, smallest first; ``found`` if none (proven)."""
        for size in range(1, len(found)):
            sets = list(itertools.combinations(range(self.game.window), size))
            for (rank, _), slots in zip(self.outcomes(sets), sets):
                if self.crosses(rank):
                    return slots, True  # every set smaller than this one was checked before it
        return found, True

    def irreducible(self, found: tuple[int, ...]) -> tuple[int, ...]:
        """Put items of ``found`` back while the rest still crosses: no item of the result is superfluous."""
        current = list(found)
        changed = True
        while changed and len(current) > 1:
            changed = False
            for slot in list(current):
                rest = tuple(s for s in current if s != slot)
                if self.crosses(self.outcome(rest)[0]):
                    current, changed = list(rest), True
                    break
        return tuple(sorted(current))
