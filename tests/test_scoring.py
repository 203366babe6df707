"""One Scorer for the model and every baseline: blocking under the budget never changes a score."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from recsys_core.batching import history_matrix, make_user_input
from recsys_core.evaluation import fit_baselines
from recsys_core.scoring import BaselineScorer, ModelScorer, Users


def _users(rec, user_ids):
    contexts = [rec.context(u) for u in user_ids]
    return contexts, Users([c.history for c in contexts], [c.profile_vector for c in contexts])


def _direct_model_scores(rec, contexts, items):
    """The model called once on everything: the reference the blocked scorer must reproduce."""
    vectors = torch.from_numpy(rec.catalog.item_vectors)
    user = make_user_input(
        [c.history for c in contexts], [c.profile_vector for c in contexts], vectors, rec.model.config.max_history
    )
    idx = torch.from_numpy(items)
    with torch.inference_mode():
        return rec.model.score(user, vectors[idx], idx).numpy()


@pytest.mark.parametrize("budget", [5, 40, 10_000])  # item slices of one user … many whole users per block
def test_model_scorer_blocks_give_the_unblocked_scores(tiny_model, budget):
    contexts, users = _users(tiny_model, tiny_model.known_users()[:9])
    items = np.arange(tiny_model.catalog.n_items)[::-1].copy()  # any item order
    scorer = ModelScorer(tiny_model.model, tiny_model.catalog.item_vectors, budget=budget)
    np.testing.assert_allclose(scorer.score(users, items), _direct_model_scores(tiny_model, contexts, items), atol=1e-6)


@pytest.mark.parametrize("budget", [5, 40, 10_000])
def test_scoring_given_item_vectors_uses_them_for_the_candidates_only(tiny_model, budget):
    """What-if and contrast score edited item texts through the scorer: the stored vectors give the
    served scores, other vectors change the candidates' scores but never the histories."""
    contexts, users = _users(tiny_model, tiny_model.known_users()[:9])
    items = np.arange(tiny_model.catalog.n_items)[::-1].copy()
    scorer = ModelScorer(tiny_model.model, tiny_model.catalog.item_vectors, budget=budget)
    stored = tiny_model.catalog.item_vectors[items]
    np.testing.assert_allclose(scorer.score_vectors(users, stored, items), scorer.score(users, items), atol=1e-6)
    other = np.roll(stored, 1, axis=0)  # every candidate gets another item's text
    changed = scorer.score_vectors(users, other, items)
    assert not np.allclose(changed, scorer.score(users, items), atol=1e-4)
    np.testing.assert_allclose(scorer.score(users, items), _direct_model_scores(tiny_model, contexts, items), atol=1e-6)


@pytest.mark.parametrize("budget", [1, 50, 10_000])
def test_baseline_scorers_give_the_baselines_own_scores(tiny_model, tiny_dataset, budget):
    from recsys_core.splits import make_split

    catalog = tiny_model.catalog
    split = make_split(tiny_dataset.interactions, catalog)
    _, users = _users(tiny_model, tiny_model.known_users()[:6])
    rows = history_matrix(list(users.histories), catalog.n_items)
    for baseline in fit_baselines(split, catalog):
        scorer = BaselineScorer(baseline, catalog.n_items, budget=budget)
        assert scorer.name == baseline.name
        np.testing.assert_allclose(scorer.score(users), baseline.score(rows), atol=1e-6)
        subset = np.array([5, 1, 3])
        np.testing.assert_allclose(scorer.score(users, subset), baseline.score(rows)[:, subset], atol=1e-6)


def test_recommend_many_equals_recommend_per_user(tiny_model):
    users = tiny_model.known_users()
    tiny_model.scorer.budget = 3 * tiny_model.catalog.n_items  # several user blocks
    try:
        batched = tiny_model.recommend_many(users, k=7)
        for u in users:
            one = tiny_model.recommend(u, k=7)
            assert [r.item_id for r in batched[u]] == [r.item_id for r in one]
            np.testing.assert_allclose([r.score for r in batched[u]], [r.score for r in one], atol=1e-6)
        seen_too = tiny_model.recommend_many(users[:2], k=None, exclude_seen=False)
        assert len(seen_too[users[0]]) == tiny_model.catalog.n_items
    finally:
        tiny_model.scorer.budget = ModelScorer(tiny_model.model, tiny_model.catalog.item_vectors).budget


def test_users_must_pair_histories_with_profiles():
    with pytest.raises(ValueError, match="2 histories but 1 profiles"):
        Users([np.zeros(0), np.zeros(0)], [None])
