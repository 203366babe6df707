"""Row-wise (sparse) updates of the item id tables (issue 21 §2): the same model as dense Adam where the
two must agree, a step whose cost follows the batch, and training that still learns."""
from __future__ import annotations

import copy

import pytest
import torch

from recsys_core import FitOptions, fit
from recsys_core.model import HybridRecommender, ModelConfig
from recsys_core.optimiser import clip_gradients
from recsys_core.training import TrainConfig, make_optimiser


def _all_rows_loss(model: HybridRecommender, step: int) -> torch.Tensor:
    """A loss that touches every item row (so lazy and dense Adam see the same rows every step)."""
    n = model.config.n_items
    torch.manual_seed(step)
    text = torch.randn(n, model.config.text_dim)
    rep, bias = model.item_repr(text, torch.arange(n))
    target = torch.randn(n, model.config.dim)
    return ((rep - target) ** 2).mean() + (bias - 1.0).pow(2).mean()


@pytest.mark.parametrize("steps", [1, 12])
def test_sparse_and_dense_updates_agree_when_every_row_is_in_every_batch(steps):
    torch.manual_seed(0)
    config = ModelConfig(n_items=30, text_dim=16, dim=8, hidden=8, id_dropout=0.0)
    dense_model = HybridRecommender(config)
    sparse_model = copy.deepcopy(dense_model)
    # No weight decay: SparseAdam has none, and decay is the one intended difference.
    dense = make_optimiser(dense_model, TrainConfig(weight_decay=0.0, lr=1e-2))
    sparse = make_optimiser(sparse_model, TrainConfig(weight_decay=0.0, lr=1e-2, sparse_ids=True))
    for step in range(steps):
        for model, optimiser in ((dense_model, dense), (sparse_model, sparse)):
            optimiser.zero_grad()
            _all_rows_loss(model, step).backward()
            optimiser.step()
    assert sparse_model.item_emb.weight.grad.is_sparse and not dense_model.item_emb.weight.grad.is_sparse
    moved = (dense_model.item_emb.weight - HybridRecommender(config).item_emb.weight).abs().max()
    assert moved > 1e-3  # the comparison below is about weights that really changed
    # SparseAdam adds its epsilon before the bias correction, AdamW after: on a near-zero gradient
    # (|g| ~ 1e-7) that changes the step, so weights may differ by a few percent of one step (lr = 1e-2).
    for (name, a), (_, b) in zip(dense_model.state_dict().items(), sparse_model.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=0, atol=3e-4, msg=lambda m: f"{name}: {m}")
    differs = (dense_model.item_emb.weight - sparse_model.item_emb.weight).abs()
    assert (differs > 1e-5).float().mean() < 0.1  # and only on a few elements
    sparse.done()
    assert not sparse_model.item_emb.sparse  # handed back dense for inference and explanations


def test_lazy_updates_leave_rows_the_batch_did_not_touch_alone():
    torch.manual_seed(0)
    model = HybridRecommender(ModelConfig(n_items=50, text_dim=16, dim=8, hidden=8, id_dropout=0.0))
    optimiser = make_optimiser(model, TrainConfig(sparse_ids=True))
    before = model.item_emb.weight.detach().clone()
    for step in range(3):
        optimiser.zero_grad()
        idx = torch.arange(10)  # items 0-9 are embedding rows 1-10
        rep, bias = model.item_repr(torch.randn(10, 16), idx)
        (rep.pow(2).sum() + bias.sum()).backward()
        optimiser.step()
    changed = (model.item_emb.weight.detach() - before).abs().amax(dim=1) > 0
    assert changed[1:11].all() and not changed[11:].any() and not changed[0]  # row 0 is "no id": never learns


def test_gradients_are_clipped_to_one_norm_over_dense_and_sparse_alike():
    table = torch.nn.Embedding(6, 3, sparse=True)
    dense = torch.nn.Parameter(torch.zeros(4))
    (table(torch.tensor([1, 1, 2])).sum() * 10 + (dense * 10).sum()).backward()
    clip_gradients([table.weight, dense], max_norm=1.0)
    norm = torch.linalg.vector_norm(torch.cat([table.weight.grad.to_dense().flatten(), dense.grad]))
    assert norm == pytest.approx(1.0, rel=1e-4)
    # Row 1 was used twice: its coalesced gradient is twice row 2's (duplicates summed, not listed).
    rows = table.weight.grad.to_dense()
    torch.testing.assert_close(rows[1], 2 * rows[2])


def test_a_model_trained_with_sparse_id_updates_learns_the_tiny_genre_structure(tiny_dataset, embedding_cache):
    options = FitOptions(max_history=20, train=TrainConfig(epochs=5, sparse_ids=True), baselines=True,
                         cache_dir=embedding_cache)
    rec = fit(tiny_dataset, options)
    report = rec.report.table("test")
    assert report.loc["HybridBERT", "HitRate@10"] > report.loc["Random", "HitRate@10"]
    assert rec.model.item_emb.sparse is False


def test_auto_updates_the_id_tables_row_wise_from_a_large_catalogue_on():
    from recsys_core.training import SPARSE_IDS_FROM

    auto = TrainConfig()
    assert auto.sparse_ids is None
    assert not auto.uses_sparse_ids(2_000) and not auto.uses_sparse_ids(SPARSE_IDS_FROM - 1)
    assert auto.uses_sparse_ids(SPARSE_IDS_FROM) and auto.uses_sparse_ids(1_000_000)
    assert not TrainConfig(sparse_ids=False).uses_sparse_ids(1_000_000)
    assert TrainConfig(sparse_ids=True).uses_sparse_ids(40)
    big = HybridRecommender(ModelConfig(n_items=SPARSE_IDS_FROM, text_dim=8, dim=4, hidden=4, max_history=3))
    optimiser = make_optimiser(big, auto)
    assert big.item_emb.sparse and len(optimiser.optimisers) == 2
    optimiser.done()
    assert not big.item_emb.sparse
