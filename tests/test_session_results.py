"""Computed results survive a reload with the inputs that made them (dashboard.session_store's results.json,
wired by dashboard.state and the owner modules).

Specifications: feature-importance shares, the field ablation, the last training's summary and the Explain
pair come back exactly; a result made on another model is never shown as this model's; a damaged entry is
absent (the others and the dataset and model still come back); a results write killed at any instant leaves
the old or the new results; a result over the session's size limit is not kept.
(The dataset and model entries are specified in tests/test_session_store.py, which is at its size limit.)
"""
from __future__ import annotations

import json
import math
import random
import time

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import session_store
from dashboard.session_store import RESULTS, SessionStore, SessionTooLarge, new_id
from dashboard.training import TrainingSummary
from recsys_core.explain import ExplainConfig, FieldAblation, GlobalImportance, field_ablation, global_importance
from test_session_store import APP, _kill_a_writer, notices

FAST = ExplainConfig(n_steps=8, faithfulness=False)


@pytest.fixture
def store(tmp_path) -> SessionStore:
    return SessionStore(tmp_path / "sessions", days=7, max_mb=50)


@pytest.fixture(scope="module")
def shares(tiny_model) -> GlobalImportance:
    return global_importance(tiny_model, n_users=3, k=1, config=FAST, seed=0)


@pytest.fixture(scope="module")
def ablation(tiny_model) -> FieldAblation:
    return field_ablation(tiny_model, max_users=30, n_bootstrap=200)


def _json_round_trip(value: dict) -> dict:
    return json.loads(json.dumps(value))  # what the store's file gives back


# -- each result kind reads back what it wrote -------------------------------------------------------------
def test_feature_importance_shares_read_back_as_written(shares):
    back = GlobalImportance.from_dict(_json_round_trip(shares.to_dict()))
    assert back.to_dict() == shares.to_dict()
    assert back.field_share == pytest.approx(shares.field_share, abs=1e-6)
    assert [b.enough for b in back.by_user_activity] == [b.enough for b in shares.by_user_activity]
    assert back.warnings == shares.warnings and back.pairs == shares.pairs


def test_an_undefined_mean_is_kept_as_such(shares):
    odd = GlobalImportance.from_dict({**shares.to_dict(), "mean_delta_share": math.nan})
    back = GlobalImportance.from_dict(_json_round_trip(odd.to_dict()))
    assert math.isnan(back.mean_delta_share) and back.delta_flagged


def test_a_field_ablation_reads_back_as_written(ablation):
    back = FieldAblation.from_dict(_json_round_trip(ablation.to_dict()))
    assert back.ablated_ndcg10 == pytest.approx(ablation.ablated_ndcg10, abs=1e-6)  # to_dict keeps 6 digits
    assert back.drop == pytest.approx(ablation.drop, abs=2e-6) and list(back.drop) == list(ablation.drop)
    assert (back.base_ndcg10, back.n_cases, back.n_bootstrap) == pytest.approx(
        (ablation.base_ndcg10, ablation.n_cases, ablation.n_bootstrap), abs=1e-6)
    assert {f: back.verdict(f) for f in back.intervals} == {f: ablation.verdict(f) for f in ablation.intervals}


def test_a_training_summary_reads_back_as_written(tiny_model):
    summary = TrainingSummary.of(tiny_model, 1700000000.0)
    back = TrainingSummary.from_dict(_json_round_trip(summary.to_dict()))
    assert _json_round_trip(back.to_dict()) == _json_round_trip(summary.to_dict())  # options' tuples are lists
    assert (back.model, back.train_log, back.max_history) == (summary.model, summary.train_log, summary.max_history)
    assert back.training.best_epoch == summary.training.best_epoch
    assert back.report.slice("test").metrics == tiny_model.report.slice("test").metrics


@pytest.mark.parametrize("reader", [GlobalImportance.from_dict, FieldAblation.from_dict, TrainingSummary.from_dict])
def test_a_value_of_another_shape_is_refused(reader):
    with pytest.raises((KeyError, TypeError, ValueError, AttributeError)):
        reader({"n_pairs": "many", "base_ndcg10": [], "model": None})


