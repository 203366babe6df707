"""``PairState``: one (user, item) pair's explanation, computed in stages and kept while it is useful.

1. ``pair_state`` — the first useful view, in well under a second: each
   text's exact share of the score (text-level IG over the pooled vectors),
   the model's attention over the history, what removing each history item
   does, the encoder's attention over the item text, the rank.
2. ``split_texts`` — token-level IG of chosen texts (``carrying_texts``: the
   item, the profile and the history texts that carry the score; then the rest).
3. ``every_attention`` / ``token_grid`` — the rest of the encoder attention and
   the (N, L) grid of token attributions, what the token methods of
   ``methods`` and the faithfulness stage (``core.add_faithfulness``) read.

A state is identified by its ``key`` (``state_key``: model, user context,
item, settings) and cached in ``state_cache.STATES``.

Concurrency: nothing here mutates the shared encoder or model.  Two threads
asking for the same state compute it once (the second waits), and a state only
keeps token splits that met their delta budget — a flagged split is returned to
its caller, never served to the next one as good.
"""
from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import RecsysError
from ..progress import Checkpoint, Progress, quiet
from ..recommender import Recommender, UserContext
from .attention import text_attentions
from .history import HistoryPaths, history_paths
from .levels import TextLevel, TextTokens, baseline_vectors, split_tokens, text_budget, text_level
from .pair import PairInputs, build_pair, full_rank
from .state_cache import STATES
from .types import DeletionCurve, ExplainConfig, HistoryFidelity, TextAttention

CARRY_SHARE = 0.9  # history texts are split, largest |share| first, until they cover this share of the history's |shares|
CARRY_MAX = 5  # ... but at most this many history texts up front
CARRY_MIN = 0.01  # ... and none whose |share| is below this fraction of |score − baseline|


@dataclass
class PairState:
    """Everything computed so far for one pair (guarded by ``lock`` once cached)."""

    key: tuple  # ``state_key``: what identifies this state (in the cache, and for callers' own bookkeeping)
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
    rankings: dict[str, np.ndarray] = field(default_factory=dict)  # token methods' (N, L) scores over curve_texts
    curve_texts: tuple[int, ...] = ()  # the texts the rankings and curves cover
    curves: list[DeletionCurve] = field(default_factory=list)
    history_fidelity: list[HistoryFidelity] = field(default_factory=list)  # orderings of the history items, judged
    seconds: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # guards the dicts above
    work: threading.RLock = field(default_factory=threading.RLock, repr=False)  # one computation per pair at a time

    def budget(self, n: int) -> float:
        """|delta| allowed for text n's token split (``levels.text_budget``)."""
        return text_budget(self.level, self.config.delta_tolerance, n)


@dataclass
class PairTarget:
    """The (user, item) pair a token method works on (its first stage already computed)."""

    recommender: Recommender
    ctx: UserContext
    item: int
    pair: PairInputs
    state: PairState
    texts: tuple[int, ...] = ()  # the texts whose tokens the methods score (the rest stays zero)

    @classmethod
    def of(cls, state: PairState, texts=None) -> PairTarget:
        chosen = tuple(range(state.pair.n_texts)) if texts is None else tuple(sorted(set(texts)))
        return cls(state.recommender, state.ctx, state.item, state.pair, state, chosen)


# -- identity ----------------------------------------------------------------------------------
def _context_key(ctx: UserContext) -> tuple:
    profile = hashlib.sha1(ctx.profile_vector.tobytes()).hexdigest() if ctx.profile_vector is not None else ""
    text = ctx.profile_text.text if ctx.profile_text is not None else ""
    ratings = tuple(float(r) for r in ctx.ratings) if ctx.ratings is not None else None
    return (ctx.user_id, tuple(int(i) for i in ctx.history), profile, text, ratings)


def state_key(recommender: Recommender, ctx: UserContext, item_id: str, config: ExplainConfig) -> tuple:
    """Everything that changes a pair's numbers (stage choices — token level, faithfulness — and the
    list length the reason is worded against do not)."""
    settings = replace(config, method="all", token_level="all", faithfulness=True, top_k=ExplainConfig.top_k)
    return (recommender.model_fingerprint, _context_key(ctx), item_id, settings)


def resolve_context(recommender: Recommender, user_id: str | None, ctx: UserContext | None) -> UserContext:
    if ctx is not None:
        return ctx
    if user_id is None:
        raise RecsysError("Give a user id or a user context (history/profile) to explain.")
    return recommender.context(user_id)


