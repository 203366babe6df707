"""The first stage of two-stage serving: personal candidates by the cheap score (exact, or approximated by HNSW)
plus the items of largest bias."""
from __future__ import annotations

import numpy as np
import pytest

from recsys_core.errors import RecsysError
from recsys_core.retrieval import POPULAR_SHARE, ExactRetriever, make_retriever, retrieval_query, unit_rows


def _catalogue(n_items: int = 3000, dim: int = 32, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, dim))
    vectors = (centres[rng.integers(0, 40, n_items)] + 0.3 * rng.standard_normal((n_items, dim))).astype(np.float32)
    return vectors, (0.1 * rng.standard_normal(n_items)).astype(np.float32)


def _brute_force(vectors, bias, query, n, exclude):
    cheap = unit_rows(vectors) @ query + bias
    cheap[exclude] = -np.inf
    return np.argsort(-cheap, kind="stable")[:n]


def test_exact_retriever_returns_the_true_top_personal_then_the_top_biases_without_excluded_items():
    vectors, bias = _catalogue()
    retriever = ExactRetriever(vectors, bias)
    history = np.array([5, 17, 2900, 44])
    query = retriever.query(history, profile=None)
    got = retriever.candidates(query, 100, exclude=history)
    n_personal = 100 - int(100 * POPULAR_SHARE)
    personal = _brute_force(vectors, bias, query, n_personal, history)
    assert got[:n_personal].tolist() == personal.tolist()
    rest = [i for i in np.argsort(-bias, kind="stable") if i not in set(personal) | set(history)]
    assert got[n_personal:].tolist() == rest[: 100 - n_personal]
    assert len(set(got.tolist())) == 100 and not set(history) & set(got.tolist())


def test_high_bias_items_far_from_the_user_are_still_candidates():
    # The failure seen at 1M items: the model's favourites were high-bias items the cosine never reaches.
    vectors, bias = _catalogue()
    retriever = ExactRetriever(vectors, bias)
    history = np.array([5, 17, 44])
    query = retriever.query(history, profile=None)
    far = np.argsort(retriever.units @ query)[:10]  # the ten items least like the user's history
    bias = bias.copy()
    bias[far] = 0.5  # above every other bias (σ 0.1), yet less than the cosine gap to near items
    retriever = ExactRetriever(vectors, bias)
    assert not set(far.tolist()) & set(retriever.nearest(query, 75, history).tolist())
    assert set(far.tolist()) <= set(retriever.candidates(query, 100, exclude=history).tolist())


def test_candidates_within_an_explicit_pool_stay_in_the_pool():
    vectors, bias = _catalogue()
    retriever = ExactRetriever(vectors, bias)
    pool = np.arange(0, 3000, 7)
    query = retriever.query(np.array([1, 2]), profile=None)
    got = retriever.candidates_within(query, pool, 40)
    assert len(set(got.tolist())) == 40 and set(got.tolist()) <= set(pool.tolist())
    assert pool[np.argmax(bias[pool])] in got
    assert sorted(retriever.candidates_within(query, pool[:3], 40).tolist()) == pool[:3].tolist()


def test_query_is_the_mean_history_unit_vector_plus_the_unit_profile():
    vectors, _ = _catalogue(n_items=10)
    profile = np.arange(32, dtype=np.float32)
    query = retrieval_query(unit_rows(vectors), np.array([1, 3]), profile)
    expected = unit_rows(vectors)[[1, 3]].mean(0) + profile / np.linalg.norm(profile)
    np.testing.assert_allclose(query, expected, atol=1e-6)


def test_faiss_retriever_recalls_most_of_the_exact_candidates():
    pytest.importorskip("faiss", reason="faiss-cpu (the scale extra) is not installed")
    vectors, bias = _catalogue()
    exact = ExactRetriever(vectors, bias)
    approx = make_retriever("faiss", vectors, bias)
    rng = np.random.default_rng(1)
    recalls = []
    for _ in range(20):
        history = rng.choice(len(vectors), size=8, replace=False)
        query = exact.query(history, None)
        truth = set(exact.candidates(query, 200, exclude=history).tolist())
        found = approx.candidates(query, 200, exclude=history)
        assert len(found) == 200 and not set(history) & set(found.tolist())
        recalls.append(len(truth & set(found.tolist())) / 200)
    assert np.mean(recalls) > 0.9


def test_two_stage_serving_with_the_faiss_retriever(tiny_model, monkeypatch):
    pytest.importorskip("faiss", reason="faiss-cpu (the scale extra) is not installed")
    from recsys_core import recommender as module

    monkeypatch.setattr(module, "RERANK_ABOVE", 10)
    monkeypatch.setattr(module, "RETRIEVE", 39)  # nearly the whole catalogue: same list as full scoring
    user = tiny_model.known_users()[0]
    full = tiny_model.recommend(user, 5)
    tiny_model.use_retriever("faiss")
    try:
        assert [r.item_id for r in tiny_model.recommend(user, 5)] == [r.item_id for r in full]
    finally:
        tiny_model.use_retriever("exact")


def test_unknown_retriever_is_a_clear_error():
    vectors, bias = _catalogue(n_items=5)
    with pytest.raises(RecsysError, match="Unknown retriever 'annoy'"):
        make_retriever("annoy", vectors, bias)
