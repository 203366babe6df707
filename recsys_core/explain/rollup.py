"""Summing token attributions into words, fields and history items.

Every roll-up is a plain sum over a partition of the tokens, so each one adds
up exactly to the total token attribution (tests check this completeness).
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from ..ratings import RatingScale
from .pair import PairInputs, item_title
from .types import SEPARATORS, WHOLE_TEXT, FieldKey, HistoryContribution, TokenAttribution


def token_attributions(pair: PairInputs, values: np.ndarray, texts: list[int] | None = None) -> list[TokenAttribution]:
    """One record per real token of the given texts (default all; special tokens included, flagged)."""
    catalog = pair.recommender.catalog
    out = []
    for n in range(pair.n_texts) if texts is None else texts:
        slot = pair.history_slot(n)
        hist_id = catalog.item_ids[pair.history_items[slot]] if slot is not None else None
        for t, token in enumerate(pair.tokens[n]):
            out.append(
                TokenAttribution(
                    text=token,
                    attribution=float(values[n, t]),
                    side=pair.side(n),
                    field=pair.fields[n][t],
                    history_item_id=hist_id,
                    text_index=n,
                    position=t,
                    special=not bool(pair.removable[n, t]),
                )
            )
    return out


def field_key(pair: PairInputs, n: int, field: str | None) -> FieldKey:
    """Roll-up bucket of a token: "item: title", "profile: age", "history: genres" or separators."""
    if field is None:
        return SEPARATORS
    if n == 0:
        return FieldKey.of("item", field)
    if pair.history_slot(n) is None:
        return FieldKey.of("profile", field)
    return FieldKey.of("history", field)


def field_totals(pair: PairInputs, values: np.ndarray, unsplit: dict[int, float] | None = None) -> dict[FieldKey, float]:
    """Summed attribution per field bucket; a text in ``unsplit`` (text index → its share) adds its
    whole share to "<side>: (whole text)" instead of its tokens."""
    totals: dict[FieldKey, float] = defaultdict(float)
    unsplit = unsplit or {}
    for n in range(pair.n_texts):
        if n in unsplit:
            totals[field_key(pair, n, WHOLE_TEXT)] += unsplit[n]
            continue
        for t in range(len(pair.tokens[n])):
            totals[field_key(pair, n, pair.fields[n][t])] += float(values[n, t])
    return dict(sorted(totals.items(), key=lambda kv: -abs(kv[1])))


def history_contributions(
    pair: PairInputs, values: np.ndarray, attention: np.ndarray, unsplit: dict[int, float] | None = None
) -> list[HistoryContribution]:
    """Per history item: its text's summed attribution and the model's attention on it, most important first.

    ``attention`` is the model's weight per history slot (newest first); a text in
    ``unsplit`` (text index → share) counts with its text-level share.
    """
    unsplit = unsplit or {}
    catalog = pair.recommender.catalog
    first = 1 + int(pair.has_profile)
    scale = pair.recommender.model.config.rating_scale
    ratings = pair.ctx.ratings if scale is not None else None  # named only when the model reads them
    out = []
    for slot, item in enumerate(pair.history_items):
        rating = float(ratings[len(ratings) - 1 - slot]) if ratings is not None else None
        out.append(
            HistoryContribution(
                item_id=catalog.item_ids[item],
                title=item_title(pair.recommender, item),
                attribution=unsplit.get(first + slot, float(values[first + slot].sum())),
                attention_weight=float(attention[slot]) if slot < len(attention) else 0.0,
                position=slot,
                rating=rating,
                rating_label=RatingScale(*scale).stars(rating) if rating is not None and np.isfinite(rating) else "",
            )
        )
    return sorted(out, key=lambda h: -abs(h.attribution))


def merge_words(tokens: list[str], values: list[float]) -> tuple[list[str], list[float]]:
    """Join WordPieces ("##") into words, summing their attributions."""
    words: list[str] = []
    sums: list[float] = []
    for token, value in zip(tokens, values):
        if token.startswith("##") and words:
            words[-1] += token[2:]
            sums[-1] += value
        else:
            words.append(token)
            sums.append(value)
    return words, sums


def top_words(pair: PairInputs, values: np.ndarray, texts: tuple[int, ...] = (0,), k: int = 5) -> list[tuple[str, float]]:
    """The k words with the largest positive attribution in the given texts."""
    pooled: list[tuple[str, float]] = []
    for n in texts:
        mask = pair.removable[n, : len(pair.tokens[n])].numpy()
        fields = pair.fields[n]
        tokens = [tok for tok, keep, f in zip(pair.tokens[n], mask, fields) if keep and f is not None]
        vals = [float(v) for v, keep, f in zip(values[n], mask, fields) if keep and f is not None]
        words, sums = merge_words(tokens, vals)
        pooled.extend((w, s) for w, s in zip(words, sums) if w.isalnum() and len(w) > 2)
    best: dict[str, float] = {}
    for word, score in pooled:
        best[word] = best.get(word, 0.0) + score
    return sorted(((w, s) for w, s in best.items() if s > 0), key=lambda ws: -ws[1])[:k]
