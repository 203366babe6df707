"""The first stage of two-stage serving: exact retrieval is the cheap score's true top-n, HNSW approximates it."""
from __future__ import annotations

import numpy as np
import pytest

from recsys_core.errors import RecsysError
from recsys_core.retrieval import ExactRetriever, make_retriever, retrieval_query, unit_rows


def _catalogue(n_items: int = 3000, dim: int = 32, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, dim))
    vectors = (centres[rng.integers(0, 40, n_items)] + 0.3 * rng.standard_normal((n_items, dim))).astype(np.float32)
    return vectors, (0.1 * rng.standard_normal(n_items)).astype(np.float32)


def _brute_force(vectors, bias, query, n, exclude):
    cheap = unit_rows(vectors) @ query + bias
    cheap[exclude] = -np.inf
    return np.argsort(-cheap, kind="stable")[:n]


def test_exact_retriever_returns_the_true_top_n_without_excluded_items():
    vectors, bias = _catalogue()
    retriever = ExactRetriever(vectors, bias)
    history = np.array([5, 17, 2900, 44])
    query = retriever.query(history, profile=None)
    got = retriever.candidates(query, 100, exclude=history)
    assert got.tolist() == _brute_force(vectors, bias, query, 100, history).tolist()
    assert not set(history) & set(got.tolist())


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
