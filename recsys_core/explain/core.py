"""``explain_pair``: every explainer on one (user, item) pair, composed into one Explanation.

The explainers share one call — ``(recommender, context, item, config)`` — and
each returns a typed result, so the dashboard and the CLI render result types
rather than special-casing methods.
"""
from __future__ import annotations

import hashlib
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import RecsysError
from ..recommender import Recommender, UserContext
from .attention import attention_token_scores, text_attentions
from .faithfulness import deletion_curves
from .integrated_gradients import TokenScores, integrated_gradients
from .pair import PairInputs, build_pair, full_rank, item_title
from .reason import build_reason
from .rollup import field_totals, history_contributions, token_attributions, top_words
from .types import ExplainConfig, Explanation, TextAttention

METHODS = ("ig", "attention", "all")
CACHE_SIZE = 32  # explanations kept in memory (each holds its attention maps as float32 arrays)
_cache: OrderedDict[tuple, Explanation] = OrderedDict()


@dataclass
class PairTarget:
    """The (user, item) pair an explainer works on."""

    recommender: Recommender
    ctx: UserContext
    item: int  # catalogue index
    pair: PairInputs


class Explainer(ABC):
    """Interface every explainer implements: ``explain(target, config)`` → its result type."""

    name: str = ""
    produces: type = object

    @abstractmethod
    def explain(self, target: PairTarget, config: ExplainConfig):
        """The explainer's result for one pair (of type ``produces``)."""


class IntegratedGradientsExplainer(Explainer):
    name = "integrated gradients"
    produces = TokenScores

    def explain(self, target: PairTarget, config: ExplainConfig) -> TokenScores:
        return integrated_gradients(
            target.pair, config.baseline, config.n_steps, config.ig_method, config.internal_batch_texts
        )


class AttentionExplainer(Explainer):
    name = "encoder attention"
    produces = list  # list[TextAttention]

    def explain(self, target: PairTarget, config: ExplainConfig) -> list[TextAttention]:
        return text_attentions(target.pair)


class HistoryAttentionExplainer(Explainer):
    """The recommender's own attention over history items for this candidate."""

    name = "history attention"
    produces = np.ndarray

    def explain(self, target: PairTarget, config: ExplainConfig) -> np.ndarray:
        """(H,) weights, newest first like the pair's history texts."""
        return target.recommender.history_attention(target.ctx, target.item)


EXPLAINERS: dict[str, Explainer] = {
    "ig": IntegratedGradientsExplainer(),
    "attention": AttentionExplainer(),
    "history": HistoryAttentionExplainer(),
}


def resolve_context(recommender: Recommender, user_id: str | None, ctx: UserContext | None) -> UserContext:
    if ctx is not None:
        return ctx
    if user_id is None:
        raise RecsysError("Give a user id or a user context (history/profile) to explain.")
    return recommender.context(user_id)


def _context_key(ctx: UserContext) -> tuple:
    profile = hashlib.sha1(ctx.profile_vector.tobytes()).hexdigest() if ctx.profile_vector is not None else ""
    return (ctx.user_id, tuple(int(i) for i in ctx.history), profile)


def explain_pair(
    recommender: Recommender,
    user_id: str | None,
    item_id: str,
    config: ExplainConfig = ExplainConfig(),
    ctx: UserContext | None = None,
    progress: Callable[[str], None] | None = None,
) -> Explanation:
    """Why ``item_id`` scores as it does for the user: attributions, attention, faithfulness, reason.

    Results are cached in memory by (model fingerprint, user, item, config): asking
    again — a page rerun, a second analyst — returns the same object at once.
    """
    if config.method not in METHODS:
        raise RecsysError(f"Unknown method {config.method!r}: choose one of {', '.join(METHODS)}.")
    ctx = resolve_context(recommender, user_id, ctx)
    item = recommender.item_position(item_id)
    key = (recommender.model_fingerprint, _context_key(ctx), item_id, config)
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    result = _explain(recommender, ctx, item, item_id, config, progress)
    _cache[key] = result
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return result


