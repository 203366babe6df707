"""Explicit ratings: which interactions are likes, what the model reads, and what the explanations say."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import tiny_tables
from recsys_core import artifacts
from recsys_core.batching import make_user_input
from recsys_core.catalog import build_catalog
from recsys_core.explain.reason import ReasonInputs, build_reason
from recsys_core.explain.types import HistoryContribution, TextContribution
from recsys_core.loading import load_dataset
from recsys_core.model import HybridRecommender, ModelConfig
from recsys_core.pipeline import FitOptions, fit, rating_mode, rating_scale_for
from recsys_core.ratings import RatingScale, liked, rating_features
from recsys_core.splits import SplitConfig, make_split
from recsys_core.training import TrainConfig

STARS = RatingScale(1, 5)


def test_a_like_is_at_least_the_lower_of_the_users_mean_and_the_middle_of_the_scale():
    harsh = np.array([1, 2, 2, 3], dtype=np.float32)  # mean 2: a 2★ is a like for this user
    assert liked(harsh, STARS).tolist() == [False, True, True, True]
    generous = np.array([4, 5, 5, 5, 2], dtype=np.float32)  # mean 4.2: a 4★ (≥ the middle, 3) is still a like
    assert liked(generous, STARS).tolist() == [True, True, True, True, False]
    assert liked(np.array([np.nan, 1.0, 5.0]), STARS)[0]  # an unrated interaction stays implicit: a like


def test_rating_features_are_zero_where_unrated_and_signed_by_the_scale_and_the_mean():
    f = rating_features(np.array([1.0, 5.0, np.nan]), STARS)
    assert f[2].tolist() == [0.0, 0.0]
    assert f[0, 0] == pytest.approx(-1.0) and f[1, 0] == pytest.approx(1.0)  # bottom and top of the scale
    assert f[0, 1] == pytest.approx(-1.0) and f[1, 1] == pytest.approx(1.0)  # mean 3: ∓2 / half-range 2
    assert STARS.stars(4.0) == "4★" and RatingScale(0.5, 5).stars(3.5) == "3.5 (of 0.5–5)"


def disliking_tables(seed: int = 0):
    """The tiny data, plus for every user three items of another genre rated 1★ among their interactions."""
    inter, items, users = tiny_tables(seed)
    rng = np.random.default_rng(seed + 1)
    rows = []
    for u in range(len(users)):
        other = [i for i in range(len(items)) if i % 4 == (u + 1) % 4]
        for k, i in enumerate(rng.choice(other, size=3, replace=False)):
            rows.append((f"u{u:02d}", f"i{i:02d}", 1.0, 1_700_000_000 + 3600 * (2 * k + 1) + 1800))
    extra = pd.DataFrame(rows, columns=inter.columns)
    return pd.concat([inter, extra], ignore_index=True), items, users


@pytest.fixture(scope="module")
def disliking_dataset():
    inter, items, users = disliking_tables()
    return load_dataset(inter, items, users, item_fields=["title", "genres"], user_fields=["about"])


def test_with_ratings_targets_are_likes_and_disliked_items_stay_in_the_history(disliking_dataset, embedding_cache):
    from recsys_core.encoder import EncoderConfig, TextEncoder

    encoder = TextEncoder(EncoderConfig(), cache_dir=embedding_cache)
    catalog = build_catalog(disliking_dataset, lambda texts, _progress=None: encoder.encode(texts))
    scale = rating_scale_for(disliking_dataset, FitOptions())
    assert scale == RatingScale(1.0, 5.0)
    split = make_split(disliking_dataset.interactions, catalog, SplitConfig(), scale)
    for case in split.test + split.validation:
        rating = dict(zip(catalog.histories[case.user_id], catalog.ratings[case.user_id]))
        assert rating[int(case.targets[0])] > 1  # a held-out target is never a 1★ item
        assert case.ratings is not None and len(case.ratings) == len(case.history)
    disliked_in_train = sum(int((~split.is_target(u)).sum()) for u in split.train)
    assert disliked_in_train > 0  # the 1★ items are in the training histories ...
    assert all((split.train_ratings[u][~split.is_target(u)] < 3).all() for u in split.train)  # ... as non-targets
    plain = make_split(disliking_dataset.interactions, catalog, SplitConfig(), None)
    assert not plain.train_targets and not plain.train_ratings  # ratings off: every interaction is a target


def test_an_untrained_rating_model_reads_the_history_as_a_model_without_ratings():
    """The rating gain and shift start at zero: switching ratings on changes nothing until training."""
    torch.manual_seed(0)
    plain = HybridRecommender(ModelConfig(n_items=6, text_dim=8))
    rated = HybridRecommender(ModelConfig(n_items=6, text_dim=8, rating_scale=(1.0, 5.0)))
    rated.load_state_dict(plain.state_dict(), strict=False)
    plain.eval(), rated.eval()
    vectors = torch.randn(6, 8)
    user = make_user_input([np.array([0, 1, 2])], [None], vectors, 20, [np.array([1.0, 5.0, 3.0])], (1.0, 5.0))
    idx = torch.arange(6)
    assert torch.allclose(plain.score(user, vectors, idx), rated.score(user, vectors, idx))
    assert user.hist_ratings is not None and user.hist_ratings[0, 2, 0] == pytest.approx(-1.0)  # oldest (1★) last


@pytest.fixture(scope="module")
def rated_model(disliking_dataset, embedding_cache):
    options = FitOptions(split=SplitConfig(cold_items=0.2), train=TrainConfig(epochs=3, batch_size=16),
                         baselines=True, cache_dir=embedding_cache)
    return fit(disliking_dataset, options)


def test_a_trained_model_reads_ratings_and_keeps_them_through_save_and_load(rated_model, tmp_path):
    rec = rated_model
    assert rec.reads_ratings and rec.model.config.rating_scale == (1.0, 5.0)
    user = rec.known_users()[0]
    ctx = rec.context(user)
    assert ctx.ratings is not None and (ctx.ratings == 1.0).sum() == 3
    flipped = type(ctx)(ctx.user_id, ctx.history, ctx.profile_vector, ctx.profile_text, 6.0 - ctx.ratings)
    assert not np.allclose(rec.score_items(ctx), rec.score_items(flipped))  # the ratings reach the score
    loaded = artifacts.load(artifacts.save(rec, tmp_path / "m"))
    assert loaded.model.config.rating_scale == (1.0, 5.0)
    assert np.array_equal(loaded.catalog.ratings[user], rec.catalog.ratings[user])
    assert np.array_equal(loaded.catalog.times[user], rec.catalog.times[user])
    np.testing.assert_allclose(loaded.score_items(loaded.context(user)), rec.score_items(ctx), atol=1e-5)
    # A new user given the same history and ratings is the known user.
    history = [rec.catalog.item_ids[i] for i in ctx.history]
    new = rec.new_user_context(history, ratings=ctx.ratings.tolist())
    np.testing.assert_allclose(rec.score_items(new), rec.score_items(type(ctx)(None, ctx.history, None, None, ctx.ratings)),
                               atol=1e-6)


def test_ratings_can_be_switched_off(disliking_dataset, embedding_cache):
    options = FitOptions(train=TrainConfig(epochs=1), baselines=False, cache_dir=embedding_cache, use_ratings=False)
    assert rating_scale_for(disliking_dataset, options) is None
    assert "switched off" in rating_mode(disliking_dataset, options)
    assert "from 1 to 5" in rating_mode(disliking_dataset, FitOptions())
    rec = fit(disliking_dataset, options)
    assert not rec.reads_ratings


def test_the_reason_names_ratings_and_a_disliked_item_that_holds_the_score_back():
    history = (
        HistoryContribution("a", "Alien", 0.8, 0.5, 0, 0.5, 0.3, score_without=1.2, rating=5.0, rating_label="5★"),
        HistoryContribution("d", "Jean de Florette", -0.6, 0.2, 1, -0.4, -0.2, score_without=2.6, rating=1.0,
                            rating_label="1★"),
        HistoryContribution("c", "Cats", -0.01, 0.1, 2, score_without=2.01, rating=1.0, rating_label="1★"),
    )
    text = build_reason(ReasonInputs("Solaris", 2.0, 1.0, 1, history=history))
    reasons, held = text.split("What holds it back:")
    assert "“Alien” in the user's history, rated 5★ (+0.800" in reasons
    assert "“Jean de Florette” in the user's history, rated 1★ (-0.600, mostly through its text" in held
    assert "Jean de Florette" not in reasons  # never a reason *for* the item
    assert "Cats" not in text  # immaterial: under 5% of the score


def test_a_cold_items_reason_says_it_rests_on_its_text():
    item = (TextContribution(0, "item", 0.4, False, 0.0, 0),)
    cold = build_reason(ReasonInputs("Solaris", 0.5, 0.1, 1, texts=item, cold=True))
    assert cold.startswith("“Solaris” has no interactions in the training data") and "no popularity bias" in cold
    warm = build_reason(ReasonInputs("Solaris", 0.5, 0.1, 1, texts=item))
    assert "no interactions" not in warm and "popularity" in warm


def test_an_explanation_of_a_cold_item_says_so(rated_model):
    from recsys_core.explain import ExplainConfig, explain_pair

    rec = rated_model
    cold = [i for i in range(rec.catalog.n_items) if not rec.has_interactions(i)]
    warm = [i for i in range(rec.catalog.n_items) if rec.has_interactions(i)]
    assert warm and cold  # 20% of the items are held out of training
    user = rec.known_users()[0]
    config = ExplainConfig(method="ig", n_steps=8, faithfulness=False)
    warm_exp = explain_pair(rec, user, rec.catalog.item_ids[warm[0]], config)
    assert "no interactions in the training data" not in warm_exp.reason
    cold_exp = explain_pair(rec, user, rec.catalog.item_ids[cold[0]], config)
    assert "no interactions in the training data" in cold_exp.reason
