"""Two inputs of training: the text path's centre (the catalogue's mean text) and popularity-drawn negatives."""
import numpy as np
import pytest
import torch

from recsys_core import artifacts
from recsys_core.errors import RecsysError
from recsys_core.model import HybridRecommender, ModelConfig, UserInput, with_items
from recsys_core.negatives import NegativeSampler
from recsys_core.pipeline import FitOptions, fit
from recsys_core.scoring import ModelScorer, Users
from recsys_core.training import BatchLoss, TrainConfig


def _unit(m: np.ndarray) -> np.ndarray:
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def _mean_pairwise_cosine(m: np.ndarray) -> float:
    m = _unit(m)
    return float((m @ m.T)[np.triu_indices(len(m), 1)].mean())


def test_the_text_path_reads_each_text_centred_on_the_catalogues_mean():
    rng = np.random.default_rng(0)
    # Every text shares one large component, as a sentence encoder's vectors do.
    vectors = (5 * rng.standard_normal(8) + rng.standard_normal((6, 8))).astype(np.float32)
    model = HybridRecommender(ModelConfig(n_items=6, text_dim=8, dim=16, hidden=8, max_history=3, center_text=True))
    model.set_text_center(vectors)
    np.testing.assert_allclose(model.text_center.numpy(), _unit(vectors).mean(axis=0), rtol=1e-5)
    read = model.unit_text(torch.from_numpy(vectors)).numpy()
    np.testing.assert_allclose(read, _unit(_unit(vectors) - _unit(vectors).mean(axis=0)), atol=1e-5)
    assert _mean_pairwise_cosine(vectors) > 0.8  # as read uncentred, the texts look alike ...
    assert _mean_pairwise_cosine(read) < 0  # ... centred, what tells them apart is what the projection sees

    plain = HybridRecommender(ModelConfig(n_items=6, text_dim=8, dim=16, hidden=8, max_history=3))
    plain.set_text_center(vectors)  # a model saved before centring existed: nothing to set, read as before
    assert "text_center" not in plain.state_dict()
    np.testing.assert_allclose(plain.unit_text(torch.from_numpy(vectors)).numpy(), _unit(vectors), atol=1e-6)


def test_a_trained_model_keeps_its_centre_through_save_load_and_a_grown_catalogue(tiny_model, tmp_path):
    model = tiny_model.model
    assert model.config.center_text  # the default of a new fit
    np.testing.assert_allclose(model.text_center.numpy(), _unit(tiny_model.catalog.item_vectors).mean(axis=0),
                               rtol=1e-5, atol=1e-7)
    back = artifacts.load(artifacts.save(tiny_model, tmp_path / "m"))
    assert torch.equal(back.model.text_center, model.text_center)
    users = Users([tiny_model.catalog.histories["u00"]], [tiny_model.catalog.profile_vector("u00")])
    vectors = tiny_model.catalog.item_vectors
    np.testing.assert_allclose(ModelScorer(back.model, vectors).score(users), ModelScorer(model, vectors).score(users),
                               atol=1e-5)
    grown = with_items(model, model.config.n_items + 3)
    assert torch.equal(grown.text_center, model.text_center)  # new items are read on the scale it was trained on


def test_options_written_before_centring_existed_train_uncentred_again():
    assert FitOptions.from_dict({"dim": 64}).center_text is False
    assert FitOptions.from_dict(FitOptions().to_dict()).center_text is True
    assert FitOptions.from_dict(FitOptions(center_text=False).to_dict()).center_text is False


def test_uniform_negatives_are_distinct_trained_items_and_need_no_correction():
    warm = np.array([1, 3, 5, 7, 9])
    sampler = NegativeSampler.build(warm, np.array([1, 1, 3]), n_items=10, negatives=4, popular_share=0.0)
    assert sampler.log_q is None and sampler.correction(torch.tensor([1, 3])) is None
    drawn = sampler.draw(np.random.default_rng(0)).tolist()
    assert len(set(drawn)) == 4 and set(drawn) <= set(warm.tolist())

    # BPR: one negative per target, repeats allowed (more targets than trained items here), trained items only
    each = sampler.one_each(np.random.default_rng(0), 12).tolist()
    assert len(each) == 12 and set(each) <= set(warm.tolist())


def test_the_correction_is_the_log_of_each_items_expected_count_in_a_draw():
    warm = np.arange(20)
    interactions = np.repeat(warm, warm**2 + 1)  # popularity grows with the index
    sampler = NegativeSampler.build(warm, interactions, n_items=20, negatives=8, popular_share=0.5)
    assert (sampler.n_uniform, sampler.n_popular) == (4, 4)
    rng = np.random.default_rng(0)
    draws = 20_000
    counts = sum(np.bincount(sampler.draw(rng).numpy(), minlength=20) for _ in range(draws))
    np.testing.assert_allclose(counts / draws, np.exp(sampler.log_q.numpy()), rtol=0.06)
    assert counts[19] > 3 * counts[0]  # popular items are drawn far more often than under uniform draws


def test_the_loss_subtracts_the_correction_from_the_targets_and_the_negatives_alike():
    torch.manual_seed(0)
    model = HybridRecommender(ModelConfig(n_items=10, text_dim=8, dim=16, hidden=8, max_history=3)).eval()
    user = UserInput(torch.randn(2, 3, 8), torch.tensor([[0, 1, -1], [2, -1, -1]]), torch.randn(2, 8), torch.ones(2))
    vectors, targets, negatives = torch.randn(10, 8), torch.tensor([3, 7]), torch.tensor([0, 4, 5, 8, 9])
    net = BatchLoss(model, TrainConfig(negatives=5))
    plain = net(user, targets, negatives, vectors)
    # The same correction for every item cancels in the softmax ...
    assert torch.isclose(net(user, targets, negatives, vectors, torch.full((2,), 3.0), torch.full((5,), 3.0)), plain)
    # ... and lowering the targets alone makes them harder to rank first.
    assert net(user, targets, negatives, vectors, torch.full((2,), 3.0), torch.zeros(5)) > plain + 1.0


def test_training_with_popular_negatives_runs_and_the_share_is_checked(tiny_dataset, embedding_cache):
    with pytest.raises(RecsysError, match="popular_negatives"):
        TrainConfig(popular_negatives=1.5)
    with pytest.raises(RecsysError, match="softmax loss only"):  # BPR would ignore the share
        TrainConfig(loss="bpr", popular_negatives=0.5)
    assert TrainConfig(loss="bpr").popular_negatives == 0.0
    rec = fit(tiny_dataset, FitOptions(train=TrainConfig(epochs=2, popular_negatives=0.5), baselines=False,
                                       cache_dir=embedding_cache))
    assert len(rec.train_log) >= 1 and all(np.isfinite(e.loss) for e in rec.train_log)
    assert rec.training.options["train"]["popular_negatives"] == 0.5


def test_training_with_the_bpr_loss_runs_and_learns(tiny_dataset, embedding_cache):
    # BPR draws one uniform negative per target (NegativeSampler.one_each); its loss starts at log 2 (scores tie).
    rec = fit(tiny_dataset, FitOptions(train=TrainConfig(epochs=3, loss="bpr", patience=3), baselines=False,
                                       cache_dir=embedding_cache))
    losses = [e.loss for e in rec.train_log]
    assert len(losses) == 3 and all(np.isfinite(losses))
    assert losses[-1] < losses[0] and losses[-1] < np.log(2)  # measured: 0.692, 0.689, 0.676
    assert rec.training.options["train"]["loss"] == "bpr"