def cached_state(
    recommender: Recommender, user_id: str | None, item_id: str, config: ExplainConfig, ctx: UserContext | None = None
) -> PairState | None:
    """The pair's cached first stage, or None (never computes)."""
    ctx = resolve_context(recommender, user_id, ctx)
    return STATES.get(state_key(recommender, ctx, item_id, config))


def clear_cache() -> None:
    """Forget every cached pair state (e.g. to time a cold explanation)."""
    STATES.clear()


# -- stage 1 -----------------------------------------------------------------------------------
def pair_state(
    recommender: Recommender,
    user_id: str | None,
    item_id: str,
    config: ExplainConfig = ExplainConfig(),
    ctx: UserContext | None = None,
    progress: Progress | None = None,
) -> PairState:
    """The first stage of a pair's explanation (cached; computed once however many threads ask)."""
    ctx = resolve_context(recommender, user_id, ctx)
    item = recommender.item_position(item_id)
    key = state_key(recommender, ctx, item_id, config)
    state = STATES.claim(key)
    if state is not None:
        return state
    try:
        state = _first_stage(key, recommender, ctx, item, item_id, config, progress or quiet)
    except BaseException:
        STATES.release(key, None)
        raise
    # The text level is exact up to ~1e-7; a state whose text-level delta is over the flag is
    # returned to this caller but never cached as good.
    good = abs(state.level.delta) <= config.delta_tolerance * abs(state.level.gap) + 1e-9
    STATES.release(key, state if good else None)
    return state


def _first_stage(key, recommender, ctx, item, item_id, config, say: Progress) -> PairState:
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
    return PairState(key=key, recommender=recommender, ctx=ctx, item=item, item_id=item_id, config=config, pair=pair,
                     level=level, history_weights=weights, rank=rank, attentions=attentions, paths=paths,
                     seconds=seconds)


# -- stage 2 -----------------------------------------------------------------------------------
def carrying_texts(state: PairState) -> list[int]:
    """The item, the profile, and the history texts that carry the score (largest |share| first)."""
    return carrying(state.pair, state.level)


def carrying(pair: PairInputs, level: TextLevel) -> list[int]:
    """``carrying_texts`` of a pair known by its texts and text level alone (no ``PairState`` needed)."""
    values = level.values
    first = 1 + int(pair.has_profile)
    chosen = list(range(first))
    history = sorted(range(first, pair.n_texts), key=lambda n: -abs(values[n]))
    total = float(np.abs(values[first:]).sum())
    covered = 0.0
    floor = CARRY_MIN * abs(level.gap)
    for n in history:
        if len(chosen) - first >= CARRY_MAX or covered >= CARRY_SHARE * total or abs(values[n]) < floor:
            break
        chosen.append(n)
        covered += abs(float(values[n]))
    return chosen


def texts_for(state: PairState, token_level: str) -> list[int]:
    """The texts ``ExplainConfig.token_level`` asks to split: none, the carrying ones, or all."""
    return texts_at(state.pair, state.level, token_level)


def texts_at(pair: PairInputs, level: TextLevel, token_level: str) -> list[int]:
    """``texts_for`` of a pair known by its texts and text level alone."""
    if token_level == "none":
        return []
    if token_level == "carrying":
        return carrying(pair, level)
    return list(range(pair.n_texts))


def split_texts(
    state: PairState, texts: list[int], progress: Progress | None = None, cancel: Checkpoint | None = None
) -> dict[int, TextTokens]:
    """Token-level IG of ``texts`` (those not split yet). Returns the splits that missed their budget
    (kept out of the state, so never served as good); good ones are added to the state."""
    say = progress or quiet
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


# -- what the token methods read -----------------------------------------------------------------
def every_attention(state: PairState, texts=None) -> list[TextAttention]:
    """The encoder attention of ``texts`` (default: every text of the pair; the first view has only the item
    and profile), computed where missing, with every attention the state holds."""
    with state.lock:
        wanted = range(state.pair.n_texts) if texts is None else texts
        missing = [n for n in wanted if n not in state.attentions]
    more = {a.text_index: a for a in text_attentions(state.pair, missing)}
    with state.lock:
        state.attentions.update(more)
        return [state.attentions[n] for n in sorted(state.attentions)]


def token_grid(state: PairState, extra: dict[int, TextTokens] | None = None) -> np.ndarray:
    """(N, L) token attributions of the split texts, score units (zero elsewhere); ``extra`` adds
    splits held outside the state (a caller's flagged ones)."""
    with state.lock:
        splits = {**state.tokens, **(extra or {})}
    grid = np.zeros(tuple(state.pair.input_ids.shape))
    for n, t in splits.items():
        grid[n, : len(t.values)] = t.values
    return grid
