"""Serving: seen-item filtering, candidates, new users, diversity, saving and loading."""
import json

import numpy as np
import pytest

from recsys_core import artifacts
from recsys_core.errors import ArtifactError, UnknownEntityError


def test_recommend_excludes_seen_items_by_default(tiny_model):
    user = tiny_model.known_users()[0]
    seen = {tiny_model.catalog.item_ids[i] for i in tiny_model.catalog.histories[user]}
    recs = tiny_model.recommend(user, 10)
    assert len(recs) == 10 and not seen & {r.item_id for r in recs}
    assert [r.rank for r in recs] == list(range(1, 11))
    assert all(a.score >= b.score for a, b in zip(recs, recs[1:]))
    with_seen = tiny_model.recommend(user, None, exclude_seen=False)
    assert len(with_seen) == tiny_model.catalog.n_items


def test_candidates_restrict_the_list(tiny_model):
    user = tiny_model.known_users()[0]
    recs = tiny_model.recommend(user, 5, candidates=["i01", "i02", "i03"], exclude_seen=False)
    assert {r.item_id for r in recs} <= {"i01", "i02", "i03"}


def test_new_user_from_history_needs_no_retraining(tiny_model):
    user = tiny_model.known_users()[0]
    history = [tiny_model.catalog.item_ids[i] for i in tiny_model.catalog.histories[user]]
    profile = tiny_model.context(user).profile_text
    same = tiny_model.recommend_from_history(history, 5, profile={"about": profile.text.split(": ", 1)[1]},
                                             ratings=tiny_model.catalog.ratings_of(user))
    known = tiny_model.recommend(user, 5)
    assert [r.item_id for r in same] == [r.item_id for r in known]
    np.testing.assert_allclose([r.score for r in same], [r.score for r in known], atol=1e-4)


def test_diversity_changes_the_list_but_keeps_its_size(tiny_model):
    user = tiny_model.known_users()[0]
    plain = tiny_model.recommend(user, 8)
    diverse = tiny_model.recommend(user, 8, diversity=0.9)
    assert len(diverse) == 8 and plain[0].item_id == diverse[0].item_id
    assert len({r.item_id for r in diverse}) == 8


def test_unknown_user_is_a_clear_error(tiny_model):
    with pytest.raises(UnknownEntityError, match="not known"):
        tiny_model.recommend("nobody", 5)


def test_save_load_round_trip_gives_identical_recommendations(tiny_model, tmp_path):
    path = artifacts.save(tiny_model, tmp_path / "m")
    again = artifacts.load(path)
    for user in tiny_model.known_users()[:5]:
        a, b = tiny_model.recommend(user, 10), again.recommend(user, 10)
        assert [r.item_id for r in a] == [r.item_id for r in b]
        np.testing.assert_allclose([r.score for r in a], [r.score for r in b], rtol=1e-6)
    assert again.report.to_dict() == tiny_model.report.to_dict()
    assert not list(tmp_path.glob(".*"))  # no temporary directories left behind


def test_interrupted_save_keeps_the_previous_model(tiny_model, tmp_path, monkeypatch):
    path = artifacts.save(tiny_model, tmp_path / "m")
    before = (path / "weights.safetensors").read_bytes()

    def boom(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(artifacts, "save_numpy", boom)
    with pytest.raises(KeyboardInterrupt):
        artifacts.save(tiny_model, path)
    assert (path / "weights.safetensors").read_bytes() == before
    artifacts.load(path)


def test_unknown_format_version_and_missing_files_are_refused(tiny_model, tmp_path):
    path = artifacts.save(tiny_model, tmp_path / "m")
    config = json.loads((path / "config.json").read_text())
    config["format_version"] = 99
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArtifactError, match="format version 99"):
        artifacts.load(path)
    (path / "metrics.json").unlink()
    with pytest.raises(ArtifactError, match="missing metrics.json"):
        artifacts.load(path)
    with pytest.raises(ArtifactError, match="No model directory"):
        artifacts.load(tmp_path / "nothing")


def test_two_stage_scoring_on_large_catalogues_matches_full_scores(tiny_model, monkeypatch):
    from recsys_core import recommender as module

    user = tiny_model.known_users()[0]
    monkeypatch.setattr(module, "RERANK_ABOVE", 10)  # pretend 40 items is a huge catalogue
    monkeypatch.setattr(module, "RETRIEVE", 15)
    recs = tiny_model.recommend(user, 5)
    full = tiny_model.score_items(tiny_model.context(user))
    assert len(recs) == 5
    for r in recs:  # re-ranked by the full model: the same scores as scoring everything
        assert r.score == pytest.approx(float(full[tiny_model.item_position(r.item_id)]), abs=1e-5)
    seen = set(tiny_model.catalog.histories[user].tolist())
    assert not seen & {tiny_model.item_position(r.item_id) for r in recs}


PEAK_RSS = """
import resource, sys
from recsys_core import RecsysError, artifacts
try:
    artifacts.load(sys.argv[1])
    print("loaded", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
except RecsysError as exc:
    print("refused", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@pytest.mark.parametrize("sizes", [{"n_items": 10_000_000}, {"dim": 16384, "hidden": 16384}, {"n_items": 10**12}])
def test_a_config_claiming_huge_sizes_is_refused_before_anything_that_size_is_allocated(tiny_model, tmp_path, sizes):
    """Issue 19: a config.json claiming 10M items made loading allocate ~3 GB for ~19 s before refusing it."""
    import subprocess
    import sys

    normal = artifacts.save(tiny_model, tmp_path / "normal")
    crafted = artifacts.save(tiny_model, tmp_path / "crafted")
    config = json.loads((crafted / "config.json").read_text())
    config["model"].update(sizes)
    (crafted / "config.json").write_text(json.dumps(config))

    def peak(path):  # a process of its own, so the peak is this load's (ru_maxrss is in KiB on Linux)
        out = subprocess.run([sys.executable, "-c", PEAK_RSS, str(path)], capture_output=True, text=True, check=True)
        verdict, kib = out.stdout.split()
        return verdict, int(kib)

    normal_verdict, normal_kib = peak(normal)
    crafted_verdict, crafted_kib = peak(crafted)
    assert (normal_verdict, crafted_verdict) == ("loaded", "refused")
    assert crafted_kib < 2 * normal_kib, (crafted_kib, normal_kib)
