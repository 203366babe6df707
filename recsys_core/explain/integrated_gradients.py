"""Integrated gradients of the recommendation score w.r.t. the encoder's word embeddings.

Captum's ``LayerIntegratedGradients`` on ``embeddings.word_embeddings``
interpolates, for every text of the pair at once (candidate item, profile,
every history item), between the baseline tokens' embeddings and the real
ones, and integrates the gradient of the *score of (u, i)* — not of a proxy.
The result per token is summed over the embedding dimension; by completeness
all token attributions add up to ``score - baseline_score`` (minus the
convergence delta, which is reported).

Captum sees the pair as one example of shape (1, N, L); the forward reshapes
to (steps·N, L) for the encoder.  Captum expands the layer output along its
first dimension step-major, which matches that reshape (the completeness
test in tests/test_explain.py would catch a mismatch).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .. import heavy_imports
from .pair import PairInputs


@dataclass
class TokenScores:
    """Signed attribution of every token slot (N, L) of a pair, in score units."""

    values: np.ndarray  # (N, L); zero on padding
    score: float
    baseline_score: float
    convergence_delta: float  # sum(values) - (score - baseline_score)

    @property
    def delta_share(self) -> float:
        gap = abs(self.score - self.baseline_score)
        return abs(self.convergence_delta) / gap if gap > 1e-9 else 0.0


def integrated_gradients(
    pair: PairInputs,
    baseline: str = "pad",
    n_steps: int = 20,
    method: str = "gausslegendre",
    internal_batch_texts: int = 32,
) -> TokenScores:
    """Attribute the pair's score to its tokens (see ``attribute_tokens``)."""
    return attribute_tokens(
        pair.recommender.encoder.model.get_input_embeddings(),
        pair.score_from_ids,
        pair.input_ids,
        pair.baseline_ids(baseline),
        pair.attention_mask,
        n_steps,
        method,
        internal_batch_texts,
    )


def attribute_tokens(
    embedding_layer: torch.nn.Module,
    forward: Callable[[torch.Tensor], torch.Tensor],
    input_ids: torch.Tensor,
    baseline_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    n_steps: int = 20,
    method: str = "gausslegendre",
    internal_batch_texts: int = 32,
) -> TokenScores:
    """Integrated gradients of ``forward`` w.r.t. ``embedding_layer``'s output, summed per token.

    input_ids, baseline_ids, attention_mask: (N, L) — N texts of one example.
    forward: ids (B, N, L) → (B,) scalars (the score, or a score difference).
    Returns attributions (N, L) in the units of ``forward``, zero on padding.
    """
    LayerIntegratedGradients = heavy_imports.attribute("captum.attr", "LayerIntegratedGradients")
    inputs = input_ids.unsqueeze(0)
    base = baseline_ids.unsqueeze(0)
    n_texts = int(input_ids.shape[0])
    lig = LayerIntegratedGradients(forward, embedding_layer)
    # Captum counts the layer's rows (N texts) as its examples, so its internal batch size is in
    # texts: each internal batch runs internal_batch_texts // N steps, bounding memory.
    with torch.enable_grad():
        attributions = lig.attribute(
            inputs,
            baselines=base,
            n_steps=n_steps,
            method=method,
            internal_batch_size=max(internal_batch_texts, n_texts),
        )
    with torch.inference_mode():
        both = forward(torch.cat([inputs, base]))
    values = attributions.sum(-1).reshape(input_ids.shape).detach().numpy().astype(np.float64)
    values = values * attention_mask.numpy()
    score, baseline_score = float(both[0]), float(both[1])
    # Captum's own delta check assumes the layer's batch equals the input's (here it is N texts),
    # so the completeness gap is computed directly: sum of attributions vs. the change of forward.
    delta = float(values.sum()) - (score - baseline_score)
    return TokenScores(values, score, baseline_score, delta)
