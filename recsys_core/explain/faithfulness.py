"""Deletion curves: does removing what a method ranks highest really lower the score?

For each method's token ranking, the top fraction of the removable tokens
(across the texts judged: every text of the pair, or the ones the page shows
split into tokens) is replaced by [PAD] — the same reference the
integrated-gradients baseline uses — and the pair re-scored; the other texts
keep their served vectors.  A faithful
ranking makes the score fall fast: a larger ``area`` (mean drop over the
fractions).  ERASER's comprehensiveness (drop when the top 20% are removed)
and sufficiency (drop when only the top 20% are kept) are reported too.
"""
from __future__ import annotations

import numpy as np
import torch

from .levels import encode_rows, real_vectors
from .pair import PairInputs
from .types import DeletionCurve

TOP_SHARE = 0.2


def judged(pair: PairInputs, texts=None) -> np.ndarray:
    """(N, L) bool: the removable tokens of ``texts`` (default: every text of the pair)."""
    mask = pair.removable.numpy().copy()
    if texts is not None:
        keep = np.zeros(len(mask), bool)
        keep[list(texts)] = True
        mask[~keep] = False
    return mask


def _order(mask: np.ndarray, token_scores: np.ndarray) -> np.ndarray:
    """Flat (N·L) positions of the judged tokens, highest score first."""
    removable = mask.reshape(-1)
    flat = token_scores.reshape(-1)
    positions = np.flatnonzero(removable)
    return positions[np.argsort(-flat[positions], kind="stable")]


def _variants(pair: PairInputs, mask: np.ndarray, order: np.ndarray, fractions, keep_only_top: bool = False
              ) -> torch.Tensor:
    pad = pair.recommender.encoder.tokenizer.pad_token_id
    base = pair.input_ids.reshape(-1)
    removable = np.flatnonzero(mask.reshape(-1))
    out = []
    for f in fractions:
        ids = base.clone()
        n = int(round(f * len(order)))
        if keep_only_top:
            drop = np.setdiff1d(removable, order[:n])
        else:
            drop = order[:n]
        ids[torch.as_tensor(drop, dtype=torch.long)] = pad
        out.append(ids.reshape(pair.input_ids.shape))
    return torch.stack(out)


def score_variants(pair: PairInputs, variants: torch.Tensor, real: torch.Tensor) -> np.ndarray:
    """Scores (V,) of token-id variants (V, N, L) of the pair.

    Only the texts a variant changed go through the encoder (each distinct
    changed text once, unpadded); unchanged texts keep their served vectors.
    Most low-fraction variants touch a few texts, so this runs a fraction of
    the V × N texts a full re-encoding would.
    """
    changed = (variants != pair.input_ids.unsqueeze(0)).any(-1)  # (V, N)
    where = changed.nonzero().tolist()
    rows = [variants[v, n, : int(pair.attention_mask[n].sum())] for v, n in where]
    pooled = real.unsqueeze(0).repeat(len(variants), 1, 1)
    if rows:
        vectors = encode_rows(pair, rows)
        for (v, n), vec in zip(where, vectors):
            pooled[v, n] = vec
    with torch.inference_mode():
        return pair.score_from_vectors(pooled).numpy()


def deletion_curves(
    pair: PairInputs,
    rankings: dict[str, np.ndarray],
    fractions=(0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0),
    seed: int = 0,
    real: torch.Tensor | None = None,
    texts=None,
) -> list[DeletionCurve]:
    """One curve per method in ``rankings`` (name → (N, L) token scores) plus a random ranking.

    ``real``: the pair's served text vectors (N, T) (``levels.real_vectors``), the untouched texts' vectors.
    ``texts``: the text indices whose tokens are ranked and removed (default: all); the others stay as served.
    """
    real = real_vectors(pair) if real is None else real
    mask = judged(pair, texts)
    covered = sorted(int(n) for n in np.flatnonzero(mask.any(1)))
    rng = np.random.default_rng(seed)
    rankings = dict(rankings)
    rankings["random"] = rng.random(pair.input_ids.shape)
    names = list(rankings)
    orders = {name: _order(mask, rankings[name]) for name in names}
    fractions = list(fractions)
    # Every variant of every method in as few encoder passes as the memory bound allows.
    batches = [_variants(pair, mask, orders[name], fractions) for name in names]
    batches += [_variants(pair, mask, orders[name], [TOP_SHARE], keep_only_top=True) for name in names]
    scores = score_variants(pair, torch.cat(batches), real)
    k = len(fractions)
    full = float(scores[0])  # fraction 0 of the first method: the untouched pair
    curves = []
    for m, name in enumerate(names):
        curve = scores[m * k : (m + 1) * k]
        suff = scores[len(names) * k + m]
        at_top = float(np.interp(TOP_SHARE, fractions, curve))
        curves.append(
            DeletionCurve(
                method=name,
                fractions=fractions,
                scores=[float(s) for s in curve],
                area=float(np.mean(full - curve)),
                comprehensiveness=full - at_top,
                sufficiency=full - float(suff),
                texts=covered,
            )
        )
    return curves
