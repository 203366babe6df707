"""The Train page's "Update with new data" section and the Evaluation page's note on updated models.

New interactions (and optionally new or changed items and new users) are taken into the session's model
by ``recsys_core.update.update_model`` in the background (``dashboard.updates``, ``dashboard.update_job``):
a line per stage, a line per pass, a Stop button.  The finished update's report is read from the updated
model itself (``TrainingRecord.updates``), so it is the same after a reload or for a saved model.
"""
from __future__ import annotations

import streamlit as st

from recsys_core import Recommender
from recsys_core.update import UpdateOptions, UpdateReport

from . import page, plots, state, updates
from .safe_text import plain
from .save_panel import new_version_button, save_form
from .update_job import UpdateJob
from .uploads import FILE_TYPES

DEFAULTS = UpdateOptions()
# As the Train page's training budget: any update finishes on a small shared CPU.
UPDATE_PAGE_BUDGET_MINUTES = 10.0


def section() -> None:
    """Everything of an update on the Train page: the running job, the last result, the form."""
    st.header("Update with new data")
    job = updates.job()
    if job is not None and job.running:
        live_progress(job)
        return
    rec = state.model()
    if job is not None and job.stopped_early:
        st.info(plain(job.error), icon=":material/stop_circle:")
    elif job is not None and job.error:  # the core's message; the session's model is as it was
        page.error(job.error)
    waiting = updates.pending()
    if waiting is not None:  # finished after the session moved to another model
        st.info(f"The update of **{plain(waiting.base_label)}** finished, but this session now uses "
                f"**{plain(state.model_label())}**.", icon=":material/update:")
        if st.button("Use the updated model", key="use_updated", icon=":material/update:"):
            updates.use_result(waiting)
            page.done("The other pages now use the updated model.")
    report = updates.last_report(rec)
    if report is not None:
        show_report(rec, report, fresh=job is not None and job.result is rec)
    form(rec)


@st.fragment(run_every=1.0)
def live_progress(job: UpdateJob) -> None:
    """Redrawn every second while the background thread updates; a full rerun shows the result."""
    if not job.running:
        st.rerun()
    for stage in job.stages:
        if stage == job.stage:
            st.markdown(f":material/play_arrow: **{stage}**")
        elif stage in job.stages_seen:
            st.markdown(f":material/check: {stage}")
        else:
            st.markdown(f":material/schedule: {stage}")
    st.progress(job.fraction, text=plain(job.label))
    for e in job.epochs:
        st.caption(f"Pass {e.epoch}: loss {e.loss:.4f}, NDCG@10 on the newest interactions {e.val_ndcg10:.4f} "
                   f"({e.seconds:.1f} s)")
    st.button("Stop", icon=":material/stop_circle:", key="stop_update", on_click=job.stop,
              disabled=job.stop_requested, help="Stops after the current batch: the best complete pass is kept "
              "(the model before the update counts as one). Before the first pass ends, nothing is changed.")


def show_report(rec: Recommender, report: UpdateReport, fresh: bool) -> None:
    """The last update of ``rec``: what it added, NDCG@10 before and after, the retrain; save offers if unsaved."""
    n = len(rec.training.updates)
    title = "Update finished" if fresh else f"This model's last update (of {n})"
    st.success(f"{title}: the other pages use the updated model." if fresh else title, icon=":material/check_circle:")
    st.markdown("\n".join(f"- {plain(line)}" for line in report.lines()))
    if report.ndcg10_before is not None and report.ndcg10_after is not None:
        retrained = report.retrain.ndcg10 if report.retrain is not None else None
        a, b, c = st.columns(3)
        a.metric("NDCG@10 before", f"{report.ndcg10_before:.4f}")
        b.metric("NDCG@10 after", f"{report.ndcg10_after:.4f}", f"{report.ndcg10_after - report.ndcg10_before:+.4f}")
        if retrained is not None:
            # No help icon (its times are in the lines above): a button "Help for Retrained…" would answer to "Train".
            c.metric("Retrained from scratch", f"{retrained:.4f}", f"{retrained - report.ndcg10_after:+.4f} vs the update",
                     delta_color="off")
        page.chart(plots.update_ndcg(report.ndcg10_before, report.ndcg10_after, retrained), key="update_ndcg")
    if state.saved_name() is not None:
        return  # saved already: nothing to offer
    name = updates.version_of(rec)
    if name is not None or fresh:
        st.markdown("**Save the updated model**")
    if name is not None:
        new_version_button(rec, name, key="save_update")
    if fresh:  # after a reload the page's "Unsaved draft" panel has the form
        save_form(rec, key="save_update")


