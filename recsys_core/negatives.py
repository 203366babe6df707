"""Which items a training batch ranks its targets against, and how their sampling is corrected for.

The sampled softmax of ``training`` ranks each target against negatives shared by the batch.  Uniform
negatives are almost never popular items on a large catalogue (the most popular of 100k items is among 128
uniform negatives once in ~800 batches), so the loss rarely makes a popular item compete with the on-topic
item a user actually picked, and the model learns to rank popular items above a user's topic (the 1m case in
docs/benchmarks.md).  ``popular_share`` of the negatives are therefore drawn in proportion to training
popularity (the item of a random training interaction, word2vec's "unigram" negatives at power 1), the rest
uniformly, and every logit in the softmax (the target's too) is lowered by the log of its item's expected count in
a draw: the sampled-softmax correction (Jean et al. 2015; Yi et al. 2019's "logQ correction") that keeps the
trained scores estimates of the full softmax's in expectation.  Measured, within the one epoch a large case
trains, it overshoots: the lists lose the popular items users did pick (docs/benchmarks.md, "Centred text and
popular negatives"), which is why it is an option, off by default.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class NegativeSampler:
    """Draws a batch's shared negatives: ``n_popular`` from ``interaction_items`` (popularity), the rest
    uniformly from ``warm_items``; ``log_q`` (n_items,) the log expected count of each item in one draw
    (None when every negative is uniform: the correction is then the same for every item and cancels)."""

    warm_items: np.ndarray
    interaction_items: np.ndarray
    n_uniform: int
    n_popular: int
    log_q: torch.Tensor | None

    @classmethod
    def build(cls, warm_items: np.ndarray, interaction_items: np.ndarray, n_items: int, negatives: int,
              popular_share: float) -> "NegativeSampler":
        size = min(negatives, len(warm_items))
        n_popular = int(round(size * popular_share)) if len(interaction_items) else 0
        n_uniform = size - n_popular
        log_q = None
        if n_popular:
            counts = np.bincount(interaction_items, minlength=n_items).astype(np.float64)
            expected = n_popular * counts / counts.sum()
            expected[warm_items] += n_uniform / len(warm_items)
            # An item that can never be drawn is never a negative; its target logit gets the floor of one
            # uniform draw's share so the correction stays finite.
            floor = 1.0 / max(len(warm_items), 1)
            log_q = torch.from_numpy(np.log(np.maximum(expected, floor)).astype(np.float32))
        return cls(warm_items, interaction_items, n_uniform, n_popular, log_q)

    def draw(self, rng: np.random.Generator) -> torch.Tensor:
        """One batch's negatives: distinct uniform ones, and popular ones with repeats (a draw with replacement
        is what ``log_q`` corrects for)."""
        uniform = rng.choice(self.warm_items, size=self.n_uniform, replace=False)
        popular = self.interaction_items[rng.integers(0, len(self.interaction_items), self.n_popular)]
        return torch.from_numpy(np.concatenate([uniform, popular]).astype(np.int64))

    def one_each(self, rng: np.random.Generator, n: int) -> torch.Tensor:
        """One uniform negative for each of ``n`` targets, with repeats (BPR's pairs; a popular share is refused
        for BPR by ``TrainConfig``, so none is drawn here)."""
        return torch.from_numpy(rng.choice(self.warm_items, size=n))

    def correction(self, items: torch.Tensor) -> torch.Tensor | None:
        """What each of ``items``' logits is lowered by (None: no correction)."""
        return None if self.log_q is None else self.log_q[items]
