"""``explain_pair``: why one (user, item) pair scores as it does, computed in stages.

1. ``pair_state`` — the first useful view, in well under a second: each
   text's exact share of the score (text-level IG over the pooled vectors),
   the model's attention over the history, the encoder's attention over the
   item text, the rank.
2. ``split_texts`` — token-level IG of chosen texts (``carrying_texts``: the
   item, the profile and the history items that carry the score; then the rest).
3. ``add_faithfulness`` — every token-ranking method in ``TOKEN_METHODS``
   compared on deletion curves (on request: it costs seconds).
``compose`` turns a state into an ``Explanation`` at any stage.

Concurrency: nothing here mutates the shared encoder or model.  States are
cached per (model, user, history, profile, item, settings) in a locked LRU;
two threads asking for the same state compute it once (the second waits),
and a state only keeps token splits that met their delta budget — a flagged
split is returned to its caller, never served to the next one as good.
"""
from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import RecsysError
from ..recommender import Recommender, UserContext
from .attention import attention_token_scores, text_attentions
from .faithfulness import deletion_curves
from .history import HistoryPaths, full_path_items, history_paths
from .levels import TextLevel, TextTokens, baseline_vectors, split_tokens, text_level
from .methods import TOKEN_METHODS, Progress, TokenMethod
from .pair import BASELINES, PairInputs, build_pair, full_rank, item_title
from .reason import build_reason
from .rollup import field_totals, history_contributions, token_attributions, top_words
from .types import (
    TOKEN_LEVELS,
    DeletionCurve,
    ExplainConfig,
    Explanation,
    TextAttention,
    TextContribution,
)

METHODS = ("ig", "attention", "all")
CACHE_SIZE = 32  # pair states kept in memory (each holds its attention maps as float32 arrays)
CARRY_SHARE = 0.9  # history texts are split, largest |share| first, until they cover this share of the history's |shares|
CARRY_MAX = 5  # ... but at most this many history texts up front
CARRY_MIN = 0.01  # ... and none whose |share| is below this fraction of |score − baseline|


def _quiet(_fraction: float, _message: str) -> None:
    pass


@dataclass
class PairState:
    """Everything computed so far for one pair (guarded by ``lock`` once cached)."""

    recommender: Recommender
    ctx: UserContext
    item: int
    item_id: str
    config: ExplainConfig
    pair: PairInputs
    level: TextLevel
    history_weights: np.ndarray  # the model's attention per history slot, newest first
    rank: int
    attentions: dict[int, TextAttention] = field(default_factory=dict)
    paths: HistoryPaths | None = None  # full-path (removal) contributions of the history items
    tokens: dict[int, TextTokens] = field(default_factory=dict)  # splits that met their budget
    rankings: dict[str, np.ndarray] = field(default_factory=dict)  # other methods' (N, L) token scores
    curves: list[DeletionCurve] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # guards the dicts above
    work: threading.RLock = field(default_factory=threading.RLock, repr=False)  # one computation per pair at a time

    def budget(self, n: int) -> float:
        """|delta| allowed for text n's token split: the flag's room after the text level, shared
        half by |share| and half evenly, so the budgets of all texts add up to the flag."""
        level, tol = self.level, self.config.delta_tolerance
        room = max(0.0, tol * abs(level.gap) - abs(level.delta))
        shares = np.abs(level.values)
        total = float(shares.sum()) or 1.0
        return room * (0.5 * float(shares[n]) / total + 0.5 / len(shares))


@dataclass
class PairTarget:
    """The (user, item) pair a token method works on (its first stage already computed)."""

    recommender: Recommender
    ctx: UserContext
    item: int
    pair: PairInputs
    state: PairState


# -- the cache -------------------------------------------------------------------------------
_lock = threading.Lock()
_states: OrderedDict[tuple, PairState] = OrderedDict()
_inflight: dict[tuple, threading.Event] = {}


def clear_cache() -> None:
    with _lock:
        _states.clear()


def _context_key(ctx: UserContext) -> tuple:
    profile = hashlib.sha1(ctx.profile_vector.tobytes()).hexdigest() if ctx.profile_vector is not None else ""
    text = ctx.profile_text.text if ctx.profile_text is not None else ""
    return (ctx.user_id, tuple(int(i) for i in ctx.history), profile, text)


def state_key(recommender: Recommender, ctx: UserContext, item_id: str, config: ExplainConfig) -> tuple:
    """Everything that changes a pair's numbers (stage choices — token level, faithfulness — do not)."""
    settings = replace(config, method="all", token_level="all", faithfulness=True)
    return (recommender.model_fingerprint, _context_key(ctx), item_id, settings)


def cached_state(
    recommender: Recommender, user_id: str | None, item_id: str, config: ExplainConfig, ctx: UserContext | None = None
) -> PairState | None:
    """The pair's cached first stage, or None (never computes)."""
    ctx = resolve_context(recommender, user_id, ctx)
    key = state_key(recommender, ctx, item_id, config)
    with _lock:
        if key in _states:
            _states.move_to_end(key)
            return _states[key]
    return None


