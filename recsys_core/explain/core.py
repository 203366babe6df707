"""``explain_pair``: why one (user, item) pair scores as it does, from its staged ``PairState``.

The stages themselves (first view, token splits, the cache) live in ``state``;
here sit what needs the token methods of ``methods`` and what turns a state
into a result:

- ``add_faithfulness`` — every token-ranking method in ``TOKEN_METHODS``
  compared on deletion curves, and the history items' orderings on the
  LXR metrics (``history_orderings``, ``pair_history_fidelity``; on request:
  it costs seconds);
- ``compose`` — the ``Explanation`` of a state at any stage;
- ``explain_pair`` — all the stages a config asks for, then ``compose``;
- ``spearman`` / ``attention_agreement`` — how far IG and attention agree.
"""
from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from ..progress import Checkpoint, Progress, quiet, scaled
from ..recommender import Recommender, UserContext
from .attention import attention_token_scores
from .faithfulness import deletion_curves
from .fidelity import (ATTENTION, COSINE, KERNEL_SAMPLES, KERNEL_SHAP, RANDOM, SHIPPED, TEXT_IG, cosine_values,
                       history_fidelity, kernel_shap_values, random_values)
from .history import HistoryGame, full_path_items
from .levels import TextTokens
from .methods import TOKEN_METHODS, TokenMethod
from .pair import PairInputs, item_title
from .reason import ReasonInputs, build_reason
from .rollup import field_totals, history_contributions, token_attributions, top_words
from .state import PairState, PairTarget, every_attention, pair_state, split_texts, texts_for, token_grid
from .types import ExplainConfig, Explanation, HistoryFidelity, TextContribution


# -- stage 3 -----------------------------------------------------------------------------------
def add_faithfulness(state: PairState, progress: Progress | None = None, methods: list[str] | None = None,
                     texts: Sequence[int] | None = None) -> None:
    """Deletion curves of every token method (and attention, rollout, random) for this pair, over the tokens
    of ``texts`` (default: every text; the Explain page passes the texts it shows split into tokens, so the
    curves judge the rankings the analyst reads, at a fraction of the cost of scoring every history text)."""
    say = progress or quiet
    chosen: dict[str, TokenMethod] = {k: TOKEN_METHODS[k] for k in (methods or list(TOKEN_METHODS))}
    target = PairTarget.of(state, texts)
    with state.work:
        with state.lock:
            judged = bool(state.history_fidelity)
        if not judged:  # the history items' orderings do not depend on which texts are split: once per pair
            say(0.0, "history items: removing the top-ranked ones")
            started = time.perf_counter()
            fidelity = pair_history_fidelity(state)
            with state.lock:
                state.history_fidelity = fidelity
                state.seconds["history_fidelity"] = round(time.perf_counter() - started, 3)
        with state.lock:
            same = state.curve_texts == target.texts
            if state.curves and same and set(chosen) <= set(state.rankings):
                return
            cached = dict(state.rankings) if same else {}
        say(0.0, f"token attributions of {len(target.texts)} text{'s' if len(target.texts) != 1 else ''}")
        split_texts(state, list(target.texts), scaled(say, 0.0, 0.4))
        started = time.perf_counter()
        rankings: dict[str, np.ndarray] = {}
        for i, (name, method) in enumerate(chosen.items()):
            say(0.4 + 0.4 * i / len(chosen), name)
            rankings[name] = cached[name] if name in cached else method.token_scores(target)
        say(0.8, "deletion curves")
        curves = deletion_curves(state.pair, rankings, state.config.deletion_fractions, real=state.level.real,
                                 texts=target.texts)
        with state.lock:
            state.rankings = {**cached, **rankings}
            state.curve_texts = target.texts
            state.curves = curves
            state.seconds["faithfulness"] = round(time.perf_counter() - started, 3)
    say(1.0, "faithfulness ready")


def history_orderings(state: PairState, kernel_samples: int | None = KERNEL_SAMPLES, seed: int = 0
                      ) -> dict[str, np.ndarray]:
    """Orderings of the pair's window items (slot order, 0 = newest; higher = more important) to judge with
    ``fidelity.history_fidelity``: the shipped full-path contributions, the text-only IG shares, the model's
    attention, the text cosine to the item, a random order and (unless ``kernel_samples`` is None) KernelSHAP."""
    pair, h = state.pair, len(state.pair.history_items)
    first = 1 + int(pair.has_profile)
    game = HistoryGame(state.recommender, state.ctx, state.item, h)
    out = {
        SHIPPED: np.asarray(state.paths.contributions if state.paths is not None else np.zeros(h), float),
        TEXT_IG: np.asarray(state.level.values[first : first + h], float),
        ATTENTION: np.asarray(state.history_weights[:h], float),
        COSINE: cosine_values(game),
        RANDOM: random_values(game, seed),
    }
    if kernel_samples is not None and h:
        out[KERNEL_SHAP] = kernel_shap_values(game, kernel_samples, seed)
    return out


