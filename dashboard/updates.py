"""A session's incremental update: its files read and checked, its background job, and its model adopted.

The files are read here, in the script's thread, before anything starts: a file this model cannot read
is the page's error at once, and the load is checked against the session's and the server's memory
budgets (``dashboard.memory_budget``) like the Data page's uploads.  What the rows mean for the model
(new items without text, unknown items with no items file) is decided by ``update_model`` in the job,
whose message the page shows; the session's model stays as it was either way.

When the job finishes, the first run of any page makes the updated model the session's model (as a
finished training is adopted), provided the session still uses the model the update started from; it is
then kept for a reload as an unsaved model is (``state.use_model``: a draft in the session's folder), with
the registry name it was a version of (``keep_result``), so that "Save as a new version" survives a reload.
An update still running when the page is reloaded is found again, as a training is (``running_jobs``): the
reloaded session shows its progress and adopts its model when it ends, if the session's model is still the
one the update started from (the same weights and data: ``model_fingerprint``, since a reload loads it anew).

Keys of ``st.session_state`` (written only here, and by ``state`` when a reload finds the job again):
``update_job``, ``adopted_update``.
"""
from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from recsys_core import Recommender, RecsysError
from recsys_core.loading import load_increment
from recsys_core.loading.footprint import estimate_footprint
from recsys_core.update import UpdateOptions, UpdateReport

from . import memory_budget, running_jobs, state
from .update_job import UpdateJob

UPDATED_FROM = "update"  # the kind of kept result: the registry name an unsaved updated model is a version of


def job() -> UpdateJob | None:
    return st.session_state.get("update_job")


def running() -> bool:
    current = job()
    return current is not None and current.running


def start(base: Recommender, interactions, items, users, options: UpdateOptions) -> UpdateJob:
    """Read the uploads (Streamlit UploadedFile objects; ``interactions`` required) and start updating ``base``.

    Raises RecsysError (nothing started, the model unchanged) for a missing or unreadable file, an upload
    over the memory budget, or an update already running.
    """
    if running():
        raise RecsysError("An update is already running in this session: stop it or wait for it to finish.")
    if interactions is None:
        raise RecsysError("Choose the file of new interactions first (the items and users files are optional).")
    files = [None if f is None else (f.name, f.getvalue()) for f in (interactions, items, users)]
    with memory_budget.room_for(estimate_footprint(*(None if f is None else f[1] for f in files))):
        increment = load_increment(*files)
    frames = [t for t in (increment.interactions, increment.items, increment.users) if t is not None]
    # Counted while the job holds the tables (it lets them go when it ends): other uploads see the room they take.
    memory_budget.LEDGER.hold(memory_budget.owner(), "update", increment,
                              int(frame_bytes(frames) * memory_budget.HELD_OVERHEAD))
    new = UpdateJob(base, increment, options, saved_name=state.saved_name(),
                    base_label=state.model_label().removesuffix(state.DRAFT).removesuffix(state.UNSAVED))
    st.session_state["update_job"] = new.start()
    state.found_after_a_reload("update", new)
    return new


def adopt_finished() -> None:
    """Make a finished update's model the session's model, once (called by ``page.setup`` on every page).

    Not when the session has moved to another model meanwhile: the Train page then offers the updated one."""
    current = job()
    if current is None or not current.succeeded or st.session_state.get("adopted_update") == current.started_at:
        return
    if state.model().model_fingerprint == current.base.model_fingerprint:
        use_result(current)


def use_result(finished: UpdateJob) -> None:
    """Make ``finished``'s updated model the session's model (kept for a reload as unsaved models are)."""
    st.session_state["adopted_update"] = finished.started_at
    running_jobs.adopted(finished)
    stamp = time.strftime("%H:%M", time.localtime(finished.finished_at))
    state.use_model(finished.result, f"{finished.base_label}, updated at {stamp}{state.UNSAVED}")
    if finished.saved_name is not None:
        state.keep_result(UPDATED_FROM, {"model": finished.result.model_fingerprint}, {"name": finished.saved_name})


def pending() -> UpdateJob | None:
    """A finished update whose model the session did not take, because it had moved to another model."""
    current = job()
    if current is None or not current.succeeded or st.session_state.get("adopted_update") == current.started_at:
        return None
    return current


def version_of(rec: Recommender) -> str | None:
    """The registry name whose next version ``rec`` would be: the model an unsaved update started from was
    that name's saved version (this session's job, or what it kept for a reload); None otherwise."""
    if state.saved_name() is not None:
        return None  # the session's model is a saved version itself: nothing to save
    current = job()
    if current is not None and current.result is rec:
        return current.saved_name
    kept = state.kept_result(UPDATED_FROM)
    if kept is None or kept.inputs.get("model") != rec.model_fingerprint:
        return None
    name = kept.value.get("name")
    return name if isinstance(name, str) and name else None


def last_report(rec: Recommender) -> UpdateReport | None:
    """The report of ``rec``'s last update (kept with the model), or None for a model never updated."""
    return UpdateReport.from_dict(rec.training.updates[-1]) if rec.training.updates else None


def increment_columns(rec: Recommender) -> dict[str, list[str]]:
    """The columns each file of new data uses for ``rec``: the canonical names of the data it was trained on."""
    catalog = rec.catalog
    interactions = ["user_id", "item_id"] + (["rating"] if catalog.ratings else []) + (
        ["timestamp"] if catalog.times else [])
    return {"interactions": interactions, "items": ["item_id", *catalog.item_fields],
            "users": ["user_id", *catalog.user_fields] if catalog.user_fields else []}


def frame_bytes(frames: list[pd.DataFrame]) -> int:
    """Bytes the tables hold (strings counted)."""
    return int(sum(int(t.memory_usage(deep=True).sum()) for t in frames))
