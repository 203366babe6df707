"""Incremental updates: new items and users come in, old recommendations keep working, nothing old changes."""
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import tiny_tables
from recsys_core import artifacts
from recsys_core.errors import DataValidationError, RecsysError
from recsys_core.loading import load_dataset, load_increment
from recsys_core.model import with_items
from recsys_core.pipeline import FitOptions, fit
from recsys_core.registry import ModelRegistry
from recsys_core.scoring import ModelScorer
from recsys_core.training import TrainConfig
from recsys_core.update import UpdateOptions, UpdateReport, update_model

ROOT = Path(__file__).resolve().parent.parent
CUT = 1_700_000_000 + 3600 * 6  # the tiny users' first 6 interactions are the model's data, the last 2 are new
NEW_ITEMS = ["i36", "i37", "i38", "i39"]


def tables():
    """(first interactions, their items, their users; new interactions, new items, new users)."""
    inter, items, users = tiny_tables()
    old = (inter.timestamp < CUT) & ~inter.item_id.isin(NEW_ITEMS)
    extra_items = pd.DataFrame({"item_id": ["i40"], "title": ["Horror story number 40"], "genres": ["Horror"]})
    new_user = pd.DataFrame([("u99", "i36", 5.0, CUT + 10), ("u99", "i32", 4.0, CUT + 20), ("u99", "i28", 5.0, CUT + 30)],
                            columns=inter.columns)
    new_profiles = pd.DataFrame({"user_id": ["u99"], "about": ["Loves drama films"]})
    return (inter[old], items[~items.item_id.isin(NEW_ITEMS)], users,
            pd.concat([inter[~old], new_user]), pd.concat([items[items.item_id.isin(NEW_ITEMS)], extra_items]),
            new_profiles)


@pytest.fixture(scope="module")
def base(embedding_cache):
    inter, items, users, *_ = tables()
    dataset = load_dataset(inter, items, users, item_fields=["title", "genres"], user_fields=["about"])
    return fit(dataset, FitOptions(max_history=20, train=TrainConfig(epochs=3), baselines=False, cache_dir=embedding_cache))


@pytest.fixture(scope="module")
def updated(base, embedding_cache):
    *_, new_inter, new_items, new_users = tables()
    increment = load_increment(new_inter, new_items, new_users)
    return update_model(base, increment, UpdateOptions(epochs=2, cache_dir=embedding_cache))


def top(recommender, user, k=10):
    return [r.item_id for r in recommender.recommend(user, k)]


def test_an_update_adds_items_and_users_and_extends_histories(base, updated):
    report, grown = updated.report, updated.recommender
    assert report.items_added == 5 and report.users_added == 1
    assert report.interactions_added == len(tables()[3])
    assert grown.catalog.item_ids[: base.catalog.n_items] == base.catalog.item_ids  # known items keep their index
    assert grown.catalog.item_ids[base.catalog.n_items :] == NEW_ITEMS + ["i40"]
    # u00's history is all of their interactions, in time order: one with a new item (i36) came before
    # interactions the model already knew, and the update puts it in its place.
    inter = tiny_tables()[0]
    expected = inter[inter.user_id == "u00"].sort_values("timestamp").item_id.tolist()
    assert [grown.catalog.item_ids[i] for i in grown.catalog.histories["u00"]] == expected
    assert len(base.catalog.histories["u00"]) < len(expected)
    assert "u99" in grown.catalog.profile_index and len(grown.catalog.histories["u99"]) == 3
    assert report.validation_users > 0 and report.ndcg10_before is not None and report.ndcg10_after is not None
    assert report.ndcg10_after >= report.ndcg10_before  # the update keeps the start when no pass beats it


def test_new_items_with_interactions_get_an_id_and_the_others_stay_cold(updated):
    grown = updated.recommender
    assert grown.has_interactions(grown.item_position("i36"))  # u99 and tiny users interacted with it
    assert not grown.has_interactions(grown.item_position("i40"))  # no interaction yet: scored from its text
    row = grown.item_position("i40") + 1
    assert torch.count_nonzero(grown.model.item_emb.weight[row]) == 0


