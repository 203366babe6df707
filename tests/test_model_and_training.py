"""The hybrid model's contracts: shapes, cold items, reproducible training, early stopping."""
import pytest
import torch

from recsys_core.model import HybridRecommender, ModelConfig, UserInput
from recsys_core.pipeline import FitOptions, fit
from recsys_core.training import TrainConfig, budget_advice


def _user(b=2, h=3, t=8, n_items=10):
    idx = torch.randint(0, n_items, (b, h))
    idx[1, 2] = -1  # padding
    return UserInput(torch.randn(b, h, t), idx, torch.randn(b, t), torch.tensor([1.0, 0.0]))


def test_scores_and_attention_shapes():
    model = HybridRecommender(ModelConfig(n_items=10, text_dim=8, dim=16, hidden=8, max_history=3)).eval()
    scores, weights = model.score_and_attention(_user(), torch.randn(5, 8), torch.arange(5))
    assert scores.shape == (2, 5) and weights.shape == (2, 5, 3)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 5))
    assert torch.all(weights[1, :, 2] == 0)  # padding gets no attention


def test_the_blockwise_head_equals_the_mlp_over_the_concatenation():
    torch.manual_seed(0)
    model = HybridRecommender(ModelConfig(n_items=10, text_dim=8, dim=16, hidden=8, max_history=3)).eval()
    u, shared, bias = torch.randn(4, 5, 16), torch.randn(1, 5, 16), torch.randn(1, 5)
    item = shared.expand(4, -1, -1)
    inter = u * item
    concatenated = model.mlp(torch.cat([u, item, inter], dim=-1)).squeeze(-1) + inter @ model.theta + bias
    assert torch.allclose(model.head(u, shared, bias), concatenated, atol=1e-6)
    assert torch.allclose(model.head(u, item, bias), concatenated, atol=1e-6)


def test_cold_items_score_from_text_alone():
    model = HybridRecommender(ModelConfig(n_items=4, text_dim=8, dim=16, hidden=8, max_history=3)).eval()
    with torch.no_grad():
        model.item_emb.weight[2] += 5.0
        model.item_bias.weight[2] += 5.0
    vec = torch.randn(1, 8)
    user = _user(n_items=4)
    warm = model.score(user, vec, torch.tensor([1]))  # catalogue index 1 = embedding row 2
    model.warm[2] = 0.0  # the item had no training interactions
    cold = model.score(user, vec, torch.tensor([1]))
    assert not torch.allclose(warm, cold)
    # With its id switched off, the cold item scores exactly like an item with no id at all.
    assert torch.allclose(cold, model.score(user, vec, torch.tensor([-1])))


def _gated(n_items=4):
    model = HybridRecommender(ModelConfig(n_items=n_items, text_dim=8, dim=16, hidden=8, max_history=3,
                                          evidence_gate=True)).eval()
    with torch.no_grad():
        model.item_emb.weight[1:] += 1.0
        model.item_bias.weight[1:] += 3.0
        model.text_bias.weight.normal_()
        model.text_bias.bias.fill_(-0.5)
        model.evidence[1:] = torch.log1p(torch.tensor([0.0, 1.0, 50.0, 5.0])[:n_items])
    return model


def test_the_evidence_gate_gives_an_id_less_item_exactly_its_text_vector_and_a_bias_read_from_its_text():
    model = _gated()
    vecs = torch.randn(4, 8)
    rep, bias = model.item_repr(vecs, torch.arange(4))
    text = model.text_proj(torch.nn.functional.normalize(vecs, dim=-1))
    text_bias = model.text_bias(text).squeeze(-1)
    # Item 0 had no training interaction (evidence 0) and a padding/dropped id is row 0: text path only.
    assert torch.equal(rep[0], text[0]) and torch.equal(bias[0], text_bias[0])
    rep_none, bias_none = model.item_repr(vecs, torch.full((4,), -1))
    assert torch.equal(rep_none, text) and torch.equal(bias_none, text_bias)
    # Warm items mix their id part in, more of it the more interactions they had.
    gate = (rep[1:] - text[1:]).norm(dim=-1) / model.item_emb.weight[2:].norm(dim=-1)
    assert 0 < gate[0] < gate[2] < gate[1] < 1  # 1 interaction < 5 < 50
    assert torch.allclose(bias[1:], gate * model.item_bias.weight[2:, 0] + (1 - gate) * text_bias[1:])
    # Serving's first stage ranks by the same biases the scores use, the cold item's from its text.
    assert torch.allclose(model.catalogue_biases(vecs), bias)
    plain = HybridRecommender(ModelConfig(n_items=4, text_dim=8, dim=16, hidden=8, max_history=3)).eval()
    with torch.no_grad():
        plain.item_bias.weight[1:, 0] = torch.tensor([1.0, 2.0, 3.0, 4.0])
    plain.warm[2] = 0.0
    assert plain.catalogue_biases(vecs).tolist() == [1.0, 0.0, 3.0, 4.0]


