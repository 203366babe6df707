"""The Train page's "Update with new data" and the Evaluation page's note on updated models (issue 21 §1), run
headless with Streamlit's AppTest on the tiny data of conftest.py."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import running_jobs
from dashboard.safe_text import WORD_JOINER
from recsys_core.registry import MODELS_DIR_ENV, ModelRegistry

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
TRAIN = "pages/2_Train.py"
TIMEOUT = 180

# Two new items, a new user who watches them, and two known users who watch them later than anything before.
NEW_ITEMS = b"item_id,title,genres\ni40,Drama story number 40,Drama\ni41,Comedy story number 41,Comedy\n"
NEW_INTERACTIONS = (b"user_id,item_id,rating,timestamp\n"
                    b"u30,i00,5,1800000000\nu30,i40,5,1800000100\nu30,i04,4,1800000200\n"
                    b"u00,i40,5,1800000000\nu00,i41,5,1800000100\nu01,i41,4,1800000000\nu01,i40,5,1800000100\n")
UNKNOWN_ITEMS = b"user_id,item_id,rating,timestamp\nu00,i90,5,1800000000\nu01,i91,4,1800000000\n"


@pytest.fixture(autouse=True)
def models_dir(tmp_path, monkeypatch, embedding_cache) -> Path:
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "models"))
    monkeypatch.setenv("RECSYS_CACHE_DIR", embedding_cache)  # the tiny texts are encoded once per run
    return tmp_path / "models"


def texts(elements) -> str:
    """What a reader sees: the Markdown sources with plain()'s escapes and invisible joiners taken out."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", "\n".join(str(e.value) for e in elements)).replace(WORD_JOINER, "")


def train_page(model, label: str = "tiny", **session) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["model"], at.session_state["model_label"] = model, label
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(TRAIN).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def run_update(at: AppTest, interactions: bytes, items: bytes | None = None, passes: int = 2) -> AppTest:
    at.file_uploader(key="update_interactions").set_value(("new.csv", interactions, "text/csv"))
    if items is not None:
        at.file_uploader(key="update_items").set_value(("new_items.csv", items, "text/csv"))
    at.number_input(key="update_epochs").set_value(passes)
    at.button(key="update").click().run()
    assert not at.exception, [e.value for e in at.exception]
    job = at.session_state["update_job"] if "update_job" in at.session_state else None
    deadline = time.time() + TIMEOUT
    while job is not None and job.running:
        assert time.time() < deadline, "the update did not finish in time"
        time.sleep(0.5)
        at.run()
    return at.run()


def test_an_update_adds_the_new_items_and_users_and_becomes_the_session_model(tiny_model):
    at = train_page(tiny_model)
    assert "Update with new data" in [h.value for h in at.header]
    run_update(at, NEW_INTERACTIONS, NEW_ITEMS)
    assert not at.error, texts(at.error)
    updated = at.session_state["model"]
    assert updated is not tiny_model and tiny_model.catalog.n_items == 40  # the model it started from is kept as is
    assert updated.catalog.n_items == 42 and "u30" in updated.catalog.histories
    assert at.session_state["model_label"].startswith("tiny, updated at") and updated.training.updates
    shown = texts(at.markdown)
    assert "Added 7 interactions, 2 new items (0 changed texts) and 1 new users (2 known users extended)" in shown
    assert {m.label for m in at.metric} >= {"NDCG@10 before", "NDCG@10 after"}
    assert "Update finished" in texts(at.success)
    recs = updated.recommend("u30", k=5)  # the new user is served at once, without their seen items
    assert len(recs) == 5 and not {"i00", "i40", "i04"} & {r.item_id for r in recs}
    assert "i41" in {r.item_id for r in updated.recommend("u30", k=39)}  # a new item is recommendable
    # Not from the registry: no "new version" offer, the usual save form saves it.
    assert not [b for b in at.button if b.key == "save_update_new_version"]
    at.text_input(key="save_update_name").set_value("tiny_updated")
    at.button(key="save_update").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert at.session_state["model_label"] == "tiny_updated"


def test_a_file_the_model_cannot_take_shows_the_core_message_and_keeps_the_model(tiny_model):
    at = train_page(tiny_model)
    run_update(at, UNKNOWN_ITEMS)  # items the model does not know, and no items file to add them
    assert not at.exception
    message = texts(at.error)
    assert "i90" in message and "items file" in message, message
    assert at.session_state["model"] is tiny_model and at.session_state["model_label"] == "tiny"


def test_a_missing_interactions_file_is_a_message_not_a_start(tiny_model):
    at = train_page(tiny_model)
    at.button(key="update").click().run()
    assert "Choose the file of new interactions first" in texts(at.error)
    assert "update_job" not in at.session_state


def test_an_update_of_a_saved_model_is_offered_as_its_next_version(tiny_model, models_dir):
    registry = ModelRegistry(models_dir)
    registry.save(tiny_model, "tiny-shared", owner="alice")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page(TRAIN).run()
    at.button(key="load_saved").click().run()
    assert at.session_state["model_label"] == "tiny-shared"
    run_update(at, NEW_INTERACTIONS, NEW_ITEMS, passes=1)
    assert not at.error, texts(at.error)
    offer = next(b for b in at.button if b.key == "save_update_new_version")
    assert offer.label == "Save as a new version of tiny\\-shared"
    # A reload keeps the updated model as an unsaved draft (as a trained one), its report and the offer.
    sid = at.session_state["_session_id"]  # kept in the page's URL
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["session"] = sid
    at.run()
    at.switch_page(TRAIN).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["model"].catalog.n_items == 42
    assert at.session_state["model_label"].endswith("(unsaved draft)")
    assert "This model's last update (of 1)" in texts(at.success)
    offer = next(b for b in at.button if b.key == "save_update_new_version")
    offer.click().run()
    assert not at.exception and not at.error, texts(at.error)
    versions = registry.versions("tiny-shared")
    assert len(versions) == 2 and versions[0].current  # the version it replaced is kept
    assert registry.load("tiny-shared").catalog.n_items == 42
    assert at.session_state["model_label"] == "tiny-shared"


