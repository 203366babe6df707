"""How faithful is an ordering of a pair's history items?  The counterfactual metrics of LXR.

Barkan, Bogina, Gurevitch, Asher and Koenigstein ("A Counterfactual Framework for Learning and Evaluating
Explanations for Recommender Systems", WWW 2024, the LXR framework; extended as "LXR: Learning to
eXplain Recommendations", ACM TORS 2025) judge an explanation of a recommendation, a ranking of the
user's history items, by what removing those items does to the recommendation.  Here, for one pair and
one ordering of the model's window (its latest ``max_history`` items, slot 0 = newest) of ``h`` items,
step ``s = 1 … STEPS`` takes ``n_s = ⌈s·h / STEPS⌉`` items (10 %, 20 %, … of the window, one at least):

- **POS@k**: is the item still in the top-k with the ``n_s`` top-ranked items removed?  Lower is better:
  the ordering found what holds the item in the list.
- **NEG@k**: the same with the ``n_s`` lowest-ranked items removed.  Higher is better: what the ordering
  calls unimportant is.
- **DEL**: the item's score with the ``n_s`` top-ranked removed (lower is better);
- **INS**: the item's score with only the ``n_s`` top-ranked kept (higher is better);

each the mean over the steps (``mean_fidelity`` then averages pairs).  Scores are logits and reported as
changes from the served score, so pairs add up on one scale; the order of methods is the paper's.

Removal is the product's one way of dropping window slots (``HistoryGame.without_slots``, as ``what_if``
and the counterfactual search do): older items slide into the window, so "the whole window removed" is
not an empty history for a user with more items than the window.  Each set is judged by re-scoring the
whole catalogue (``HistoryGame.rescored``), ranks among the items unseen in the changed history, every
set of every ordering of a pair in a few batched calls.

The orderings compared on the same pairs are built in ``core.history_orderings`` from a pair's state
(the shipped full-path contributions, the text-only IG shares, the model's attention); the ones that
need nothing of a state live here: the cosine of the text vectors, a random order and KernelSHAP
through Captum over the window slots as binary features.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from ..errors import RecsysError
from ..heavy_imports import attribute as heavy_attribute
from ..model import GLOBAL_RNG
from ..progress import Checkpoint
from .history import HistoryGame
from .types import HistoryFidelity

STEPS = 10  # removal steps of 10 % of the window each
KS = (5, 10, 20)
RESCORE_BATCH = 64  # removal sets per full-catalogue scoring call (a cancel is honoured between calls)
KERNEL_SAMPLES = 200  # KernelSHAP coalitions per pair: a bound, far below the 2^20 of a 20-item window

SHIPPED = "full path (shipped)"
TEXT_IG = "text-only IG share"
ATTENTION = "model attention"
COSINE = "text cosine to the item"
KERNEL_SHAP = "KernelSHAP (Captum)"
RANDOM = "random"


def removal_counts(h: int, steps: int = STEPS) -> list[int]:
    """Items taken at each step: ⌈s·h / steps⌉ for s = 1 … steps (integer arithmetic, no float rounding)."""
    return [-(-s * h // steps) for s in range(1, steps + 1)]


def removal_sets(values: np.ndarray, steps: int = STEPS) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """The slot sets to remove at each step: the top-ranked, the lowest-ranked, and all but the top-ranked.

    ``values`` (h,): higher = more important; ties keep slot order (the newer item first).
    """
    h = len(values)
    order = np.argsort(-np.nan_to_num(np.asarray(values, float), nan=-np.inf), kind="stable")
    counts = removal_counts(h, steps)
    top = [tuple(sorted(int(s) for s in order[:n])) for n in counts]
    bottom = [tuple(sorted(int(s) for s in order[h - n :])) for n in counts]
    all_but_top = [tuple(sorted(int(s) for s in order[n:])) for n in counts]
    return top, bottom, all_but_top


def history_fidelity(game: HistoryGame, orderings: Mapping[str, np.ndarray], ks: Sequence[int] = KS,
                     steps: int = STEPS, cancel: Checkpoint | None = None) -> list[HistoryFidelity]:
    """POS@k, NEG@k, DEL and INS of each ordering (name → (h,) values, higher = more important) on one pair.

    Empty when the window is empty (there is nothing to remove).
    """
    h = game.window
    if h == 0:
        return []
    for name, values in orderings.items():
        if np.shape(values) != (h,):
            raise RecsysError(f"The ordering {name!r} has {np.shape(values)} values for a window of {h} history items.")
    plans = {name: removal_sets(values, steps) for name, values in orderings.items()}
    wanted = list(dict.fromkeys([(), *(s for plan in plans.values() for sets in plan for s in sets)]))
    outcomes: dict[tuple, tuple[int, float]] = {}
    for start in range(0, len(wanted), RESCORE_BATCH):
        if cancel is not None:
            cancel()
        batch = wanted[start : start + RESCORE_BATCH]
        outcomes.update(zip(batch, game.rescored(batch)))
    served = outcomes[()][1]
    out = []
    for name, (top, bottom, all_but_top) in plans.items():
        top_ranks = np.array([outcomes[s][0] for s in top])
        bottom_ranks = np.array([outcomes[s][0] for s in bottom])
        out.append(HistoryFidelity(
            method=name,
            pos={k: float(np.mean(top_ranks <= k)) for k in ks},
            neg={k: float(np.mean(bottom_ranks <= k)) for k in ks},
            deletion=float(np.mean([outcomes[s][1] for s in top])) - served,
            insertion=float(np.mean([outcomes[s][1] for s in all_but_top])) - served,
        ))
    return out


def mean_fidelity(per_pair: Sequence[Sequence[HistoryFidelity]]) -> list[HistoryFidelity]:
    """Each method's figures averaged over the pairs (methods in the order they first appear)."""
    by_method: dict[str, list[HistoryFidelity]] = {}
    for pair in per_pair:
        for f in pair:
            by_method.setdefault(f.method, []).append(f)
    out = []
    for name, rows in by_method.items():
        ks = list(rows[0].pos)
        out.append(HistoryFidelity(
            method=name,
            pos={k: float(np.mean([r.pos[k] for r in rows])) for k in ks},
            neg={k: float(np.mean([r.neg[k] for r in rows])) for k in ks},
            deletion=float(np.mean([r.deletion for r in rows])),
            insertion=float(np.mean([r.insertion for r in rows])),
            pairs=sum(r.pairs for r in rows),
        ))
    return out


