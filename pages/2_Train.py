"""Train: choose fields, split and training options; watch training live; save, load and delete models."""
from dataclasses import replace

import pandas as pd
import streamlit as st

from dashboard import auth, formatting, page, plots, resources, state, update_panel, updates
from dashboard.safe_text import plain
from dashboard.save_panel import save_form
from dashboard.training import TrainingJob
from recsys_core import (
    DEFAULT_ENCODER,
    ITEM,
    LOSSES,
    POOLINGS,
    SPLITS,
    USER,
    EncoderConfig,
    FitOptions,
    SplitConfig,
    TrainConfig,
    budget_advice,
    history_window,
    rating_mode,
)

DEFAULT = FitOptions()
# The page's default budget lets any dataset finish on a small shared CPU; the CLI has no limit by default.
TRAIN_PAGE_BUDGET_MINUTES = 10.0
MAX_HISTORY_LIMIT = 500  # as the CLI's --max-history


@st.fragment(run_every=1.0)
def live_progress(job: TrainingJob) -> None:
    """Redrawn every second while the background thread trains; a full rerun shows the result."""
    if not job.running:
        st.rerun()
    st.progress(job.fraction, text=job.label)
    if job.epochs:
        page.chart(plots.training_curve(job.epochs))
    st.button("Stop", icon=":material/stop_circle:", key="stop_training", on_click=job.stop,
              disabled=job.stop_requested, help="Stops after the current batch; the best epoch so far is kept "
              "and evaluated. While the text-only reference trains, a stop keeps the model and skips the reference.")


def owner_field() -> None:
    """Who this session saves models as: the sign-in identity, or a label the analyst types."""
    if auth.identity():
        st.caption(f"You save models as **{plain(state.owner_label())}** (your sign-in).")
        return
    label = st.text_input("Your name on the models you save", state.owner_label(), key="owner_label_input", max_chars=80,
                          help="Shown as the owner of the models you save, replace or delete, so colleagues know "
                               "whose they are. Anyone can type any name: sign-in (see the README) makes it sure.")
    with page.user_errors():
        state.set_owner_label(label)


def model_status_panel() -> None:
    """Says plainly when the saved model this session uses was replaced or deleted since, and by whom."""
    status = state.saved_model_status()
    if status is None:
        return
    st.warning(plain(status.message()), icon=":material/person_alert:")
    a, b = st.columns(2)
    registry = resources.registry()
    current = next((i for i in registry.list() if i.name == status.name), None)
    if current is not None and a.button(f"Use the current {status.name}", key="use_current_saved",
                                        icon=":material/update:"):
        with page.user_errors():
            state.load_saved(current)
            page.done(f"Now using the current **{plain(status.name)}** (saved by {plain(current.owner)}).")
    if status.state == "replaced" and status.own is not None and state.session_uses_saved_version() and b.button(
            "Make my version current again", key="restore_own_version", icon=":material/undo:"):
        with page.user_errors():
            registry.restore_version(status.name, status.own.id, by=state.owner_label())
            page.done(f"Your version of **{plain(status.name)}** is the current one again.")
    if status.state == "deleted" and b.button("Restore it from the trash", key="untrash_own", icon=":material/restore:"):
        with page.user_errors():
            info = registry.untrash(status.trash.id, by=state.owner_label())
            state.load_saved(info)
            page.done(f"Restored **{plain(status.name)}** from the trash; this session uses it.")