def test_a_reload_finds_the_update_it_started_and_adopts_its_model(tiny_model, models_dir):
    ModelRegistry(models_dir).save(tiny_model, "tiny-shared", owner="alice")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page(TRAIN).run()
    at.button(key="load_saved").click().run()
    at.file_uploader(key="update_interactions").set_value(("new.csv", NEW_INTERACTIONS, "text/csv"))
    at.file_uploader(key="update_items").set_value(("new_items.csv", NEW_ITEMS, "text/csv"))
    at.button(key="update").click().run()
    job, sid = at.session_state["update_job"], at.session_state["_session_id"]
    # The old browser session is gone (it never runs again, so it never adopts the result); the reload, with
    # the URL's session id, finds the same job whether it is still running or has just finished.
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["session"] = sid
    at.run()
    notices = texts(at.info)  # the reload's notices are shown once, on its first page
    at.switch_page(TRAIN).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["update_job"] is job
    assert job.running or job.succeeded, job.error
    assert not job.running or "The update you started before the reload is still running" in notices
    job.wait(TIMEOUT)
    at.run()
    assert at.session_state["model"] is job.result and at.session_state["model"].catalog.n_items == 42
    assert at.session_state["model_label"].startswith("tiny-shared, updated at")
    assert "Update finished" in texts(at.success)
    assert running_jobs.found(sid, "update") is None  # adopted: nothing left for another reload to find


def test_the_evaluation_page_says_its_report_predates_the_updates(tiny_model):
    at = train_page(tiny_model)
    run_update(at, NEW_INTERACTIONS, NEW_ITEMS, passes=1)
    report = at.session_state["model"].training.updates[-1]
    at.switch_page("pages/5_Evaluation.py").run()
    assert not at.exception and not at.error
    note = texts(at.info)
    assert "This evaluation report is from the model's first training: 1 update followed" in note
    assert f"{report['ndcg10_before']:.4f} before → {report['ndcg10_after']:.4f} after" in note


def test_a_model_never_updated_gets_no_update_note(tiny_model):
    at = train_page(tiny_model)
    at.switch_page("pages/5_Evaluation.py").run()
    assert "first training" not in texts(at.info)


def test_a_stop_before_the_first_pass_changes_nothing_and_says_so(tiny_model):
    from dashboard.update_job import UpdateJob
    from recsys_core.loading import load_increment
    from recsys_core.update import UpdateOptions

    increment = load_increment(("new.csv", NEW_INTERACTIONS), ("new_items.csv", NEW_ITEMS))
    job = UpdateJob(tiny_model, increment, UpdateOptions(epochs=1))
    job.stop()  # before the first batch
    job.start().wait(TIMEOUT)
    assert job.stopped_early and job.result is None and "nothing was changed" in job.error
    assert tiny_model.catalog.n_items == 40


def test_a_running_update_shows_its_stages_and_passes_and_can_be_stopped(tiny_model):
    import threading

    from dashboard.update_job import UpdateJob
    from recsys_core import EpochLog
    from recsys_core.loading import load_increment
    from recsys_core.update import UpdateOptions

    job = UpdateJob(tiny_model, load_increment(("new.csv", NEW_INTERACTIONS)), UpdateOptions(compare_retrain=True))
    release = threading.Event()
    job._thread = threading.Thread(target=release.wait, daemon=True)  # "running" until released
    job._thread.start()
    job._progress(0.0, "encoding new texts")
    job._progress(0.0, "updating")
    job._progress(0.5, "pass 2 of 3")
    job.epochs.append(EpochLog(1, 2.5, 0.25, 0.4))
    try:
        at = train_page(tiny_model, update_job=job)
        shown = texts(at.markdown)
        assert "encoding new texts" in shown and "**updating**" in shown
        assert "retraining from scratch for the comparison" in shown  # still to come: the comparison was asked
        assert "Pass 1: loss 2.5000, NDCG@10 on the newest interactions 0.2500" in texts(at.caption)
        at.button(key="stop_update").click().run()
        assert job.stop_requested
        assert at.button(key="train").disabled  # one job at a time
    finally:
        release.set()


def test_new_data_over_the_session_memory_budget_is_refused_before_it_is_read(tiny_model, monkeypatch):
    monkeypatch.setenv("RECSYS_SESSION_MEMORY_MB", "0.001")  # about a kilobyte
    at = train_page(tiny_model)
    at.file_uploader(key="update_interactions").set_value(("new.csv", NEW_INTERACTIONS, "text/csv"))
    at.button(key="update").click().run()
    assert "Loading these files needs about" in texts(at.error) and "RECSYS_SESSION_MEMORY_MB" in texts(at.error)
    assert "update_job" not in at.session_state and at.session_state["model"] is tiny_model