def test_a_cold_items_gated_score_matches_an_item_with_no_id_at_all():
    model = _gated()
    model.warm[2] = 0.0  # catalogue item 1 (50 interactions in evidence) was held out of training
    user, vec = _user(n_items=4), torch.randn(1, 8)
    cold = model.score(user, vec, torch.tensor([1]))
    assert torch.allclose(cold, model.score(user, vec, torch.tensor([-1])))
    model.warm[2] = 1.0
    assert not torch.allclose(cold, model.score(user, vec, torch.tensor([1])))


def test_training_fills_the_evidence_from_training_interactions_only(tiny_dataset, embedding_cache):
    import numpy as np

    from recsys_core.pipeline import rating_scale_for
    from recsys_core.splits import SplitConfig, make_split

    options = FitOptions(split=SplitConfig(cold_items=0.2, seed=1), train=TrainConfig(epochs=1, text_loss=1.0),
                         evidence_gate=True, baselines=False, cache_dir=embedding_cache)
    rec = fit(tiny_dataset, options)
    # the split fit made: with explicit ratings its held-out items are likes, so pass the same scale
    split = make_split(tiny_dataset.interactions, rec.catalog, options.split, rating_scale_for(tiny_dataset, options))
    counts = np.bincount(np.concatenate(list(split.train.values())), minlength=rec.catalog.n_items)
    evidence = rec.model.evidence[1:].numpy()
    assert np.allclose(evidence, np.log1p(counts))
    assert np.all(evidence[split.cold_items] == 0) and counts[split.cold_items].sum() == 0


def test_the_text_loss_adds_the_same_ranking_scored_with_every_candidates_id_hidden():
    import numpy as np

    from recsys_core.training import BatchLoss

    torch.manual_seed(0)
    model = HybridRecommender(ModelConfig(n_items=10, text_dim=8, dim=16, hidden=8, max_history=3)).eval()
    with torch.no_grad():
        model.item_emb.weight[1:] += 2.0 * torch.randn(10, 16)  # ids that change scores a lot
    # Users with a profile and no history: hiding every id of the model then hides only the candidates'.
    user = UserInput(torch.zeros(2, 3, 8), torch.full((2, 3), -1), torch.randn(2, 8), torch.ones(2))
    vectors, targets = torch.randn(10, 8), torch.tensor([3, 7])
    negatives = torch.from_numpy(np.random.default_rng(1).choice(10, size=5, replace=False))

    def loss(text_loss, hide=False):
        config = TrainConfig(negatives=5, text_loss=text_loss)
        m = model
        if hide:  # the reference: the plain loss of a model whose every id is off
            m = HybridRecommender(model.config).eval()
            m.load_state_dict(model.state_dict())
            m.warm.zero_()
        return BatchLoss(m, config)(user, targets, negatives, vectors)

    plain, hidden = loss(0.0), loss(0.0, hide=True)
    assert not torch.isclose(plain, hidden)
    assert torch.isclose(loss(0.5), plain + 0.5 * hidden)


def test_training_is_reproducible(tiny_dataset, embedding_cache):
    options = FitOptions(train=TrainConfig(epochs=2, seed=3), baselines=False, cache_dir=embedding_cache)
    a, b = fit(tiny_dataset, options), fit(tiny_dataset, options)
    assert [e.loss for e in a.train_log] == [e.loss for e in b.train_log]
    assert a.report.to_dict() == b.report.to_dict()


def test_training_learns_the_tiny_genre_structure(tiny_model):
    report = tiny_model.report.table("test")
    assert set(report.index) >= {"HybridBERT", "MostPopular", "ItemKNN", "EASE", "TextKNN", "Random"}
    assert report.loc["HybridBERT", "HitRate@10"] > report.loc["Random", "HitRate@10"]