def _cached_or_claim(key: tuple) -> PairState | None:
    """The cached state, or None when this thread must compute it (others for the same key wait)."""
    while True:
        with _lock:
            if key in _states:
                _states.move_to_end(key)
                return _states[key]
            event = _inflight.get(key)
            if event is None:
                _inflight[key] = threading.Event()
                return None
        event.wait()
        with _lock:
            if key in _states:
                _states.move_to_end(key)
                return _states[key]
        # the computing thread failed or its result was not good enough to cache: try ourselves


def _release(key: tuple, state: PairState | None) -> None:
    with _lock:
        if state is not None:
            _states[key] = state
            while len(_states) > CACHE_SIZE:
                _states.popitem(last=False)
        event = _inflight.pop(key, None)
    if event is not None:
        event.set()


# -- stage 1 -----------------------------------------------------------------------------------
def resolve_context(recommender: Recommender, user_id: str | None, ctx: UserContext | None) -> UserContext:
    if ctx is not None:
        return ctx
    if user_id is None:
        raise RecsysError("Give a user id or a user context (history/profile) to explain.")
    return recommender.context(user_id)


def check_config(config: ExplainConfig) -> None:
    if config.method not in METHODS:
        raise RecsysError(f"Unknown method {config.method!r}: choose one of {', '.join(METHODS)}.")
    if config.baseline not in BASELINES:
        raise RecsysError(f"Unknown baseline {config.baseline!r}: choose one of {', '.join(BASELINES)}.")
    if config.token_level not in TOKEN_LEVELS:
        raise RecsysError(f"Unknown token level {config.token_level!r}: choose one of {', '.join(TOKEN_LEVELS)}.")
    if config.n_steps < 1:
        raise RecsysError(f"The number of integration steps must be at least 1, got {config.n_steps}.")


def pair_state(
    recommender: Recommender,
    user_id: str | None,
    item_id: str,
    config: ExplainConfig = ExplainConfig(),
    ctx: UserContext | None = None,
    progress: Progress | None = None,
) -> PairState:
    """The first stage of a pair's explanation (cached; computed once however many threads ask)."""
    check_config(config)
    ctx = resolve_context(recommender, user_id, ctx)
    item = recommender.item_position(item_id)
    key = state_key(recommender, ctx, item_id, config)
    state = _cached_or_claim(key)
    if state is not None:
        return state
    state = None
    try:
        state = _first_stage(recommender, ctx, item, item_id, config, progress or _quiet)
        # The text level is exact up to ~1e-7; a state whose text-level delta is over the flag is
        # returned to this caller but never cached as good.
        good = abs(state.level.delta) <= config.delta_tolerance * abs(state.level.gap) + 1e-9
        _release(key, state if good else None)
    except BaseException:
        _release(key, None)
        raise
    return state


def _first_stage(recommender, ctx, item, item_id, config, say: Progress) -> PairState:
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    say(0.0, "tokenising the pair")
    pair = build_pair(recommender, ctx, item, config.max_history)
    say(0.3, "each text's share of the score")
    base = baseline_vectors(pair, config.baseline)
    level = text_level(pair, base)
    weights = recommender.history_attention(ctx, item)
    rank = full_rank(recommender, ctx, item)
    seconds["texts"] = round(time.perf_counter() - started, 3)
    say(0.5, "what removing each history item does")
    started = time.perf_counter()
    paths = history_paths(recommender, ctx, item, len(pair.history_items))
    seconds["history"] = round(time.perf_counter() - started, 3)
    say(0.7, "encoder attention over the item text")
    started = time.perf_counter()
    first = [0, 1] if pair.has_profile else [0]
    attentions = {a.text_index: a for a in text_attentions(pair, first)}
    seconds["attention"] = round(time.perf_counter() - started, 3)
    say(1.0, "first view ready")
    return PairState(recommender, ctx, item, item_id, config, pair, level, weights, rank, attentions, paths, seconds=seconds)


# -- stage 2 -----------------------------------------------------------------------------------
def carrying_texts(state: PairState) -> list[int]:
    """The item, the profile, and the history texts that carry the score (largest |share| first)."""
    pair, values = state.pair, state.level.values
    first = 1 + int(pair.has_profile)
    chosen = list(range(first))
    history = sorted(range(first, pair.n_texts), key=lambda n: -abs(values[n]))
    total = float(np.abs(values[first:]).sum())
    covered = 0.0
    floor = CARRY_MIN * abs(state.level.gap)
    for n in history:
        if len(chosen) - first >= CARRY_MAX or covered >= CARRY_SHARE * total or abs(values[n]) < floor:
            break
        chosen.append(n)
        covered += abs(float(values[n]))
    return chosen


def texts_for(state: PairState, token_level: str) -> list[int]:
    if token_level == "none":
        return []
    if token_level == "carrying":
        return carrying_texts(state)
    return list(range(state.pair.n_texts))


