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

A finished result is also kept for a reload (``keep``: ``dashboard.state.keep_result``, with the model's
fingerprint and the run's settings); a reload brings the latest of each kind back under that fingerprint, so
it is shown only for the model that made it.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from recsys_core import Recommender
from recsys_core.explain import DEFAULT_K, DEFAULT_USERS, FieldAblation, GlobalImportance, field_ablation, global_importance
from recsys_core.progress import Cancelled, Checkpoint, Progress

from . import state
from .executor import ON_REQUEST, Job, executor
from .explanations import session_id
from .safe_text import plain

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25
RESULTS, RUNS = "importance", "importance_runs"  # session keys (tests fill them to set a page up)
KEPT = {"ig": "importance_shares", "ablation": "importance_ablation"}  # kind → its kept result (state.keep_result)
READERS: dict[str, Callable[[dict], Any]] = {"ig": GlobalImportance.from_dict, "ablation": FieldAblation.from_dict}


def results() -> dict[tuple[str, str], Any]:
    """This session's computed results: (model fingerprint, kind) → GlobalImportance or FieldAblation
    (on a session's first call, those a reload brought back)."""
    if RESULTS not in st.session_state:
        st.session_state[RESULTS] = _restored()
    return st.session_state[RESULTS]


# The page's sliders a kept result's settings are put back into (pages/6_Feature_importance.py's keys), with
# each slider's range and step: a value outside them would be the page's error, so it is left out.
SLIDERS = {"n_users": ("fi_users", 3, 100, 1), "k": ("fi_k", 1, 10, 1), "max_users": ("fi_ablation_users", 50, 1000, 50)}


def _restored() -> dict[tuple[str, str], Any]:
    """The results a reload brought back, keyed by the model that made them; their settings go back into the
    page's sliders, so the page shows the inputs each result was made from."""
    out, current = {}, state.model().model_fingerprint
    for kind, name in KEPT.items():
        kept = state.kept_result(name)
        if kept is None:
            continue
        try:
            out[(str(kept.inputs["model"]), kind)] = READERS[kind](kept.value)
        except Exception as exc:  # a damaged entry is absent, never the page's end
            log.warning("kept %s result unreadable: %s", name, exc)
            continue
        for setting, value in kept.inputs.items() if kept.inputs["model"] == current else ():
            key, low, high, step = SLIDERS.get(setting, (None, 0, 0, 1))
            if key is not None and type(value) is int and low <= value <= high and (value - low) % step == 0:
                st.session_state.setdefault(key, value)
    return out


def keep(run: ImportanceRun) -> None:
    """A finished run's result becomes the session's result for its model and kind, kept for a reload.  It is
    shown from its kept form (numbers to 6 digits), so the page looks the same before and after a reload."""
    data = run.job.result.to_dict()
    state.keep_result(KEPT[run.kind], {"model": run.model, **run.settings}, data)
    results()[(run.model, run.kind)] = READERS[run.kind](data)


def runs() -> dict[tuple[str, str], ImportanceRun]:
    """This session's latest run per (model fingerprint, kind): a run on another model goes on when the
    analyst loads a different one, and its result is there when they come back."""
    return st.session_state.setdefault(RUNS, {})


@dataclass
class ImportanceRun:
    kind: str  # "ig" | "ablation"
    model: str  # fingerprint of the model it runs on
    job: Job
    settings: dict = field(default_factory=dict)  # what it was asked for (n_users, k / max_users), kept with it
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
        rec, n_users=n_users, k=k, progress=progress, cancel=cancel), {"n_users": n_users, "k": k})


def start_ablation(rec: Recommender, max_users: int) -> ImportanceRun:
    """Each field's worth in validation NDCG@10 (on up to ``max_users`` users), queued as this session's run."""
    return start("ablation", rec.model_fingerprint, lambda progress, cancel: field_ablation(
        rec, max_users=max_users, progress=progress, cancel=cancel), {"max_users": max_users})


def start(kind: str, model: str, work: Callable[[Progress, Checkpoint], Any],
          settings: dict | None = None, what: str = "importance") -> ImportanceRun:
    """Queue ``work(progress, cancel)`` on the explanation worker; the run remembers its last progress.
    ``what`` names the page's kind of work in the job's key (the Compare page's runs use it too)."""
    holder: dict[str, ImportanceRun] = {}

    def run(job: Job) -> Any:
        def progress(fraction: float, message: str) -> None:
            holder["run"].fraction, holder["run"].message = fraction, message
            job.progress(fraction, message)

        return work(progress, job.checkpoint)

    job = executor().submit(run, ON_REQUEST, (what, kind, model, session_id(), time.time_ns()), session_id())
    holder["run"] = ImportanceRun(kind, model, job, dict(settings or {}))
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


def finished_run(runs: dict, key: tuple[str, str], what: str, cancel_key: str) -> ImportanceRun | None:
    """The run under ``key`` in ``runs`` once it has ended well (taken out of ``runs``), else None.

    While it runs: its progress and a Cancel button, then a rerun (the controls above were drawn for a
    running job).  A cancelled run says so and leaves the earlier result in place; a failed one raises its
    error (a RecsysError becomes its message through ``page.user_errors``).  The Feature importance and
    Compare pages both wait for their runs this way.
    """
    run = runs.get(key)
    if run is None:
        return None
    if not run.job.done:
        follow(run, cancel_key=cancel_key)
        st.rerun()
    if run.cancelled:
        st.warning(cancelled_message(run, what), icon=":material/cancel:")
        return None
    runs.pop(key)
    if run.job.error is not None:
        raise run.job.error
    return run


def cancelled_message(run: ImportanceRun, what: str) -> str:
    """Markdown: the run's messages are this package's own text (no ids or titles in them)."""
    seconds = (run.job.finished_at or time.time()) - run.started
    return (f"Cancelled after {seconds:.0f} s at {run.fraction:.0%}: {run.message}. Nothing is shown from it: "
            f"{what} from part of the sample are not the result you asked for.")


__all__ = ["DEFAULT_K", "DEFAULT_USERS", "ImportanceRun", "cancelled_message", "finished_run", "follow", "keep",
           "results", "runs",
           "start", "start_ablation", "start_shares"]
