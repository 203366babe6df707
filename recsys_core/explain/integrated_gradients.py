"""Joint integrated gradients: every text of a pair interpolated at once, w.r.t. word embeddings.

This is the reference the two-level attribution (``levels``) is compared with,
and what contrastive explanations use.  It computes the texts' word embeddings
itself and feeds them to the encoder as ``inputs_embeds``: no hook is attached
to the encoder every session shares, so concurrent calls cannot see each
other's tensors (the earlier Captum ``LayerIntegratedGradients`` hooks did).
Numerically it is the same quantity Captum's layer IG on
``embeddings.word_embeddings`` computes (``bench/explain.py`` checks it).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..encoder import pool

RULES = ("gausslegendre", "riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle")
# (steps × texts × tokens) per encoder pass: bounds the activations kept for backward.  Measured on
# 3 demo pairs: 1024 → peak 850 MB, 768 → 797 MB at the same CPU time, 512 → 728 MB but +25% CPU time;
# 2048 took one server session to 1.0 GB.
STEP_BATCH_TOKENS = 768


def integration_rule(method: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes α in [0, 1] and weights summing to 1 for ∫₀¹ with ``n`` evaluations."""
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(n)
        return torch.tensor((nodes + 1) / 2, dtype=torch.float32), torch.tensor(weights / 2, dtype=torch.float32)
    if method == "riemann_trapezoid":
        nodes = np.linspace(0, 1, n)
        weights = np.full(n, 1.0 / max(n - 1, 1))
        weights[[0, -1]] /= 2
        return torch.tensor(nodes, dtype=torch.float32), torch.tensor(weights, dtype=torch.float32)
    offsets = {"riemann_left": 0.0, "riemann_right": 1.0, "riemann_middle": 0.5}
    if method not in offsets:
        raise ValueError(f"Unknown integration rule {method!r}: choose one of {', '.join(RULES)}.")
    nodes = (np.arange(n) + offsets[method]) / n
    return torch.tensor(nodes, dtype=torch.float32), torch.full((n,), 1.0 / n)


def bert(encoder):
    """The encoder gradients and baseline vectors run through: the fast (SDPA) one.

    Attention maps need the eager module tree, but both share one copy of the weights
    (``encoder._eager_view``), so IG can take the fused attention kernel: on 4 demo pairs the
    carrying-token split took 5.1–5.8 s instead of 6.2–6.4 s and peaked at 755 instead of
    800 MB, with the same attributions to 5 decimals (eager attention keeps its n × n
    probabilities for the backward pass).
    """
    return encoder.model


def embed(encoder, ids: torch.Tensor) -> torch.Tensor:
    """Word embeddings of ``ids`` as a new tensor the caller owns (the shared layer is only read)."""
    weight = bert(encoder).get_input_embeddings().weight
    with torch.no_grad():
        return torch.nn.functional.embedding(ids, weight).detach().clone()


def path_gradients(
    encoder,
    x: torch.Tensor,
    b: torch.Tensor,
    mask: torch.Tensor,
    readout: Callable[[torch.Tensor], torch.Tensor],
    steps: int,
    method: str = "gausslegendre",
    cancel: Callable[[], None] | None = None,
) -> torch.Tensor:
    """IG (K, L) of ``readout(pooled (S, K, T)) → (S,)`` over K texts' embeddings, baseline b → input x (K, L, d).

    Summed over the embedding dimension; zero where ``mask`` (K, L) is 0.
    ``cancel`` is called between encoder passes (it may raise to stop early).
    """
    alphas, weights = integration_rule(method, steps)
    k, length, _ = x.shape
    per_pass = max(1, STEP_BATCH_TOKENS // max(1, k * length))
    total = torch.zeros_like(x)
    diff = x - b
    for start in range(0, steps, per_pass):
        if cancel is not None:
            cancel()
        a = alphas[start : start + per_pass]
        s = len(a)
        with torch.enable_grad():
            path = (b.unsqueeze(0) + a.view(-1, 1, 1, 1) * diff.unsqueeze(0)).requires_grad_(True)  # (S, K, L, d)
            flat_mask = mask.unsqueeze(0).expand(s, -1, -1).reshape(s * k, length)
            hidden = bert(encoder)(inputs_embeds=path.reshape(s * k, length, -1), attention_mask=flat_mask).last_hidden_state
            pooled = pool(hidden, flat_mask, encoder.config.pooling).reshape(s, k, -1)
            (grads,) = torch.autograd.grad(readout(pooled).sum(), path)
        total += (grads * weights[start : start + per_pass].view(-1, 1, 1, 1)).sum(0)
    return (total * diff).sum(-1) * mask


@dataclass
class TokenScores:
    """Signed attribution of every token slot (N, L) of a pair, in score units."""

    values: np.ndarray  # (N, L); zero on padding
    score: float
    baseline_score: float
    convergence_delta: float  # sum(values) - (score - baseline_score)


def joint_integrated_gradients(
    encoder,
    input_ids: torch.Tensor,
    baseline_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    score_from_pooled: Callable[[torch.Tensor], torch.Tensor],
    n_steps: int = 20,
    method: str = "gausslegendre",
    cancel: Callable[[], None] | None = None,
) -> TokenScores:
    """IG of ``score_from_pooled`` ((B, N, T) → (B,)) over all N texts' word embeddings at once.

    input_ids, baseline_ids, attention_mask: (N, L).  Returns (N, L) attributions.
    ``cancel`` is called between encoder passes (it may raise to stop early).
    """
    x, b = embed(encoder, input_ids), embed(encoder, baseline_ids)
    values = path_gradients(encoder, x, b, attention_mask, score_from_pooled, n_steps, method, cancel)
    values = values.detach().double().numpy()
    with torch.inference_mode():
        both = torch.stack([x, b])  # (2, N, L, d)
        flat_mask = attention_mask.repeat(2, 1)
        hidden = bert(encoder)(inputs_embeds=both.reshape(-1, *x.shape[1:]), attention_mask=flat_mask).last_hidden_state
        ends = score_from_pooled(pool(hidden, flat_mask, encoder.config.pooling).reshape(2, x.shape[0], -1))
    score, baseline_score = float(ends[0]), float(ends[1])
    return TokenScores(values, score, baseline_score, float(values.sum()) - (score - baseline_score))
