"""A plain-language reason built only from the numbers the Explain page shows (no language model).

Two steps, so that the wording and the numbers cannot drift apart:

1. ``claims`` picks the contributions worth naming as typed ``Claim``s, each holding the very object
   the page draws (a ``HistoryContribution`` of the history chart, a ``TextContribution`` of the
   text-share chart);
2. ``build_reason`` renders the sentences; every number in them is written from a claim, or from the
   score, the blanked-text reference and the rank of ``ReasonInputs``, in the page's own format.

The rule (docs/explanations.md, "The plain-language reason"):

- **Material.**  A contribution is named only when |value| ≥ ``MATERIAL`` (5%) of the pair's *scale*,
  max(|score|, |score − blanked-text reference|).  |score| is the number beside the reason; the second
  term keeps the rule from naming crumbs when the score (a logit, whose zero is arbitrary) sits near 0
  while the texts move it a lot.
- **Sign.**  Positive contributions raise the score ("mainly because of", "what speaks for it");
  negative ones "hold it back".  A negative score, or texts that pull it down, are said so.
- **Rank.**  Inside the top K (``ExplainConfig.top_k``): "Recommended (rank r of the top K) mainly
  because of …" only when a material positive contribution exists; outside it: "Ranks r, outside the
  top K; what holds it back: …", then what still speaks for it.
- **Path.**  A history item is judged by its full-path contribution (what removing it does, see
  ``history.py``); the sentence says whether that goes mostly through its text (its text share has the
  same sign and at least ``TEXT_CARRIES`` of the size) or through its id, recency and the model's attention.
- **Numbers** are written as the page writes them: scores and shares signed with three decimals
  (``number``), ranks with thousands separators (``rank_text``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .types import FieldKey, HistoryContribution, TextContribution

MATERIAL = 0.05  # named only at ≥ 5% of max(|score|, |score − reference|)
MOST_NAMED = 3  # contributions named per side (raising / holding back), largest |value| first
TEXT_CARRIES = 0.5  # "mostly through its text": the text share is at least half the removal effect, same sign
PROFILE = "profile"  # the profile text's label (pair.PairInputs.labels)

ClaimKind = Literal["history item", "item text", "profile text"]


def number(value: float) -> str:
    """A score or share as the Explain page writes it (score metric, chart hovers): signed, three decimals."""
    return f"{value:+.3f}"


def rank_text(rank: int) -> str:
    """A rank as the page writes it (the rank metric, "without it: rank …")."""
    return f"{rank:,}"


@dataclass(frozen=True)
class ReasonInputs:
    """The numbers a reason may use: those the Explain page shows for the pair."""

    title: str  # the candidate item's title
    score: float
    baseline_score: float  # the blanked-text reference: the score with every text blanked
    rank: int | None  # among the items the user has not seen (1 = top); None when unknown
    top_k: int = 10  # length of the list the pair is judged against (ExplainConfig.top_k)
    texts: tuple[TextContribution, ...] = ()  # each text's exact share: the item (index 0), the profile, history
    history: tuple[HistoryContribution, ...] = ()  # full-path contributions (history.full_path_items)
    fields: dict[str, float] = field(default_factory=dict)  # "item: genres" … → summed token attribution
    words: tuple[tuple[str, float], ...] = ()  # the item text's words that raised the score most
    cold: bool = False  # the item has no training interactions

    @property
    def scale(self) -> float:
        """What "material" is measured against: max(|score|, |score − blanked-text reference|)."""
        return max(abs(self.score), abs(self.score - self.baseline_score))

    def material(self, value: float) -> bool:
        return value != 0.0 and abs(value) >= MATERIAL * self.scale

    @property
    def in_top(self) -> bool | None:
        return None if self.rank is None else self.rank <= self.top_k


@dataclass(frozen=True)
class Claim:
    """One material contribution the reason names, with the object the page draws it from."""

    kind: ClaimKind
    value: float  # score units, signed: a history item's full-path contribution, or a text's exact share
    source: HistoryContribution | TextContribution

    @property
    def raises(self) -> bool:
        return self.value > 0


def claims(inputs: ReasonInputs) -> tuple[list[Claim], list[Claim]]:
    """(raising, holding back): the material contributions of each sign, largest |value| first."""
    found = [Claim("history item", h.attribution, h) for h in inputs.history]
    for t in inputs.texts:
        if t.text_index == 0:
            found.append(Claim("item text", t.attribution, t))
        elif t.label == PROFILE:
            found.append(Claim("profile text", t.attribution, t))
    material = [c for c in found if inputs.material(c.value)]
    raising = sorted((c for c in material if c.value > 0), key=lambda c: -c.value)[:MOST_NAMED]
    holding = sorted((c for c in material if c.value < 0), key=lambda c: c.value)[:MOST_NAMED]
    return raising, holding


def build_reason(inputs: ReasonInputs) -> str:
    """A few sentences: where the item ranks, what raises and what holds back its score, and the texts'
    part of it (the rule is in the module docstring)."""
    raising, holding = claims(inputs)
    opening = (
        f"“{inputs.title}” has no interactions in the training data (a cold item): the model scores it from "
        "its text, with no learned id embedding and no popularity bias. "
        if inputs.cold else ""
    )
    return opening + _verdict(inputs, raising, holding) + " " + _texts_part(inputs)


def _verdict(inputs: ReasonInputs, raising: list[Claim], holding: list[Claim]) -> str:
    for_it, against = _listing(inputs, raising), _listing(inputs, holding)
    if inputs.rank is None:
        parts = ([f"What raises its score: {for_it}."] if raising else []) + (
            [f"What holds it back: {against}."] if holding else [])
        return " ".join(parts) or "Nothing in its texts or history moves its score materially."
    rank, k = rank_text(inputs.rank), rank_text(inputs.top_k)
    if inputs.in_top:
        out = (f"Recommended (rank {rank} of the top {k}) mainly because of: {for_it}." if raising else
               f"Ranks {rank}, in the top {k}, though nothing in its texts or history raises its score materially.")
        return out + (f" What holds it back: {against}." if holding else "")
    out = (f"Ranks {rank}, outside the top {k}; what holds it back: {against}." if holding else
           f"Ranks {rank}, outside the top {k}: nothing in its texts or history holds it back materially; "
           "the items above it score higher.")
    return out + (f" What still speaks for it: {for_it}." if raising else "")


def _listing(inputs: ReasonInputs, chosen: list[Claim]) -> str:
    first_history = next((c for c in chosen if c.kind == "history item"), None)
    return "; ".join(
        _history_phrase(inputs, c.source, c is first_history) if c.kind == "history item" else _text_phrase(inputs, c)
        for c in chosen
    )


def _history_phrase(inputs: ReasonInputs, h: HistoryContribution, first: bool) -> str:
    rated = f", rated {h.rating_label}" if h.rating_label else ""
    return (f"“{h.title}” in the user's history{rated} ({number(h.attribution)}{_path(inputs, h)}"
            f"{_rank_change(inputs, h) if first else ''})")


def _path(inputs: ReasonInputs, h: HistoryContribution) -> str:
    """Which path carries a history item's removal effect: its text, or its id, recency and attention."""
    if h.score_without is None:  # no removal computed: the number is its text's share alone
        return ", its text's share"
    text, total = h.text_attribution, h.attribution
    same_sign = text * total > 0
    if same_sign and abs(text) >= TEXT_CARRIES * abs(total):
        return f", mostly through its text: text share {number(text)}"
    if same_sign and inputs.material(text):
        return f", mostly through its id, recency and the model's attention; text share {number(text)}"
    return f", through its id, recency and the model's attention, not its text: text share {number(text)}"


