"""Streamlit side of the explanation executor: what a page asks for, at which urgency, and prefetch.

Every heavy explanation step of every session goes through the one
``recsys_core.explain.executor`` of the process (one worker thread), so
three analysts opening Explain at once queue instead of thrashing two cores,
and the Recommendations page can prefetch its top items at the lowest
priority.  Results also land in the explanation cache, so a rerun that
abandons a wait loses nothing.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import streamlit as st

from recsys_core import Recommender
from recsys_core.explain import (
    ExplainConfig,
    PairState,
    add_faithfulness,
    compose,
    contrast_pair,
    pair_state,
    split_texts,
)
from recsys_core.explain.core import cached_state, carrying_texts, state_key
from recsys_core.explain.executor import (
    INTERACTIVE,
    ON_REQUEST,
    PREFETCH,
    Cancelled,
    Job,
    executor,
)
from recsys_core.explain.levels import TextTokens
from recsys_core.recommender import UserContext

PREFETCH_TOP = 3  # items of a shown list explained ahead of time
Progress = Callable[[float, str], None]


def session_id() -> str:
    if "_explain_session" not in st.session_state:
        st.session_state["_explain_session"] = uuid.uuid4().hex
    return st.session_state["_explain_session"]


def _wait(job: Job, progress: Progress | None):
    """Block this script run until the job is done, reporting its progress (0.1 s polls)."""
    while not job.done:
        if progress is not None:
            progress(job.fraction, job.message)
        try:
            return job.wait(0.1)
        except TimeoutError:
            continue
    return job.wait()


def first_view(rec: Recommender, user_id: str | None, item_id: str, config: ExplainConfig, ctx: UserContext,
               progress: Progress | None = None) -> PairState:
    cached = cached_state(rec, user_id, item_id, config, ctx)
    if cached is not None:  # prefetched or seen before: no queueing behind other work
        return cached
    key = ("state", state_key(rec, ctx, item_id, config))
    job = executor().submit(lambda j: pair_state(rec, user_id, item_id, config, ctx, j.progress), INTERACTIVE, key, session_id())
    return _wait(job, progress)


def split(state: PairState, texts: list[int], priority: int = INTERACTIVE,
          progress: Progress | None = None) -> dict[int, TextTokens]:
    """Token IG of ``texts`` (only those not split yet); flagged splits are returned, not cached."""
    with state.lock:
        if all(n in state.tokens for n in texts):  # already split (prefetch, an earlier run): answer at once
            return {}
    key = ("split", state_key(state.recommender, state.ctx, state.item_id, state.config), tuple(texts))
    job = executor().submit(lambda j: split_texts(state, texts, j.progress, j.checkpoint), priority, key, session_id())
    return _wait(job, progress)


def faithfulness(state: PairState, progress: Progress | None = None) -> None:
    key = ("faithfulness", state_key(state.recommender, state.ctx, state.item_id, state.config))
    job = executor().submit(lambda j: add_faithfulness(state, j.progress), ON_REQUEST, key, session_id())
    _wait(job, progress)


def submit_contrast(rec: Recommender, user_id: str | None, item_a: str, item_b: str, config: ExplainConfig,
                    ctx: UserContext, words: bool = False) -> Job:
    """Why A above B (``contrast_pair``) as an executor job: it queues with the rest and can be cancelled.
    The page keeps the job in its session, so a rerun while it runs picks up the same job's result."""
    key = ("contrast", state_key(rec, ctx, item_a, config), item_b, words)
    return executor().submit(
        lambda j: contrast_pair(rec, user_id, item_a, item_b, config, ctx, words=words, progress=j.progress, cancel=j.checkpoint),
        INTERACTIVE, key, session_id(),
    )


def wait(job: Job, progress: Progress | None = None):
    """The job's result (re-raising its error, ``Cancelled`` included), reporting progress while it runs."""
    return _wait(job, progress)


def cancel(kinds: set[str]) -> int:
    """This session stops waiting for its work of these kinds ("state", "split", "faithfulness", "contrast");
    work no other session waits for is cancelled (it stops at its next checkpoint, nothing partial is cached)."""
    return executor().withdraw(session_id(), kinds)


def prefetch(rec: Recommender, user_id: str | None, item_ids: list[str], ctx: UserContext,
             config: ExplainConfig | None = None) -> list[Job]:
    """Explain the first ``PREFETCH_TOP`` items in the background (first view + carrying tokens).

    The session's earlier prefetches for other pairs are cancelled (the analyst moved on); a
    rerun showing the same list keeps its jobs running.
    """
    config = config or page_config()
    pool = executor()
    wanted = {item_id: ("prefetch", state_key(rec, ctx, item_id, config)) for item_id in item_ids[:PREFETCH_TOP]}
    pool.cancel_owner(session_id(), PREFETCH, keep=set(wanted.values()))
    return [_prefetch_one(rec, user_id, item_id, ctx, config, session_id()) for item_id in wanted]


