"""A session's dataset and model survive a reload (dashboard.session_store, wired by dashboard.state).

Specifications: what was kept comes back exactly (the same dataset rebuilt from the uploaded bytes, the
same draft model); expired, damaged, missing or malformed entries are absent, never an error; a write
killed at any instant leaves the previous or the new state; sessions written from several threads at
once come back as they do when written alone.
"""
from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import random
import re
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from conftest import tiny_tables
from dashboard import session_store
from dashboard.safe_text import WORD_JOINER
from dashboard.session_store import (MANIFEST, DatasetSource, SessionStore, SessionTooLarge, UploadedFile, new_id,
                                     valid_id)
from recsys_core.registry import MODELS_DIR_ENV, ModelRegistry

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")


def csv(table: pd.DataFrame) -> bytes:
    return table.to_csv(index=False).encode()


def source(users_kept: int = 30, rename: dict | None = None) -> DatasetSource:
    """The tiny tables as uploaded files, with the first ``users_kept`` users' interactions."""
    inter, items, users = tiny_tables()
    inter = inter[inter["user_id"].isin([f"u{u:02d}" for u in range(users_kept)])]
    return DatasetSource.of(UploadedFile("ratings.csv", csv(inter)), UploadedFile("movies.csv", csv(items)),
                            UploadedFile("people.csv", csv(users)), item_fields=["title", "genres"],
                            min_rating=4.0, rename=rename)


def top(rec, user="u03", k=5) -> list[tuple[str, float]]:
    return [(r.item_id, round(r.score, 5)) for r in rec.recommend(user, k=k)]


@pytest.fixture
def store(tmp_path) -> SessionStore:
    return SessionStore(tmp_path / "sessions", days=7, max_mb=50)


# -- ids ----------------------------------------------------------------------------------------------------
def test_ids_are_long_random_and_only_well_formed_ids_are_accepted():
    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(len(i) == 43 and valid_id(i) for i in ids)  # 32 random bytes each
    for bad in ["", "abc", "../" + "a" * 40, "a" * 42, "a" * 44, "a" * 42 + "/", "a" * 42 + ".", None, 42,
                "a" * 42 + "\n", "ä" * 43]:
        assert not valid_id(bad), bad


def test_a_malformed_id_is_never_turned_into_a_path(store):
    store.root.mkdir(parents=True)
    (store.root.parent / MANIFEST).write_text("{}")  # what "../session.json" would reach
    assert store.restore("..").status == "missing"
    assert store.restore("../" + "a" * 40).status == "missing"
    with pytest.raises(ValueError):
        store.save_dataset("../escape", source())
    assert sorted(p.name for p in store.root.parent.iterdir()) == [MANIFEST, "sessions"]


# -- round trips --------------------------------------------------------------------------------------------
def test_an_uploaded_dataset_comes_back_as_loaded_with_its_options(store):
    uploaded = source(rename={"genres": "kind"})
    original = uploaded.load()
    sid = new_id()
    store.save_dataset(sid, uploaded, "ratings.csv + movies.csv + people.csv")
    restored = store.restore(sid)
    assert restored.status == "restored" and not restored.problems
    assert restored.dataset_label == "ratings.csv + movies.csv + people.csv"
    pd.testing.assert_frame_equal(restored.dataset.interactions, original.interactions)
    pd.testing.assert_frame_equal(restored.dataset.items, original.items)
    assert restored.dataset.item_fields == original.item_fields == ["title", "kind"]
    assert restored.dataset.summary() == original.summary()
    assert (original.interactions["rating"] >= 4).all()  # min_rating was applied again
    assert restored.model is None  # the demo model: nothing kept


def test_a_draft_model_comes_back_with_the_same_recommendations(store, tiny_model):
    sid = new_id()
    store.save_model(sid, "trained at 10:02", draft=tiny_model)
    restored = store.restore(sid)
    assert restored.status == "restored" and restored.dataset is None
    assert restored.model.label == "trained at 10:02" and restored.model.saved_name is None
    assert top(restored.model.draft) == top(tiny_model)
    assert restored.model.draft.fingerprint == tiny_model.fingerprint


