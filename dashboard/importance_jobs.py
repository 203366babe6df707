"""Feature-importance runs as cancellable jobs of the process's explanation executor, and the session's
runs and results (the page reads and writes them only through ``runs()`` and ``results()``).

A sample of pairs takes minutes, so it must not hold the two cores against
other analysts' explanations: it goes through the one explanation worker of
the process (``dashboard.executor``) at ``ON_REQUEST`` urgency, and
an analyst opening a pair on the Explain page is served between its steps.

The page script waits for the job, redrawing a progress bar with the measured
time per pair and the time left, next to a Cancel button.  A click on Cancel
(or on anything else) ends that script run at its next redraw; the button's
callback cancels the job, which stops at its next checkpoint (within one
text's worth of work).  Any other rerun leaves the job running and the next
run goes on waiting for it, so changing a slider never throws work away.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from recsys_core import Recommender
from recsys_core.explain import DEFAULT_K, DEFAULT_USERS, field_ablation, global_importance
from recsys_core.progress import Cancelled, Checkpoint, Progress

from .executor import ON_REQUEST, Job, executor
from .explanations import session_id
from .safe_text import plain

POLL_SECONDS = 0.25
RESULTS, RUNS = "importance", "importance_runs"  # session keys (tests fill them to set a page up)


def results() -> dict[tuple[str, str], Any]:
    """This session's computed results: (model fingerprint, kind) → GlobalImportance or FieldAblation."""
    return st.session_state.setdefault(RESULTS, {})


def runs() -> dict[tuple[str, str], ImportanceRun]:
    """This session's latest run per (model fingerprint, kind): a run on another model goes on when the
    analyst loads a different one, and its result is there when they come back."""
    return st.session_state.setdefault(RUNS, {})


@dataclass
class ImportanceRun:
    kind: str  # "ig" | "ablation"
    model: str  # fingerprint of the model it runs on
    job: Job
    fraction: float = 0.0  # last progress the computation reported (kept after a cancel)
    message: str = "waiting for the explanation worker"
    started: float = field(default_factory=time.time)

    @property
    def cancelled(self) -> bool:
        return isinstance(self.job.error, Cancelled)


def start_shares(rec: Recommender, n_users: int, k: int) -> ImportanceRun:
    """Attribution shares of ``n_users`` sampled users × their top ``k`` items, queued as this session's run.

    With ``global_importance``'s own default settings (16 steps, carrying texts only, only what the
    shares read: ``recsys_core.explain.shares``): the ones its measured pace and field shares were checked with."""
    return start("ig", rec.model_fingerprint, lambda progress, cancel: global_importance(
        rec, n_users=n_users, k=k, progress=progress, cancel=cancel))


def start_ablation(rec: Recommender, max_users: int) -> ImportanceRun:
    """Each field's worth in validation NDCG@10 (on up to ``max_users`` users), queued as this session's run."""
    return start("ablation", rec.model_fingerprint, lambda progress, cancel: field_ablation(
        rec, max_users=max_users, progress=progress, cancel=cancel))


def start(kind: str, model: str, work: Callable[[Progress, Checkpoint], Any]) -> ImportanceRun:
    """Queue ``work(progress, cancel)`` on the explanation worker; the run remembers its last progress."""
    holder: dict[str, ImportanceRun] = {}

    def run(job: Job) -> Any:
        def progress(fraction: float, message: str) -> None:
            holder["run"].fraction, holder["run"].message = fraction, message
            job.progress(fraction, message)

        return work(progress, job.checkpoint)

    job = executor().submit(run, ON_REQUEST, ("importance", kind, model, session_id(), time.time_ns()), session_id())
    holder["run"] = ImportanceRun(kind, model, job)
    return holder["run"]


def follow(run: ImportanceRun, cancel_key: str) -> None:
    """Block this script run until the job ends, showing its progress and a Cancel button."""
    cancelling = run.job.cancelled
    button = st.empty()  # cleared when the run ends: a Cancel button for nothing would mislead
    button.button("Cancel", key=cancel_key, icon=":material/cancel:", on_click=run.job.cancel, disabled=cancelling,
                  help="Stops the computation at its next step; nothing from the unfinished sample is shown.")
    bar = st.progress(0.0)
    while not run.job.done:
        status = "Cancelling… " if run.job.cancelled else ""
        # Redrawing is also where Streamlit ends this run when the analyst clicks something.
        bar.progress(min(max(run.fraction, 0.0), 1.0), text=plain(status + run.message))
        time.sleep(POLL_SECONDS)
    bar.empty()
    button.empty()


def cancelled_message(run: ImportanceRun, what: str) -> str:
    """Markdown: the run's messages are this package's own text (no ids or titles in them)."""
    seconds = (run.job.finished_at or time.time()) - run.started
    return (f"Cancelled after {seconds:.0f} s at {run.fraction:.0%}: {run.message}. Nothing is shown from it: "
            f"{what} from part of the sample are not the result you asked for.")


__all__ = ["DEFAULT_K", "DEFAULT_USERS", "ImportanceRun", "cancelled_message", "follow", "results", "runs", "start", "start_ablation", "start_shares"]
