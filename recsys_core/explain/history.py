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
representation (``shapley_values``, ``gate_integrated_gradients``, kept for
that comparison) both credit substitutes with large shares that removing them
does not bear out.

Nothing shared is mutated; the sampling generator is local and seeded, so
every thread gets the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from math import factorial

import numpy as np
import torch

from ..batching import make_user_input
from ..recommender import Recommender, UserContext
from .integrated_gradients import integration_rule
from .pair import full_rank
from .types import HistoryContribution

EXACT_MAX = 10  # windows up to this many items: exact Shapley over all 2^H subsets (≤ 1024 re-scores)
PERMUTATIONS = 96  # otherwise this many seeded permutations (half of them the reverses of the others)
SEED = 0
ROWS_PER_BATCH = 512  # variant histories re-scored per model call
REMOVAL_TOP = 5  # items whose removal also gets a full-catalogue rank (one catalogue scoring each)


@dataclass
class HistoryGame:
    """The pair's score as a function of which window items are present (see the module docstring)."""

    recommender: Recommender
    ctx: UserContext
    item: int
    window: int  # number of players: the latest ``window`` history items, slot 0 = newest

    def history_without(self, absent: np.ndarray) -> np.ndarray:
        """The user's history (oldest first) without the window slots marked in ``absent`` (H,) bool.

        By slot, not by id: an item the user met twice keeps its other occurrence (``what_if`` with that
        id removes both; the two agree whenever an id occurs once).
        """
        n = len(self.ctx.history)
        slots = np.flatnonzero(absent)
        return np.delete(self.ctx.history, n - 1 - slots)

    def scores(self, present: np.ndarray) -> np.ndarray:
        """Scores (B,) for presence masks (B, H) over the window slots."""
        model = self.recommender.model
        vectors = torch.from_numpy(self.recommender.catalog.item_vectors)
        idx = torch.tensor([self.item])
        out = np.empty(len(present))
        with torch.inference_mode():
            for start in range(0, len(present), ROWS_PER_BATCH):
                rows = present[start : start + ROWS_PER_BATCH]
                histories = [self.history_without(~row) for row in rows]
                user = make_user_input(histories, [self.ctx.profile_vector] * len(rows), vectors, model.config.max_history)
                out[start : start + len(rows)] = model.score(user, vectors[idx], idx)[:, 0].double().numpy()
        return out


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
    return HistoryPaths(effects, full, empty, removal_effects(recommender, game, chosen))


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


def removal_effects(recommender: Recommender, game: HistoryGame, slots: list[int]) -> dict[int, Removal]:
    """Score and full rank of the pair with each of ``slots`` removed on its own."""
    if not slots:
        return {}
    contexts = []
    for slot in slots:
        absent = np.zeros(game.window, bool)
        absent[slot] = True
        ctx = game.ctx
        contexts.append(UserContext(ctx.user_id, game.history_without(absent), ctx.profile_vector, ctx.profile_text))
    scores = recommender.score_many(contexts)
    return {
        slot: Removal(slot, float(scores[r, game.item]), full_rank(recommender, c, game.item, scores[r]))
        for r, (slot, c) in enumerate(zip(slots, contexts))
    }


def leave_one_out(game: HistoryGame) -> tuple[np.ndarray, float, float]:
    """(h,) removal effect of every window item (score − score without it), v(all) and v(∅): one batched re-score."""
    h = game.window
    present = np.ones((h + 2, h), bool)
    present[np.arange(1, h + 1), np.arange(h)] = False
    present[-1] = False
    values = game.scores(present)
    return values[0] - values[1 : h + 1], float(values[0]), float(values[-1])


# -- measured alternatives (bench/history_agreement.py): additive, but they credit substitutes ---------
def shapley_values(game: HistoryGame) -> tuple[np.ndarray, float, float]:
    """(h,) Shapley values of the window items in the removal game, v(all) and v(∅); they add up exactly
    to v(all) − v(∅) (every sampled permutation telescopes).  Exact over all subsets for h ≤ ``EXACT_MAX``."""
    h = game.window
    if h == 0:
        full = float(game.scores(np.zeros((1, 0), bool))[0])
        return np.zeros(0), full, full
    if h <= EXACT_MAX:
        return _exact(game)
    return _sampled(game)