def test_a_registry_model_is_kept_by_name_and_a_later_write_replaces_the_draft(store, tiny_model):
    sid = new_id()
    store.save_model(sid, "trained at 10:02", draft=tiny_model)
    store.save_model(sid, "my-model", saved_name="my-model")
    restored = store.restore(sid)
    assert restored.model.saved_name == "my-model" and restored.model.draft is None
    assert [p.name for p in (store.root / sid).iterdir()] == [MANIFEST]  # the old draft was removed
    store.save_model(sid, "demo model")  # back to the demo: nothing to keep
    assert store.restore(sid).status == "empty"


def test_the_dataset_and_model_entries_are_independent(store, tiny_model):
    sid = new_id()
    store.save_dataset(sid, source(), "a")
    store.save_model(sid, "trained", draft=tiny_model)
    store.save_dataset(sid, source(users_kept=10), "b")
    restored = store.restore(sid)
    assert restored.dataset_label == "b" and restored.dataset.summary()["users"] == 10
    assert top(restored.model.draft) == top(tiny_model)
    assert len(list((store.root / sid).glob("data-*"))) == 1  # the first upload's files are gone


def test_one_session_never_sees_another(store):
    a, b = new_id(), new_id()
    store.save_dataset(a, source(users_kept=5), "a")
    assert store.restore(b).status == "missing"
    store.save_dataset(b, source(users_kept=7), "b")
    assert store.restore(a).dataset.summary()["users"] == 5
    assert store.restore(b).dataset.summary()["users"] == 7
    assert oct((store.root / a).stat().st_mode & 0o777) == "0o700"  # uploads are private on the server too


# -- expiry -------------------------------------------------------------------------------------------------
def age(store: SessionStore, sid: str, days: float) -> None:
    then = time.time() - days * 86400
    os.utime(store.root / sid / MANIFEST, (then, then))


def test_a_session_unused_for_longer_than_its_days_is_expired_and_removed(store):
    old, fresh = new_id(), new_id()
    store.save_dataset(old, source(), "old")
    store.save_dataset(fresh, source(), "fresh")
    age(store, old, 7.1)
    age(store, fresh, 6.9)
    assert store.restore(old).status == "expired"
    assert not (store.root / old).exists()
    assert store.restore(fresh).status == "restored"
    assert store.restore(old).status == "missing"


def test_restoring_or_touching_restarts_the_days_and_prune_removes_only_expired_sessions(store):
    sids = [new_id() for _ in range(3)]
    for sid in sids:
        store.save_dataset(sid, source(users_kept=3), "x")
    age(store, sids[0], 8)
    age(store, sids[1], 8)
    store.touch(sids[1])  # in use again
    age(store, sids[2], 3)
    assert store.prune() == 1
    assert sorted(p.name for p in store.root.iterdir()) == sorted(sids[1:])
    store.restore(sids[2])
    assert time.time() - (store.root / sids[2] / MANIFEST).stat().st_mtime < 60


def test_writes_remove_expired_sessions_now_and_then(store, monkeypatch):
    old, active = new_id(), new_id()
    store.save_dataset(old, source(users_kept=3), "old")
    age(store, old, 8)
    store.save_dataset(active, source(users_kept=3), "active")  # within PRUNE_EVERY_SECONDS of the last prune
    assert (store.root / old).exists()
    monkeypatch.setattr(session_store, "PRUNE_EVERY_SECONDS", 0.0)
    store.save_model(active, "demo model")
    assert not (store.root / old).exists() and (store.root / active).exists()


def test_the_days_and_size_limit_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RECSYS_SESSIONS_DIR", str(tmp_path / "s"))
    monkeypatch.setenv("RECSYS_SESSION_DAYS", "2.5")
    monkeypatch.setenv("RECSYS_SESSION_MAX_MB", "3")
    store = SessionStore()
    assert (store.root, store.days, store.max_bytes, store.enabled) == (tmp_path / "s", 2.5, 3 * 2**20, True)
    monkeypatch.setenv("RECSYS_SESSION_DAYS", "soon")  # a bad value: the default, and a line in the log
    assert SessionStore().days == session_store.DEFAULT_DAYS
    monkeypatch.setenv("RECSYS_SESSION_DAYS", "0")
    assert not SessionStore().enabled
    assert SessionStore().restore(new_id()).status == "missing"