def saved_models() -> None:
    """The shared models: list with owners, load, versions (one click back), delete with the name typed, trash."""
    registry = resources.registry()
    infos = registry.list()
    if not infos:
        st.caption(f"No saved models yet in {plain(registry.root.resolve())}.")
    else:
        st.dataframe(pd.DataFrame([{"name": i.name, "owner": i.owner, "saved (UTC)": i.saved_at, "items": i.n_items,
                                    "users": i.n_users, "test NDCG@10": i.ndcg10, "encoder": i.encoder}
                                   for i in infos]),
                     hide_index=True, width="stretch", column_config={"test NDCG@10": st.column_config.NumberColumn(
                         format="%.4f")})
        a, b = st.columns([3, 1], vertical_alignment="bottom")
        chosen = a.selectbox("Saved model", [i.name for i in infos], key="saved_model_choice")
        info = next(i for i in infos if i.name == chosen)
        if b.button("Load", key="load_saved", icon=":material/input:"):
            with page.user_errors():
                state.load_saved(info)
                page.done(f"Loaded **{plain(info.name)}**: the other pages now use it.")
        versions = registry.versions(info.name)
        with st.expander(f"Versions of {plain(info.name)} ({len(versions)} kept)", icon=":material/history:"):
            if len(versions) < 2:
                st.caption(f"Only the current version is kept. Replacing it keeps it here (the newest "
                           f"{registry.keep_versions} versions are kept).")
            else:
                st.dataframe(pd.DataFrame([{"version": v.id, "saved (UTC)": v.saved_at, "owner": v.owner,
                                            "current": v.current} for v in versions]), hide_index=True,
                             width="stretch")
                a, b = st.columns([3, 1], vertical_alignment="bottom")
                older = [v for v in versions if not v.current]
                pick = a.selectbox("Version", [v.id for v in older], key="version_choice",
                                   format_func=lambda vid: next(f"{v.saved_at} by {v.owner}" for v in older if v.id == vid))
                if b.button("Make it current", key="restore_version", icon=":material/undo:"):
                    with page.user_errors():
                        registry.restore_version(info.name, pick, by=state.owner_label())
                        page.done(f"That version of **{plain(info.name)}** is the current one again; the one it "
                                  "replaced is kept.")
        a, b = st.columns([3, 1], vertical_alignment="bottom")
        typed = a.text_input(f"To delete {plain(info.name)}, type its name", key="delete_confirm",
                             help="It goes to the trash, restorable for "
                                  f"{registry.trash_days:g} days, with its versions.")
        if b.button("Delete", key="delete_saved", icon=":material/delete:"):
            with page.user_errors():
                registry.delete(info.name, confirm=typed.strip(" "), by=state.owner_label())
                page.done(f"Moved **{plain(info.name)}** to the trash.", icon=":material/delete:")
    trash = registry.trash()
    if trash:
        with st.expander(f"Trash ({len(trash)})", icon=":material/delete:"):
            for t in trash:
                a, b = st.columns([4, 1], vertical_alignment="center")
                a.markdown(f"**{plain(t.name)}**, deleted by {plain(t.deleted_by)} at {plain(t.deleted_at)} (UTC); "
                           f"restorable until {plain(t.expires_at)}")
                if b.button("Restore", key=f"untrash_{t.id}", icon=":material/restore:"):
                    with page.user_errors():
                        registry.untrash(t.id, by=state.owner_label())
                        page.done(f"Restored **{plain(t.name)}** from the trash.")


page.setup("Train")
data = state.dataset()
st.caption(f"Training data: **{plain(state.dataset_label())}** — {formatting.dataset_line(data)}")
# What the Data page warned about (e.g. most items without text) matters most here, before training on it.
page.show_notices([n for n in data.notices if n.is_warning])
with page.user_errors():  # the saved model this session uses was replaced or deleted since: said first
    model_status_panel()
job = state.training_job()
running = job is not None and job.running

with st.form("train_options"):
    a, b = st.columns(2)
    encoder = a.text_input("Encoder", DEFAULT_ENCODER, help="A Hugging Face BERT-family model id already on this "
                           "machine, or a local model directory. The default ships with the tool.")
    pooling = a.selectbox("Pooling", POOLINGS, help="How token vectors become one vector per text.")
    item_fields = b.multiselect("Item text fields", [c for c in data.items.columns if c != ITEM],
                                default=data.item_fields)
    user_fields = []
    if data.users is not None:
        user_fields = b.multiselect("User profile fields", [c for c in data.users.columns if c != USER],
                                    default=data.user_fields)
    a, b, c, d, e, f = st.columns(6)
    split = a.selectbox("Split", SPLITS, help="How held-out test and validation interactions are chosen.")
    cold_items = b.slider("Cold-item fraction", 0.0, 0.5, 0.0, 0.05,
                          help="Items held out of training entirely, to measure cold-start quality.")
    holdout_users = c.slider("Held-out user fraction", 0.0, 0.5, 0.0, 0.05,
                             help="Users never trained on, to measure recommendations for new users.")
    epochs = d.number_input("Epochs (at most)", 1, 500, TrainConfig().epochs, key="epochs",
                            help="Training stops early when validation NDCG@10 stops improving.")
    seed = e.number_input("Seed", 0, 2**31 - 1, 0)
    budget = f.number_input("Time budget (minutes)", 0.5, 1440.0, TRAIN_PAGE_BUDGET_MINUTES, step=0.5, key="budget",
                            help="Training stops before an epoch that would end past this; the best epoch is kept.")
    auto = history_window(data)  # what "auto" is for this data, shown before anything is trained
    a, b = st.columns(2)
    max_history = a.number_input("History window (items)", 1, MAX_HISTORY_LIMIT, None, key="max_history",
                                 placeholder=f"auto: {auto.size}",
                                 help="How many of each user's latest history items the model reads; older ones "
                                      "never reach a score. Empty: auto, the window that holds 90% of this data's users' "
                                      "whole histories, capped where training gets too slow on a small CPU.")
    a.caption(f"Empty = {auto.describe()}.")
    use_ratings = True
    if data.has_ratings:  # a switch only where there is something to switch
        use_ratings = b.toggle("Use ratings", True, key="use_ratings",
                               help="On: each history item's rating is a model input and only liked items are "
                                    "training and test targets. Off: every interaction counts as a like.")
        b.caption("On: " + plain(rating_mode(data)) + " Off: every interaction counts as a like.")
    text_reference = st.checkbox(
        "Text-only reference for the cold-item and new-user slices", DEFAULT.text_reference, key="text_reference",
        help="With a cold-item or held-out-user fraction, the same model with item ids switched off is trained next "
             "on the same split and settings (about twice the training time), so that the Evaluation page can say "
             "whether text carries. Stopping while it trains keeps the model and skips the reference.")
    with st.expander("Advanced options"):
        a, b, c, d = st.columns(4)
        patience = d.number_input("Early-stopping patience (epochs)", 1, 1000, TrainConfig().patience)
        dim = a.number_input("Model dimension", 8, 1024, DEFAULT.dim, step=8)
        hidden = b.number_input("Hidden size", 8, 4096, DEFAULT.hidden, step=8)
        loss = c.selectbox("Loss", LOSSES, key="loss", help="softmax: each target against sampled negatives shared by the batch; "
                           "bpr: pairwise, one negative per positive.")
        batch_size = a.number_input("Batch size", 8, 8192, TrainConfig().batch_size, step=32)
        lr = b.number_input("Learning rate", 1e-5, 1.0, TrainConfig().lr, format="%.4f", step=1e-4)
        negatives = c.number_input("Sampled negatives", 1, 100_000, TrainConfig().negatives)
        popular = d.number_input("Popular negatives (share)", 0.0, 1.0, TrainConfig().popular_negatives, step=0.1,
                                 key="popular_negatives",
                                 help="Share of the sampled negatives drawn by popularity instead of uniformly. "
                                      "Popular items then compete with every target in training, and fewer of them "
                                      "reach the lists; 0 draws every negative uniformly. Softmax loss only.")
    submitted = st.form_submit_button("Train", type="primary", key="train", icon=":material/play_arrow:",
                                      disabled=running or updates.running())

