"""Tiny hand-checkable cases for recsys_core.baselines."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_core.baselines import (
    EASE,
    NeighbourhoodEASE,
    Baseline,
    ItemKNN,
    MostPopular,
    TextKNN,
    default_baselines,
)


def csr(rows: list[list[float]]) -> sp.csr_matrix:
    return sp.csr_matrix(np.array(rows, dtype=np.float32))


# Items 0 and 1 always co-occur; item 2 co-occurs with nothing in particular;
# item 3 is bought by one user alone.
#             i0 i1 i2 i3
TRAIN = csr([[1, 1, 0, 0],
             [1, 1, 1, 0],
             [1, 1, 0, 0],
             [0, 0, 1, 1],
             [0, 0, 1, 0]])  # fmt: skip
ONLY_ITEM_0 = csr([[1, 0, 0, 0]])


def test_most_popular_ranks_by_count():
    # Recency weights as values; popularity must count interactions, not sum weights.
    train = csr([[0.2, 0, 0.9], [0, 0, 0.1], [0, 0.5, 0.3]])
    # Counts (not weight sums): i0=1, i1=1, i2=3.
    model = MostPopular().fit(train)
    scores = model.score(csr([[0, 0, 0], [1, 0, 0]]))
    assert scores.dtype == np.float32
    np.testing.assert_array_equal(scores, [[1, 1, 3], [1, 1, 3]])


def test_itemknn_recommends_cooccurring_item():
    model = ItemKNN().fit(TRAIN)
    s = model.similarity.toarray()
    # cos(i0, i1) = |{u0,u1,u2}| / (sqrt3 * sqrt3) = 3/3 = 1
    assert s[0, 1] == pytest.approx(1.0)
    # cos(i0, i2) = |{u1}| / (sqrt3 * sqrt3) = 1/3
    assert s[0, 2] == pytest.approx(1 / 3)
    assert s[0, 3] == 0.0  # never co-occur
    np.testing.assert_array_equal(np.diag(s), 0.0)
    scores = model.score(ONLY_ITEM_0)
    assert int(np.argmax(np.where([[False, True, True, True]], scores, -np.inf))) == 1


def test_itemknn_keeps_top_neighbours_and_shrinks():
    model = ItemKNN(neighbours=1).fit(TRAIN)
    s = model.similarity.toarray()
    assert (np.count_nonzero(s, axis=1) <= 1).all()
    assert s[0, 1] == pytest.approx(1.0) and s[0, 2] == 0.0
    # Shrinkage 3: cos(i0, i1) = 3 / (3 + 3) = 0.5
    shrunk = ItemKNN(shrinkage=3.0).fit(TRAIN).similarity.toarray()
    assert shrunk[0, 1] == pytest.approx(0.5)


def test_itemknn_score_uses_history_weights():
    model = ItemKNN().fit(TRAIN)
    # score_j = sum_i h_i S[i, j]; doubling the weight of item 0 doubles its votes.
    once = model.score(ONLY_ITEM_0)
    twice = model.score(csr([[2, 0, 0, 0]]))
    np.testing.assert_allclose(twice, 2 * once)


def test_itemknn_chunked_fit_matches(monkeypatch):
    import recsys_core.baselines as baselines

    rng = np.random.default_rng(0)
    train = sp.csr_matrix((rng.random((40, 25)) < 0.2).astype(np.float32))
    full = ItemKNN(neighbours=5).fit(train).similarity.toarray()
    monkeypatch.setattr(baselines, "_KNN_ITEM_CHUNK", 3)
    chunked = ItemKNN(neighbours=5).fit(train).similarity.toarray()
    np.testing.assert_allclose(chunked, full)


def test_ease_zero_diagonal_and_recommends_cooccurring_item():
    model = EASE(l2=1.0).fit(TRAIN)
    np.testing.assert_array_equal(np.diag(model.weights), 0.0)
    scores = model.score(ONLY_ITEM_0)
    assert scores.shape == (1, 4)
    candidates = np.where([[False, True, True, True]], scores, -np.inf)
    assert int(np.argmax(candidates)) == 1


def test_ease_matches_closed_form():
    # B = I - P diagMat(1 / diag(P)) with P = (XᵀX + λI)⁻¹ (Steck 2019, eq. 8).
    lam = 5.0
    x = TRAIN.toarray().astype(np.float64)
    p = np.linalg.inv(x.T @ x + lam * np.eye(4))
    expected = np.eye(4) - p / np.diag(p)
    np.testing.assert_allclose(EASE(l2=lam).fit(TRAIN).weights, expected, atol=1e-6)


def test_ease_too_large_raises():
    train = sp.csr_matrix((2, 11), dtype=np.float32)
    with pytest.raises(ValueError, match="too large.*ItemKNN"):
        EASE(max_items=10).fit(train)


def test_textknn_ranks_nearest_text_vector_first():
    vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    model = TextKNN().fit(TRAIN, item_vectors=vectors)
    scores = model.score(ONLY_ITEM_0)
    # Cosine to item 0's direction (1, 0): i0=1, i1=0.9/|(.9,.1)|=0.9939, i2=0, i3=-1.
    np.testing.assert_allclose(scores[0], [1.0, 0.9 / np.hypot(0.9, 0.1), 0.0, -1.0], atol=1e-6)
    assert list(np.argsort(-scores[0])) == [0, 1, 2, 3]


def test_textknn_recency_weights_pull_user_vector():
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.8, 0.2], [0.2, 0.8]])
    model = TextKNN().fit(TRAIN, item_vectors=vectors)
    # History i0 (weight 0.1, old) and i1 (weight 1.0, recent): user leans to (0, 1).
    scores = model.score(csr([[0.1, 1.0, 0, 0]]))[0]
    assert scores[3] > scores[2]


def test_textknn_requires_vectors():
    with pytest.raises(ValueError, match="item_vectors"):
        TextKNN().fit(TRAIN)
    with pytest.raises(ValueError, match="shape"):
        TextKNN().fit(TRAIN, item_vectors=np.ones((3, 2)))


@pytest.mark.parametrize("model", [MostPopular(), ItemKNN(), EASE(), TextKNN()])
def test_score_shapes_for_unseen_users(model):
    model.fit(TRAIN, item_vectors=np.random.default_rng(0).normal(size=(4, 3)))
    assert isinstance(model, Baseline)
    # Three users absent from TRAIN, one with an empty history.
    unseen = csr([[0, 0, 1, 0], [1, 0, 0, 1], [0, 0, 0, 0]])
    scores = model.score(unseen)
    assert scores.shape == (3, 4)
    assert scores.dtype == np.float32
    assert np.isfinite(scores).all()


def test_score_rejects_wrong_width():
    model = MostPopular().fit(TRAIN)
    with pytest.raises(ValueError, match="item columns"):
        model.score(sp.csr_matrix((1, 5), dtype=np.float32))


def test_default_baselines():
    names = [m.name for m in default_baselines(n_items=100)]
    assert names == ["MostPopular", "ItemKNN", "EASE", "TextKNN"]
    names = [m.name for m in default_baselines(n_items=30000)]
    assert names == ["MostPopular", "ItemKNN", "NeighbourhoodEASE", "TextKNN"]


def _dense_random_train(seed: int = 0, users: int = 60, items: int = 12) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    return sp.csr_matrix((rng.random((users, items)) < 0.5).astype(np.float32))


def test_neighbourhood_ease_with_every_item_as_neighbour_is_ease():
    train = _dense_random_train()
    assert ((train.T @ train).toarray() > 0).all()  # every pair co-occurs: N(j) = all other items
    full = EASE(l2=5.0).fit(train)
    local = NeighbourhoodEASE(l2=5.0, neighbours=train.shape[1]).fit(train)
    np.testing.assert_allclose(local.weights.toarray(), full.weights, atol=1e-5)
    history = train[:7]
    np.testing.assert_allclose(local.score(history), full.score(history), atol=1e-4)


def test_neighbourhood_ease_keeps_at_most_k_weights_per_item():
    train = _dense_random_train(seed=1, items=30)
    model = NeighbourhoodEASE(l2=5.0, neighbours=4).fit(train)
    per_column = np.diff(model.weights.tocsc().indptr)
    assert per_column.max() <= 4 and per_column.min() >= 1
    assert model.weights.diagonal().sum() == 0  # an item never predicts itself


def test_neighbourhood_ease_item_never_co_consumed_scores_zero():
    train = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=np.float32))
    model = NeighbourhoodEASE(l2=1.0).fit(train)
    scores = model.score(sp.csr_matrix(np.array([[1, 0, 0]], dtype=np.float32)))
    assert scores[0, 2] == 0 and scores[0, 1] > 0