def test_files_over_the_size_limit_are_not_kept_and_an_older_upload_is_not_brought_back(tmp_path):
    store = SessionStore(tmp_path, days=7, max_mb=0.005)  # 5 kB: the tiny tables are 7.6 kB
    small = DatasetSource(UploadedFile("a.csv", b"user_id,item_id\nu,i\n"), UploadedFile("b.csv", b"item_id,t\ni,x\n"))
    sid = new_id()
    store.save_dataset(sid, small, "small")
    with pytest.raises(SessionTooLarge, match="more than a session keeps"):
        store.save_dataset(sid, source(), "big")
    assert store.restore(sid).status == "empty"  # not the small upload: a reload would show stale data


# -- damage -------------------------------------------------------------------------------------------------
def entry_dir(store: SessionStore, sid: str, kind: str) -> Path:
    return next((store.root / sid).glob(f"{kind}-*"))


@pytest.mark.parametrize("content", [b"", b"{not json", b"\xff\xfe", b"[]", b'{"format": "other", "version": 1}',
                                     b'{"format": "recsys-dashboard.session", "version": 99}'])
def test_an_unreadable_record_is_damaged_and_a_new_write_starts_over(store, content):
    sid = new_id()
    store.save_dataset(sid, source(), "x")
    (store.root / sid / MANIFEST).write_bytes(content)
    assert store.restore(sid).status == "damaged"
    store.save_dataset(sid, source(users_kept=4), "again")
    assert store.restore(sid).dataset.summary()["users"] == 4


@pytest.mark.parametrize("harm", ["truncate", "flip", "delete"])
def test_damaged_uploaded_files_leave_the_dataset_absent_and_the_model_restored(store, tiny_model, harm):
    sid = new_id()
    store.save_dataset(sid, source(), "x")
    store.save_model(sid, "trained", draft=tiny_model)
    path = entry_dir(store, sid, "data") / "interactions"
    data = path.read_bytes()
    if harm == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif harm == "flip":  # same size, one digit changed: only the checksum can tell
        path.write_bytes(data.replace(b"1700000000", b"1700000001", 1))
    else:
        path.unlink()
    restored = store.restore(sid)
    assert restored.status == "restored" and restored.dataset is None
    assert restored.problems == ["the uploaded files it kept are missing or damaged"]
    assert top(restored.model.draft) == top(tiny_model)


def test_a_damaged_draft_leaves_the_model_absent(store, tiny_model):
    sid = new_id()
    store.save_model(sid, "trained", draft=tiny_model)
    (entry_dir(store, sid, "draft") / "weights.safetensors").write_bytes(b"\0" * 100)
    restored = store.restore(sid)
    assert restored.status == "damaged" and restored.model is None
    assert restored.problems == ["its unsaved model's files were changed after they were kept (they no longer "
                                 "match their fingerprint), so it was not loaded"]


@pytest.mark.parametrize("change", [
    {"dataset": {"dir": "../../elsewhere", "label": "x", "files": {}, "options": {}}},
    {"dataset": {"dir": "data-1-AAAAAAAAAAAAAAAA", "label": 3, "files": {"passwd": {}}, "options": {}}},
    {"model": {"kind": "draft", "dir": "/etc", "label": "x"}},
    {"model": {"kind": "pickle", "label": "x"}},
    {"model": ["draft"]},
])
def test_records_that_point_outside_the_session_or_have_the_wrong_shape_are_damaged(store, change):
    sid = new_id()
    store.save_dataset(sid, source(), "x")
    record = json.loads((store.root / sid / MANIFEST).read_text())
    record.update({"dataset": None, **change})
    (store.root / sid / MANIFEST).write_text(json.dumps(record))
    restored = store.restore(sid)
    assert restored.status == "damaged" and restored.dataset is None and restored.model is None


def test_options_of_the_wrong_type_make_the_dataset_absent(store):
    sid = new_id()
    store.save_dataset(sid, source(), "x")
    record = json.loads((store.root / sid / MANIFEST).read_text())
    record["dataset"]["options"]["min_rating"] = "4; rm -rf /"
    (store.root / sid / MANIFEST).write_text(json.dumps(record))
    assert store.restore(sid).status == "damaged"