def _stop_after(batches: int):
    """A checkpoint that cancels once it has been passed ``batches`` times."""
    from recsys_core.progress import Cancelled

    calls = []

    def checkpoint() -> None:
        calls.append(1)
        if len(calls) > batches:
            raise Cancelled()

    return checkpoint


def test_a_stop_keeps_the_best_complete_epoch_and_never_validates_a_partial_one(tiny_dataset, embedding_cache):
    # Ratings off: then every interaction but each user's first and last two is a training example, so an
    # epoch has fewer batches than this and the stop falls early in epoch 2.
    options = FitOptions(train=TrainConfig(epochs=50, batch_size=8, patience=50), baselines=False,
                         cache_dir=embedding_cache, use_ratings=False)
    n_batches = -(-len(tiny_dataset.interactions) // 8)
    rec = fit(tiny_dataset, options, cancel=_stop_after(n_batches + 2))  # stop early in epoch 2
    assert rec.training.stopped == "stopped by user"
    assert [e.epoch for e in rec.train_log] == [1] and rec.training.best_epoch == 1


def test_a_stop_before_the_first_complete_epoch_makes_no_model(tiny_dataset, embedding_cache):
    from recsys_core.training import TrainingStopped

    options = FitOptions(train=TrainConfig(epochs=50, batch_size=8), baselines=False, cache_dir=embedding_cache)
    with pytest.raises(TrainingStopped, match="before any epoch was complete"):
        fit(tiny_dataset, options, cancel=_stop_after(2))


def test_a_time_budget_stops_before_an_epoch_that_would_overrun_it(tiny_dataset, embedding_cache):
    options = FitOptions(train=TrainConfig(epochs=50, patience=50, max_minutes=1e-6), baselines=False,
                         cache_dir=embedding_cache)
    rec = fit(tiny_dataset, options)
    assert rec.training.stopped == "time budget"
    assert len(rec.train_log) == 1  # the first epoch always completes; the next would end past the budget
    # Its one epoch is its best, so the budget, not the data, ended training: the advice says so.
    advice = budget_advice(rec.training, rec.train_log)
    assert advice is not None and "still rising" in advice and "raise the time budget" in advice


def test_budget_advice_only_when_the_budget_cut_a_still_rising_validation():
    from recsys_core.training import EpochLog, TrainingRecord

    log = [EpochLog(1, 3.0, 0.10, 1.0), EpochLog(2, 2.9, 0.12, 1.0), EpochLog(3, 2.8, 0.13, 1.0)]
    budget = {"train": {"max_minutes": 10.0}}
    rising = budget_advice(TrainingRecord(best_epoch=3, stopped="time budget", options=budget), log)
    assert rising is not None and "10-minute time budget after 3 epochs" in rising and "0.1200 to 0.1300" in rising
    assert budget_advice(TrainingRecord(best_epoch=2, stopped="time budget", options=budget), log) is None  # peaked
    assert budget_advice(TrainingRecord(best_epoch=3, stopped="completed", options=budget), log) is None
    assert budget_advice(TrainingRecord(best_epoch=3, stopped="early-stopping"), log) is None


def test_remaining_time_follows_the_pace_so_far_and_respects_the_budget():
    from recsys_core.training import remaining_seconds

    assert remaining_seconds([], 0, 10, 0.0, 5) == (None, None)
    this_epoch, total = remaining_seconds([], 4, 10, 8.0, epochs_left=2)  # 2 s a batch, 20 s an epoch
    assert this_epoch == pytest.approx(12.0) and total == pytest.approx(12.0 + 2 * 20.0)
    this_epoch, total = remaining_seconds([30.0, 50.0], 5, 10, 10.0, epochs_left=3)  # past epochs: 40 s each
    assert total == pytest.approx(10.0 + 3 * 40.0)
    assert remaining_seconds([30.0], 5, 10, 10.0, epochs_left=3, budget_left=25.0)[1] == pytest.approx(25.0)
    with pytest.raises(Exception, match="max_minutes must be positive"):
        TrainConfig(max_minutes=0)


def test_validation_users_shrink_with_the_catalogue_to_bound_each_epochs_ranking():
    config = TrainConfig()
    assert config.validation_users(2_000) == 1_000  # the demo: every validation user (up to 1,000)
    assert config.validation_users(100_000) == 200  # 20M ranked pairs
    assert config.validation_users(10**9) == 1  # never none
    assert TrainConfig(max_val_pairs=10**12).validation_users(100_000) == 1_000