def form(rec: Recommender) -> None:
    """The files and settings of an update of the session's model, and the Update button."""
    columns = updates.increment_columns(rec)
    with st.form("update_model"):
        st.caption(
            f"Takes new data into **{plain(state.model_label())}** without training it again from scratch: new "
            "items are added (scored from their text at once), known users' histories extended, new users "
            "served from their histories, and the model trains on the new interactions mixed with replayed "
            "old ones. The model in use is not changed: the updated one replaces it when the update ends.")
        st.caption(plain("The files use the columns of the model's data: interactions "
                         + ", ".join(columns["interactions"]) + "; items " + ", ".join(columns["items"])
                         + ("; users " + ", ".join(columns["users"]) if columns["users"]
                            else "; this model reads no user profiles") + "."))
        a, b, c = st.columns(3)
        interactions = a.file_uploader("New interactions", type=FILE_TYPES, key="update_interactions")
        items = b.file_uploader("New or changed items (optional)", type=FILE_TYPES, key="update_items",
                                help="Required for items the model does not know yet: it scores them from their text.")
        users = c.file_uploader("New user profiles (optional)", type=FILE_TYPES, key="update_users",
                                disabled=not columns["users"])
        a, b, c = st.columns(3)
        epochs = a.number_input("Passes (at most)", 1, 100, DEFAULTS.epochs, key="update_epochs",
                                help="Passes over the new interactions and the replayed old ones; the update stops "
                                     "early when NDCG@10 on each user's newest interaction stops improving.")
        replay = b.number_input("Replay (old interactions per new one)", 0.0, 100.0, DEFAULTS.replay, step=0.5,
                                key="update_replay", help="Old training examples mixed in per new one, so the model "
                                "learns the new period without forgetting the old; 0 trains on the new ones only.")
        budget = c.number_input("Time budget (minutes)", 0.5, 1440.0, UPDATE_PAGE_BUDGET_MINUTES, step=0.5,
                                key="update_budget", help="The update stops before a pass that would end past "
                                "this; the best complete pass is kept.")
        # No help icon: its button would be named "Help for Also retrain…", and tests find "Train" by name.
        retrain = st.checkbox("Also retrain from scratch to compare", key="update_retrain")
        st.caption(":material/warning: The comparison trains a second model on all the data with this model's "
                   "settings, scored on the same newest interactions for the report (it is not used afterwards): it "
                   "takes as long as a training of this model.")
        submitted = st.form_submit_button("Update", type="primary", key="update", icon=":material/update:")
    if submitted:
        with page.user_errors():
            options = UpdateOptions(epochs=int(epochs), replay=float(replay), max_minutes=float(budget),
                                    compare_retrain=bool(retrain))
            updates.start(rec, interactions, items, users, options)
            st.rerun()


def evaluation_note(rec: Recommender) -> None:
    """On the Evaluation page: the report shown is from the model's first training, and what updates did since."""
    text = update_note(rec)
    if text is not None:
        st.info(plain(text), icon=":material/update:")


def update_note(rec: Recommender) -> str | None:
    """The sentence ``evaluation_note`` shows, or None for a model never updated."""
    kept = rec.training.updates
    if not kept:
        return None
    last = UpdateReport.from_dict(kept[-1])
    when = f", the last at {last.updated_at.replace('T', ' ')[:16]} UTC" if last.updated_at else ""
    text = (f"This evaluation report is from the model's first training: {len(kept)} update"
            f"{'s' if len(kept) != 1 else ''} followed{when}.")
    if last.ndcg10_before is not None and last.ndcg10_after is not None:
        text += (f" The last update's NDCG@10 on the newest interactions of {last.validation_users:,} users: "
                 f"{last.ndcg10_before:.4f} before → {last.ndcg10_after:.4f} after")
        text += (f"; a model retrained from scratch on all the data: {last.retrain.ndcg10:.4f}."
                 if last.retrain is not None else ".")
    return text