def test_leftovers_of_a_dead_writer_are_removed_by_the_next_write_and_foreign_files_are_kept(store):
    sid = new_id()
    store.save_dataset(sid, source(), "x")
    folder = store.root / sid
    dead = 2**22 + 12345  # above the default pid_max: no live process has it
    (folder / f"data-{dead}-AAAAAAAAAAAAAAAA").mkdir()
    (folder / f".draft-{dead}-AAAAAAAAAAAAAAAA.saving-{dead}-1").mkdir()
    (folder / f".session.json.{dead}-1-2").write_text("{")
    (folder / "notes.txt").write_text("not ours")
    store.save_dataset(sid, source(users_kept=3), "y")
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith("data-")) == ["notes.txt", MANIFEST]
    assert len(list(folder.glob("data-*"))) == 1


# -- interrupted writes -------------------------------------------------------------------------------------
def _write_in_child(log_path, pause_at, write):
    """Run ``write()`` with the store's step hook logging each step and sleeping at ``pause_at``."""
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)

    def pause(step):
        os.write(log, (step + "\n").encode())
        if step == pause_at:
            time.sleep(5)  # the parent kills us during this pause

    session_store._pause = pause
    write()
    os.write(log, b"done\n")
    os._exit(0)


def _kill_a_writer(write, log_path, pause_at, unpaused_wait: float, rng: random.Random) -> None:
    """Fork a child running ``write`` and SIGKILL it: at the step ``pause_at``, or (None) after a random
    wait of up to ``unpaused_wait`` seconds, wherever the write then is."""
    child = multiprocessing.get_context("fork").Process(target=_write_in_child, args=(str(log_path), pause_at, write))
    child.start()
    if pause_at is None:
        time.sleep(rng.uniform(0, unpaused_wait))
    else:
        end = time.monotonic() + 10
        while time.monotonic() < end and pause_at not in (log_path.read_text() if log_path.exists() else ""):
            time.sleep(0.002)
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)


def test_a_write_killed_at_any_moment_leaves_the_old_or_the_new_dataset(store, tmp_path):
    sid = new_id()
    store.save_dataset(sid, source(users_kept=5), "v5")
    started = time.perf_counter()
    store.save_dataset(sid, source(users_kept=5), "v5")
    write_seconds = time.perf_counter() - started
    current, outcomes = 5, {"old": 0, "new": 0}
    rng = random.Random(7)
    for trial in range(30):
        new = 12 if current == 5 else 5
        pause_at = rng.choice([None, "files written", "manifest written"])
        _kill_a_writer(lambda new=new: SessionStore(store.root, days=7, max_mb=50).save_dataset(
            sid, source(users_kept=new), f"v{new}"), tmp_path / f"log-{trial}", pause_at, write_seconds * 3, rng)
        restored = store.restore(sid)
        assert restored.status == "restored", (trial, pause_at, restored.problems)
        users = restored.dataset.summary()["users"]
        assert users in (current, new) and restored.dataset_label == f"v{users}"
        outcomes["new" if users == new else "old"] += 1
        current = users
    assert outcomes["old"] and outcomes["new"], outcomes  # kills landed both before and after the switch
    store.save_dataset(sid, source(users_kept=3), "v3")  # the next write clears the dead writers' leftovers
    assert sorted(p.name.split("-")[0] for p in (store.root / sid).iterdir()) == ["data", MANIFEST]


def test_a_draft_write_killed_at_any_moment_leaves_the_old_or_the_new_model(store, tmp_path, tiny_model):
    versions = [dataclasses.replace(tiny_model, fingerprint=f"v{i}") for i in range(2)]
    sid = new_id()
    store.save_model(sid, "v0", draft=versions[0])
    current, seen = 0, set()
    rng = random.Random(11)
    for trial in range(12):
        new = 1 - current
        pause_at = rng.choice([None, "files written", "manifest written"])
        _kill_a_writer(lambda model=versions[new]: SessionStore(store.root, days=7, max_mb=50).save_model(
            sid, model.fingerprint, draft=model), tmp_path / f"log-{trial}", pause_at, 0.3, rng)
        kept = store.restore(sid).model
        assert kept is not None and kept.draft is not None, trial
        assert kept.label == kept.draft.fingerprint in (f"v{current}", f"v{new}")  # label and weights agree
        current = int(kept.label[1])
        seen.add("new" if current == new else "old")
    assert seen == {"old", "new"}