# -- the store ----------------------------------------------------------------------------------------------
def test_results_come_back_with_their_inputs_beside_the_dataset_and_model(store, tiny_model, ablation):
    sid = new_id()
    store.save_model(sid, "draft", draft=tiny_model)
    store.save_result(sid, "importance_ablation", {"model": "m1", "max_users": 30}, ablation.to_dict())
    store.save_result(sid, "explain_pair", {"model": "m1"}, {"user": "u03", "item": "i07"})
    store.save_result(sid, "explain_pair", {"model": "m1"}, {"user": "u04", "item": "i01"})  # replaces, alone
    restored = store.restore(sid)
    assert restored.status == "restored" and restored.model.draft is not None
    assert set(restored.results) == {"importance_ablation", "explain_pair"}
    assert restored.results["explain_pair"].value == {"user": "u04", "item": "i01"}
    kept = restored.results["importance_ablation"]
    assert kept.inputs == {"model": "m1", "max_users": 30}
    assert FieldAblation.from_dict(kept.value).ablated_ndcg10 == pytest.approx(ablation.ablated_ndcg10, abs=1e-6)
    store.save_result(sid, "explain_pair")  # forgotten
    assert set(store.restore(sid).results) == {"importance_ablation"}


def test_a_session_that_keeps_only_results_is_restored(store):
    sid = new_id()
    store.save_result(sid, "explain_pair", {"model": "demo"}, {"user": "u1", "item": "i1"})
    restored = store.restore(sid)
    assert restored.status == "empty" and restored.results["explain_pair"].inputs == {"model": "demo"}


@pytest.mark.parametrize("content", [b"", b"{not json", b"\xff\xfe", b'{"format": "other"}', b"[]",
                                     b'{"format": "recsys-dashboard.session-results", "version": 1, "results": 3}'])
def test_a_damaged_results_file_leaves_the_results_absent_and_the_rest_restored(store, tiny_model, content):
    sid = new_id()
    store.save_model(sid, "draft", draft=tiny_model)
    store.save_result(sid, "training", {"model": "m"}, {"x": 1})
    (store.root / sid / RESULTS).write_bytes(content)
    restored = store.restore(sid)
    assert restored.status == "restored" and restored.model.draft is not None and restored.results == {}
    store.save_result(sid, "explain_pair", {"model": "m"}, {"user": "u"})  # a new write starts over
    assert set(store.restore(sid).results) == {"explain_pair"}


def test_a_damaged_entry_is_absent_and_the_others_come_back(store):
    sid = new_id()
    store.save_result(sid, "training", {"model": "m"}, {"x": 1})
    path = store.root / sid / RESULTS
    data = json.loads(path.read_text())
    data["results"].update({"a": "text", "b": {"inputs": [], "value": {}}, "c": {"inputs": {}}})
    path.write_text(json.dumps(data))
    assert set(store.restore(sid).results) == {"training"}


def test_a_result_over_the_size_limit_is_not_kept_and_an_older_one_is_not_brought_back(tmp_path):
    store = SessionStore(tmp_path / "s", days=7, max_mb=0.01)  # 10 KB
    sid = new_id()
    store.save_result(sid, "training", {"model": "m"}, {"small": 1})
    with pytest.raises(SessionTooLarge):
        store.save_result(sid, "training", {"model": "m"}, {"big": "x" * 20_000})
    assert store.restore(sid).results == {}


def test_a_results_write_killed_at_any_moment_leaves_the_old_or_the_new_results(store, tmp_path):
    sid = new_id()
    store.save_result(sid, "training", {"model": "m"}, {"version": 0, "pad": "x" * 50_000})
    current, outcomes = 0, {"old": 0, "new": 0}
    rng = random.Random(3)
    started = time.perf_counter()
    store.save_result(sid, "training", {"model": "m"}, {"version": 0, "pad": "x" * 50_000})
    write_seconds = time.perf_counter() - started
    for trial in range(30):
        new = 1 - current
        pause_at = rng.choice([None, "results written"])
        _kill_a_writer(lambda new=new: SessionStore(store.root, days=7, max_mb=50).save_result(
            sid, "training", {"model": "m"}, {"version": new, "pad": "x" * 50_000}),
            tmp_path / f"log-{trial}", pause_at, write_seconds * 3, rng)
        restored = store.restore(sid)
        assert restored.status == "empty", (trial, restored.status)
        version = restored.results["training"].value["version"]
        assert version in (current, new)
        outcomes["new" if version == new else "old"] += 1
        current = version
    assert outcomes["old"] and outcomes["new"], outcomes
    store.save_result(sid, "explain_pair", {"model": "m"}, {})  # the next write clears dead writers' leftovers
    assert sorted(p.name for p in (store.root / sid).iterdir()) == [RESULTS, session_store.MANIFEST]


