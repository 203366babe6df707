"""Computed results survive a reload with the inputs that made them (dashboard.session_store's results.json,
wired by dashboard.state and the owner modules).

Specifications: feature-importance shares, the field ablation, the last training's summary, the Explain
pair and its comparison ("why A above B") and what-if come back exactly; a result made on another model is never shown as this model's; a damaged entry is
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
from recsys_core.explain import (Contrast, ExplainConfig, FieldAblation, FieldKey, GlobalImportance, WhatIf,
                                  contrast_pair, field_ablation, global_importance, what_if)
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


@pytest.fixture(scope="module")
def comparison(tiny_model) -> Contrast:
    user = tiny_model.known_users()[4]
    top = [r.item_id for r in tiny_model.recommend(user, 10)]
    return contrast_pair(tiny_model, user, top[0], top[2], ExplainConfig(n_steps=8, baseline="mask"), words=True)


@pytest.fixture(scope="module")
def whatif(tiny_model) -> WhatIf:
    user = tiny_model.known_users()[4]
    item = tiny_model.recommend(user, 1)[0].item_id
    newest = tiny_model.catalog.item_ids[tiny_model.context(user).history[-1]]
    return what_if(tiny_model, user, item, remove_history=[newest], remove_fields=["genres"])


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


def test_a_comparison_in_words_reads_back_as_written(comparison):
    assert comparison.has_words and comparison.tokens_a and comparison.history_items
    back = Contrast.from_dict(_json_round_trip(comparison.to_dict()))
    assert back.to_dict() == comparison.to_dict()
    for mine, theirs in ((back.parts(), comparison.parts()), (back.word_parts(), comparison.word_parts())):
        assert [k for k, _ in mine] == [k for k, _ in theirs]
        assert [v for _, v in mine] == pytest.approx([v for _, v in theirs], abs=1e-6)  # to_dict keeps 6 digits
    assert all(isinstance(k, FieldKey) for k in back.word_fields)  # FieldKeys again, not plain text
    assert {k.side for k in back.word_fields} >= {"A item", "B item", "history"}
    assert back.summary() == comparison.summary() and back.delta_share == pytest.approx(comparison.delta_share, abs=1e-4)


def test_a_what_if_reads_back_as_written(whatif):
    back = WhatIf.from_dict(_json_round_trip(whatif.to_dict()))
    assert back.to_dict() == whatif.to_dict() and back.rank_after == whatif.rank_after
    assert back.score_after == pytest.approx(whatif.score_after, abs=1e-6)


@pytest.mark.parametrize("reader", [GlobalImportance.from_dict, FieldAblation.from_dict, TrainingSummary.from_dict,
                                    Contrast.from_dict, WhatIf.from_dict])
def test_a_value_of_another_shape_is_refused(reader):
    with pytest.raises((KeyError, TypeError, ValueError, AttributeError)):
        reader({"n_pairs": "many", "base_ndcg10": [], "model": None})


@pytest.mark.parametrize("damage", [("score_a", "1.5"), ("exact", 1), ("tokens_a", [{"text": "x"}]),
                                    ("word_fields", {"A item: title": None}), ("history_items", [{"item_id": 3}])])
def test_a_damaged_comparison_is_refused(comparison, damage):
    key, value = damage
    with pytest.raises((KeyError, TypeError, ValueError, AttributeError)):
        Contrast.from_dict({**_json_round_trip(comparison.to_dict()), key: value})


@pytest.mark.parametrize("damage", [("rank_after", 0), ("rank_before", 2.0), ("score_after", True), ("change", None)])
def test_a_damaged_what_if_is_refused(whatif, damage):
    key, value = damage
    with pytest.raises((KeyError, TypeError, ValueError)):
        WhatIf.from_dict({**whatif.to_dict(), key: value})


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


def _kept_explain_results(tiny_model, comparison: Contrast, whatif: WhatIf, model: str | None = None) -> dict:
    """The results.json entries the Explain page writes for ``comparison`` and ``whatif`` (dashboard.explain_kept),
    made with the page's settings 8 steps and the mask baseline."""
    from dashboard.explain_kept import pair_digest
    from recsys_core.explain import state_key

    ctx = tiny_model.context(comparison.user_id)
    model = model or tiny_model.model_fingerprint
    common = {"model": model, "user": comparison.user_id, "item": comparison.item_a}
    contrast_key = state_key(tiny_model, ctx, comparison.item_a, ExplainConfig(n_steps=8, baseline="mask"))
    whatif_key = state_key(tiny_model, ctx, whatif.item_id, ExplainConfig())
    return {
        "explain_pair": ({"model": model}, {"user": comparison.user_id, "item": comparison.item_a, "any_item": False,
                                            "steps": 8, "baseline": "mask", "merge": True}),
        "explain_contrast": ({**common, "pair": pair_digest(contrast_key), "other": comparison.item_b, "words": True},
                             {"described": "the kept comparison", "result": comparison.to_dict()}),
        "explain_whatif": ({**common, "pair": pair_digest(whatif_key), "remove_history": [whatif_removed(tiny_model, whatif)],
                            "remove_fields": ["genres"], "item_text": None},
                           {"described": "the kept what-if", "result": whatif.to_dict()}),
    }