def test_the_model_updated_is_untouched_and_keeps_serving(base, updated):
    assert base.catalog.n_items == 36 and "u99" not in base.catalog.histories
    assert base.model.config.n_items == 36
    before = top(base, "u00")
    assert len(before) == 10 and all(i not in NEW_ITEMS for i in before)
    assert top(updated.recommender, "u00")  # old users are served by the updated model too
    assert top(updated.recommender, "u99")  # a new user at once, from the history the increment gave


def test_a_new_user_is_served_and_new_items_can_be_recommended(updated):
    grown = updated.recommender
    ranked = [r.item_id for r in grown.recommend("u07", grown.catalog.n_items)]
    assert set(NEW_ITEMS) - set(grown.catalog.item_ids[i] for i in grown.catalog.histories["u07"]) <= set(ranked)


def test_grown_model_scores_known_items_exactly_as_before_training(base):
    grown = with_items(base.model, base.catalog.n_items + 3)
    assert grown.config.n_items == base.catalog.n_items + 3
    vectors = np.concatenate([base.catalog.item_vectors, base.catalog.item_vectors[:3]])
    users = base.users([base.context("u03")])
    before = base.scorer.score(users)[0]
    after = ModelScorer(grown, vectors).score(users)[0]
    np.testing.assert_allclose(after[: base.catalog.n_items], before, rtol=1e-5, atol=1e-5)
    assert torch.count_nonzero(grown.item_emb.weight[base.catalog.n_items + 1 :]) == 0
    assert torch.all(grown.warm[base.catalog.n_items + 1 :] == 0)


def scripted_validation(scores: list[float]):
    """A stand-in for ``ValidationNdcg`` that hands out ``scores`` in turn: the start's first, then each pass's."""

    class Scripted:
        def __init__(self, catalog, cases):
            self.left = list(scores)

        def __call__(self, model) -> float:
            return self.left.pop(0)

    return Scripted


@pytest.mark.parametrize("scores, kept", [
    ([0.9, 0.1, 0.2], 0),  # no pass beats the model before the update: its weights are kept
    ([0.1, 0.3, 0.2], 1),  # pass 1 is the best: kept, not the last
])
def test_the_best_of_the_start_and_the_passes_is_kept(base, embedding_cache, monkeypatch, scores, kept):
    monkeypatch.setattr("recsys_core.update.ValidationNdcg", scripted_validation(scores))
    *_, new_inter, new_items, _ = tables()
    result = update_model(base, load_increment(new_inter, new_items),
                          UpdateOptions(epochs=2, patience=2, cache_dir=embedding_cache))
    report = result.report
    assert report.epochs == 2 and report.best_epoch == kept
    assert (report.ndcg10_before, report.ndcg10_after) == (scores[0], scores[kept])
    # The weights (the warm mask, a buffer, follows the new interactions either way).
    start = dict(with_items(base.model, result.recommender.catalog.n_items).named_parameters())
    unchanged = all(torch.equal(w, start[k]) for k, w in result.recommender.model.named_parameters())
    assert unchanged == (kept == 0)
    assert ("its weights were kept" in " ".join(report.lines())) == (kept == 0)


def test_changed_item_text_is_re_encoded_and_other_vectors_are_kept(base, embedding_cache):
    inter, *_ = tables()
    changed = pd.DataFrame({"item_id": ["i05"], "title": ["A completely different space opera"]})
    one = inter[inter.user_id == "u01"].tail(1).assign(timestamp=CUT + 99, item_id="i05")
    result = update_model(base, load_increment(one, changed), UpdateOptions(epochs=1, cache_dir=embedding_cache))
    grown = result.recommender.catalog
    row = grown.item_index["i05"]
    assert result.report.items_changed == 1
    assert grown.item_texts[row].values() == {"title": "A completely different space opera", "genres": "Comedy"}
    assert not np.allclose(grown.item_vectors[row], base.catalog.item_vectors[row])
    others = np.arange(base.catalog.n_items) != row
    np.testing.assert_array_equal(grown.item_vectors[others], base.catalog.item_vectors[others])


