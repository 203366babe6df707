"""Do history-item contributions agree with what removing the item does?  Old (text-only IG) vs new (full path).

    python bench/history_agreement.py [--pairs 50] [--seed 0] [--top 5]

Pairs: ``--pairs`` users of the demo model drawn with ``--seed``, each with their
top-1 recommendation (seen items excluded).  Each pair's explanation is the
shipped one (``pair_state`` + ``compose``).  For every window item k (the latest
≤ 20 history items) the **removal effect** is ``r_k = score − score with k
removed`` — the ``what_if`` change (older items move up a slot, the next older
one slides into the window) — from one batched re-score of the small model.
Judged against it, in the same run:

* **old** — text-only integrated gradients: ``text_attribution``, text k's exact
  share of the text-level IG (what the page showed before; its tokens sum to it);
* **new** — the shipped full-path ``attribution``.  It *is* the removal effect,
  so it agrees by construction; what is checked instead is that it equals an
  independent ``what_if`` re-score (full-catalogue scorer) for the top item;
* two additive full-path candidates that were measured and not shipped:
  Shapley values in the removal game and integrated gradients over a
  masked→present gate on each slot's whole representation.

A pair **agrees** (definition also in docs/explanations.md) when both hold:

* *sign*: each of the method's top ``--top`` items by |contribution| whose
  removal effect is material (|r_k| ≥ ``MATERIAL`` score units) has the sign of r_k;
* *order*: the method's top item by |contribution| is the window's top item by |r|.

Also printed: the strict sign check (all top items, material or not), the
pairwise order agreement over the top items (share of pairs ordered as by |r|),
and the median Spearman correlation over the whole window.  The machine may be
shared; the seconds are for orientation only.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from math import factorial
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recsys_core from a checkout, installed or not

from recsys_core.batching import make_user_input
from recsys_core.demo import load_demo_model
from recsys_core.explain import ExplainConfig, compose, pair_state, what_if
from recsys_core.explain.core import spearman
from recsys_core.explain.history import HistoryGame, leave_one_out
from recsys_core.explain.integrated_gradients import integration_rule

MATERIAL = 0.05  # score units (logit): removal effects smaller than this have no meaningful sign
EXACT_MAX = 10  # windows up to this many items: exact Shapley over all 2^H subsets (≤ 1024 re-scores)
PERMUTATIONS = 96  # otherwise this many seeded permutations (half of them the reverses of the others)
SEED = 0
METHODS = (
    "old: text-only IG",
    "new: full path (= removal, shipped)",
    "not shipped: Shapley (removal game)",
    "not shipped: gate IG (whole slot)",
)


# -- the two additive alternatives measured here (not shipped: they credit substitutes) -------------
# Both are games over ``recsys_core.explain.history.HistoryGame``, the removal game the shipped
# full-path contributions come from; tests/test_explain_history.py checks they keep their promises.
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
    user = make_user_input([game.ctx.history], [game.ctx.profile_vector], vectors, model.config.max_history,
                           [game.ctx.ratings], model.config.rating_scale)
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


# -- judging --------------------------------------------------------------------------------------
@dataclass
class Verdict:
    sign: bool  # material top items agree in sign with their removal effect
    strict_sign: bool  # every top item agrees in sign
    top1: bool  # top by |contribution| is top by |removal effect|
    pairwise: float  # share of top-item pairs ordered as their |removal effects| (NaN if < 2 items)
    spearman: float  # over the whole window, contribution vs removal effect

    @property
    def agrees(self) -> bool:
        return self.sign and self.top1


def judge(contrib: np.ndarray, removal: np.ndarray, top: int) -> Verdict:
    order = np.argsort(-np.abs(contrib), kind="stable")[:top]
    material = [k for k in order if abs(removal[k]) >= MATERIAL]
    sign = all(np.sign(contrib[k]) == np.sign(removal[k]) for k in material)
    strict = all(np.sign(contrib[k]) == np.sign(removal[k]) for k in order)
    top1 = int(order[0]) == int(np.argmax(np.abs(removal)))
    pairs = [(a, b) for i, a in enumerate(order) for b in order[i + 1 :]]
    concordant = [abs(removal[a]) >= abs(removal[b]) for a, b in pairs]
    pairwise = float(np.mean(concordant)) if pairs else float("nan")
    return Verdict(sign, strict, top1, pairwise, spearman(contrib, removal))


def pairs_of(recommender, n: int, seed: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(seed)
    users = [u for u in recommender.known_users() if len(recommender.catalog.histories[u]) >= 2]
    chosen = rng.choice(users, size=min(n, len(users)), replace=False)
    return [(str(u), recommender.recommend(str(u), k=1)[0].item_id) for u in chosen]


def summary(name: str, verdicts: list[Verdict]) -> str:
    n = len(verdicts)

    def pct(flags) -> str:
        return f"{100 * sum(flags) / n:5.1f}%"

    pw = np.nanmean([v.pairwise for v in verdicts])
    sp = np.nanmedian([v.spearman for v in verdicts])
    return (
        f"{name:<34} {pct(v.agrees for v in verdicts)}   {pct(v.sign for v in verdicts)}   "
        f"{pct(v.top1 for v in verdicts)}   {pct(v.strict_sign for v in verdicts)}   {pw:6.2f}   {sp:6.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args(argv)
    if args.pairs < 1 or args.top < 1:
        print("--pairs and --top must be at least 1.", file=sys.stderr)
        return 2
    recommender = load_demo_model()
    config = ExplainConfig(method="ig", token_level="none", faithfulness=False)
    verdicts: dict[str, list[Verdict]] = {name: [] for name in METHODS}
    seconds = {"explanation": 0.0, "of which history": 0.0, "Shapley": 0.0, "gate IG": 0.0}
    worst_whatif, worst_sum, ranks_equal = 0.0, 0.0, 0
    pairs = pairs_of(recommender, args.pairs, args.seed)
    for user, item_id in pairs:
        ctx = recommender.context(user)
        item = recommender.item_position(item_id)
        started = time.perf_counter()
        state = pair_state(recommender, user, item_id, config)
        exp = compose(state)
        seconds["explanation"] += time.perf_counter() - started
        seconds["of which history"] += state.seconds.get("history", 0.0)
        by_slot = sorted(exp.history_items, key=lambda h: h.position)
        game = HistoryGame(recommender, ctx, item, len(by_slot))
        removal, full, empty = leave_one_out(game)
        started = time.perf_counter()
        phi, _, _ = shapley_values(game)
        seconds["Shapley"] += time.perf_counter() - started
        started = time.perf_counter()
        gate, _, _ = gate_integrated_gradients(game)
        seconds["gate IG"] += time.perf_counter() - started
        shipped = np.array([h.attribution for h in by_slot])
        candidates = {
            METHODS[0]: np.array([h.text_attribution for h in by_slot]),
            METHODS[1]: shipped,
            METHODS[2]: phi,
            METHODS[3]: gate,
        }
        for name, values in candidates.items():
            verdicts[name].append(judge(values, removal, args.top))
        # the shipped numbers against an independent re-score: what_if over the whole catalogue
        top = exp.history_items[0]
        w = what_if(recommender, user, item_id, remove_history=[top.item_id])
        worst_whatif = max(worst_whatif, abs(top.attribution - (w.score_before - w.score_after)))
        ranks_equal += int(top.rank_without == w.rank_after)
        worst_sum = max(worst_sum, abs(shipped.sum() + exp.history_together - (full - empty)))
    n = len(pairs)
    print(f"{n} demo pairs (seed {args.seed}), top {args.top} items per pair, material |removal| ≥ {MATERIAL}")
    print(f"{'attribution':<34} {'agree':>6}   {'sign':>6}   {'top-1':>6}   {'strict':>6}   {'pairw.':>6}   {'Spear.':>6}")
    for name in METHODS:
        print(summary(name, verdicts[name]))
    print(f"shipped top item vs what_if: largest |score difference| {worst_whatif:.2e}, rank equal in {ranks_equal}/{n}")
    print(f"largest |Σ attributions + together − (score − score without the window)|: {worst_sum:.2e}")
    print("seconds per pair: " + ", ".join(f"{k} {v / n:.3f}" for k, v in seconds.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
