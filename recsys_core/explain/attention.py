"""Encoder self-attention over each text of a pair, and attention rollout.

Attention says *where the encoder looks* while building a text's vector; it
is not an attribution of the score (integrated gradients is).  The two are
compared token by token in ``agreement``.
"""
from __future__ import annotations

import numpy as np
import torch

from .pair import PairInputs
from .types import TextAttention


def rollout(layers: np.ndarray) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema 2020) of head-averaged layers (L, n, n).

    Each layer's attention is mixed with the identity (0.5·A + 0.5·I) for the
    residual connection, rows renormalised, and the layers multiplied from the
    first to the last.
    """
    n = layers.shape[-1]
    result = np.eye(n)
    for a in layers:
        a = 0.5 * a + 0.5 * np.eye(n)
        a = a / a.sum(axis=-1, keepdims=True)
        result = a @ result
    return result


def text_attentions(
    pair: PairInputs, texts: list[int] | None = None, full_heads_for: tuple[int, ...] | None = None
) -> list[TextAttention]:
    """Attention maps of the given texts of the pair (default: all), in one batched eager forward.

    Full (layers × heads) maps are kept for the texts in ``full_heads_for``
    (default: the candidate item and the profile); other texts keep the
    head average per layer, which keeps the JSON of a 20-item history small.
    The batch is padded only to the longest of the requested texts.
    """
    if full_heads_for is None:
        full_heads_for = (0, 1) if pair.has_profile else (0,)
    texts = list(range(pair.n_texts)) if texts is None else list(texts)
    if not texts:
        return []
    model = pair.recommender.encoder.eager_model
    width = int(pair.attention_mask[texts].sum(1).max())
    with torch.inference_mode():
        out = model(input_ids=pair.input_ids[texts, :width], attention_mask=pair.attention_mask[texts, :width],
                    output_attentions=True)
    stacked = torch.stack(out.attentions, dim=1).float().numpy()  # (len(texts), layers, heads, width, width)
    result = []
    for row, n in enumerate(texts):
        k = int(pair.attention_mask[n].sum())
        maps = stacked[row, :, :, :k, :k]
        averaged = maps.mean(axis=1)  # (layers, k, k)
        roll = rollout(averaged)
        full = n in full_heads_for
        kept = maps if full else averaged[:, None]
        result.append(
            TextAttention(
                label=pair.labels[n],
                text_index=n,
                tokens=pair.tokens[n],
                layers=kept.astype(np.float32),
                heads_averaged=not full,
                rollout=roll.astype(np.float32),
                token_importance=averaged[-1].mean(axis=0),
                rollout_importance=roll.mean(axis=0),
            )
        )
    return result


def attention_token_scores(attentions: list[TextAttention], shape: tuple[int, int], use_rollout: bool) -> np.ndarray:
    """(N, L) per-token attention importance laid out like the pair's token grid."""
    grid = np.zeros(shape)
    for att in attentions:
        values = att.rollout_importance if use_rollout else att.token_importance
        grid[att.text_index, : len(values)] = values
    return grid