def test_the_updated_model_round_trips_through_save_and_load(updated, tmp_path):
    grown = updated.recommender
    back = artifacts.load(artifacts.save(grown, tmp_path / "m"))
    assert back.catalog.item_ids == grown.catalog.item_ids
    for user in ("u00", "u99"):
        assert top(back, user) == top(grown, user)
    kept = UpdateReport.from_dict(back.training.updates[-1])
    assert kept == updated.report


def test_an_update_reads_texts_on_the_centre_its_model_was_trained_with(base, updated):
    # The new items' texts take part in no centre: the weights were trained on the old catalogue's.
    assert base.model.config.center_text
    assert torch.equal(updated.recommender.model.text_center, base.model.text_center)


def test_update_report_survives_damaged_entries():
    assert UpdateReport.from_dict("nonsense") == UpdateReport()
    assert UpdateReport.from_dict({"retrain": {"bad": 1}, "items_added": 3}).items_added == 3


def test_a_retrain_comparison_scores_the_same_newest_interactions(base, embedding_cache):
    *_, new_inter, new_items, new_users = tables()
    result = update_model(base, load_increment(new_inter, new_items, new_users),
                          UpdateOptions(epochs=1, compare_retrain=True, cache_dir=embedding_cache))
    retrain = result.report.retrain
    assert retrain is not None and 0.0 <= retrain.ndcg10 <= 1.0 and retrain.seconds > 0
    assert any("retrained from scratch" in line for line in result.report.lines())


@pytest.mark.parametrize("case, message", [
    ("unknown items", "neither in the model's catalogue nor in the new items file"),
    ("no ratings", "no rating column"),
    ("no timestamps", "have none: add a timestamp column"),
    ("items without fields", "none of the model's item fields"),
    ("new item without text", "have no text"),
])
def test_new_data_the_model_cannot_take_is_refused_with_a_message(base, embedding_cache, case, message):
    *_, new_inter, new_items, _ = tables()
    items = new_items
    inter = new_inter
    if case == "unknown items":
        items = None
    elif case == "no ratings":
        inter = new_inter.drop(columns=["rating"])
    elif case == "no timestamps":
        inter = new_inter.drop(columns=["timestamp"])
    elif case == "items without fields":
        items = new_items.rename(columns={"title": "name", "genres": "kind"})
    elif case == "new item without text":
        items = new_items.assign(title="", genres="")
    with pytest.raises(DataValidationError, match=message):
        update_model(base, load_increment(inter, items), UpdateOptions(epochs=1, cache_dir=embedding_cache))


def test_profiles_for_a_model_trained_without_them_are_refused(embedding_cache):
    inter, items, _, new_inter, new_items, new_users = tables()
    plain = fit(load_dataset(inter, items, item_fields=["title", "genres"]),
                FitOptions(max_history=20, train=TrainConfig(epochs=1), baselines=False, cache_dir=embedding_cache))
    with pytest.raises(DataValidationError, match="trained without user profiles"):
        update_model(plain, load_increment(new_inter, new_items, new_users), UpdateOptions(cache_dir=embedding_cache))


def test_bad_update_options_are_refused():
    for kwargs in ({"epochs": 0}, {"replay": -1}, {"lr": 0.0}, {"max_minutes": 0}):
        with pytest.raises(RecsysError):
            UpdateOptions(**kwargs)


def test_updates_from_several_threads_agree_with_a_lone_one(base, embedding_cache):
    """Sessions share a cached model: updating it from several threads at once gives each the lone result."""
    *_, new_inter, new_items, new_users = tables()
    increment = load_increment(new_inter, new_items, new_users)
    options = UpdateOptions(epochs=1, cache_dir=embedding_cache)
    lone = update_model(base, increment, options).recommender
    with ThreadPoolExecutor(max_workers=3) as pool:  # all three at once; an exception in one is raised here
        results = list(pool.map(lambda _: update_model(base, increment, options).recommender, range(3)))
    for got in results:
        assert got.catalog.item_ids == lone.catalog.item_ids
        assert top(got, "u99") == top(lone, "u99") and top(got, "u05") == top(lone, "u05")
    assert base.catalog.n_items == 36


