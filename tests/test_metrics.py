"""Hand-computed checks of recsys_core.metrics.

log2 values used below: log2(2)=1, log2(3)=1.5849625, log2(4)=2, log2(5)=2.3219281.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from recsys_core.metrics import (
    METRIC_NAMES,
    catalogue_coverage,
    intra_list_diversity,
    metric_table,
    paired_difference,
    per_user_ndcg,
    ranking_metrics,
)

# Discount of rank r is 1/log2(r+1); named by the log argument: D2 is rank 1 ... D5 rank 4.
D2, D3, D4, D5 = 1.0, 1 / math.log2(3), 0.5, 1 / math.log2(5)


def single(topk: list[int], rel: list[int], k: int) -> dict[str, float]:
    """Metrics@k of one user, keys without the @k suffix."""
    res = ranking_metrics(np.array([topk]), [np.array(rel)], ks=[k])
    return {name: res[f"{name}@{k}"] for name in METRIC_NAMES}


# --------------------------------------------------------------------------- #
# One user, each metric by hand
# --------------------------------------------------------------------------- #
def test_hit_at_rank_one_single_relevant():
    # topk 7,1,2 ; rel {7}: hit at rank 1.
    m = single([7, 1, 2], [7], k=3)
    assert m["HitRate"] == 1.0
    assert m["NDCG"] == pytest.approx(1.0)  # DCG = 1/log2(2) = 1 = IDCG
    assert m["Recall"] == 1.0  # 1 hit / 1 relevant
    assert m["Precision"] == pytest.approx(1 / 3)  # 1 hit / K=3
    assert m["MRR"] == 1.0  # 1 / rank 1
    assert m["MAP"] == 1.0  # P@1 * 1 / min(1, 3) = 1


def test_no_hit_gives_zero_everywhere():
    m = single([0, 1, 2], [9], k=3)
    assert all(v == 0.0 for v in m.values())


def test_single_hit_at_rank_three():
    # topk 0,1,5 ; rel {5}: hit at rank 3.
    m = single([0, 1, 5], [5], k=3)
    assert m["HitRate"] == 1.0
    assert m["NDCG"] == pytest.approx(0.5)  # DCG = 1/log2(4) = 0.5, IDCG = 1/log2(2) = 1
    assert m["Recall"] == 1.0
    assert m["Precision"] == pytest.approx(1 / 3)
    assert m["MRR"] == pytest.approx(1 / 3)
    assert m["MAP"] == pytest.approx(1 / 3)  # P@3 = 1/3, times rel_3 = 1, / min(1,3) = 1


def test_multiple_relevant_hits_at_ranks_two_and_four():
    # topk 10,11,12,13 ; rel {11,13,99}; K=4: hits at ranks 2 and 4.
    m = single([10, 11, 12, 13], [11, 13, 99], k=4)
    assert m["HitRate"] == 1.0
    # DCG = 1/log2(3) + 1/log2(5) = 0.6309298 + 0.4306766 = 1.0616064
    # IDCG = 3 ideal hits (min(3,4)) = 1 + 0.6309298 + 0.5 = 2.1309298
    assert m["NDCG"] == pytest.approx((D3 + D5) / (D2 + D3 + D4))
    assert m["NDCG"] == pytest.approx(1.0616064 / 2.1309298, rel=1e-6)
    assert m["Recall"] == pytest.approx(2 / 3)  # 2 hits / 3 relevant
    assert m["Precision"] == pytest.approx(2 / 4)  # 2 hits / K=4
    assert m["MRR"] == pytest.approx(1 / 2)  # first hit at rank 2
    # MAP: P@2 = 1/2 (rank 2 hit), P@4 = 2/4 (rank 4 hit); sum = 1.0; / min(3,4)=3
    assert m["MAP"] == pytest.approx((1 / 2 + 2 / 4) / 3)


def test_more_relevant_than_k():
    # |rel| = 5 > K = 2; topk 1,2,... both hits.
    m = single([1, 2, 3], [1, 2, 3, 4, 5], k=2)
    # IDCG uses min(5, 2) = 2 ideal hits, so a perfect list scores 1.
    assert m["NDCG"] == pytest.approx(1.0)
    assert m["Recall"] == pytest.approx(2 / 5)  # recall stays hits / |rel|
    assert m["Precision"] == 1.0
    assert m["MRR"] == 1.0
    assert m["MAP"] == pytest.approx((1 / 1 + 2 / 2) / 2)  # = 1, normalised by min(5,2)


def test_more_relevant_than_k_partial_hit():
    # |rel| = 3 > K = 2; topk 8, 1 with rel {1,2,3}: hit only at rank 2.
    m = single([8, 1, 2], [1, 2, 3], k=2)
    # DCG = 1/log2(3) = 0.6309; IDCG (2 ideal hits) = 1 + 0.6309 = 1.6309
    assert m["NDCG"] == pytest.approx(D3 / (D2 + D3))
    assert m["Recall"] == pytest.approx(1 / 3)
    assert m["Precision"] == pytest.approx(1 / 2)
    assert m["MRR"] == pytest.approx(1 / 2)
    assert m["MAP"] == pytest.approx((1 / 2) / 2)  # P@2 = 1/2, / min(3,2) = 2


def test_hit_beyond_k_does_not_count():
    # Relevant item at rank 3, but K = 2; the third column is ignored.
    m = single([0, 1, 5], [5], k=2)
    assert all(v == 0.0 for v in m.values())


def test_duplicate_relevant_items_count_once():
    m = single([3, 0], [3, 3], k=2)
    assert m["Recall"] == 1.0  # |rel| = |{3}| = 1
    assert m["NDCG"] == pytest.approx(1.0)


# --------------------------------------------------------------------------- #
# Several users and several K
# --------------------------------------------------------------------------- #
def test_means_over_users_and_several_ks():
    topk = np.array([[7, 1, 2], [0, 1, 5]])
    relevant = [np.array([7]), np.array([5])]
    res = ranking_metrics(topk, relevant, ks=(1, 3))
    # User 0 hits at rank 1, user 1 at rank 3.
    assert res["HitRate@1"] == pytest.approx(0.5)  # (1 + 0) / 2
    assert res["HitRate@3"] == pytest.approx(1.0)
    assert res["NDCG@3"] == pytest.approx((1.0 + 0.5) / 2)
    assert res["MRR@3"] == pytest.approx((1.0 + 1 / 3) / 2)
    assert res["Precision@1"] == pytest.approx(0.5)
    assert res["Precision@3"] == pytest.approx((1 / 3 + 1 / 3) / 2)
    assert res["MAP@3"] == pytest.approx((1.0 + 1 / 3) / 2)
    assert set(res) == {f"{m}@{k}" for m in METRIC_NAMES for k in (1, 3)}


def test_per_user_ndcg_matches_mean():
    rng = np.random.default_rng(0)
    topk = np.stack([rng.permutation(50)[:10] for _ in range(40)])
    relevant = [rng.choice(50, size=rng.integers(1, 8), replace=False) for _ in range(40)]
    per_user = per_user_ndcg(topk, relevant, k=10)
    assert per_user.shape == (40,)
    assert per_user.mean() == pytest.approx(ranking_metrics(topk, relevant, [10])["NDCG@10"])
    # Matches a plain per-user loop.
    for u in range(40):
        gains = np.isin(topk[u], relevant[u])
        disc = 1 / np.log2(np.arange(2, 12))
        idcg = disc[: min(len(relevant[u]), 10)].sum()
        assert per_user[u] == pytest.approx((gains * disc).sum() / idcg)


def test_empty_relevant_raises():
    with pytest.raises(ValueError, match="no relevant items"):
        ranking_metrics(
            np.array([[0, 1], [1, 2]]), [np.array([1]), np.array([], dtype=int)], ks=[2]
        )


def test_topk_too_short_raises():
    with pytest.raises(ValueError, match="columns"):
        ranking_metrics(np.array([[0, 1]]), [np.array([1])], ks=[5])


def test_mismatched_user_count_raises():
    with pytest.raises(ValueError, match="entries"):
        ranking_metrics(np.array([[0, 1]]), [np.array([1]), np.array([0])], ks=[2])


def test_many_users_is_fast():
    # 100k users × top-20 over 5k items: must run in well under a few seconds.
    rng = np.random.default_rng(1)
    topk = rng.integers(0, 5000, size=(100_000, 20))
    relevant = [rng.integers(0, 5000, size=3) for _ in range(100_000)]
    res = ranking_metrics(topk, relevant)
    assert 0.0 <= res["NDCG@20"] <= 1.0


# --------------------------------------------------------------------------- #
# Coverage and diversity
# --------------------------------------------------------------------------- #
def test_catalogue_coverage():
    topk = np.array([[0, 1, 4], [1, 2, 4]])
    # k=2: {0,1} ∪ {1,2} = {0,1,2} -> 3 of 5 items.
    assert catalogue_coverage(topk, n_items=5, k=2) == pytest.approx(3 / 5)
    # k=3: adds item 4 -> 4 of 5.
    assert catalogue_coverage(topk, n_items=5, k=3) == pytest.approx(4 / 5)


def test_catalogue_coverage_rejects_out_of_range():
    with pytest.raises(ValueError, match="outside"):
        catalogue_coverage(np.array([[0, 7]]), n_items=5, k=2)


def test_intra_list_diversity_two_items():
    # Items: 0=(1,0), 1=(0,1) orthogonal, 2=(2,0) parallel to 0 (scale is ignored).
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0]])
    # User 0: items 0,1 -> cos 0 -> distance 1.  User 1: items 0,2 -> cos 1 -> 0.
    topk = np.array([[0, 1], [0, 2]])
    assert intra_list_diversity(topk, vectors, k=2) == pytest.approx((1.0 + 0.0) / 2)


def test_intra_list_diversity_three_items():
    # 0=(1,0), 1=(0,1), 2=(1,1)/sqrt2.  Pair cosines: (0,1)=0, (0,2)=(1,2)=1/sqrt2.
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    c = 1 / math.sqrt(2)
    # Mean distance = ((1-0) + (1-c) + (1-c)) / 3 = (3 - 2c)/3 = 0.5285955
    expected = (3 - 2 * c) / 3
    assert intra_list_diversity(np.array([[0, 1, 2]]), vectors, k=3) == pytest.approx(expected)


def test_intra_list_diversity_chunking_matches(monkeypatch):
    import recsys_core.metrics as metrics

    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(30, 4))
    topk = np.stack([rng.permutation(30)[:5] for _ in range(25)])
    full = intra_list_diversity(topk, vectors, k=5)
    monkeypatch.setattr(metrics, "_DIVERSITY_BUDGET", 1)  # one user per chunk
    assert intra_list_diversity(topk, vectors, k=5) == pytest.approx(full)


def test_intra_list_diversity_needs_two_items():
    with pytest.raises(ValueError, match="k >= 2"):
        intra_list_diversity(np.array([[0, 1]]), np.eye(2), k=1)


# --------------------------------------------------------------------------- #
# Table
# --------------------------------------------------------------------------- #
def test_metric_table_layout():
    topk = np.array([[7, 1, 2]])
    results = {
        "A": ranking_metrics(topk, [np.array([7])], ks=(1, 3)),
        "B": ranking_metrics(topk, [np.array([2])], ks=(1, 3)),
    }
    table = metric_table(results, ks=(1, 3))
    assert isinstance(table, pd.DataFrame)
    assert list(table.index) == ["A", "B"]
    assert list(table.columns) == [f"{m}@{k}" for m in METRIC_NAMES for k in (1, 3)]
    assert table.loc["A", "MRR@3"] == 1.0
    assert table.loc["B", "MRR@3"] == pytest.approx(1 / 3)


# --------------------------------------------------------------------------- #
# Paired differences (the model against its text-only reference on the same users)
# --------------------------------------------------------------------------- #
def test_paired_difference_by_hand():
    p = paired_difference(np.array([1.0, 0.0, 1.0, 0.0]), np.array([0.0, 0.0, 1.0, 1.0]))
    # Per-user differences 1, 0, 0, −1: mean 0, sample sd sqrt(2/3), four users.
    assert (p.a, p.b, p.n_cases) == (0.5, 0.5, 4)
    assert p.diff == 0.0 and p.diff_ci95 == pytest.approx(1.96 * math.sqrt(2 / 3) / 2)
    assert not p.beyond_noise and p.ratio == 1.0


def test_pairing_sees_a_small_consistent_gain_that_the_separate_intervals_hide():
    rng = np.random.default_rng(0)
    b = rng.random(200)  # users differ a lot ...
    a = b + 0.01  # ... but a beats b by 0.01 on every one of them
    p = paired_difference(a, b)
    assert p.diff == pytest.approx(0.01) and p.diff_ci95 == pytest.approx(0.0, abs=1e-12)
    assert p.beyond_noise
    # Unpaired, each mean's interval is ~0.04 wide: the gain would be read as noise.
    assert 1.96 * b.std(ddof=1) / np.sqrt(b.size) > 0.03


def test_paired_difference_with_one_user_has_no_interval_and_is_never_beyond_noise():
    p = paired_difference(np.array([1.0]), np.array([0.0]))
    assert math.isnan(p.diff_ci95) and not p.beyond_noise


def test_paired_difference_needs_the_same_users():
    with pytest.raises(ValueError, match="same users"):
        paired_difference(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="no users"):
        paired_difference(np.ones(0), np.ones(0))


def test_paired_difference_round_trips_through_a_dict():
    p = paired_difference(np.array([0.2, 0.4, 0.9]), np.array([0.1, 0.5, 0.3]))
    assert type(p).from_dict(p.to_dict()) == p
