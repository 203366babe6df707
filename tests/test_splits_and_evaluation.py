"""Splits hold out the right interactions and evaluation never counts seen items."""
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from recsys_core.catalog import Catalog
from recsys_core.evaluation import evaluate_scorer
from recsys_core.scoring import top_k
from recsys_core.splits import EvalCase, SplitConfig, last_out_case, make_split
from recsys_core.text import build_field_text
from recsys_core.errors import RecsysError


def scorer(scores_of_cases) -> SimpleNamespace:
    """A ``CaseScorer`` (an object with ``score(cases)``) from a function of the cases."""
    return SimpleNamespace(score=scores_of_cases)


def _catalog(n_items: int) -> Catalog:
    empty = build_field_text({}, [])
    return Catalog(
        [f"i{i}" for i in range(n_items)], [empty] * n_items, np.eye(n_items, dtype=np.float32), [], [], [], [],
        np.zeros((0, n_items), np.float32), {},
    )


def _interactions(seqs: dict[str, list[int]]) -> pd.DataFrame:
    rows = [(u, f"i{i}", t) for u, items in seqs.items() for t, i in enumerate(items)]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])


def test_leave_last_out_holds_out_last_and_second_last():
    split = make_split(_interactions({"a": [0, 1, 2, 3], "b": [4, 5]}), _catalog(6))
    assert split.train["a"].tolist() == [0, 1]
    assert split.train["b"].tolist() == [4, 5]  # too short to hold anything out
    (val,), (test,) = split.validation, split.test
    assert (val.history.tolist(), val.targets.tolist()) == ([0, 1], [2])
    assert (test.history.tolist(), test.targets.tolist()) == ([0, 1, 2], [3])


def test_cold_items_never_reach_training():
    seqs = {f"u{u}": list(range(u % 5, 20, 2)) for u in range(30)}
    split = make_split(_interactions(seqs), _catalog(20), SplitConfig(cold_items=0.2, seed=1))
    assert len(split.cold_items) == 4
    trained = np.concatenate(list(split.train.values()))
    assert not np.isin(split.cold_items, trained).any()
    assert split.cold_test and all(np.isin(c.targets, split.cold_items).all() for c in split.cold_test)


def test_holdout_users_are_absent_from_training():
    seqs = {f"u{u}": list(range(10)) for u in range(20)}
    split = make_split(_interactions(seqs), _catalog(10), SplitConfig(holdout_users=0.25))
    held = {c.user_id for c in split.inductive_test}
    assert len(held) == 5 and not held & set(split.train)


def test_temporal_and_random_splits_are_disjoint():
    seqs = {f"u{u}": list(range(12)) for u in range(10)}
    for kind in ("temporal", "random"):
        split = make_split(_interactions(seqs), _catalog(12), SplitConfig(kind=kind))
        for case in split.test:
            assert not np.isin(case.targets, split.train[case.user_id]).any()


def test_a_leave_last_out_case_holds_out_the_last_item_given_the_earlier_ones():
    case = last_out_case("u", np.array([4, 7, 2]))
    assert case.user_id == "u" and case.history.tolist() == [4, 7] and case.targets.tolist() == [2]
    assert last_out_case("u", np.array([4])) is None  # nothing to give the model


def test_unknown_split_is_refused():
    with pytest.raises(RecsysError, match="Unknown split"):
        SplitConfig(kind="by-moon-phase")


def test_masking_seen_items_cannot_be_hits():
    """A scorer that loves the user's history items still gets no credit for them."""
    cases = [EvalCase("u", np.array([0, 1, 2]), np.array([3]))]

    def history_lover(batch):
        scores = np.zeros((len(batch), 6), dtype=np.float32)
        scores[:, [0, 1, 2]] = 100.0  # seen items
        scores[:, 3] = 1.0
        return scores

    m = evaluate_scorer(scorer(history_lover), cases, 6, ks=(1,))
    assert m["HitRate@1"] == 1.0  # seen items were masked, so the target is first

    def seen_only(batch):
        scores = np.zeros((len(batch), 6), dtype=np.float32)
        scores[:, [0, 1, 2]] = 100.0
        scores[:, 3] = -1.0
        return scores

    assert evaluate_scorer(scorer(seen_only), cases, 6, ks=(1,))["HitRate@1"] == 0.0


def test_candidate_restriction_ranks_only_candidates():
    cases = [EvalCase("u", np.array([0]), np.array([4]))]
    scores = scorer(lambda batch: np.tile(np.array([0, 9, 8, 7, 1, 0], np.float32), (len(batch), 1)))
    assert evaluate_scorer(scores, cases, 6, ks=(1,))["HitRate@1"] == 0.0
    assert evaluate_scorer(scores, cases, 6, ks=(1,), candidates=np.array([4, 5]))["HitRate@1"] == 1.0