def _rank_change(inputs: ReasonInputs, h: HistoryContribution) -> str:
    """What removing the item does to the rank (as the history chart's "without it: rank …")."""
    if h.rank_without is None or inputs.rank is None:
        return ""
    before, after = rank_text(inputs.rank), rank_text(h.rank_without)
    if h.rank_without > inputs.rank:
        return f"; without it the item would drop from rank {before} to {after}"
    if h.rank_without < inputs.rank:
        return f"; without it the item would rise from rank {before} to {after}"
    # Unchanged is no news for an item holding back the top item: nothing can lift it above rank 1.
    return f"; without it the rank stays {before}" if h.attribution > 0 or inputs.rank > 1 else ""


def _text_phrase(inputs: ReasonInputs, c: Claim) -> str:
    side = "item" if c.kind == "item text" else "profile"
    what = "the item's own text" if side == "item" else "the user's profile text"
    extras = []
    lead = _leading_field(inputs, side, c.value)
    if lead:
        extras.append(f"led by its {lead}")
    if side == "item" and c.raises and inputs.words:
        extras.append("words " + ", ".join(f"‘{w}’" for w, _ in inputs.words[:3]))
    return f"{what} ({number(c.value)}" + "".join(f"{', ' if i == 0 else '; '}{e}" for i, e in enumerate(extras)) + ")"


def _leading_field(inputs: ReasonInputs, side: str, value: float) -> str:
    """The field of ``side`` whose tokens moved the score most in the text's direction, when material
    (none before the text is split into tokens: its whole share is then one bucket)."""
    keys = [FieldKey(k) for k in inputs.fields]
    same = [(k, inputs.fields[k]) for k in keys
            if k.side == side and not k.is_whole_text and inputs.fields[k] * value > 0 and inputs.material(inputs.fields[k])]
    return max(same, key=lambda kv: abs(kv[1]))[0].name if same else ""


def _texts_part(inputs: ReasonInputs) -> str:
    """The texts' part of the score, from the two numbers beside the reason (score, blanked-text reference)."""
    remainder = "the history's item ids and order" if inputs.cold else "item ids, popularity and history order"
    score, reference = number(inputs.score), number(inputs.baseline_score)
    change = inputs.score - inputs.baseline_score
    lead = (f"Its score is negative ({score}); with every text blanked it would be {reference}" if inputs.score < 0
            else f"With every text blanked the score would be {reference} instead of {score}")
    if not inputs.material(change):
        return f"{lead}: the texts change it little, and the score rests on {remainder}."
    if change > 0:
        return f"{lead}: the texts raise it, and the rest comes from {remainder}."
    return f"{lead}: the texts pull it down, and the score rests on {remainder}."