def pair_history_fidelity(state: PairState, kernel_samples: int | None = KERNEL_SAMPLES, seed: int = 0,
                          cancel: Checkpoint | None = None) -> list[HistoryFidelity]:
    """POS@k, NEG@k, DEL and INS of every ``history_orderings`` ordering on this pair (``explain/fidelity.py``)."""
    h = len(state.pair.history_items)
    game = HistoryGame(state.recommender, state.ctx, state.item, h)
    return history_fidelity(game, history_orderings(state, kernel_samples, seed), cancel=cancel)


# -- composing ---------------------------------------------------------------------------------
def compose(state: PairState, flagged: dict[int, TextTokens] | None = None, config: ExplainConfig | None = None) -> Explanation:
    """The Explanation of ``state`` as far as it is computed (plus this caller's flagged splits)."""
    config = config or state.config
    with state.lock:
        splits = {**state.tokens, **(flagged or {})}
        attentions = [state.attentions[n] for n in sorted(state.attentions)]
        curves = list(state.curves)
        fidelity = list(state.history_fidelity)
        seconds = dict(state.seconds)
    pair, level = state.pair, state.level
    ig = config.method != "attention"
    if not ig:
        splits = {}
    values = token_grid(state, flagged) if ig else np.zeros(tuple(pair.input_ids.shape))
    unsplit = {n: float(level.values[n]) for n in range(pair.n_texts) if n not in splits} if ig else {}
    fields = field_totals(pair, values, unsplit)
    history = history_contributions(pair, values, state.history_weights, unsplit)
    if state.paths is not None:  # every path, not the text alone (the text part stays, shown separately)
        history = full_path_items(history, state.paths)
    token_delta = sum(t.delta for t in splits.values())
    delta = level.delta + token_delta if ig else float("nan")
    gap = abs(level.gap)
    delta_ok = (not ig) or abs(delta) <= config.delta_tolerance * gap + 1e-9
    warnings = []
    if ig and not delta_ok:
        warnings.append(
            f"Integration error is {abs(delta) / max(gap, 1e-9):.0%} of the score change (over the "
            f"{config.delta_tolerance:.0%} tolerance): raise the number of steps (now at most {config.n_steps})."
        )
    texts = [
        TextContribution(n, pair.labels[n], float(level.values[n]), n in splits,
                         float(splits[n].delta) if n in splits else 0.0, splits[n].steps if n in splits else 0)
        for n in range(pair.n_texts)
    ]
    words = top_words(pair, values) if 0 in splits else []
    title = item_title(state.recommender, state.item)
    reason = (
        build_reason(ReasonInputs(title, level.score, level.baseline_score, state.rank, config.top_k, tuple(texts),
                                  tuple(history), fields, tuple(words), cold=not state.recommender.has_interactions(state.item)))
        if ig
        else "Attention only: run integrated gradients for a reason that reflects the score."
    )
    agreement = {}
    if ig and len(splits) == pair.n_texts and len(attentions) == pair.n_texts:
        shape = tuple(pair.input_ids.shape)
        agreement = attention_agreement(
            pair, values, attention_token_scores(attentions, shape, False), attention_token_scores(attentions, shape, True)
        )
    return Explanation(
        user_id=state.ctx.user_id or "(new user)",
        item_id=state.item_id,
        score=level.score,
        baseline_score=level.baseline_score,
        convergence_delta=delta,
        delta_ok=delta_ok,
        tokens=token_attributions(pair, values, sorted(splits)),
        fields=fields,
        history_items=history,
        attention=attentions,
        faithfulness=curves,
        agreement=agreement,
        reason=reason,
        rank=state.rank,
        texts=texts,
        text_delta=level.delta,
        config=config,
        seconds=seconds,
        warnings=warnings,
        history_together=state.paths.together if state.paths is not None else 0.0,
        history_fidelity=fidelity,
    )


def explain_pair(
    recommender: Recommender,
    user_id: str | None,
    item_id: str,
    config: ExplainConfig = ExplainConfig(),
    ctx: UserContext | None = None,
    progress: Progress | None = None,
    cancel: Checkpoint | None = None,
) -> Explanation:
    """Why ``item_id`` scores as it does for the user: attributions, attention, faithfulness, reason.

    ``config.token_level`` says which texts are split into tokens, ``config.faithfulness``
    whether deletion curves are computed.  Stages already computed for the same
    (model, user, item, settings) — by this thread or another — are reused.
    ``progress(fraction, message)`` is called as stages advance.
    """
    say = progress or quiet
    state = pair_state(recommender, user_id, item_id, config, ctx, scaled(say, 0.0, 0.2))
    flagged: dict[int, TextTokens] = {}
    if config.method == "attention":
        with state.work:
            every_attention(state)
    else:
        flagged = split_texts(state, texts_for(state, config.token_level), scaled(say, 0.2, 0.7), cancel)
        if config.faithfulness:
            add_faithfulness(state, scaled(say, 0.7, 1.0))
    return compose(state, flagged, config)


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
