"""A session's explanations: the one owner of the Explain page's work, the Recommendations page's
prefetch and the Home page's featured users.

Every heavy explanation step of every session goes through the process's one ``dashboard.executor``
(one worker thread), so three analysts opening Explain at once queue instead of thrashing two cores,
and the Recommendations page can prefetch its top items at the lowest priority.  Job keys are the
explanation cache's own pair key (``state_key``), so a prefetch, the page's request and another
session's identical request are one job and one cache entry; ``page_config`` is the one definition of
the Explain page's settings, so a prefetch is always the page's cache hit.  Results also land in the
explanation cache, so a rerun that abandons a wait loses nothing.

How a cancel works in Streamlit: clicking Cancel reruns the script, which interrupts the run that
was waiting for the job (the job itself runs in the executor's thread, not in the script).  The new
run sees the button's click before it reaches the step, withdraws this session from the step's jobs
(the executor cancels a job only when no other session waits for the same work; it stops at its next
checkpoint and nothing partial is cached), and remembers which pair was cancelled so the step is not
started again on its own.

What the session remembers (one ``_Memory`` in Streamlit's session state): the steps cancelled and for
which pair, the on-request steps asked for, the comparison still running, and the comparison and
what-if results, shown until the analyst replaces them (and kept for a reload: ``dashboard.explain_kept``).
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import streamlit as st

from recsys_core import Recommender, UserContext
from recsys_core.explain import (
    Counterfactual,
    ExplainConfig,
    Explanation,
    PairState,
    TextTokens,
    add_faithfulness,
    cached_state,
    carrying_texts,
    compose,
    contrast_pair,
    counterfactual,
    pair_state,
    split_texts,
    state_key,
    what_if,
)
from recsys_core.progress import Cancelled, Progress

from . import explain_kept as kept_results
from . import state
from .executor import INTERACTIVE, ON_REQUEST, PREFETCH, Job, JobStatus, executor
from .explain_kept import Kept, show_inputs
from .formatting import item_label
from .safe_text import plain
from .state import model_label

if TYPE_CHECKING:
    from recsys_core.explain import Contrast, WhatIf

PREFETCH_TOP = 3  # items of a shown list explained ahead of time
SESSION_KEY = "_explain_session"  # the session's owner id in the executor (tests set it to tell sessions apart)
MEMORY_KEY = "_explanations"


TOP_K = 10  # the Explain page's list ("one of the user's top-10"): the reason says whether the item is in it


def page_config(max_steps: int = 64, baseline: str = "pad") -> ExplainConfig:
    """The settings the Explain page explains with (prefetch uses the same, or it would miss the cache)."""
    return ExplainConfig(method="all", n_steps=max_steps, baseline=baseline, token_level="carrying", faithfulness=False,
                         top_k=TOP_K)


def session_id() -> str:
    if SESSION_KEY not in st.session_state:
        st.session_state[SESSION_KEY] = uuid.uuid4().hex
    return st.session_state[SESSION_KEY]


def _wait(job: Job, progress: Progress | None):
    """Block this script run until the job is done, reporting its progress (0.1 s polls); its result
    (re-raising its error, ``Cancelled`` included)."""
    while not job.done:
        if progress is not None:
            progress(job.fraction, job.message)
        try:
            return job.wait(0.1)
        except TimeoutError:
            continue
    return job.wait()


# -- what the session remembers -------------------------------------------------------------------
# The first element of every executor job key this module submits: what kind of work the job is.
JobKind = Literal["state", "split", "faithfulness", "contrast", "counterfactual", "prefetch"]
StepName = Literal["first", "rest", "faithfulness", "contrast", "counterfactual"]  # the Explain page's cancellable steps
Status = Literal["idle", "asked", "cancelled"]


@dataclass(frozen=True)
class _Step:
    """A long step of the Explain page that the analyst can cancel."""

    kinds: frozenset[JobKind]  # the executor work it waits for
    parts: tuple[str, ...] = ("",)  # its Cancel buttons: one per wait of the step within a run
    per_pair: bool = True  # a cancel is remembered for the pair; else until the step is asked for again


STEPS: dict[StepName, _Step] = {
    "first": _Step(frozenset({"state", "split"}), ("view", "split")),  # the first view and its token split
    "rest": _Step(frozenset({"split"})),  # the other history texts
    "faithfulness": _Step(frozenset({"faithfulness", "split"})),
    "contrast": _Step(frozenset({"contrast"}), per_pair=False),
    "counterfactual": _Step(frozenset({"counterfactual"})),
}
IDLE: Status = "idle"  # a step's status (see PairExplanation.status)
ASKED: Status = "asked"
CANCELLED: Status = "cancelled"
_ANY_PAIR = "any"


@dataclass
class _Pending:
    """A comparison asked for and still running: a rerun meanwhile waits for the same job."""

    inputs: dict
    described: str
    job: Job


@dataclass
class _Memory:
    cancelled: dict[str, Any] = field(default_factory=dict)  # step → the pair it was cancelled for
    asked: dict[str, Any] = field(default_factory=dict)  # step → the pair it was asked for ("contrast": a _Pending)
    kept: dict[str, Kept] = field(default_factory=dict)  # "contrast", "whatif", "counterfactual" → the result shown
    shown: Any = None  # the pair key (pair and settings) whose results the page drew last
    place: int = 0  # which of the Explain page's two results places they are in (see PairExplanation.results)


def _memory() -> _Memory:
    if MEMORY_KEY not in st.session_state:  # a session's first: what a reload brought back, if anything
        st.session_state[MEMORY_KEY] = _Memory(kept=kept_results.restored(_compared_with))
    return st.session_state[MEMORY_KEY]


def _compared_with(user_id: str) -> list[str]:
    """The items the Explain page offers to compare with for a known user (its top list)."""
    rec = state.model()
    return [r.item_id for r in rec.recommend_for(rec.context(user_id), TOP_K)]


def cancel_key(step: str, part: str = "") -> str:
    return f"explain_cancel_{step}" + (f"_{part}" if part else "")


class CancellableStep:
    """Progress of one long step, with a Cancel button drawn as soon as there is something to wait for.

    ``part`` tells apart two waits of one step in the same run (each needs its own button);
    ``cancelled`` says whether the work ended cancelled (see ``PairExplanation.running``).
    """

    def __init__(self, step: str, what: str, part: str = "", subject: str = "", busy: BusyLine | None = None):
        self.step, self.what, self.part, self.subject, self.busy = step, what, part, subject, busy
        self.cancelled = False
        self._bar = st.empty()
        self._button = st.empty()
        self._drawn = False

    def progress(self, fraction: float, message: str) -> None:
        if not self._drawn:  # drawn once per run: a second button with the same key is an error
            self._button.button(f"Cancel {self.what.lower()}", key=cancel_key(self.step, self.part), icon=":material/close:")
            self._drawn = True
        subject = f" · {self.subject}" if self.subject else ""
        self._bar.progress(min(max(float(fraction), 0.0), 1.0), text=plain(f"{self.what}{subject}: {message}…"))
        if self.busy is not None:
            self.busy.refresh()

    def close(self) -> None:
        self._bar.empty()
        self._button.empty()


# -- what this session waits for: the page's busy line ---------------------------------------------
@dataclass(frozen=True)
class Work:
    """One explanation job this session waits for, as of now."""

    what: str  # e.g. "token attributions of 3 texts: Jaws 2 (i17) for user 12"
    running: bool
    ahead: int  # jobs that run before it (any session's), 0 when running
    fraction: float  # of the job, 0–1
    message: str  # its latest progress message

    def line(self) -> str:
        if self.running:
            return f"{self.what} ({self.fraction:.0%}: {self.message})"
        return f"{self.what} (queued behind {self.ahead} job{'s' if self.ahead != 1 else ''})"


def session_work() -> list[Work]:
    """The explanation jobs this session asked for and still waits for (queued or running), running first.

    Prefetches are left out: they run in the background for pages that do not wait for them.
    """
    return [_work(s) for s in executor().work_of(session_id(), ON_REQUEST)]


def _work(s: JobStatus) -> Work:
    return Work(s.job.description or "an explanation", s.running, s.ahead, s.job.fraction, s.job.message)


class BusyLine:
    """A line at the top of the Explain page saying what this session's explanation work is doing.

    Drawn where it is made and redrawn by every progress report of a step the page waits for (see
    ``CancellableStep``); ``done`` at the end of the run empties it, unless work asked for earlier (an
    earlier pair's) still runs in the background, which it then names as such.
    """

    def __init__(self):
        self._slot = st.empty()
        self._text = ""
        self.refresh()

    def _draw(self, text: str) -> None:
        if text != self._text:  # progress reports come ten times a second: redraw only what changed
            self._text = text
            if text:
                self._slot.info(plain(text), icon=":material/hourglass_top:")
            else:
                self._slot.empty()

    def refresh(self) -> None:
        work = session_work()
        self._draw("Computing " + "; ".join(w.line() for w in work) + "…" if work else "")

    def done(self) -> None:
        work = session_work()
        self._draw("Still running in the background for an earlier choice (not shown here; kept for when you go "
                   "back to it): " + "; ".join(w.line() for w in work) if work else "")


# -- one pair on the Explain page -----------------------------------------------------------------
class PairExplanation:
    """This session's explanation of one (user, item) pair with the Explain page's settings.

    Its stages run as executor jobs keyed by the pair's cache key; ``explanation()`` composes what is
    computed so far (plus this session's flagged splits).  Steps the analyst starts or cancels go
    through ``ask`` / ``status`` / ``running``; comparisons and what-ifs are kept with their inputs.
    """

    def __init__(self, rec: Recommender, user_id: str | None, item_id: str, ctx: UserContext, steps: int, baseline: str,
                 busy: BusyLine | None = None):
        self.rec, self.user_id, self.item_id, self.ctx = rec, user_id, item_id, ctx
        self.steps, self.baseline, self.busy = steps, baseline, busy
        self.config = page_config(steps, baseline)
        self.key = state_key(rec, ctx, item_id, self.config)  # what changes the numbers: model, user, item, settings
        # The pair whatever the settings: what-if and the net comparison use no integration.
        self.net_key = state_key(rec, ctx, item_id, ExplainConfig())
        self.state: PairState | None = None  # after open()
        self.flagged: dict[int, TextTokens] = {}  # splits that missed their budget: this session's, never cached
        self._memory = _memory()

    @property
    def who(self) -> str:
        return self.user_id if self.user_id is not None else f"the new user ({len(self.ctx.history)} history items)"

    @property
    def described(self) -> str:
        """The pair in words, e.g. "Jaws 2 (i17) for user 12"."""
        who = f"user {self.user_id}" if self.user_id is not None else self.who
        return f"{item_label(self.rec, self.item_id)} for {who}"

    def results(self):
        """The container for everything computed for the pair, drawn below the widgets that choose it.

        Streamlit keeps the previous run's elements on screen (faded) until this run draws over their
        places, and a container replacing a container keeps its children until then: while a new pair's
        work was queued, the old pair's tokens and charts stood under the new pair's header.  So there are
        two places, one empty: when the pair or settings changed since the last run, the results move to
        the other one, and the old place becomes an empty element, which drops the old container with
        everything in it (an ``st.empty()`` then a container in the *same* place does not: Streamlit merges
        the two messages before they are sent).  For the same pair the container is drawn in place again,
        so a rerun by a widget of the page redraws without flicker.
        """
        if self._memory.shown != self.key:
            self._memory.shown, self._memory.place = self.key, 1 - self._memory.place
        places = [st.container() if i == self._memory.place else st.empty() for i in (0, 1)]
        return places[self._memory.place]

    # -- stages ---------------------------------------------------------------------------------------
    def open(self, progress: Progress | None = None) -> None:
        """The first view (each text's share, attention, history): from the cache, else an interactive job."""
        self.state = cached_state(self.rec, self.user_id, self.item_id, self.config, self.ctx)
        if self.state is None:  # not prefetched nor seen before: queue it (merged with a prefetch of it)
            rec, user_id, item_id, config, ctx = self.rec, self.user_id, self.item_id, self.config, self.ctx
            job = executor().submit(lambda j: pair_state(rec, user_id, item_id, config, ctx, j.progress),
                                    INTERACTIVE, ("state", self.key), session_id(), f"the first view of {self.described}")
            self.state = _wait(job, progress)

    def explanation(self) -> Explanation:
        """Everything computed for the pair so far, as one Explanation (the page's only call of ``compose``)."""
        return compose(self.state, self.flagged, self.config)

    def carrying(self) -> list[int]:
        """The texts that carry the score (item, profile, the largest history shares)."""
        return carrying_texts(self.state)

    def is_split(self, texts: list[int]) -> bool:
        with self.state.lock:
            return all(n in self.state.tokens for n in texts)

    def split(self, texts: list[int], priority: int = INTERACTIVE, progress: Progress | None = None) -> Explanation:
        """Token IG of ``texts`` (those not split yet, e.g. by a prefetch), then the explanation with them."""
        if not self.is_split(texts):  # already split: answer at once, no queueing behind other work
            state = self.state
            job = executor().submit(lambda j: split_texts(state, texts, j.progress, j.checkpoint), priority,
                                    ("split", state.key, tuple(texts)), session_id(),
                                    f"token attributions of {len(texts)} text{'s' if len(texts) != 1 else ''}: {self.described}")
            self.flagged.update(_wait(job, progress))
        return self.explanation()

    def _split_texts(self) -> list[int]:
        """The texts this page shows split into tokens: the state's splits and this session's flagged ones."""
        with self.state.lock:
            return sorted(set(self.state.tokens) | set(self.flagged))

    def has_curves(self) -> bool:
        """Curves over the texts now split (curves over fewer texts are stale once more texts are split)."""
        return bool(self.state.curves) and list(self.state.curve_texts) == self._split_texts()

    def add_faithfulness(self, progress: Progress | None = None) -> None:
        """Deletion curves over the texts this page shows split into tokens (the item, the profile and the
        carrying history texts, or every text once the rest are split): the rankings the analyst reads."""
        state, texts = self.state, self._split_texts()
        job = executor().submit(lambda j: add_faithfulness(state, j.progress, texts=texts), ON_REQUEST,
                                ("faithfulness", state.key, tuple(texts)), session_id(),
                                f"deletion curves of {self.described}")
        _wait(job, progress)

    # -- steps the analyst starts and cancels ---------------------------------------------------------
    def _inputs(self, step: str) -> Any:
        return self.key if STEPS[step].per_pair else _ANY_PAIR

    def ask(self, step: StepName) -> None:
        """The analyst pressed the step's button: run it for this pair (again, if it was cancelled)."""
        self._memory.asked[step] = self.key
        self._memory.cancelled.pop(step, None)

    def status(self, step: StepName) -> Status:
        """``CANCELLED`` when the analyst clicked one of the step's Cancel buttons (this run) or cancelled it for
        this pair before; else ``ASKED`` when it was asked for this pair (or, the comparison, is running); else
        ``IDLE``.  On a fresh click this session withdraws from the step's executor work."""
        spec, inputs = STEPS[step], self._inputs(step)
        if any(st.session_state.get(cancel_key(step, part)) for part in spec.parts):
            executor().withdraw(session_id(), spec.kinds)
            self._memory.cancelled[step] = inputs
        if step in self._memory.cancelled and self._memory.cancelled[step] == inputs:
            self._memory.asked.pop(step, None)
            return CANCELLED
        asked = self._memory.asked.get(step)
        if asked is not None and (asked == self.key or not spec.per_pair):
            return ASKED
        return IDLE

    @contextmanager
    def running(self, step: StepName, what: str, part: str = "") -> Iterator[CancellableStep]:
        """Progress and a Cancel button while the body waits for the step's work.

        A ``Cancelled`` from the body (another session's cancel of shared work, a server shutdown) ends it:
        the step is no longer asked for, a per-pair step is remembered as cancelled (not started again on
        its own), and ``.cancelled`` is set for the page's message.
        """
        shown = CancellableStep(step, what, part, self.described, self.busy)
        try:
            yield shown
        except Cancelled:
            shown.cancelled = True
            self._memory.asked.pop(step, None)
            if STEPS[step].per_pair:
                self._memory.cancelled[step] = self.key
        shown.close()

    # -- why this item above another ------------------------------------------------------------------
    def _contrast_config(self, words: bool) -> ExplainConfig:
        # The net shares use no integration, so the settings change nothing and are no part of the inputs;
        # the word level splits two item texts with at most 20 steps (recsys_core.explain.whatif.WORD_STEPS).
        return ExplainConfig(n_steps=min(self.steps, 20), baseline=self.baseline) if words else ExplainConfig()

    def _inputs_of(self, key: tuple, **asked) -> dict:
        """A kept result's inputs (see ``explain_kept``): what it was asked for, of the pair with explanation key ``key``."""
        return {"model": self.rec.model_fingerprint, "user": self.user_id, "item": self.item_id,
                "pair": kept_results.pair_digest(key), **asked}

    def _contrast_inputs(self, other: str, words: bool) -> dict:
        key = state_key(self.rec, self.ctx, self.item_id, self._contrast_config(words))
        return self._inputs_of(key, other=other, words=words)

    def compare(self, other: str, words: bool) -> None:
        """Start "why this item above ``other``" (``contrast_pair``) as a cancellable executor job; the job is
        kept in the session, so a rerun while it runs waits for the same job."""
        rec, user_id, item_id, ctx, config = self.rec, self.user_id, self.item_id, self.ctx, self._contrast_config(words)
        inputs = self._contrast_inputs(other, words)
        job = executor().submit(
            lambda j: contrast_pair(rec, user_id, item_id, other, config, ctx, words=words, progress=j.progress,
                                    cancel=j.checkpoint),
            INTERACTIVE, ("contrast", state_key(rec, ctx, item_id, config), other, words), session_id(),
            f"why {item_label(rec, item_id)} above {item_label(rec, other)} for {self.who}",
        )
        described = (f"{self.who}: {item_label(rec, item_id)} (A) vs {item_label(rec, other)} (B)"
                     f"{' with words' if words else ''} (model {model_label()})")
        self._memory.asked["contrast"] = _Pending(inputs, described, job)
        self._memory.cancelled.pop("contrast", None)

    def finish_comparison(self, progress: Progress | None = None) -> None:
        """Wait for the comparison asked for (maybe in an earlier run) and keep its result.  A rerun that
        interrupts the wait leaves it asked for, so the next run waits for the same job."""
        pending = self._memory.asked["contrast"]
        result = Kept(pending.inputs, pending.described, _wait(pending.job, progress))
        self._memory.kept["contrast"] = kept_results.keep("contrast", result)  # also for a reload
        del self._memory.asked["contrast"]

    def kept_comparison(self, other: str, words: bool) -> Contrast | None:
        """The comparison kept in the session (if any), after a caption (or a warning) naming its inputs."""
        return self._shown("contrast", self._contrast_inputs(other, words), "Compare")

    # -- the smallest change -----------------------------------------------------------------------------
    def find_counterfactual(self, progress: Progress | None = None) -> Counterfactual:
        """The smallest history removal that moves the item across the top-``TOP_K`` boundary (re-scored), kept for
        this pair: it is shown only while this pair and these settings are the page's."""
        rec, ctx, item = self.rec, self.ctx, self.rec.item_position(self.item_id)
        job = executor().submit(lambda j: counterfactual(rec, ctx, item, TOP_K, progress=j.progress, cancel=j.checkpoint),
                                ON_REQUEST, ("counterfactual", self.state.key), session_id(),
                                f"the smallest change for {self.described}")
        change = _wait(job, progress)
        self._memory.kept["counterfactual"] = Kept({"pair": self.key}, self.described, change)
        self._memory.asked.pop("counterfactual", None)
        return change

    def kept_counterfactual(self) -> Counterfactual | None:
        kept = self._memory.kept.get("counterfactual")
        return kept.value if kept is not None and kept.inputs == {"pair": self.key} else None

    # -- what if ----------------------------------------------------------------------------------------
    def history_window(self) -> list[str]:
        """The history items the model reads (its ``max_history`` latest), newest first."""
        n = self.rec.max_history
        return [self.rec.catalog.item_ids[i] for i in self.ctx.history[-n:][::-1]]

    def item_text(self) -> str:
        return self.rec.catalog.item_texts[self.rec.item_position(self.item_id)].text

    def _whatif_inputs(self, items: list[str], fields: list[str], text: str) -> dict:
        return self._inputs_of(self.net_key, remove_history=list(items), remove_fields=list(fields),
                               item_text=text if text != self.item_text() else None)

    def what_if(self, items: list[str], fields: list[str], text: str) -> None:
        """Re-score the pair without ``items`` of the history, ``fields`` of the item, or with ``text``; kept."""
        inputs = self._whatif_inputs(items, fields, text)
        w = what_if(self.rec, self.user_id, self.item_id, remove_history=items, remove_fields=fields,
                    item_text=inputs["item_text"], ctx=self.ctx)
        described = f"{self.who}, {item_label(self.rec, self.item_id)}, {w.change} (model {model_label()})"
        self._memory.kept["whatif"] = kept_results.keep("whatif", Kept(inputs, described, w))  # also for a reload

    def kept_what_if(self, items: list[str], fields: list[str], text: str) -> WhatIf | None:
        """The what-if kept in the session (if any), after a caption (or a warning) naming its inputs."""
        return self._shown("whatif", self._whatif_inputs(items, fields, text), "Re-score")

    def _shown(self, name: str, current: dict, action: str) -> Any:
        kept = self._memory.kept.get(name)
        if kept is None:
            return None
        show_inputs(kept, current, action)
        return kept.value


# -- ahead of time: prefetch and the Home page's featured users ------------------------------------
def prefetch(rec: Recommender, user_id: str | None, item_ids: list[str], ctx: UserContext) -> list[Job]:
    """Explain the first ``PREFETCH_TOP`` items in the background (first view + carrying tokens).

    The session's earlier prefetches for other pairs are cancelled (the analyst moved on); a
    rerun showing the same list keeps its jobs running.
    """
    config = page_config()
    wanted = {item_id: ("prefetch", state_key(rec, ctx, item_id, config)) for item_id in item_ids[:PREFETCH_TOP]}
    executor().cancel_owner(session_id(), PREFETCH, keep=set(wanted.values()))
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

    return executor().submit(run, PREFETCH, ("prefetch", state_key(rec, ctx, item_id, config)), owner,
                             f"the explanation of {item_label(rec, item_id)}, ahead of time")


def _ready(rec: Recommender, user_id: str | None, item_id: str, ctx: UserContext, config: ExplainConfig) -> bool:
    """Whether the pair's first view and its carrying texts' tokens are in the explanation cache."""
    state = cached_state(rec, user_id, item_id, config, ctx)
    if state is None:
        return False
    with state.lock:
        return all(n in state.tokens for n in carrying_texts(state))


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


__all__ = [
    "ASKED", "CANCELLED", "FEATURED", "IDLE", "ON_REQUEST", "TOP_K", "BusyLine", "Featured", "Kept", "PairExplanation",
    "Work", "featured", "featured_pairs", "page_config", "prefetch", "prefetch_status", "session_id", "session_work",
]