# -- the CLI -------------------------------------------------------------------------------------------------
def run(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "recsys_core", *args], capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def files(tmp_path_factory, base):
    root = tmp_path_factory.mktemp("update-cli")
    *_, new_inter, new_items, new_users = tables()
    new_inter.to_csv(root / "new.csv", index=False)
    new_items.to_csv(root / "new_items.csv", index=False)
    new_users.to_csv(root / "new_users.csv", index=False)
    artifacts.save(base, root / "model")
    return root


def test_cli_update_writes_a_new_model_and_a_report(files, embedding_cache):
    result = run("update", "--model", str(files / "model"), "--out", str(files / "updated"), "--interactions",
                 str(files / "new.csv"), "--items", str(files / "new_items.csv"), "--users", str(files / "new_users.csv"),
                 "--epochs", "1", "--cache-dir", embedding_cache, "--report", str(files / "report.json"))
    assert result.returncode == 0, result.stderr
    assert "5 new items" in result.stdout and "NDCG@10 on the newest interactions" in result.stdout
    assert artifacts.load(files / "updated").catalog.n_items == 41
    assert artifacts.load(files / "model").catalog.n_items == 36  # the model updated is kept as it was
    assert json.loads((files / "report.json").read_text())["items_added"] == 5


def test_cli_update_never_replaces_the_model_it_updates(files):
    result = run("update", "--model", str(files / "model"), "--out", str(files / "model"), "--interactions",
                 str(files / "new.csv"), "--items", str(files / "new_items.csv"))
    assert result.returncode == 1 and "is the model being updated" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_cli_update_refuses_unknown_items_in_one_line(files):
    result = run("update", "--model", str(files / "model"), "--out", str(files / "other"), "--interactions",
                 str(files / "new.csv"))
    assert result.returncode == 1 and "neither in the model's catalogue" in result.stderr
    assert not (files / "other").exists()


def test_cli_update_of_a_registry_model_keeps_the_previous_version(files, base, embedding_cache, tmp_path):
    registry = ModelRegistry(tmp_path / "models")
    registry.save(base, "shop", owner="alice")
    result = run("update", "--name", "shop", "--models-dir", str(tmp_path / "models"), "--owner", "bob",
                 "--interactions", str(files / "new.csv"), "--items", str(files / "new_items.csv"),
                 "--epochs", "1", "--cache-dir", embedding_cache)
    assert result.returncode == 0, result.stderr
    versions = registry.versions("shop")
    assert len(versions) == 2 and versions[0].owner in {"alice", "bob"}
    assert registry.load("shop").catalog.n_items == 41
    previous = [v for v in versions if not v.current][0]
    assert registry.load_version(previous).catalog.n_items == 36


@pytest.mark.parametrize("stop_after", [0, 1])
def test_a_stop_during_the_retrain_comparison_keeps_the_update(base, embedding_cache, stop_after):
    """Stop in the retrain's first epoch (nothing trained) or later (a partial retrain): no retrain figure."""
    from recsys_core.progress import Cancelled

    *_, new_inter, new_items, new_users = tables()
    calls = {"retraining": False, "n": 0}

    def progress(_fraction, message):
        if message == "retraining from scratch for the comparison":
            calls["retraining"] = True

    def cancel():
        if calls["retraining"]:
            calls["n"] += 1
            if calls["n"] > stop_after:
                raise Cancelled()

    result = update_model(base, load_increment(new_inter, new_items, new_users),
                          UpdateOptions(epochs=1, compare_retrain=True, cache_dir=embedding_cache),
                          progress=progress, cancel=cancel)
    assert calls["n"] > stop_after  # the stop did land in the retrain
    assert result.report.retrain is None and result.recommender.catalog.n_items == 41
    assert any("retrain comparison was stopped" in n for n in result.report.notices)