def _explain(recommender, ctx, item, item_id, config, progress) -> Explanation:
    say = progress or (lambda _msg: None)
    timings: dict[str, float] = {}

    def timed(name, fn):
        started = time.perf_counter()
        out = fn()
        timings[name] = round(time.perf_counter() - started, 3)
        return out

    say("tokenising the pair")
    pair = timed("tokenise", lambda: build_pair(recommender, ctx, item, config.max_history))
    target = PairTarget(recommender, ctx, item, pair)
    scores = timed("rank", lambda: recommender.score_items(ctx))
    rank = full_rank(recommender, ctx, item, scores)
    history_weights = EXPLAINERS["history"].explain(target, config)
    attributions: TokenScores | None = None
    attentions: list[TextAttention] = []
    if config.method in ("ig", "all"):
        say("integrated gradients")
        attributions = timed("integrated_gradients", lambda: EXPLAINERS["ig"].explain(target, config))
    if config.method in ("attention", "all"):
        say("encoder attention")
        attentions = timed("attention", lambda: EXPLAINERS["attention"].explain(target, config))
    if attributions is None:
        with torch.inference_mode():
            score = float(pair.score_from_ids(pair.input_ids.unsqueeze(0))[0])
            base = float(pair.score_from_ids(pair.baseline_ids(config.baseline).unsqueeze(0))[0])
        values = np.zeros(pair.input_ids.shape)
        attributions = TokenScores(values, score, base, float("nan"))
    values = attributions.values
    warnings = []
    delta_ok = not (attributions.delta_share > config.delta_tolerance)
    if config.method != "attention" and not delta_ok:
        warnings.append(
            f"Integration error is {attributions.delta_share:.0%} of the score change (over the "
            f"{config.delta_tolerance:.0%} tolerance): raise the number of steps (now {config.n_steps})."
        )
    curves, agreement = [], {}
    rankings: dict[str, np.ndarray] = {}
    if config.method != "attention":
        rankings["integrated gradients"] = values
    if attentions:
        shape = tuple(pair.input_ids.shape)
        rankings["attention"] = attention_token_scores(attentions, shape, use_rollout=False)
        rankings["rollout"] = attention_token_scores(attentions, shape, use_rollout=True)
        if config.method == "all":
            agreement = attention_agreement(pair, values, rankings["attention"], rankings["rollout"])
    if config.faithfulness and rankings:
        say("deletion curves")
        curves = timed("faithfulness", lambda: deletion_curves(pair, rankings, config.deletion_fractions))
    fields = field_totals(pair, values)
    history = history_contributions(pair, values, history_weights)
    words = top_words(pair, values)
    reason = (
        build_reason(item_title(recommender, item), history, fields, words, attributions.score, attributions.baseline_score)
        if config.method != "attention"
        else "Attention only: run integrated gradients for a reason that reflects the score."
    )
    return Explanation(
        user_id=ctx.user_id or "(new user)",
        item_id=item_id,
        score=attributions.score,
        baseline_score=attributions.baseline_score,
        convergence_delta=attributions.convergence_delta,
        delta_ok=delta_ok,
        tokens=token_attributions(pair, values),
        fields=fields,
        history_items=history,
        attention=attentions,
        faithfulness=curves,
        agreement=agreement,
        reason=reason,
        rank=rank,
        config=config,
        seconds=timings,
        warnings=warnings,
    )


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); NaN when either side is constant."""
    if len(a) < 3:
        return float("nan")
    ra, rb = _ranks(a), _ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x))
    # average ranks of ties
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def attention_agreement(pair: PairInputs, ig: np.ndarray, attention: np.ndarray, roll: np.ndarray) -> dict[str, float]:
    """Spearman between |IG| and attention / rollout over the removable tokens of the pair."""
    mask = pair.removable.numpy()
    out = {
        "ig_vs_attention": spearman(np.abs(ig[mask]), attention[mask]),
        "ig_vs_rollout": spearman(np.abs(ig[mask]), roll[mask]),
    }
    item_mask = mask[0]
    out["item_text_ig_vs_attention"] = spearman(np.abs(ig[0][item_mask]), attention[0][item_mask])
    return out