def _prefetch_one(rec: Recommender, user_id: str | None, item_id: str, ctx: UserContext, config: ExplainConfig,
                  owner: str) -> Job:
    """Queue the first view and carrying-token split of one pair at prefetch priority (merged if queued).

    A pair already explained gets a finished job and nothing is queued: pages draw their "ready"
    lines right after asking, and a new job for a cached pair would still read "queued" then.
    """
    if _ready(rec, user_id, item_id, ctx, config):
        return Job.finished("ready")

    def run(job: Job) -> None:
        state = pair_state(rec, user_id, item_id, config, ctx)
        job.checkpoint()
        split_texts(state, carrying_texts(state), job.progress, job.checkpoint)

    return executor().submit(run, PREFETCH, ("prefetch", state_key(rec, ctx, item_id, config)), owner)


def _ready(rec: Recommender, user_id: str | None, item_id: str, ctx: UserContext, config: ExplainConfig) -> bool:
    """Whether the pair's first view and its carrying texts' tokens are in the explanation cache."""
    state = cached_state(rec, user_id, item_id, config, ctx)
    if state is None:
        return False
    with state.lock:
        return all(n in state.tokens for n in carrying_texts(state))


FEATURED = 3  # users the Home page offers for a demo
FEATURED_OWNER = "featured"  # prefetch owner that no session's moves cancel


@dataclass(frozen=True)
class Featured:
    user_id: str
    item_id: str  # the user's top recommendation
    margin: float  # its score lead over the user's second item
    job: Job  # its explanation, prefetched in the background


def featured_pairs(rec: Recommender, n: int = FEATURED, sample: int = 60, seed: int = 0) -> list[tuple[str, str, float]]:
    """``n`` (user, top item, lead) whose top recommendation stands out most clearly.

    A clear lead over the second item makes a demo explanation about one item rather than a
    coin toss between two; users with at least 5 history items give the history charts something
    to show.  Drawn from a seeded sample so the choice is stable for a model and cheap (one batch).
    """
    users = [u for u in rec.known_users() if len(rec.context(u).history) >= 5] or rec.known_users()
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(users), size=min(sample, len(users)), replace=False))
    lists = rec.recommend_many([users[i] for i in chosen], 2)
    ranked = sorted(((u, recs[0].item_id, recs[0].score - recs[1].score) for u, recs in lists.items() if len(recs) == 2),
                    key=lambda t: (-t[2], t[0]))
    picked, items = [], set()
    for user_id, item_id, margin in ranked:  # distinct items: three demos of one film teach less
        if item_id not in items:
            picked.append((user_id, item_id, margin))
            items.add(item_id)
        if len(picked) == n:
            break
    return picked


@st.cache_resource(max_entries=4, show_spinner=False)
def _featured_pairs(model_fingerprint: str, _rec: Recommender) -> list[tuple[str, str, float]]:
    return featured_pairs(_rec)  # once per model and process: every session shares the same demo


def featured(rec: Recommender) -> list[Featured]:
    """The featured users of ``rec`` with their top item's explanation queued (merged if already queued)."""
    config = page_config()
    out = []
    for user_id, item_id, margin in _featured_pairs(rec.model_fingerprint, rec):
        ctx = rec.context(user_id)
        out.append(Featured(user_id, item_id, margin, _prefetch_one(rec, user_id, item_id, ctx, config, FEATURED_OWNER)))
    return out


def prefetch_status(jobs: list[Job]) -> None:
    """One line saying how many of the prefetched explanations are ready (as of this run).

    Deliberately not a self-refreshing fragment: a timer fragment kept firing after
    ``st.switch_page`` to Explain in the browser benchmark, and the three-session phase never settled.
    """
    if not jobs:
        return
    ready = sum(1 for j in jobs if j.done and j.error is None)
    failed = sum(1 for j in jobs if j.done and j.error is not None)
    text = f"Explanations of the top {len(jobs)}: {ready} of {len(jobs)} ready"
    st.caption(text + (f" ({failed} not prefetched)" if failed else "") + ("" if ready + failed == len(jobs) else " …"))


def page_config(max_steps: int = 64, baseline: str = "pad") -> ExplainConfig:
    """The settings the Explain page explains with (prefetch must use the same to be a cache hit)."""
    return ExplainConfig(method="all", n_steps=max_steps, baseline=baseline, token_level="carrying", faithfulness=False)


__all__ = ["ON_REQUEST", "Cancelled", "cancel", "compose", "faithfulness", "first_view", "page_config", "prefetch", "prefetch_status", "split", "submit_contrast", "wait"]