# -- orderings that need nothing of a pair's state -----------------------------------------------
def window_items(game: HistoryGame) -> np.ndarray:
    """Catalogue indices of the window's items, slot order (0 = newest)."""
    return np.asarray(game.ctx.history[::-1][: game.window], dtype=np.int64)


def cosine_values(game: HistoryGame) -> np.ndarray:
    """(h,) cosine of each window item's text vector with the candidate's: "it is like what you read"."""
    vectors = game.recommender.catalog.item_vectors
    hist = vectors[window_items(game)].astype(np.float64)
    cand = vectors[game.item].astype(np.float64)
    norms = np.linalg.norm(hist, axis=1) * np.linalg.norm(cand)
    return np.divide(hist @ cand, norms, out=np.zeros(len(hist)), where=norms > 0)


def random_values(game: HistoryGame, seed: int = 0) -> np.ndarray:
    """(h,) a random order, its own per (seed, item, window) and the same on every run."""
    return np.random.default_rng([seed, game.item, game.window]).random(game.window)


def kernel_shap_values(game: HistoryGame, n_samples: int = KERNEL_SAMPLES, seed: int = 0) -> np.ndarray:
    """(h,) Captum KernelSHAP of the pair's score over the window slots as binary features (1 = present,
    baseline 0 = removed as ``HistoryGame`` removes it), from ``n_samples`` sampled coalitions.

    Captum samples with torch's global generator: it is seeded here inside ``fork_rng`` and under
    ``model.GLOBAL_RNG``, so the values are the same on every run, with other sessions drawing or not, and
    nothing else's random stream moves.
    """
    if n_samples < 2:
        raise RecsysError(f"KernelSHAP needs at least 2 samples, got {n_samples}.")
    KernelShap = heavy_attribute("captum.attr", "KernelShap")

    def forward(present: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(game.scores(present.detach().numpy() > 0.5)).float()

    h = game.window
    with GLOBAL_RNG, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        values = KernelShap(forward).attribute(torch.ones(1, h), baselines=torch.zeros(1, h), n_samples=n_samples,
                                               perturbations_per_eval=n_samples)
    return values[0].double().numpy()