# -- the pages: a reload shows what matches the model, never what another model made -------------------------
def open_page(sid: str, page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params["session"] = sid
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def app_env(tmp_path, monkeypatch) -> SessionStore:
    monkeypatch.setenv("RECSYS_SESSIONS_DIR", str(tmp_path / "sessions"))
    monkeypatch.setenv("RECSYS_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("RECSYS_CACHE_DIR", str(tmp_path / "embeddings"))
    return SessionStore()


def test_a_reload_shows_the_kept_importance_of_this_model_only(app_env, tiny_model, shares, ablation):
    sid = new_id()
    app_env.save_model(sid, "trained at 10:02", draft=tiny_model)
    app_env.save_result(sid, "importance_shares", {"model": tiny_model.model_fingerprint, "n_users": 3, "k": 1},
                        shares.to_dict())
    app_env.save_result(sid, "importance_ablation", {"model": "another model", "max_users": 100}, ablation.to_dict())
    at = open_page(sid, "pages/6_Feature_importance.py")
    assert f"{shares.n_pairs} pairs" in " ".join(c.value for c in at.caption)
    assert (at.slider(key="fi_users").value, at.slider(key="fi_k").value) == (3, 1)  # the inputs it was made from
    assert at.slider(key="fi_ablation_users").value == 300  # another model's settings are not put back
    assert not at.dataframe or len(at.dataframe) == 2  # the two bucket tables; no ablation table
    assert not any("validation users; 95% intervals" in c.value for c in at.caption)


def test_a_reload_shows_the_last_training_and_labels_it_when_the_model_changed(app_env, tiny_model):
    sid = new_id()
    app_env.save_model(sid, "trained at 10:02", draft=tiny_model)
    summary = TrainingSummary.of(tiny_model, time.time())
    app_env.save_result(sid, "training", {"model": tiny_model.model_fingerprint}, summary.to_dict())
    at = open_page(sid, "pages/2_Train.py")
    assert [h.value for h in at.header][:1] == ["Last training"]
    assert "The other pages now use this model" in at.success[0].value
    assert at.text_input(key="save_name") is not None  # the restored draft can be saved from here
    app_env.save_model(sid, "")  # the session's model is now the demo
    at = open_page(sid, "pages/2_Train.py")
    assert [h.value for h in at.header][:1] == ["Last training"]
    assert "now uses another model" in notices(at) and not at.success


def test_a_damaged_kept_result_is_absent_and_the_page_still_opens(app_env, tiny_model):
    sid = new_id()
    app_env.save_model(sid, "trained at 10:02", draft=tiny_model)
    app_env.save_result(sid, "training", {"model": tiny_model.model_fingerprint}, {"model": 3})
    app_env.save_result(sid, "importance_shares", {"model": tiny_model.model_fingerprint}, {"n_pairs": []})
    at = open_page(sid, "pages/2_Train.py")
    assert "Unsaved draft" in [h.value for h in at.header]
    at.switch_page("pages/6_Feature_importance.py").run()
    assert not at.exception and "Press **Compute attribution shares**" in at.info[0].value


def test_a_reload_opens_the_explain_page_on_the_kept_pair_of_this_model(app_env, tiny_model):
    sid = new_id()
    app_env.save_model(sid, "trained at 10:02", draft=tiny_model)
    user = tiny_model.known_users()[4]
    far = [i for i in tiny_model.catalog.item_ids
           if i not in {r.item_id for r in tiny_model.recommend(user, k=10)}][0]  # outside the top 10
    pair = {"user": user, "item": far, "any_item": True, "steps": 8, "baseline": "mask", "merge": False}
    app_env.save_result(sid, "explain_pair", {"model": tiny_model.model_fingerprint}, pair)
    at = open_page(sid, "pages/4_Explain.py")
    assert (at.selectbox(key="explain_user").value, at.selectbox(key="explain_item").value) == (user, far)
    assert at.toggle(key="explain_any_item").value and at.slider(key="explain_steps").value == 8
    assert at.selectbox(key="explain_baseline").value == "mask" and not at.checkbox(key="explain_merge").value
    app_env.save_result(sid, "explain_pair", {"model": "another model"}, pair)
    at = open_page(sid, "pages/4_Explain.py")
    assert at.selectbox(key="explain_user").value == tiny_model.known_users()[0]  # not another model's pair
    assert not at.toggle(key="explain_any_item").value