if submitted:
    with page.user_errors():
        options = FitOptions(
            encoder=EncoderConfig(name=encoder.strip() or DEFAULT_ENCODER, pooling=pooling),
            split=SplitConfig(kind=split, cold_items=cold_items, holdout_users=holdout_users, seed=int(seed)),
            train=TrainConfig(epochs=int(epochs), batch_size=int(batch_size), lr=float(lr), loss=loss,
                              negatives=int(negatives), popular_negatives=float(popular), patience=int(patience),
                              seed=int(seed),
                              max_minutes=float(budget)),
            max_history=None if max_history is None else int(max_history), use_ratings=use_ratings,
            dim=int(dim), hidden=int(hidden),  # texts are cached in recsys_core's default embedding cache
            text_reference=bool(text_reference),
        )
        training_data = replace(data, item_fields=item_fields, user_fields=user_fields)
        state.start_training(TrainingJob(training_data, options))
        st.rerun()

if running:
    st.header("Training")
    live_progress(job)
    st.stop()
last = state.last_training()  # this session's, or the one a reload brought back
if job is not None and job.error:
    st.header("Last training")
    page.error(job.error)
elif last is not None:
    st.header("Last training")
    current = last.model == state.model().model_fingerprint
    now = ("The other pages now use this model." if current else
           f"The session now uses another model (**{plain(state.model_label())}**): this is the last training's summary.")
    (st.success if current else st.info)(
        f"Training finished ({plain(last.training.stopped)}, best epoch {last.training.best_epoch}, "
        f"{last.training.train_seconds} s; it reads each user's latest {last.max_history} history items). " + now,
        icon=":material/check_circle:" if current else ":material/history:")
    advice = budget_advice(last.training, last.train_log)
    if advice:  # the budget, not the data, ended training
        st.warning(advice, icon=":material/timer:")
    test = last.report.slice("test") if last.report is not None else None
    if test is not None:
        st.dataframe(formatting.highlight_best(formatting.slice_table(test, last.report.ks, ("NDCG", "Recall",
                     "HitRate"))), width="stretch")
        st.caption(plain(formatting.lead_sentence(test)))
        st.caption(f"Test slice, {test.n_cases:,} users. Protocol: {plain(last.report.protocol)}")
        note = formatting.reference_note(last.report)
        if note is not None and last.report.text_reference.state == "trained":
            st.caption(plain(note))
        elif note is not None:  # turned off, or skipped by a stop: the slices cannot say whether text carries
            st.info(plain(note), icon=":material/info:")
    page.chart(plots.training_curve(last.train_log, last.training.best_epoch or None))
    if job is not None and job.succeeded:
        save_form(job.result)
    elif current:  # brought back by a reload: the session's model is the trained one
        save_form(state.model())
elif state.model_is_draft():  # trained before a reload: kept with the session only until it is saved
    st.header("Unsaved draft")
    st.info(f"**{plain(state.model_label())}** was trained before this page was reloaded and is kept only with "
            "this session: save it to keep it for good and share it.", icon=":material/draft:")
    save_form(state.model())

update_panel.section()  # new interactions, items and users taken into the session's model

st.header("Saved models")
with page.user_errors():  # a damaged models directory is a message, not a traceback
    owner_field()
    saved_models()
