"""Token-ranking methods compared on the faithfulness panel: one class each, in one registry.

Every method answers the same question — how much did each token of the pair
move the score? — as an (N, L) grid in score units (signed; zero on padding),
so the deletion curves, the dashboard and the JSON treat them alike.  Adding
a method is one subclass of ``TokenMethod`` and one entry in ``TOKEN_METHODS``.

Each method scores the tokens of ``PairTarget.texts`` (every text, or the ones the page shows split)
and leaves the other texts at zero.  Each works text by text on the two-level decomposition of
``levels`` where it can (the score's share of text n is the linear read-out
``w_n · g(e_n)`` of that text's vector), so a method costs a pass per text,
not a pass through all texts per sample.

Layering: methods read a computed ``state.PairState`` (below them); the
faithfulness stage that runs them all (``core.add_faithfulness``) sits above.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch

from ..heavy_imports import attribute as heavy_attribute
from ..encoder import pool
from .attention import attention_token_scores
from .faithfulness import judged, score_variants
from .integrated_gradients import bert, embed
from .rollup import field_key
from .state import PairTarget, every_attention, split_texts, token_grid


class TokenMethod(ABC):
    """A way of scoring every token of a pair (see the module docstring)."""

    name: str = ""
    description: str = ""
    deterministic: bool = True

    @abstractmethod
    def token_scores(self, target: PairTarget) -> np.ndarray:
        """(N, L) signed token scores in score units (larger = pushed the item up more)."""


class TwoLevelIntegratedGradients(TokenMethod):
    name = "integrated gradients"
    description = "Integrated gradients, texts then tokens (adds up exactly to score − blanked-text score)."

    def token_scores(self, target: PairTarget) -> np.ndarray:
        state = target.state
        flagged = split_texts(state, list(target.texts))
        return token_grid(state, flagged) * judged(target.pair, target.texts)


class GradientShapPerText(TokenMethod):
    """Captum's GradientSHAP of each text's share ``w_n · g(e_n)``: gradients at random points between
    random baselines ([PAD] and [MASK] texts, plus small noise) and the input."""

    name = "GradientSHAP"
    description = "Captum GradientSHAP per text (random baselines [PAD]/[MASK], 16 samples; stochastic)."
    deterministic = False
    samples = 16

    def token_scores(self, target: PairTarget) -> np.ndarray:
        GradientShap = heavy_attribute("captum.attr", "GradientShap")
        pair, level = target.pair, target.state.level
        encoder = pair.recommender.encoder
        grid = np.zeros(tuple(pair.input_ids.shape))
        pad, mask_ids = pair.baseline_ids("pad"), pair.baseline_ids("mask")
        for n in target.texts:
            length = int(pair.attention_mask[n].sum())
            w = level.weights[n]
            x = embed(encoder, pair.input_ids[n, :length].unsqueeze(0))
            baselines = torch.cat([embed(encoder, pad[n, :length].unsqueeze(0)), embed(encoder, mask_ids[n, :length].unsqueeze(0))])

            def readout(e: torch.Tensor, w=w) -> torch.Tensor:
                m = torch.ones(e.shape[:2], dtype=torch.long)
                hidden = bert(encoder)(inputs_embeds=e, attention_mask=m).last_hidden_state
                return pool(hidden, m, encoder.config.pooling) @ w

            with torch.enable_grad():
                values = GradientShap(readout).attribute(x, baselines=baselines, n_samples=self.samples, stdevs=0.01)
            grid[n, :length] = values.sum(-1)[0].detach().double().numpy()
        return grid * pair.removable.numpy()


class FeatureAblationPerField(TokenMethod):
    """Captum's FeatureAblation over fields: each (text, field) replaced by [PAD] in turn, score drop
    spread evenly over the field's tokens (a perturbation method: no gradients at all)."""

    name = "field ablation"
    description = "Captum FeatureAblation: each field of each text replaced by [PAD], the score drop per token."

    def token_scores(self, target: PairTarget) -> np.ndarray:
        FeatureAblation = heavy_attribute("captum.attr", "FeatureAblation")
        pair = target.pair
        groups: dict[tuple[int, str], int] = {}
        feature = torch.zeros(tuple(pair.input_ids.shape), dtype=torch.long)
        removable = torch.from_numpy(judged(pair, target.texts))
        for n in target.texts:
            for t, name in enumerate(pair.fields[n]):
                if removable[n, t]:
                    feature[n, t] = 1 + groups.setdefault((n, field_key(pair, n, name)), len(groups))
        pad_id = pair.recommender.encoder.tokenizer.pad_token_id
        base = torch.where(removable, torch.full_like(pair.input_ids, pad_id), pair.input_ids)
        real = target.state.level.real

        def forward(ids: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(score_variants(pair, ids, real))

        # Feature 0 (special tokens, padding) is never ablated: its baseline equals the input.
        drops = FeatureAblation(forward).attribute(
            pair.input_ids.unsqueeze(0), baselines=base.unsqueeze(0), feature_mask=feature.unsqueeze(0),
            perturbations_per_eval=16,
        )[0].double().numpy()
        sizes = np.bincount(feature.reshape(-1).numpy(), minlength=len(groups) + 1)
        per_token = drops / np.maximum(sizes[feature.numpy()], 1)
        return per_token * removable.numpy()


class EncoderAttention(TokenMethod):
    """How much attention each token receives in the encoder (unsigned: attention says where the
    encoder looks, not which way the score moves)."""

    name = "attention"
    description = "Encoder attention each token receives, last layer, average of heads (unsigned)."
    use_rollout = False

    def token_scores(self, target: PairTarget) -> np.ndarray:
        attentions = [a for a in every_attention(target.state, target.texts) if a.text_index in target.texts]
        grid = attention_token_scores(attentions, tuple(target.pair.input_ids.shape), self.use_rollout)
        return grid * judged(target.pair, target.texts)


class AttentionRollout(EncoderAttention):
    name = "rollout"
    description = "Attention rollout: attention propagated through all layers with the residual path (unsigned)."
    use_rollout = True


TOKEN_METHODS: dict[str, TokenMethod] = {
    m.name: m for m in (TwoLevelIntegratedGradients(), GradientShapPerText(), FeatureAblationPerField(), EncoderAttention(), AttentionRollout())
}