def whatif_removed(tiny_model, whatif: WhatIf) -> str:
    """The history item the ``whatif`` fixture removed (the user's newest)."""
    user = tiny_model.known_users()[4]
    return tiny_model.catalog.item_ids[tiny_model.context(user).history[-1]]


def shown(elements) -> str:
    """The text of Markdown elements as the analyst reads it (without plain()'s escapes and word joiners)."""
    return " ".join(e.value for e in elements).replace("\\", "").replace("\u2060", "")


def test_a_reload_shows_the_kept_comparison_and_what_if_of_the_pair_as_current(app_env, tiny_model, comparison, whatif):
    assert comparison.item_a == whatif.item_id  # both made for the pair the page reopens on
    sid = new_id()
    app_env.save_model(sid, "trained at 10:02", draft=tiny_model)
    for kind, (inputs, value) in _kept_explain_results(tiny_model, comparison, whatif).items():
        app_env.save_result(sid, kind, inputs, value)
    at = open_page(sid, "pages/4_Explain.py")
    # the inputs each was made from are back in the widgets, so both are shown as current (no "earlier choice")
    assert at.selectbox(key="explain_b").value == comparison.item_b and at.checkbox(key="explain_compare_words").value
    assert at.multiselect(key="whatif_items").value == [whatif_removed(tiny_model, whatif)]
    assert at.multiselect(key="whatif_fields").value == ["genres"]
    captions = shown(at.caption)
    assert "Result for the kept comparison." in captions and "Result for the kept what-if." in captions
    assert "Word level for the two item texts only" in captions
    assert not any("earlier choice" in w.value for w in at.warning)
    assert comparison.summary() in shown(at.markdown)
    after = {m.label: m.value for m in at.metric}
    assert after["Score (logit) after"] == f"{whatif.score_after:+.3f}" and after["Rank after"] == f"{whatif.rank_after:,}"


def test_a_reload_never_shows_another_models_comparison_and_a_damaged_one_is_absent(app_env, tiny_model, comparison,
                                                                                   whatif):
    sid = new_id()
    app_env.save_model(sid, "trained at 10:02", draft=tiny_model)
    kept = _kept_explain_results(tiny_model, comparison, whatif)
    app_env.save_result(sid, "explain_pair", *kept["explain_pair"])
    app_env.save_result(sid, "explain_contrast", *_kept_explain_results(tiny_model, comparison, whatif,
                                                                         "another model")["explain_contrast"])
    inputs, value = kept["explain_whatif"]
    app_env.save_result(sid, "explain_whatif", inputs, {**value, "result": {**value["result"], "rank_after": "first"}})
    at = open_page(sid, "pages/4_Explain.py")
    assert at.selectbox(key="explain_item").value == comparison.item_a  # the pair itself is back
    assert at.selectbox(key="explain_b").value != comparison.item_b or not at.checkbox(key="explain_compare_words").value
    assert "kept comparison" not in shown(at.caption) and "kept what-if" not in shown(at.caption)
    assert "a difference of" not in shown(at.markdown)
    assert "Score (logit) after" not in {m.label for m in at.metric}
