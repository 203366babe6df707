"""Per-browser state: which dataset and model this session uses, and what it asked to explain.

Everything here lives in ``st.session_state``, so two analysts never see each
other's uploads or trained models.  A new session starts on the bundled demo
data and demo model (loaded once per process by ``dashboard.resources``).

A reload survives: once a session has something of its own (an upload, a trained or loaded model)
it gets a random id in the page's URL (``?session=…``) and ``dashboard.session_store`` keeps the
uploaded files and the model on the server for ``RECSYS_SESSION_DAYS`` days; a new browser
session opened with that URL starts where the old one was (a training still running in this server
process is found again too).  The URL parameter is put back on every run, because switching pages
drops it.

Keys (other pages may read them; write them only through these functions):
    dataset, dataset_label      the Dataset the Data and Train pages use
    model, model_label          the Recommender the other pages use
    model_is_draft              True for an unsaved model brought back by a reload (see model_is_draft())
    model_source                (name, fingerprint) of the registry version the session uses, or used before a
                                reload found it deleted or no longer kept (``saved_model_status``)
    model_source_lost           True when that reload found it gone (the demo model stands in for it)
    owner_label                 who this session saves models as (``owner_label``; the login's identity wins)
    train_job                   the session's TrainingJob (dashboard.training); a reload finds it again
                                through ``running_jobs`` (and an update's ``update_job``, dashboard.updates)
    explain_target              an ExplainTarget set by the Recommendations page
    _kept_results               kind → KeptResult: computed results kept for a reload with the inputs that
                                made them (``keep_result``; read back by their owners: ``importance_jobs``,
                                ``last_training``, ``keep_explain_pair``)
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import streamlit as st

from recsys_core import Dataset, Recommender, RecsysError, data_fingerprint
from recsys_core.registry import ModelInfo, ModelStatus, ModelVersion, check_owner

from . import auth, memory_budget, resources, running_jobs
from .background import ThreadJob
from .safe_text import plain
from .session_store import (DatasetSource, KeptResult, Restored, SessionStore, SessionTooLarge, UploadedFile, new_id,
                            valid_id)
from .training import TrainingJob, TrainingSummary

log = logging.getLogger(__name__)

PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"
EXPLAIN_PAGE = "pages/4_Explain.py"
RECOMMENDATIONS_PAGE = "pages/3_Recommendations.py"
DEMO_DATASET_LABEL = "demo data (sample_data/)"
DEMO_MODEL_LABEL = "demo model"
UNSAVED = " (unsaved)"
DRAFT = " (unsaved draft)"
SESSION_PARAM = "session"  # the URL query parameter that holds the session id
TOUCH_EVERY_SECONDS = 3600  # a session in use keeps its files: its expiry restarts at most hourly
RESULTS_KEY = "_kept_results"
TRAINING = "training"  # kinds of kept results (``keep_result``) this module reads itself
EXPLAIN_PAIR = "explain_pair"
# The Explain page's widgets that a reload sets back (keys of pages/4_Explain.py) → the kept value's field.
EXPLAIN_WIDGETS = {"explain_user": "user", "explain_any_item": "any_item", "explain_item": "item",
                   "explain_steps": "steps", "explain_baseline": "baseline", "explain_merge": "merge"}
EXPLAIN_BASELINES = ("pad", "mask", "empty")


@dataclass(frozen=True)
class ExplainTarget:
    """One recommendation to explain: a known user (``user_id``) or a new one (history and/or profile)."""

    item_id: str
    user_id: str | None = None
    history: tuple[str, ...] = ()  # item ids, oldest first (new-user mode)
    profile: dict[str, str] = field(default_factory=dict)  # field → value (new-user mode)
    ratings: tuple[float, ...] | None = None  # aligned with history, when the model reads ratings (new-user mode)


def ensure_defaults() -> None:
    """Give a new session its kept state (a reload) or the demo data and model (no action needed).

    A model that finished training in the background since the last run becomes the session's model
    (and is kept as a draft).  Every run puts the session id back into the URL.
    """
    if "dataset" not in st.session_state:  # the first run of this browser session
        _attach()
    if "dataset" not in st.session_state:
        _set_dataset(resources.demo_dataset(), DEMO_DATASET_LABEL)
    if "model" not in st.session_state:
        _set_model(resources.demo_model(), DEMO_MODEL_LABEL)
    job = training_job()
    if job is not None and job.succeeded and st.session_state.get("adopted_job") != job.started_at:
        st.session_state["adopted_job"] = job.started_at
        running_jobs.adopted(job)
        use_model(job.result, f"trained at {time.strftime('%H:%M', time.localtime(job.finished_at))}{UNSAVED}")
        keep_result(TRAINING, {"model": job.result.model_fingerprint},
                    TrainingSummary.of(job.result, job.finished_at).to_dict())
    if st.session_state.pop("_restore_explain_pair", False):  # the first run after a reload, its model now set
        _restore_explain_pair()
    _keep_session_alive()


def training_job() -> TrainingJob | None:
    return st.session_state.get("train_job")


def start_training(job: TrainingJob) -> None:
    """Start ``job`` in the background as this session's training (one at a time).

    The job is also registered under the session id until the session adopts its model
    (``running_jobs``), so that a reload during training finds it again.
    """
    current = training_job()
    if current is not None and current.running:
        raise RecsysError("A training is already running in this session: stop it or wait for it to finish.")
    st.session_state["train_job"] = job.start()
    found_after_a_reload("training", job)


def found_after_a_reload(kind: running_jobs.JobKind, job: ThreadJob) -> None:
    """Register ``job`` under this session's id (made, and put into the URL, if it had none), so that a reload
    finds it again (``running_jobs``); nothing when keeping sessions is off."""
    sid = _session_id(create=True)
    if sid is not None:
        running_jobs.register(sid, kind, job)


def last_training() -> TrainingSummary | None:
    """The session's last successful training: its job's, or the summary a reload brought back (its ``model`` is
    the trained model's fingerprint: compare it with ``model().model_fingerprint`` before calling it current)."""
    job = training_job()
    if job is not None and job.succeeded:
        return TrainingSummary.of(job.result, job.finished_at)
    kept = kept_result(TRAINING)
    if kept is None:
        return None
    try:
        return TrainingSummary.from_dict(kept.value)
    except Exception as exc:  # a damaged entry is absent, never the page's end
        log.warning("kept training summary unreadable: %s", exc)
        return None


def dataset() -> Dataset:
    ensure_defaults()
    return st.session_state["dataset"]


def dataset_label() -> str:
    return st.session_state.get("dataset_label", "")


def use_dataset(data: Dataset, label: str, source: DatasetSource | None = None) -> None:
    """Make ``data`` the session's dataset; ``source`` (see ``upload_source``) is kept for a reload.

    Without a source nothing can be rebuilt, so a reload starts on the demo data.
    """
    _set_dataset(data, label)
    if source is not None:
        memory_budget.hold("dataset", data, source.size)
    if source is not None or _session_id(create=False):
        _persist(lambda store, sid: store.save_dataset(sid, source, label), "dataset",
                 lambda store, sid: store.save_dataset(sid, None))


def upload_source(interactions, items, users=None, **options) -> DatasetSource:
    """The Data page's uploads (Streamlit UploadedFile objects) and ``load_dataset`` keyword options,
    as one DatasetSource: ``source.load()`` gives the dataset, ``use_dataset(..., source=source)`` keeps it."""
    files = [None if f is None else UploadedFile(f.name, f.getvalue()) for f in (interactions, items, users)]
    return DatasetSource.of(*files, **options)


def _set_dataset(data: Dataset, label: str) -> None:
    st.session_state["dataset"] = data
    st.session_state["dataset_label"] = label


def model() -> Recommender:
    ensure_defaults()
    return st.session_state["model"]


def model_label() -> str:
    return st.session_state.get("model_label", "")


def use_model(rec: Recommender, label: str, saved_as: str | None = None, fingerprint: str = "") -> None:
    """Make ``rec`` the session's model.  ``saved_as``: its name in the shared registry and ``fingerprint`` its
    version's (a reload loads that very version); any other model is kept in the session's folder as a draft
    until the session expires."""
    _set_model(rec, label, source=(saved_as, fingerprint) if saved_as is not None else None)
    forget = lambda store, sid: store.save_model(sid, "")  # noqa: E731
    if saved_as is not None:
        _persist(lambda store, sid: store.save_model(sid, label, saved_name=saved_as, fingerprint=fingerprint),
                 "model", forget)
    else:
        with st.spinner("Keeping this model for a reload…"):
            _persist(lambda store, sid: store.save_model(sid, label.removesuffix(UNSAVED), draft=rec), "model", forget)


def use_demo_model() -> None:
    """Make the bundled demo model the session's model again (a reload then starts on it too)."""
    _set_model(resources.demo_model(), DEMO_MODEL_LABEL)
    forget = lambda store, sid: store.save_model(sid, "")  # noqa: E731
    _persist(forget, "model", forget)


def _set_model(rec: Recommender, label: str, draft: bool = False, source: tuple[str, str] | None = None) -> None:
    st.session_state["model"] = rec
    st.session_state["model_label"] = label
    st.session_state["model_is_draft"] = draft
    st.session_state["model_source"] = source
    st.session_state["model_source_lost"] = False


# -- saved models: who saves, which version the session uses ----------------------------------------

OWNER = "owner"  # the kind of kept result that holds the session's owner label
MODEL_STATUS = "model status"  # the kind of session notice that says the saved model was replaced
DEFAULT_OWNER = "anonymous"


def owner_label() -> str:
    """Who this session saves, replaces and deletes models as: the signed-in identity when login is on
    (``dashboard.auth``), else the label the analyst typed (kept for a reload), else DEFAULT_OWNER."""
    identity = auth.identity()
    if identity:
        return identity
    if "owner_label" not in st.session_state:
        kept = kept_result(OWNER)
        label = kept.value.get("label") if kept is not None else None
        st.session_state["owner_label"] = label if isinstance(label, str) and label else DEFAULT_OWNER
    return st.session_state["owner_label"]


def set_owner_label(text: str) -> None:
    """Change the session's owner label (a RecsysError says why a label is refused); login identities are fixed."""
    if auth.identity():
        raise RecsysError("You are signed in: models you save carry your sign-in identity, which cannot be changed.")
    label = check_owner(text)
    if label != owner_label():
        st.session_state["owner_label"] = label
        keep_result(OWNER, {}, {"label": label})


def load_saved(info: ModelInfo, version: ModelVersion | None = None) -> None:
    """Make a saved model (its current version, or ``version``) the session's model; its fingerprint is checked."""
    version = version or resources.registry().current_version(info.name)
    fingerprint = version.fingerprint if version else info.fingerprint
    rec = resources.saved_model(str(resources.registry().root), info.name, version.id if version else "", fingerprint)
    use_model(rec, info.name, saved_as=info.name, fingerprint=fingerprint)


def saved_model_status() -> ModelStatus | None:
    """What became of the registry version this session uses (or used before a reload found it gone), when it is
    no longer the one under its name; None when it is, or when the session's model is not from the registry."""
    source = st.session_state.get("model_source")
    if source is None or not source[1]:
        return None
    status = resources.registry().status_of(*source)
    lost = st.session_state.get("model_source_lost", False)
    return None if status.state == "current" and not lost else status


def saved_name() -> str | None:
    """The registry name of the saved model this session uses (None for a trained, updated or demo model)."""
    source = st.session_state.get("model_source")
    return None if source is None or st.session_state.get("model_source_lost", False) else source[0]


def session_uses_saved_version() -> bool:
    """False when a reload found the session's saved model gone (the demo model stands in for it)."""
    return not st.session_state.get("model_source_lost", False)


def model_trained_on_other_data() -> bool:
    """True when the session's model was trained on other data than the session's dataset (comparing the
    two would not be fair; a model without a data fingerprint, e.g. an old artifact, is given the benefit)."""
    rec = model()
    return bool(rec.fingerprint) and rec.fingerprint != data_fingerprint(dataset())


def model_is_draft() -> bool:
    """True when the session's model is an unsaved draft brought back by a reload (the Train page offers to save it)."""
    return st.session_state.get("model_is_draft", False)


# -- keeping the session for a reload -----------------------------------------------------------------


def _store() -> SessionStore:
    return SessionStore()  # reads RECSYS_SESSIONS_DIR etc. on every call: cheap, and tests can change them


def _session_id(create: bool) -> str | None:
    """This session's id (made, and put into the URL, on first need when ``create``)."""
    sid = st.session_state.get("_session_id")
    if sid is None and create and _store().enabled:
        sid = st.session_state["_session_id"] = new_id()
        st.query_params[SESSION_PARAM] = sid
    return sid


def kept_result(kind: str) -> KeptResult | None:
    """The session's kept ``kind`` result (plain JSON with its inputs), from this session or a reload."""
    return st.session_state.get(RESULTS_KEY, {}).get(kind)


def keep_result(kind: str, inputs: dict, value: dict | None) -> None:
    """Keep ``value`` (a result's ``to_dict``) made from ``inputs`` as the session's ``kind`` result, here and
    on the server for a reload (None forgets it).  The inputs must let its reader tell a stale result: the
    model's fingerprint at least."""
    kept = st.session_state.setdefault(RESULTS_KEY, {})
    if value is None:
        kept.pop(kind, None)
    else:
        kept[kind] = KeptResult(dict(inputs), dict(value))
    _persist(lambda store, sid: store.save_result(sid, kind, inputs, value), "result",
             lambda store, sid: store.save_result(sid, kind, None))


def keep_explain_pair(rec: Recommender, user_id: str | None, item_id: str, any_item: bool, steps: int,
                      baseline: str, merge: bool) -> None:
    """The Explain page's pair and settings, kept for a reload (written only when they change; a new user
    from the Recommendations page is not kept)."""
    if user_id is None:
        return
    inputs = {"model": rec.model_fingerprint}
    value = {"user": user_id, "item": item_id, "any_item": bool(any_item), "steps": int(steps),
             "baseline": baseline, "merge": bool(merge)}
    kept = kept_result(EXPLAIN_PAIR)
    if kept is None or kept.inputs != inputs or kept.value != value:
        keep_result(EXPLAIN_PAIR, inputs, value)


def _restore_explain_pair() -> None:
    """Set the Explain page's widgets to the kept pair, if it was chosen on this very model and still makes sense."""
    kept, rec = kept_result(EXPLAIN_PAIR), st.session_state["model"]
    if kept is None or kept.inputs.get("model") != rec.model_fingerprint:
        return  # chosen on another model: its pair may not exist, and its explanation would not be this model's
    value = kept.value
    try:  # a widget given a value of the wrong type would be the page's error: such an entry is absent
        widgets = {key: value[name] for key, name in EXPLAIN_WIDGETS.items()}
        fits = (isinstance(value["user"], str) and value["user"] in rec.catalog.histories
                and isinstance(value["item"], str) and value["item"] in rec.catalog.item_index
                and type(value["steps"]) is int and 4 <= value["steps"] <= 128
                and value["baseline"] in EXPLAIN_BASELINES
                and isinstance(value["any_item"], bool) and isinstance(value["merge"], bool))
    except (KeyError, TypeError):
        fits = False
    if fits:
        st.session_state.update(widgets)


def _persist(write, what: str, forget) -> None:
    """Run ``write(store, sid)``; a failure costs only the reload, never the session (a notice says so), and
    ``forget(store, sid)`` makes sure a reload does not bring back an older one in its place."""
    sid = _session_id(create=True)
    if sid is None:
        return  # keeping sessions is turned off (RECSYS_SESSION_DAYS=0)
    try:
        write(_store(), sid)
        st.session_state["_session_touched"] = time.time()
    except SessionTooLarge as exc:
        _notice("warning", str(exc))
    except Exception as exc:  # OSError (disk full, permissions) or anything else: keeping is best effort
        log.warning("could not keep the session's %s: %s", what, exc, exc_info=not isinstance(exc, OSError))
        try:  # a reload must not bring back an older upload or model in its place: forget the entry if we can
            forget(_store(), sid)
        except Exception:
            log.warning("could not clear the session's %s either", what)
        _notice("warning", f"This {what} could not be kept on the server ({exc}): it works until you close or "
                "reload the page, but a reload will not bring it back.")


def _notice(kind: str, text: str) -> None:
    st.session_state.setdefault("_session_notices", []).append((kind, text))


def show_session_notices(model_status: bool = True) -> None:
    """What happened to the session's kept state (restored, could not be restored or kept), shown once.

    ``model_status=False`` leaves out the one saying the saved model was replaced (the Train page shows it
    with its choices)."""
    for kind, text in st.session_state.pop("_session_notices", []):
        if kind == MODEL_STATUS and not model_status:
            continue
        # Plain text: notices quote file names, model labels and error messages.
        (st.warning if kind in ("warning", MODEL_STATUS) else st.info)(plain(text), icon=":material/history:")


def _attach() -> None:
    """Restore what the session in the URL kept, if anything; a bad or unknown id leaves the demo."""
    sid = st.query_params.get(SESSION_PARAM)
    if sid is None:
        return
    store = _store()
    if not store.enabled or not valid_id(sid):  # malformed (or keeping is off): ignored, and out of the URL
        del st.query_params[SESSION_PARAM]
        return
    with st.spinner("Restoring your session…"):
        try:
            restored = store.restore(sid)
        except Exception:  # restore reports what it expects as a status; anything else is a bug, not the page's end
            log.exception("restoring a session failed")
            restored = Restored("damaged")
    job = running_jobs.found(sid, "training")  # started before the reload, still running or not yet adopted
    update = running_jobs.found(sid, "update")
    if (job is not None or update is not None) and restored.status == "missing":
        restored.status = "empty"  # it ran on data that kept nothing (the demo): the job is all there is
    if restored.status in ("missing", "expired", "damaged"):
        del st.query_params[SESSION_PARAM]  # a fresh id is made when there is something to keep
        why = {"missing": "nothing is kept under this link any more",
               "expired": f"it was last used more than {_days(store)} ago",
               "damaged": "its files on the server are damaged"}[restored.status]
        _notice("info", f"Your previous session could not be restored ({why}): you are on the demo data and "
                "demo model. Load your data on the Data page.")
        return
    st.session_state["_session_id"] = sid
    st.session_state["_session_touched"] = time.time()
    st.session_state[RESULTS_KEY] = dict(restored.results)
    st.session_state["_restore_explain_pair"] = EXPLAIN_PAIR in restored.results
    if job is not None:
        st.session_state["train_job"] = job  # the Train page shows its progress; ensure_defaults adopts its model
    if update is not None:
        st.session_state["update_job"] = update  # the same for an update (dashboard.updates adopts it)
    if restored.dataset is not None:
        _set_dataset(restored.dataset, restored.dataset_label)
        memory_budget.hold("dataset", restored.dataset, 0)  # counted, never refused: the session had it already
    if restored.model is not None:
        _restore_model(restored)
    if restored.problems:
        _notice("info", f"Part of your previous session could not be restored ({'; '.join(restored.problems)}): "
                "the demo data or model is used in its place.")
    elif restored.status == "restored":
        _notice("info", f"Restored your session: {dataset_label() or DEMO_DATASET_LABEL} and "
                f"{model_label() or DEMO_MODEL_LABEL}.")
    for what, running in (("training", job), ("update", update)):
        if running is not None and running.running:
            _notice("info", f"The {what} you started before the reload is still running: the Train page shows it.")


def _restore_model(restored: Restored) -> None:
    kept = restored.model
    if kept.draft is not None:
        _set_model(kept.draft, kept.label + DRAFT, draft=True)
        return
    registry = resources.registry()
    try:
        if not kept.fingerprint:  # kept before versions had fingerprints: the model under the name now
            info = next((i for i in registry.list() if i.name == kept.saved_name), None)
            if info is None:
                restored.problems.append(f"the saved model {kept.saved_name!r} is no longer in the models folder")
                return
            version = registry.current_version(info.name)
            _set_model(resources.saved_model(str(registry.root), info.name, version.id if version else "",
                                             info.fingerprint), kept.label, source=(info.name, info.fingerprint))
            return
        status = registry.status_of(kept.saved_name, kept.fingerprint)
        if status.own is None:  # deleted, or replaced and no longer kept: the Train page offers what there is
            _notice(MODEL_STATUS, status.message() + " The demo model is used in its place.")
            _set_model(resources.demo_model(), DEMO_MODEL_LABEL, source=(kept.saved_name, kept.fingerprint))
            st.session_state["model_source_lost"] = True  # the demo model stands in for it
            return
        rec = resources.saved_model(str(registry.root), kept.saved_name, status.own.id, kept.fingerprint)
        _set_model(rec, kept.label, source=(kept.saved_name, kept.fingerprint))
        if status.state == "replaced":
            _notice(MODEL_STATUS, status.message() + " The Train page offers the current version.")
    except (OSError, RecsysError) as exc:
        restored.problems.append(f"the saved model {kept.saved_name!r} cannot be loaded ({exc})")


def _keep_session_alive() -> None:
    """Put the id back into the URL (page switches drop query parameters) and restart its expiry hourly."""
    sid = st.session_state.get("_session_id")
    if sid is None:
        return
    if st.query_params.get(SESSION_PARAM) != sid:
        st.query_params[SESSION_PARAM] = sid
    if time.time() - st.session_state.get("_session_touched", 0.0) > TOUCH_EVERY_SECONDS:
        st.session_state["_session_touched"] = time.time()
        _store().touch(sid)


def _days(store: SessionStore) -> str:
    days = store.days
    return f"{days:g} day{'s' if days != 1 else ''}"


def session_note() -> str:
    """One Markdown line for the Home page: how long this session is kept, and where."""
    store = _store()
    if not store.enabled:
        return "Uploads and unsaved models are **not kept** on the server: a reload starts on the demo."
    kept = (f"Your uploads and your current model are kept on this server for **{_days(store)}** after you last "
            f"use them, at **this page's address** (its `?{SESSION_PARAM}=…` part): reload it or bookmark it to "
            "come back. Anyone with that address can open the session, so share it only with people you "
            "would show your data.")
    if _session_id(create=False) is None:
        kept += " (The address gets that part as soon as you load data or train a model.)"
    return kept


def url_params() -> dict[str, str]:
    """The query parameters a page switch must carry (``st.switch_page(..., query_params=url_params())``)."""
    sid = st.session_state.get("_session_id")
    return {SESSION_PARAM: sid} if sid else {}


def explain_page_available() -> bool:
    return (PAGES_DIR.parent / EXPLAIN_PAGE).is_file()


def request_explanation(target: ExplainTarget) -> None:
    """A button's ``on_click``: hand a recommendation to the Explain page, which the next run opens.

    As a callback it runs before that run, and ``page.setup`` switches first thing
    (``follow_explain_request``): the page the button was on is not drawn again on the way.
    """
    st.session_state["explain_target"] = target
    st.session_state["_open_explain"] = True


def request_chosen_explanation(target: ExplainTarget, item_key: str) -> None:
    """A button's ``on_click``: explain, for ``target``'s user, the item chosen in the select box ``item_key``.

    The choice is read when the button is pressed, so one made just before the click counts.
    """
    request_explanation(replace(target, item_id=st.session_state[item_key]))


def request_recommendations(user_id: str) -> None:
    """A button's ``on_click``: open ``user_id`` on the Recommendations page (its known-user search and choice
    set to that user), which the next run switches to."""
    st.session_state.update(rec_mode="Known user", rec_query=user_id, rec_user=user_id)
    st.session_state["_open_recommendations"] = True


def follow_explain_request() -> None:
    """Go to the Explain (or Recommendations) page now if a button asked for it (see ``request_explanation``,
    ``request_recommendations``)."""
    if st.session_state.pop("_open_explain", False):
        st.switch_page(EXPLAIN_PAGE, query_params=url_params())
    if st.session_state.pop("_open_recommendations", False):
        st.switch_page(RECOMMENDATIONS_PAGE, query_params=url_params())


def explain_target() -> ExplainTarget | None:
    return st.session_state.get("explain_target")
