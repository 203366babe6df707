"""Comparing two models: the paired intervals are what a direct per-user computation gives, the numbers are
the evaluation report's, the list differences mean what they say, and models that cannot be compared say why."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from recsys_core.compare import (
    NotComparable,
    check_comparable,
    compare_models,
    explain_both,
    interactions_of,
    split_of,
)
from recsys_core.evaluation import MODEL_NAME
from recsys_core.explain import ExplainConfig
from recsys_core.metrics import list_overlap, rank_biased_overlap
from recsys_core.progress import Cancelled
from recsys_core.recommender import UserContext


@pytest.fixture(scope="module")
def comparison(tiny_model, short_window_model):
    return compare_models(tiny_model, short_window_model, "window 20", "window 3")


def _direct_ndcg10(rec, cases) -> np.ndarray:
    """NDCG@10 of each leave-last-out case computed from the served scores alone: the rank of the one held-out
    item among the items outside the history."""
    out = []
    for case in cases:
        ctx = UserContext(case.user_id, case.history, rec.catalog.profile_vector(case.user_id), None, case.ratings)
        scores = rec.score_items(ctx).astype(np.float64)
        scores[case.history] = -np.inf
        (target,) = case.targets
        rank = 1 + int(np.sum(scores > scores[target]))
        out.append(1.0 / np.log2(rank + 1) if rank <= 10 else 0.0)
    return np.array(out)


def test_the_paired_interval_is_the_direct_per_user_computation(tiny_model, short_window_model, comparison):
    test = comparison.slice("test")
    cases = [c for c in split_of(tiny_model).test if c.user_id in set(test.user_ids)]
    assert [c.user_id for c in cases] == test.user_ids
    a, b = _direct_ndcg10(tiny_model, cases), _direct_ndcg10(short_window_model, cases)
    np.testing.assert_allclose(test.ndcg_a, a, atol=1e-6)
    np.testing.assert_allclose(test.ndcg_b, b, atol=1e-6)
    diff = b - a
    half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
    m = test.metrics["NDCG@10"]
    assert m.diff == pytest.approx(diff.mean(), abs=1e-9)
    assert (m.low, m.high) == pytest.approx((diff.mean() - half, diff.mean() + half), abs=1e-9)
    assert m.beyond_noise == (not m.low <= 0 <= m.high)
    # An independent paired bootstrap over users agrees with the normal approximation (30 users: loosely).
    rng = np.random.default_rng(7)
    means = diff[rng.integers(0, len(diff), size=(4000, len(diff)))].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    width = m.high - m.low
    assert width > 0
    assert abs(low - m.low) < 0.25 * width and abs(high - m.high) < 0.25 * width
    # Pairing is what the interval is about: it is not the two models' own intervals combined.
    unpaired = 1.96 * np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    assert half != pytest.approx(unpaired, rel=1e-3)


def test_the_numbers_are_the_evaluation_reports(tiny_model, comparison):
    test = comparison.slice("test")
    reported = tiny_model.report.slice("test")
    assert test.n_cases == reported.n_cases
    for k in (5, 10, 20):
        for name in ("NDCG", "HitRate", "Recall"):
            assert test.metrics[f"{name}@{k}"].a == pytest.approx(reported.metrics[MODEL_NAME][f"{name}@{k}"], abs=1e-9)


def test_a_model_against_itself_differs_in_nothing(tiny_model):
    same = compare_models(tiny_model, tiny_model)
    test = same.slice("test")
    assert all(m.diff == 0 and not m.beyond_noise for m in test.metrics.values())
    assert test.metrics["NDCG@10"].verdict() .startswith("no difference beyond noise on NDCG@10: +0.0000")
    assert same.lists.overlap == 1.0 and same.lists.rbo == pytest.approx(1.0)
    assert same.lists.entering == [] and same.lists.leaving == []
    assert same.lists.coverage_a == same.lists.coverage_b
    assert test.users(5, helped=True).empty and test.users(5, helped=False).empty


def test_the_verdict_names_the_better_model():
    from recsys_core.compare import MetricDifference
    from recsys_core.metrics import paired_difference

    better = MetricDifference("NDCG@10", paired_difference(np.array([0.3, 0.4, 0.5, 0.6]), np.array([0.1, 0.2, 0.3, 0.4])))
    assert better.verdict("A", "B") == "B is better than A on NDCG@10 by +0.2000 [+0.2000, +0.2000]"
    worse = MetricDifference("NDCG@10", paired_difference(np.array([0.1, 0.2, 0.3, 0.3]), np.array([0.3, 0.4, 0.5, 0.6])))
    assert worse.verdict("old", "new").startswith("new is worse than old on NDCG@10 by -0.2250 [")


def test_helped_and_hurt_users_are_the_largest_differences(comparison):
    test = comparison.slice("test")
    diff = test.ndcg_diff
    helped, hurt = test.users(3, helped=True), test.users(3, helped=False)
    assert list(helped["B − A"]) == sorted(diff[diff > 0], reverse=True)[:3]
    assert list(hurt["B − A"]) == sorted(diff[diff < 0])[:3]
    for _, row in helped.iterrows():
        i = test.user_ids.index(row["user_id"])
        assert row["A"] == test.ndcg_a[i] and row["B"] == test.ndcg_b[i]


def test_list_differences_count_what_enters_and_leaves(comparison, tiny_model):
    test, lists = comparison.slice("test"), comparison.lists
    entering = {}
    for la, lb in zip(test.top_a, test.top_b):
        for item in set(lb) - set(la):
            entering[item] = entering.get(item, 0) + 1
    top = max(entering.values())
    assert lists.entering[0].users == top and entering[lists.entering[0].item_id] == top
    overlaps = [len(set(la) & set(lb)) / 10 for la, lb in zip(test.top_a, test.top_b)]
    assert lists.overlap == pytest.approx(np.mean(overlaps))
    shown_a = {i for row in test.top_a for i in row}
    assert lists.coverage_a == pytest.approx(len(shown_a) / tiny_model.catalog.n_items)


def test_rank_biased_overlap_weighs_the_top():
    a = np.array([[0, 1, 2, 3]])
    assert rank_biased_overlap(a, a, 4)[0] == pytest.approx(1.0)
    assert rank_biased_overlap(a, np.array([[4, 5, 6, 7]]), 4)[0] == 0.0
    swapped_top = rank_biased_overlap(a, np.array([[1, 0, 2, 3]]), 4)[0]
    swapped_bottom = rank_biased_overlap(a, np.array([[0, 1, 3, 2]]), 4)[0]
    assert swapped_top < swapped_bottom < 1.0
    assert list_overlap(a, np.array([[3, 9, 1, 8]]), 4)[0] == 0.5
    # By hand, p = 0.5, k = 2, lists (0, 1) and (1, 0): X1 = 0, X2 = 2 → 1·0.25 + 1·(0·0.5 + 1·0.25) = 0.5.
    assert rank_biased_overlap(np.array([[0, 1]]), np.array([[1, 0]]), 2, p=0.5)[0] == pytest.approx(0.5)


def test_the_split_is_rebuilt_from_the_saved_catalogue(tiny_dataset, tiny_model):
    frame = interactions_of(tiny_model.catalog)
    assert len(frame) == len(tiny_dataset.interactions)
    split = split_of(tiny_model)
    assert len(split.test) == tiny_model.report.slice("test").n_cases


def _with_split(rec, **changes):
    options = dict(rec.training.options)
    options["split"] = {**options["split"], **changes}
    return dataclasses.replace(rec, training=dataclasses.replace(rec.training, options=options))


def test_models_that_cannot_be_compared_say_what_differs(tiny_model):
    with pytest.raises(NotComparable, match=r"different splits \(A: leave-last-out.*seed 0; B: leave-last-out.*seed 1\)"):
        check_comparable(tiny_model, _with_split(tiny_model, seed=1))
    renamed = dataclasses.replace(tiny_model.catalog, item_ids=["x" + i for i in tiny_model.catalog.item_ids])
    with pytest.raises(NotComparable, match=r"different catalogues \(40 and 40 items; 40 items only in A"):
        check_comparable(tiny_model, dataclasses.replace(tiny_model, catalog=renamed))
    histories = dict(tiny_model.catalog.histories)
    histories["u00"] = histories["u00"][:-1]
    fewer = dataclasses.replace(tiny_model.catalog, histories=histories)
    with pytest.raises(NotComparable, match=r"different interactions \(1 users' histories differ, e.g. 'u00'\)"):
        check_comparable(tiny_model, dataclasses.replace(tiny_model, catalog=fewer))
    with pytest.raises(NotComparable, match="temporal split on data without timestamps"):
        split_of(dataclasses.replace(_with_split(tiny_model, kind="temporal"),
                                     catalog=dataclasses.replace(tiny_model.catalog, times={})))


def test_progress_is_reported_and_cancel_stops_it(tiny_model, short_window_model):
    seen = []
    compare_models(tiny_model, short_window_model, progress=lambda f, m: seen.append((f, m)))
    assert seen[-1] == (1.0, "ranking user lists with A and B: 60 / 60")  # 30 test users, two models
    assert [f for f, _ in seen] == sorted(f for f, _ in seen)
    assert all(0.0 <= f <= 1.0 for f, _ in seen)

    def stop():
        raise Cancelled

    with pytest.raises(Cancelled):
        compare_models(tiny_model, short_window_model, cancel=stop)


def test_one_pair_is_explained_by_both(tiny_model, short_window_model):
    user = "u00"
    item = tiny_model.recommend(user, k=1)[0].item_id
    pair = explain_both(tiny_model, short_window_model, user, item, ExplainConfig(method="ig", token_level="carrying",
                                                                                  faithfulness=False, n_steps=8))
    fields = pair.fields()
    assert fields["A share"].abs().sum() == pytest.approx(1.0) and fields["B share"].abs().sum() == pytest.approx(1.0)
    history = pair.history()
    # The test case's history: 7 of the user's 8 items (the last is held out). A reads all 7 (window 20), B only
    # the 3 latest: B gives no contribution to the rest.
    case = next(c for c in split_of(tiny_model).test if c.user_id == user)
    assert len(case.history) == 7 and case.targets[0] not in case.history
    assert history["A"].notna().sum() == 7 and history["B"].notna().sum() == 3
    assert set(history["item_id"]) == {tiny_model.catalog.item_ids[i] for i in case.history}
    assert pair.to_dict()["b"]["rank"] == pair.b.rank


def test_results_are_plain_json(comparison):
    import json

    data = json.loads(json.dumps(comparison.to_dict()))
    assert data["slices"][0]["metrics"]["NDCG@10"]["diff"] == comparison.slice("test").metrics["NDCG@10"].diff


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tiny_model, short_window_model):
    from recsys_core import artifacts

    root = tmp_path_factory.mktemp("compare")
    artifacts.save(tiny_model, root / "window20")
    artifacts.save(short_window_model, root / "window3")
    return root


def test_the_cli_prints_the_cores_numbers(saved, comparison, tmp_path, capsys):
    from recsys_core.cli import main

    out = tmp_path / "comparison.json"
    code = main(["compare", "--a", str(saved / "window20"), "--b", str(saved / "window3"), "--a-name", "window 20",
                 "--b-name", "window 3", "--users", "3", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    test = comparison.slice("test")
    for m in test.metrics.values():
        line = next(line for line in printed.splitlines() if line.split()[:1] == [m.metric])
        assert line.split()[1:4] == [f"{m.a:.4f}", f"{m.b:.4f}", f"{m.diff:+.4f}"], line
        assert f"[{m.low:+.4f}, {m.high:+.4f}]" in line
    assert f"Verdict: {test.metrics['NDCG@10'].verdict('window 20', 'window 3')}" in printed
    lists = comparison.lists
    assert f"overlap@10 {lists.overlap:.3f}, rank-biased overlap {lists.rbo:.3f}" in printed
    saved_json = json.loads(out.read_text())
    assert saved_json["slices"][0]["metrics"]["NDCG@10"]["low"] == pytest.approx(test.metrics["NDCG@10"].low)


@pytest.mark.parametrize("which, message", [
    ("missing", "error: --b {root}/nowhere does not exist: give a model directory"),
    ("other split", "error: A and B were judged on different splits"),
])
def test_cli_errors_are_one_line_and_non_zero(saved, tiny_model, capsys, which, message):
    from recsys_core import artifacts
    from recsys_core.cli import main

    b = saved / "nowhere"
    if which == "other split":
        b = saved / "seed1"
        artifacts.save(_with_split(tiny_model, seed=1), b)
    code = main(["compare", "--a", str(saved / "window20"), "--b", str(b), "--a-name", "A", "--b-name", "B"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1].startswith(message.format(root=saved)), err
    assert len([line for line in err if line.startswith("error")]) == 1 and "Traceback" not in "\n".join(err)
