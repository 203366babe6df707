"""The optimiser of training: dense AdamW, and lazy row-wise Adam for the item id tables of large catalogues.

Kept apart from the training loop (``training``) because it is the one place where the id tables' gradients
are sparse: the optimiser switches the tables to sparse gradients, clips dense and sparse gradients to one
global norm (torch's ``clip_grad_norm_`` refuses sparse ones) and hands the model back dense.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from .model import HybridRecommender

MAX_GRAD_NORM = 5.0


class IdTableOptimiser:
    """AdamW over the model's weights; with ``row_wise`` id updates (``training.make_optimiser`` reads it from
    ``TrainConfig.uses_sparse_ids``: set, or a catalogue of ``SPARSE_IDS_FROM`` items or more), SparseAdam
    (lazy Adam) over the id tables.

    Lazy Adam updates only the rows a batch touched, with their own moment estimates; dense Adam also
    moves every untouched row by its decaying momentum.  The two agree exactly when every row is in
    every batch (``tests/test_training_sparse.py``) and differ, by design, on large catalogues.
    SparseAdam has no weight decay: the id tables get none in that mode (AdamW's decoupled decay of
    lr × 1e-4 per step is a 0.2% shrink over 10k steps, which does not move rankings).
    Gradients are clipped to one global norm over dense and sparse gradients alike, as before.
    """

    def __init__(self, model: HybridRecommender, lr: float, weight_decay: float, row_wise: bool):
        self.model = model
        tables = [model.item_emb, model.item_bias] if row_wise else []
        for table in tables:
            table.sparse = True  # backward now yields a sparse gradient of the rows used
        sparse_ids = {id(t.weight) for t in tables}
        self.params = list(model.parameters())
        dense = [p for p in self.params if id(p) not in sparse_ids]
        self.optimisers: list[torch.optim.Optimizer] = [
            torch.optim.AdamW(dense, lr=lr, weight_decay=weight_decay)]
        if tables:
            self.optimisers.append(torch.optim.SparseAdam([t.weight for t in tables], lr=lr))
        self.tables = tables

    def zero_grad(self) -> None:
        for optimiser in self.optimisers:
            optimiser.zero_grad()

    def step(self) -> None:
        clip_gradients(self.params, MAX_GRAD_NORM)
        for optimiser in self.optimisers:
            optimiser.step()

    def done(self) -> None:
        """Hand the model back as a dense one: inference and explanations never see sparse gradients."""
        for table in self.tables:
            table.sparse = False


def clip_gradients(params: Sequence[torch.Tensor], max_norm: float) -> None:
    """``clip_grad_norm_`` for a mix of dense and sparse gradients (torch's refuses sparse ones).

    A sparse embedding gradient lists a row once per use; it is coalesced (duplicates summed) first,
    so its norm is the norm of the dense gradient it stands for.
    """
    grads = []
    for p in params:
        if p.grad is None:
            continue
        if p.grad.is_sparse:
            p.grad = p.grad.coalesce()
            grads.append(p.grad._values())
        else:
            grads.append(p.grad)
    if not grads:
        return
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(scale)