def test_top_k_orders_best_first():
    assert top_k(np.array([[0.1, 0.9, 0.5, 0.7]]), 3).tolist() == [[1, 3, 2]]


def _many_users_split(n_users: int = 200, n_items: int = 20):
    rng = np.random.default_rng(3)
    seqs = {f"u{u:03d}": rng.choice(n_items, size=6, replace=False).tolist() for u in range(n_users)}
    return make_split(_interactions(seqs), _catalog(n_items)), _catalog(n_items)


def test_large_slices_are_evaluated_on_a_stated_seeded_sample_with_intervals():
    from recsys_core.evaluation import evaluate_all

    split, catalog = _many_users_split()
    popular = scorer(lambda cases: np.tile(np.arange(catalog.n_items, 0, -1, dtype=np.float32), (len(cases), 1)))
    seen = []
    recorder = scorer(lambda cases: seen.append([c.user_id for c in cases]) or popular.score(cases))
    report = evaluate_all({"pop": popular, "recorder": recorder}, split, catalog, max_pairs=50 * catalog.n_items, seed=7)
    (test,) = report.slices
    assert (test.n_cases, test.n_total, test.sample_seed) == (50, len(split.test), 7)
    assert "sample of 50 of 200 users (seed 7)" in test.note and "sample" in report.protocol
    assert test.metrics["pop"] == test.metrics["recorder"]  # every scorer ranks the same users
    again = evaluate_all({"recorder": recorder}, split, catalog, max_pairs=50 * catalog.n_items, seed=7)
    assert seen[0] == seen[-1]  # the same seed picks the same users
    half = test.ci95["pop"]["NDCG@10"]
    assert 0 < half < 1 and again.slices[0].ci95["recorder"]["NDCG@10"] == pytest.approx(half)


def test_small_slices_are_evaluated_exactly():
    from recsys_core.evaluation import evaluate_all

    split, catalog = _many_users_split(n_users=40)
    popular = scorer(lambda cases: np.tile(np.arange(catalog.n_items, 0, -1, dtype=np.float32), (len(cases), 1)))
    (test,) = evaluate_all({"pop": popular}, split, catalog).slices
    assert test.n_cases == len(split.test) and test.n_total is None and "sample" not in test.note


def test_interval_is_the_normal_approximation_over_users():
    from recsys_core.metrics import ci95_half_width

    values = np.array([0.0, 1.0, 0.0, 1.0])
    assert ci95_half_width(values) == pytest.approx(1.96 * values.std(ddof=1) / 2)
    assert np.isnan(ci95_half_width(np.array([0.5])))


def test_reports_without_intervals_still_load():
    from recsys_core.evaluation import EvaluationReport

    old = {"protocol": "p", "ks": [10], "slices": [{"name": "test", "n_cases": 3, "metrics": {"m": {"NDCG@10": 0.1}}}]}
    report = EvaluationReport.from_dict(old)
    assert report.slices[0].ci95 == {} and report.slices[0].n_total is None
    assert EvaluationReport.from_dict(report.to_dict()).to_dict() == report.to_dict()


def test_a_catalogue_smaller_than_the_largest_k_is_evaluated():
    from recsys_core.evaluation import evaluate_all

    split, catalog = _many_users_split(n_users=30, n_items=12)
    popular = scorer(lambda cases: np.tile(np.arange(catalog.n_items, 0, -1, dtype=np.float32), (len(cases), 1)))
    (test,) = evaluate_all({"pop": popular}, split, catalog).slices  # ks = 5, 10, 20 > 12 items
    metrics = test.metrics["pop"]
    assert metrics["HitRate@20"] == pytest.approx(1.0)  # every unseen item is in a 12-item list
    assert metrics["HitRate@20"] >= metrics["HitRate@10"] >= metrics["HitRate@5"]
    assert 0 < metrics["Coverage@10"] <= 1


def test_each_slice_pairs_the_model_with_its_best_baseline_on_the_same_users(tiny_model):
    from recsys_core.evaluation import MODEL_NAME

    test = tiny_model.report.slices[0]
    best = test.best_baseline()
    ndcg = {name: m["NDCG@10"] for name, m in test.metrics.items() if name != MODEL_NAME}
    assert best == max(ndcg, key=ndcg.get) and best != MODEL_NAME
    p = test.paired[best]["NDCG@10"]  # the report's own means, paired over the same users
    assert p.a == pytest.approx(test.metrics[MODEL_NAME]["NDCG@10"]) and p.b == pytest.approx(ndcg[best])
    assert p.n_cases == test.n_cases and np.isfinite(p.diff_ci95) and p.diff_ci95 > 0