def split_texts(
    state: PairState, texts: list[int], progress: Progress | None = None, cancel: Callable[[], None] | None = None
) -> dict[int, TextTokens]:
    """Token-level IG of ``texts`` (those not split yet). Returns the splits that missed their budget
    (kept out of the state, so never served as good); good ones are added to the state."""
    say = progress or _quiet
    flagged: dict[int, TextTokens] = {}
    config = state.config
    with state.work:  # one thread per pair splits; another asking for the same texts then finds them done
        with state.lock:
            todo = [n for n in texts if n not in state.tokens]
        started = time.perf_counter()
        results = split_tokens(
            state.pair, state.level, todo, config.baseline, {n: state.budget(n) for n in todo},
            config.n_steps, config.ig_method, cancel, lambda f, m: say(f, f"token attributions of {m}"),
        )
        with state.lock:
            for n, result in results.items():
                if result.ok:
                    state.tokens[n] = result
                else:
                    flagged[n] = result
        if todo:
            with state.lock:
                state.seconds["tokens"] = round(state.seconds.get("tokens", 0.0) + time.perf_counter() - started, 3)
    say(1.0, "token attributions ready")
    return flagged


def every_attention(state: PairState) -> list[TextAttention]:
    """The encoder attention of every text of the pair (the first view has only the item and profile)."""
    with state.lock:
        missing = [n for n in range(state.pair.n_texts) if n not in state.attentions]
    more = {a.text_index: a for a in text_attentions(state.pair, missing)}
    with state.lock:
        state.attentions.update(more)
        return [state.attentions[n] for n in sorted(state.attentions)]


# -- stage 3 -----------------------------------------------------------------------------------
def token_grid(state: PairState, extra: dict[int, TextTokens] | None = None) -> np.ndarray:
    """(N, L) token attributions of the split texts (zero elsewhere)."""
    with state.lock:
        splits = {**state.tokens, **(extra or {})}
    grid = np.zeros(tuple(state.pair.input_ids.shape))
    for n, t in splits.items():
        grid[n, : len(t.values)] = t.values
    return grid


def add_faithfulness(state: PairState, progress: Progress | None = None, methods: list[str] | None = None) -> None:
    """Deletion curves of every token method (and attention, rollout, random) for this pair."""
    say = progress or _quiet
    chosen: dict[str, TokenMethod] = {k: TOKEN_METHODS[k] for k in (methods or list(TOKEN_METHODS))}
    with state.work:
        with state.lock:
            if state.curves and set(chosen) <= set(state.rankings):
                return
        say(0.0, "token attributions of every text")
        split_texts(state, list(range(state.pair.n_texts)), lambda f, m: say(0.4 * f, m))
        started = time.perf_counter()
        target = PairTarget(state.recommender, state.ctx, state.item, state.pair, state)
        rankings: dict[str, np.ndarray] = {}
        for i, (name, method) in enumerate(chosen.items()):
            say(0.4 + 0.4 * i / len(chosen), name)
            rankings[name] = state.rankings.get(name) if name in state.rankings else method.token_scores(target)
        say(0.8, "deletion curves")
        curves = deletion_curves(state.pair, rankings, state.config.deletion_fractions, real=state.level.real)
        with state.lock:
            state.rankings.update(rankings)
            state.curves = curves
            state.seconds["faithfulness"] = round(time.perf_counter() - started, 3)
    say(1.0, "faithfulness ready")


# -- composing ---------------------------------------------------------------------------------
def compose(state: PairState, flagged: dict[int, TextTokens] | None = None, config: ExplainConfig | None = None) -> Explanation:
    """The Explanation of ``state`` as far as it is computed (plus this caller's flagged splits)."""
    config = config or state.config
    with state.lock:
        splits = {**state.tokens, **(flagged or {})}
        attentions = [state.attentions[n] for n in sorted(state.attentions)]
        curves = list(state.curves)
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
        build_reason(title, history, fields, words, level.score, level.baseline_score, state.rank)
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
    )


def explain_pair(
    recommender: Recommender,
    user_id: str | None,
    item_id: str,
    config: ExplainConfig = ExplainConfig(),
    ctx: UserContext | None = None,
    progress: Progress | None = None,
    cancel: Callable[[], None] | None = None,
) -> Explanation:
    """Why ``item_id`` scores as it does for the user: attributions, attention, faithfulness, reason.

    ``config.token_level`` says which texts are split into tokens, ``config.faithfulness``
    whether deletion curves are computed.  Stages already computed for the same
    (model, user, item, settings) — by this thread or another — are reused.
    ``progress(fraction, message)`` is called as stages advance.
    """
    say = progress or _quiet
    state = pair_state(recommender, user_id, item_id, config, ctx, lambda f, m: say(0.2 * f, m))
    flagged: dict[int, TextTokens] = {}
    if config.method != "attention":
        flagged = split_texts(state, texts_for(state, config.token_level), lambda f, m: say(0.2 + 0.5 * f, m), cancel)
    if config.method == "attention":
        with state.work:
            with state.lock:
                missing = [n for n in range(state.pair.n_texts) if n not in state.attentions]
            more = {a.text_index: a for a in text_attentions(state.pair, missing)}
            with state.lock:
                state.attentions.update(more)
    elif config.faithfulness:
        add_faithfulness(state, lambda f, m: say(0.7 + 0.3 * f, m))
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