# -- several sessions at once -------------------------------------------------------------------------------
def session_work(store: SessionStore, sid: str, users_kept: int, model) -> tuple:
    store.save_dataset(sid, source(users_kept=users_kept), f"upload {users_kept}")
    store.save_model(sid, f"trained {users_kept}", draft=model)
    store.save_dataset(sid, source(users_kept=users_kept + 1), f"upload {users_kept + 1}")
    restored = store.restore(sid)
    return (restored.status, restored.dataset_label, restored.dataset.summary(), restored.model.label,
            top(restored.model.draft), restored.problems)


def test_sessions_written_from_threads_at_once_come_back_as_when_written_alone(tmp_path, tiny_model):
    alone = SessionStore(tmp_path / "alone", days=7, max_mb=50)
    together = SessionStore(tmp_path / "together", days=7, max_mb=50)
    sizes = [4, 9, 14, 19, 24, 28]
    expected = {n: session_work(alone, new_id(), n, tiny_model) for n in sizes}
    sids = {n: new_id() for n in sizes}
    results, errors = {}, []
    barrier = threading.Barrier(len(sizes) + 1)

    def run(n):
        try:
            barrier.wait()
            results[n] = session_work(together, sids[n], n, tiny_model)
        except Exception as exc:  # reported below with the thread's session
            errors.append((n, repr(exc)))

    threads = [threading.Thread(target=run, args=(n,)) for n in sizes]
    threads.append(threading.Thread(target=lambda: (barrier.wait(), [together.prune() for _ in range(20)])))
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert results == expected
    assert sorted(p.name for p in together.root.iterdir()) == sorted(sids.values())


def test_two_writers_of_one_session_leave_one_complete_state(store, tiny_model):
    sid = new_id()
    errors = []

    def write(n):
        try:
            for _ in range(5):
                store.save_dataset(sid, source(users_kept=n), f"v{n}")
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=write, args=(n,)) for n in (6, 11)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    restored = store.restore(sid)
    assert restored.dataset_label == f"v{restored.dataset.summary()['users']}"
    assert len(list((store.root / sid).glob("data-*"))) == 1


# -- the dashboard: a new browser session opened with the URL ----------------------------------------------
@pytest.fixture
def app_env(tmp_path, monkeypatch) -> SessionStore:
    monkeypatch.setenv("RECSYS_SESSIONS_DIR", str(tmp_path / "sessions"))
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "models"))
    monkeypatch.setenv("RECSYS_CACHE_DIR", str(tmp_path / "embeddings"))
    return SessionStore()


