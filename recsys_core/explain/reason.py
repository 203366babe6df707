"""A plain-language reason built only from the numbers of an explanation (no language model)."""
from __future__ import annotations

from .types import FieldKey, HistoryContribution


def _quote(titles: list[str]) -> str:
    titles = [f"“{t}”" for t in titles]
    return titles[0] if len(titles) == 1 else ", ".join(titles[:-1]) + " and " + titles[-1]


def _name(key: FieldKey) -> str:
    return "text" if key.is_whole_text else key.name


def _positive(fields: dict[str, float], side: str) -> dict[FieldKey, float]:
    """The fields of one side ("item", "profile") that raised the score."""
    return {key: v for key, v in ((FieldKey(k), v) for k, v in fields.items()) if key.side == side and v > 0}


def _rated(h: HistoryContribution) -> str:
    return f" (rated {h.rating_label})" if h.rating_label else ""


def _held_back(history: list[HistoryContribution]) -> str:
    """The rated history item that holds the score back most, when its removal was re-scored and matters:
    with ratings, a disliked item is evidence *against* what it resembles, and the analyst should see it."""
    largest = max((abs(h.attribution) for h in history), default=0.0)
    against = [h for h in history if h.attribution < 0 and h.rating_label and h.score_without is not None
               and abs(h.attribution) >= 0.1 * largest]
    if not against:
        return ""
    h = min(against, key=lambda c: c.attribution)
    return (f" The user rated “{h.title}” {h.rating_label}; it holds the score back: without it the score would "
            f"rise by {-h.attribution:.2f}.")


def _removal(h: HistoryContribution, rank: int | None) -> str:
    """What removing the first named item does, when it was computed."""
    if h.score_without is None:
        return ""
    clause = f" (without “{h.title}” the score falls by {h.attribution:.2f}"
    if h.rank_without is not None and rank is not None and h.rank_without != rank:
        clause += f" and the item drops from rank {rank:,} to {h.rank_without:,}"
    elif h.rank_without is not None:
        clause += f"; its rank stays {h.rank_without:,}"
    return clause + ")"


def build_reason(
    item_title: str,
    history: list[HistoryContribution],
    fields: dict[str, float],
    words: list[tuple[str, float]],
    score: float,
    baseline_score: float,
    rank: int | None = None,
    cold: bool = False,
) -> str:
    """One or two sentences naming only contributions that are positive and material.

    A history item or field is named when its attribution is positive and at
    least 10% of the largest positive one; words come from the candidate's text.
    History items are judged by their full-path contribution (what removing the
    item does to the score: text, id, recency and attention together), and the
    first one named says what its removal costs.  With ratings, named history items carry their rating,
    and a material rated item that holds the score back is named too.  A ``cold`` item (no training
    interactions) is said to rest on its text.
    """
    opening = (
        f"“{item_title}” has no interactions in the training data (a cold item): the model scores it from "
        "its text, with no learned id embedding and no popularity bias. "
        if cold else ""
    )
    return opening + _reason(item_title, history, fields, words, score, baseline_score, rank, cold) + _held_back(history)


def _reason(item_title, history, fields, words, score, baseline_score, rank, cold) -> str:
    text_part = score - baseline_score
    remainder = "the history's item ids and order" if cold else "item ids, popularity and history order"
    parts = []
    pos_hist = [h for h in history if h.attribution > 0]
    if pos_hist:
        top = max(h.attribution for h in pos_hist)
        named = [h for h in pos_hist if h.attribution >= 0.1 * top][:3]
        titles = _quote([h.title for h in named]) if not any(h.rating_label for h in named) else ", ".join(
            f"“{h.title}”{_rated(h)}" for h in named)
        parts.append(f"Recommended mainly because of {titles} in the user's history" + _removal(named[0], rank))
    item_fields = _positive(fields, "item")
    profile_fields = _positive(fields, "profile")
    if item_fields:
        top = max(item_fields.values())
        names = [f for f, v in sorted(item_fields.items(), key=lambda kv: -kv[1]) if v >= 0.1 * top][:2]
        clause = f"the item's {' and '.join(_name(n) for n in names)}"
        if words:
            clause += " (words " + ", ".join(f"‘{w}’" for w, _ in words[:3]) + ")"
        parts.append(clause + " drove the score")
    if profile_fields:
        top = max(profile_fields.values())
        names = [f for f, v in sorted(profile_fields.items(), key=lambda kv: -kv[1]) if v >= 0.1 * top][:2]
        parts.append(f"the profile's {' and '.join(_name(n) for n in names)} added to it")
    if not parts:
        return (
            f"The texts did not raise the score of “{item_title}” above the blanked-text reference "
            f"(text contribution {text_part:+.2f}); its score comes from what remains with every text blanked "
            f"— {remainder} ({baseline_score:+.2f})."
        )
    sentence = parts[0] + ("; " + "; ".join(parts[1:]) if len(parts) > 1 else "") + "."
    if not pos_hist:
        sentence = sentence[0].upper() + sentence[1:]
    share = "most" if abs(text_part) >= abs(baseline_score) else "less"
    return (
        f"{sentence} Text accounts for {share} of the score ({text_part:+.2f} of {score:+.2f}); the rest "
        f"({baseline_score:+.2f}) is what remains with every text blanked: {remainder}."
    )