def _exact(game: HistoryGame) -> tuple[np.ndarray, float, float]:
    h = game.window
    codes = np.arange(2**h)
    present = ((codes[:, None] >> np.arange(h)) & 1).astype(bool)
    values = game.scores(present)
    sizes = present.sum(1)
    # weight of a coalition S (not holding k) in k's value: |S|! (h − |S| − 1)! / h!
    weight = np.array([factorial(s) * factorial(h - s - 1) / factorial(h) for s in range(h)])
    phi = np.zeros(h)
    for k in range(h):
        without = ~present[:, k]
        with_k = codes[without] | (1 << k)
        phi[k] = float((weight[sizes[without]] * (values[with_k] - values[codes[without]])).sum())
    return phi, float(values[-1]), float(values[0])


def _sampled(game: HistoryGame) -> tuple[np.ndarray, float, float]:
    h = game.window
    rng = np.random.default_rng(SEED)
    half = [rng.permutation(h) for _ in range(PERMUTATIONS // 2)]
    orders = half + [p[::-1] for p in half]  # antithetic pairs: early and late arrivals balance
    present = np.zeros((len(orders), h + 1, h), bool)
    for r, order in enumerate(orders):
        for j in range(1, h + 1):
            present[r, j, order[:j]] = True
    values = game.scores(present.reshape(-1, h)).reshape(len(orders), h + 1)
    phi = np.zeros(h)
    for r, order in enumerate(orders):
        phi[order] += np.diff(values[r])
    phi /= len(orders)
    return phi, float(values[0, -1]), float(values[0, 0])


def gated_scores(game: HistoryGame, gates: torch.Tensor) -> torch.Tensor:
    """Scores (B,) with each window slot's presence relaxed to a gate in [0, 1] (slots at their served places).

    Gate g_k scales slot k's whole representation (text + id + position) *and* its
    attention numerator (the softmax renormalises over the gated slots): g_k = 1
    is the served slot, g_k = 0 is exactly the model's masked (absent) slot.  The
    layers are the model's own; only the user vector's assembly is spelled out,
    because the model offers no gate (``tests/test_explain_history.py`` checks both
    ends against ``model.score``).
    """
    model = game.recommender.model
    vectors = torch.from_numpy(game.recommender.catalog.item_vectors)
    user = make_user_input([game.ctx.history], [game.ctx.profile_vector], vectors, model.config.max_history)
    idx = torch.tensor([game.item])
    item, bias = model.item_repr(vectors[idx].unsqueeze(0), idx.unsqueeze(0))  # (1, 1, D)
    ctx = model.context(user)  # (1, H, D) history
    weights = model.attention(ctx, item)[:, :, : game.window]  # (1, 1, h)
    hist = ctx.hist[:, : game.window]
    gated = weights * gates.unsqueeze(1)  # (B, 1, h)
    total = gated.sum(-1, keepdim=True)
    gated = torch.where(total > 0, gated / total.clamp_min(1e-30), torch.zeros_like(gated))
    u = torch.einsum("bch,bhd->bcd", gated, hist * gates.unsqueeze(-1))
    if ctx.profile is not None:
        u = u + ctx.profile.unsqueeze(1)
    return model.head(model.user_norm(u), item, bias)[:, 0]


def gate_integrated_gradients(game: HistoryGame, steps: int = 64) -> tuple[np.ndarray, float, float]:
    """(h,) IG of the score over the slots' presence gates, from every slot masked to every slot served."""
    alphas, wts = integration_rule("gausslegendre", steps)
    with torch.enable_grad():
        gates = (alphas.view(-1, 1) * torch.ones(1, game.window)).requires_grad_(True)
        (grads,) = torch.autograd.grad(gated_scores(game, gates).sum(), gates)
    values = (grads * wts.view(-1, 1)).sum(0).double().numpy()
    with torch.inference_mode():
        ends = gated_scores(game, torch.stack([torch.ones(game.window), torch.zeros(game.window)]))
    return values, float(ends[0]), float(ends[1])


__all__ = ["HistoryGame", "HistoryPaths", "Removal", "full_path_items", "gate_integrated_gradients", "history_paths", "leave_one_out", "shapley_values"]