def open_app(sid: str | None = None, page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if sid is not None:
        at.query_params["session"] = sid
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def notices(at: AppTest) -> str:
    """The info and warning texts as a reader sees them (plain()'s escapes and word joiners taken out)."""
    shown = " ".join(str(e.value) for e in [*at.info, *at.warning])
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", shown).replace(WORD_JOINER, "")


def test_an_upload_on_the_data_page_is_back_after_a_reload(app_env):
    at = open_app(page="pages/1_Data.py")
    assert "session" not in at.query_params  # nothing to keep yet
    inter, items, _ = tiny_tables()
    at.file_uploader(key="upload_interactions").set_value(("ratings.csv", csv(inter), "text/csv"))
    at.file_uploader(key="upload_items").set_value(("movies.csv", csv(items), "text/csv"))
    at.run()
    at.button(key="load_dataset").click().run()
    assert not at.exception and not at.error
    sid = at.query_params["session"]
    assert valid_id(sid)
    reloaded = open_app(sid)
    assert reloaded.session_state["dataset_label"] == "ratings.csv + movies.csv"
    assert reloaded.session_state["dataset"].summary() == at.session_state["dataset"].summary()
    assert reloaded.session_state["model_label"] == "demo model"
    assert "Restored your session" in notices(reloaded)
    assert reloaded.query_params["session"] == sid


def test_a_draft_is_back_after_a_reload_labelled_as_a_draft(app_env, tiny_model):
    sid = new_id()
    app_env.save_model(sid, "trained at 10:02", draft=tiny_model)
    at = open_app(sid, page="pages/3_Recommendations.py")
    assert at.session_state["model_label"] == "trained at 10:02 (unsaved draft)"
    assert top(at.session_state["model"]) == top(tiny_model)
    assert at.query_params["session"] == sid  # put back after the page switch
    assert not at.error


def test_a_saved_model_is_reloaded_from_the_registry_by_name(app_env, tiny_model, tmp_path):
    ModelRegistry(tmp_path / "models").save(tiny_model, "tiny-one")
    sid = new_id()
    app_env.save_model(sid, "tiny-one", saved_name="tiny-one")
    at = open_app(sid)
    assert at.session_state["model_label"] == "tiny-one"
    ModelRegistry(tmp_path / "models").delete("tiny-one", confirm="tiny-one")
    at = open_app(sid)  # deleted since: the demo model, and a notice that says why
    assert at.session_state["model_label"] == "demo model"
    assert "'tiny-one' is no longer in the models folder" in notices(at)


@pytest.mark.parametrize("sid, shown", [("not-an-id", False), ("../../etc/passwd", False), (None, False),
                                        ("unknown", True), ("expired", True), ("damaged", True)])
def test_a_link_whose_session_cannot_be_restored_opens_the_demo(app_env, sid, shown):
    if sid in ("expired", "damaged"):
        kept, sid = sid, new_id()
        app_env.save_dataset(sid, source(), "x")
        if kept == "expired":
            age(app_env, sid, 8)
        else:
            (app_env.root / sid / MANIFEST).write_text("{")
    elif sid == "unknown":
        sid = new_id()
    at = open_app(sid)
    assert not at.error
    assert at.session_state["model_label"] == "demo model" and "demo data" in at.session_state["dataset_label"]
    assert ("could not be restored" in notices(at)) == shown
    assert "session" not in at.query_params  # a bad id does not stay in the address


def test_the_home_page_says_how_long_a_session_is_kept(app_env, monkeypatch):
    monkeypatch.setenv("RECSYS_SESSION_DAYS", "3")
    at = open_app()
    kept = " ".join(str(e.value) for e in at.markdown)
    assert "kept on this server for **3 days**" in kept and "this page's address" in kept


def test_a_restored_draft_can_be_saved_on_the_train_page_and_is_then_kept_by_name(app_env, tiny_model, tmp_path):
    sid = new_id()
    app_env.save_model(sid, "trained at 10:02", draft=tiny_model)
    at = open_app(sid, page="pages/2_Train.py")
    assert "Unsaved draft" in [h.value for h in at.header]
    at.text_input(key="save_name").set_value("kept-draft")
    at.button(key="save").click().run()
    assert not at.exception and not at.error
    assert [i.name for i in ModelRegistry(tmp_path / "models").list()] == ["kept-draft"]
    assert at.session_state["model_label"] == "kept-draft"
    assert "Unsaved draft" not in [h.value for h in at.header]
    restored = app_env.restore(sid)
    assert restored.model.saved_name == "kept-draft" and restored.model.draft is None


def test_an_upload_over_the_session_limit_works_now_and_says_a_reload_will_not_keep_it(app_env, monkeypatch):
    monkeypatch.setenv("RECSYS_SESSION_MAX_MB", "0.005")  # 5 kB: the tiny tables are 7.6 kB
    at = open_app(page="pages/1_Data.py")
    inter, items, _ = tiny_tables()
    at.file_uploader(key="upload_interactions").set_value(("ratings.csv", csv(inter), "text/csv"))
    at.file_uploader(key="upload_items").set_value(("movies.csv", csv(items), "text/csv"))
    at.run()
    at.button(key="load_dataset").click().run()
    assert not at.exception and not at.error
    assert at.session_state["dataset_label"] == "ratings.csv + movies.csv"
    assert "a reload starts on the demo data" in notices(at)
    reloaded = open_app(at.query_params["session"])
    assert "demo data" in reloaded.session_state["dataset_label"]


def test_an_unexpected_failure_while_restoring_costs_the_restore_not_the_page(store, monkeypatch):
    sid = new_id()
    store.save_dataset(sid, source(), "x")

    def broken(self):
        raise RuntimeError("a loader bug")

    monkeypatch.setattr(DatasetSource, "load", broken)
    restored = store.restore(sid)
    assert restored.status == "damaged" and restored.problems == ["its dataset no longer loads"]


def test_when_the_server_cannot_keep_an_upload_it_still_works_and_a_reload_never_brings_an_older_one(
        app_env, monkeypatch):
    at = open_app(page="pages/1_Data.py")
    inter, items, _ = tiny_tables()

    def load(names):
        at.file_uploader(key="upload_interactions").set_value((names[0], csv(inter), "text/csv"))
        at.file_uploader(key="upload_items").set_value((names[1], csv(items), "text/csv"))
        at.run()
        at.button(key="load_dataset").click().run()
        assert not at.exception and not at.error

    load(("first.csv", "items.csv"))
    sid = at.query_params["session"]
    assert app_env.restore(sid).dataset_label == "first.csv + items.csv"
    real_write = SessionStore.save_dataset

    def full(self, sid, source, label=""):
        if source is not None:  # files fail; the small record that forgets the entry still goes through
            raise OSError(28, "No space left on device")
        real_write(self, sid, source, label)

    monkeypatch.setattr(SessionStore, "save_dataset", full)
    load(("second.csv", "items.csv"))
    assert at.session_state["dataset_label"] == "second.csv + items.csv"
    assert "No space left on device" in notices(at) and "a reload will not bring it back" in notices(at)
    assert app_env.restore(sid).status == "empty"  # not first.csv: the demo, as the notice said


def test_a_reload_during_training_finds_the_training_and_keeps_its_model(app_env, tiny_dataset):
    at = open_app(page="pages/2_Train.py")
    at.session_state["dataset"], at.session_state["dataset_label"] = tiny_dataset, "tiny"
    at.run()
    at.number_input(key="epochs").set_value(1)
    at.button(key="train").click().run()
    sid = at.query_params["session"]
    job = at.session_state["train_job"]
    reloaded = open_app(sid)  # a new browser session on the same address
    assert reloaded.session_state["train_job"] is job
    if job.running:
        assert "still running" in notices(reloaded)
    job.wait(120)
    reloaded.switch_page("pages/2_Train.py").run()
    assert not reloaded.exception and job.succeeded, job.error
    assert reloaded.session_state["model"] is job.result
    assert reloaded.session_state["model_label"].startswith("trained at")
    kept = app_env.restore(sid).model
    assert kept.label.startswith("trained at") and top(kept.draft) == top(job.result)
    assert open_app(sid).session_state.get("train_job") is None  # adopted: a later reload gets the draft only


# -- the saved model a session used was replaced or deleted by someone else (issue 19 §3) ---------------


def test_a_draft_whose_files_changed_after_they_were_kept_is_not_loaded(store, tiny_model):
    sid = new_id()
    store.save_model(sid, "trained", draft=tiny_model)
    log = entry_dir(store, sid, "draft") / "train_log.json"
    log.write_text(log.read_text().replace("1", "2"))  # still a loadable model: only the fingerprint tells
    restored = store.restore(sid)
    assert restored.model is None
    assert any("changed after they were kept" in p for p in restored.problems)


def test_a_session_whose_saved_model_was_replaced_keeps_its_version_is_told_by_whom_and_can_go_back(
        app_env, tiny_model, short_window_model, tmp_path):
    registry = ModelRegistry(tmp_path / "models")
    mine = registry.save(tiny_model, "shared", owner="alice")
    sid = new_id()
    app_env.save_model(sid, "shared", saved_name="shared", fingerprint=mine.fingerprint)
    registry.save(short_window_model, "shared", overwrite=True, owner="bob")
    at = open_app(sid, page="pages/2_Train.py")
    assert "bob replaced it" in notices(at) and "this session uses it" in notices(at)
    assert at.session_state["model"].max_history == tiny_model.max_history  # the exact version it used
    at.button(key="restore_own_version").click().run()
    assert not at.exception and not at.error
    assert registry.current_version("shared").fingerprint == mine.fingerprint
    assert registry.last_change("shared").by == "anonymous"  # the session's owner label
    assert "bob replaced it" not in notices(at)


def test_a_session_told_of_a_replacement_can_take_the_current_version(app_env, tiny_model, short_window_model,
                                                                      tmp_path):
    registry = ModelRegistry(tmp_path / "models")
    mine = registry.save(tiny_model, "shared", owner="alice")
    sid = new_id()
    app_env.save_model(sid, "shared", saved_name="shared", fingerprint=mine.fingerprint)
    registry.save(short_window_model, "shared", overwrite=True, owner="bob")
    at = open_app(sid, page="pages/2_Train.py")
    at.button(key="use_current_saved").click().run()
    assert at.session_state["model"].max_history == short_window_model.max_history
    assert "replaced it" not in notices(at)
    assert open_app(sid).session_state["model"].max_history == short_window_model.max_history  # kept for a reload


def test_a_session_whose_saved_model_was_deleted_is_told_by_whom_and_can_restore_it(app_env, tiny_model, tmp_path):
    registry = ModelRegistry(tmp_path / "models")
    mine = registry.save(tiny_model, "shared", owner="alice")
    sid = new_id()
    app_env.save_model(sid, "shared", saved_name="shared", fingerprint=mine.fingerprint)
    registry.delete("shared", confirm="shared", by="bob")
    at = open_app(sid, page="pages/2_Train.py")
    assert "deleted by bob" in notices(at) and at.session_state["model_label"] == "demo model"
    at.button(key="untrash_own").click().run()
    assert not at.exception and not at.error
    assert registry.exists("shared") and at.session_state["model_label"] == "shared"
    assert at.session_state["model"].max_history == tiny_model.max_history


def test_the_owner_label_is_editable_shown_in_the_list_and_kept_for_a_reload(app_env, tiny_model, tmp_path):
    registry = ModelRegistry(tmp_path / "models")
    registry.save(tiny_model, "theirs", owner="bob")
    at = open_app(page="pages/2_Train.py")
    at.text_input(key="owner_label_input").set_value("Ana <ana@example.org>").run()
    at.text_input(key="delete_confirm").set_value("theirs").run()
    at.button(key="delete_saved").click().run()
    assert registry.trash()[0].deleted_by == "Ana <ana@example.org>"
    at.text_input(key="owner_label_input").set_value("a\x1bb").run()
    assert "cannot be used as an owner label" in " ".join(e.value for e in at.error)
    reloaded = open_app(at.query_params["session"], page="pages/2_Train.py")
    assert reloaded.text_input(key="owner_label_input").value == "Ana <ana@example.org>"


def test_a_draft_kept_before_fingerprints_were_recorded_still_comes_back(store, tiny_model):
    sid = new_id()
    store.save_model(sid, "trained", draft=tiny_model)
    manifest = json.loads((store.root / sid / MANIFEST).read_text())
    del manifest["model"]["fingerprint"]  # as a session kept by the previous version wrote it
    (store.root / sid / MANIFEST).write_text(json.dumps(manifest))
    assert top(store.restore(sid).model.draft) == top(tiny_model)


def test_an_owner_label_is_shown_as_text_never_markup(app_env, tiny_model, short_window_model, tmp_path):
    registry = ModelRegistry(tmp_path / "models")
    mine = registry.save(tiny_model, "shared", owner="alice")
    sid = new_id()
    app_env.save_model(sid, "shared", saved_name="shared", fingerprint=mine.fingerprint)
    hostile = "**boss** [x](http://203.0.113.7/x) :red[r] $y$ <b>b</b>"
    registry.save(short_window_model, "shared", overwrite=True, owner=hostile)
    at = open_app(sid, page="pages/2_Train.py")
    [warning] = [w.value for w in at.warning if "replaced it" in w.value]
    assert "**boss**" not in warning and "](http" not in warning and ":red[" not in warning  # escaped by plain()
    assert hostile in notices(at)  # and reads as typed
