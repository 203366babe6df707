"""Counterfactuals: contrastive attributions and rank what-ifs.

- ``contrast_pair`` attributes ``score(u, A) - score(u, B)`` to tokens: why A ranks above B.
- ``what_if`` removes history items or item fields, or replaces the item's text,
  re-encodes only what changed, and reports the new score and rank.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..errors import RecsysError
from ..recommender import Recommender, UserContext
from .core import resolve_context
from .integrated_gradients import joint_integrated_gradients
from .pair import build_pair, full_rank, item_title
from .rollup import field_totals, history_contributions, token_attributions
from .types import ExplainConfig, HistoryContribution, TokenAttribution, jsonable


@dataclass
class Contrast:
    """Attribution of score(A) − score(B) for one user (score units, signed towards A)."""

    user_id: str
    item_a: str
    item_b: str
    score_a: float
    score_b: float
    baseline_difference: float  # the same difference with every text at the baseline
    convergence_delta: float
    tokens_a: list[TokenAttribution]  # tokens of A's text (and the user side, shared)
    tokens_b: list[TokenAttribution]  # tokens of B's text
    fields: dict[str, float]  # "A item: genres", "B item: title", "history: title", ...
    history_items: list[HistoryContribution]

    def to_dict(self) -> dict:
        return jsonable(asdict(self))


def contrast_pair(
    recommender: Recommender,
    user_id: str | None,
    item_a: str,
    item_b: str,
    config: ExplainConfig = ExplainConfig(),
    ctx: UserContext | None = None,
) -> Contrast:
    """Integrated gradients of score(u, A) − score(u, B) over A's, B's and the user's texts.

    Both pairs share the user texts; B's pair contributes only its item text,
    so the user side is encoded once per step and attributed once.
    """
    ctx = resolve_context(recommender, user_id, ctx)
    a, b = recommender.item_position(item_a), recommender.item_position(item_b)
    if a == b:
        raise RecsysError("Pick two different items to compare.")
    pa = build_pair(recommender, ctx, a, config.max_history)
    pb = build_pair(recommender, ctx, b, config.max_history)
    # One joint input: A's texts followed by B's item text, padded to a common length.
    length = max(pa.input_ids.shape[1], pb.input_ids.shape[1])
    pad_id = recommender.encoder.tokenizer.pad_token_id

    def widen(t: torch.Tensor, fill: int) -> torch.Tensor:
        return torch.nn.functional.pad(t, (0, length - t.shape[1]), value=fill)

    ids = torch.cat([widen(pa.input_ids, pad_id), widen(pb.input_ids[:1], pad_id)])
    mask = torch.cat([widen(pa.attention_mask, 0), widen(pb.attention_mask[:1], 0)])
    n = pa.n_texts
    base_a = widen(pa.baseline_ids(config.baseline), pad_id)
    base_b = widen(pb.baseline_ids(config.baseline)[:1], pad_id)
    baseline = torch.cat([base_a, base_b])

    def difference(pooled: torch.Tensor) -> torch.Tensor:
        score_a = pa.score_from_vectors(pooled[:, :n])
        pooled_b = torch.cat([pooled[:, n : n + 1], pooled[:, 1:n]], dim=1)  # B's item text + shared user texts
        score_b = pb.score_from_vectors(pooled_b)
        return score_a - score_b

    result = joint_integrated_gradients(
        recommender.encoder, ids, baseline, mask, difference, min(config.n_steps, 20), config.ig_method
    )
    values = result.values
    with torch.inference_mode():
        sa = float(pa.score_from_ids(pa.input_ids.unsqueeze(0))[0])
        sb = float(pb.score_from_ids(pb.input_ids.unsqueeze(0))[0])
    va = values[:n, : pa.input_ids.shape[1]]
    vb = np.zeros(pb.input_ids.shape)
    vb[0] = values[n, : pb.input_ids.shape[1]]
    fields = {}
    for key, value in field_totals(pa, va).items():
        fields[("A " + key) if key.startswith("item: ") else key] = value
    for key, value in field_totals(pb, vb).items():
        if key.startswith("item: "):
            fields["B " + key] = value
        elif key == "(separators)":
            fields[key] = fields.get(key, 0.0) + value
    weights = pa.recommender.history_attention(ctx, a)  # A's attention, for reference next to the attributions
    return Contrast(
        user_id=ctx.user_id or "(new user)",
        item_a=item_a,
        item_b=item_b,
        score_a=sa,
        score_b=sb,
        baseline_difference=result.baseline_score,
        convergence_delta=result.convergence_delta,
        tokens_a=token_attributions(pa, va),
        tokens_b=[t for t in token_attributions(pb, vb) if t.text_index == 0],
        fields=dict(sorted(fields.items(), key=lambda kv: -abs(kv[1]))),
        history_items=history_contributions(pa, va, weights),
    )


@dataclass
class WhatIf:
    """Score and rank of an item before and after a change (rank among unseen items, 1 = top)."""

    item_id: str
    change: str
    score_before: float
    score_after: float
    rank_before: int
    rank_after: int

    def to_dict(self) -> dict:
        return jsonable(asdict(self))


def what_if(
    recommender: Recommender,
    user_id: str | None,
    item_id: str,
    *,
    remove_history: list[str] | tuple[str, ...] = (),
    remove_fields: list[str] | tuple[str, ...] = (),
    item_text: str | None = None,
    ctx: UserContext | None = None,
) -> WhatIf:
    """Re-score after removing history items, dropping fields of the item's text, or replacing that text.

    Only the candidate's new text is encoded; every other item keeps its
    stored vector, so the rank is against the same catalogue.
    """
    ctx = resolve_context(recommender, user_id, ctx)
    item = recommender.item_position(item_id)
    scores = recommender.score_items(ctx)
    before_score, before_rank = float(scores[item]), full_rank(recommender, ctx, item, scores)
    changes = []
    new_ctx = ctx
    if remove_history:
        drop = recommender.catalog.indices(remove_history)
        new_ctx = UserContext(ctx.user_id, ctx.history[~np.isin(ctx.history, drop)], ctx.profile_vector, ctx.profile_text)
        changes.append("without " + ", ".join(f"“{item_title(recommender, i)}”" for i in drop))
    text = None
    if item_text is not None:
        text = item_text
        changes.append("with the edited item text")
    elif remove_fields:
        text = recommender.catalog.item_texts[item].without(remove_fields).text
        changes.append("without the item's " + ", ".join(remove_fields))
    if not changes:
        raise RecsysError("Nothing to change: remove a history item or a field, or edit the item text.")
    new_scores = recommender.score_items(new_ctx)
    if text is not None:
        vector = recommender.encoder.encode([text])
        with torch.inference_mode():
            idx = torch.tensor([item])
            new_scores[item] = float(recommender.model.score(recommender.user_input(new_ctx), torch.from_numpy(vector), idx)[0, 0])
    return WhatIf(
        item_id=item_id,
        change="; ".join(changes),
        score_before=before_score,
        score_after=float(new_scores[item]),
        rank_before=before_rank,
        rank_after=full_rank(recommender, new_ctx, item, new_scores),
    )
