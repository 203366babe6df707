"""Figures and HTML for explanations (pure functions of recsys_core.explain results; no Streamlit).

Signed attributions use one diverging convention everywhere: red raised the
score, blue lowered it; colour strength is |attribution| relative to the
largest one shown.
"""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from recsys_core.explain import (
    Contrast,
    Counterfactual,
    DeletionCurve,
    ExplainConfig,
    Explanation,
    HistoryContribution,
    HistoryFidelity,
    TextAttention,
    TextContribution,
    TokenAttribution,
)
from recsys_core.explain.rollup import merge_words  # the one WordPiece join (HTML export, global words): not exported yet

from .plots import FONT_SIZE, PALETTE, TOP_MARGIN, fit_margins, label_axis, label_width, shorten, style
from .safe_text import plotly_text

POSITIVE, NEGATIVE = "214, 39, 40", "31, 119, 180"
SPECIAL = {"[CLS]", "[SEP]", "[PAD]"}


def _colour(value: float, scale: float) -> str:
    alpha = min(1.0, abs(value) / scale) * 0.8 if scale > 0 else 0.0
    return f"rgba({POSITIVE if value >= 0 else NEGATIVE}, {alpha:.3f})"


def token_html(tokens: list[TokenAttribution], scale: float, merge: bool = True, hide_special: bool = True) -> str:
    """Tokens (or merged words) as inline spans coloured by signed attribution, value on hover."""
    keep = [t for t in tokens if not (hide_special and t.text in SPECIAL)]
    texts, values = [t.text for t in keep], [t.attribution for t in keep]
    if merge:
        texts, values = merge_words(texts, values)
    spans = [
        f'<span style="background:{_colour(v, scale)};padding:2px 4px;border-radius:4px;line-height:2.1" '
        f'title="{v:+.4f}">{html.escape(w)}</span>'
        for w, v in zip(texts, values)
    ]
    return f'<div style="font-size:17px">{" ".join(spans)}</div>'


def text_share_bar(texts: list[TextContribution], n: int = 12) -> go.Figure:
    """Each text's exact share of the score (text-level IG), largest |share| first; split texts marked."""
    top = sorted(texts, key=lambda t: -abs(t.attribution))[:n][::-1]
    colours = [f"rgb({POSITIVE})" if t.attribution >= 0 else f"rgb({NEGATIVE})" for t in top]
    fig = go.Figure(go.Bar(x=[t.attribution for t in top], y=list(range(len(top))), orientation="h",
                           marker_color=colours, hovertemplate="%{customdata}<br>share %{x:+.3f}<extra></extra>"))
    style(fig, "Each text's share of the score (✓ = split into tokens)", "attribution (score units)", "",
          height=max(320, 30 * len(top) + 110))
    ticks = label_axis(fig, [("✓ " if t.split else "") + t.label for t in top])
    return fit_margins(fig, ticks)


def legend_html() -> str:
    return (
        f'<span style="background:rgba({POSITIVE},0.7);padding:2px 6px;border-radius:4px">raised the score</span> '
        f'<span style="background:rgba({NEGATIVE},0.7);padding:2px 6px;border-radius:4px">lowered the score</span>'
    )


def texts_of(exp: Explanation) -> dict[int, list[TokenAttribution]]:
    out: dict[int, list[TokenAttribution]] = {}
    for t in exp.tokens:
        out.setdefault(t.text_index, []).append(t)
    return out


def _text_names(exp: Explanation) -> dict[int, str]:
    """Short names of the pair's texts for chart labels: "item", "profile", "history 1" (newest)…"""
    names, k = {}, 0
    for t in exp.texts:
        if t.text_index == 0:
            names[0] = "item"
        elif t.label == "profile":
            names[t.text_index] = "profile"
        else:
            k += 1
            names[t.text_index] = f"history {k}"
    return names


def word_occurrences(tokens: list[TokenAttribution], merge: bool = True) -> list[tuple[str, int, float]]:
    """(word, position of its first token, attribution) per occurrence, WordPieces joined if ``merge``.

    Positions keep repeated words apart: "the" at 3 and "the" at 17 are two words, not one.
    """
    out: list[tuple[str, int, float]] = []
    for t in tokens:
        if merge and t.text.startswith("##") and out:
            word, position, value = out[-1]
            out[-1] = (word + t.text[2:], position, value + t.attribution)
        else:
            out.append((t.text, t.position, t.attribution))
    return out


def top_tokens_bar(exp: Explanation, n: int = 15, merge: bool = True) -> go.Figure:
    """The words with the largest |attribution| across all texts, signed; one bar per occurrence,
    labelled with its text and token position ("the (item 3)"), so repeated words never stack."""
    names = _text_names(exp)
    rows = []
    for index, toks in texts_of(exp).items():
        keep = [t for t in toks if not t.special and t.field is not None]
        where = names.get(index, f"text {index}")
        rows += [{"word": plotly_text(f"{w} ({where}, {p})"), "attribution": v} for w, p, v in word_occurrences(keep, merge)]
    frame = pd.DataFrame(rows, columns=["word", "attribution"])
    frame = frame.reindex(frame["attribution"].abs().sort_values(ascending=False, kind="stable").index).head(n).iloc[::-1]
    colours = [f"rgb({POSITIVE})" if v >= 0 else f"rgb({NEGATIVE})" for v in frame["attribution"]]
    fig = go.Figure(go.Bar(x=frame["attribution"], y=frame["word"], orientation="h", marker_color=colours))
    fig = style(fig, "Top words by integrated gradients (text, position)", "attribution (score units)", "",
                height=max(380, 28 * len(frame) + 100))
    return fit_margins(fig, list(frame["word"]))


def attention_heatmap(att: TextAttention, layer: int | None, head: int | None, hide_special: bool = False) -> go.Figure:
    """Query × key attention of one text: a layer's head (or head average), or the rollout (layer=None).

    ``hide_special`` drops the [CLS]/[SEP] rows and columns (weights are shown as computed, not renormalised).
    """
    keep = [i for i, t in enumerate(att.tokens) if not (hide_special and t in SPECIAL)]
    labels = [plotly_text(f"{i}:{att.tokens[i]}") for i in keep]  # positions keep repeated tokens apart
    if layer is None:
        matrix, what = att.rollout, "attention rollout (all layers)"
    else:
        per_head = att.layers[layer]
        if head is None or att.heads_averaged:
            matrix, what = per_head.mean(axis=0), f"layer {layer + 1}, heads averaged"
        else:
            matrix, what = per_head[head], f"layer {layer + 1}, head {head + 1}"
    matrix = matrix[np.ix_(keep, keep)]
    # Numeric axes with one tick per token: on a category axis plotly drops every other label
    # once they crowd, which hid half the tokens of an item text.
    at = list(range(len(keep)))
    fig = go.Figure(
        go.Heatmap(
            z=matrix, x=at, y=at, colorscale="Viridis", colorbar={"title": "weight"},
            customdata=[[[labels[r], labels[c]] for c in at] for r in at],
            hovertemplate="%{customdata[0]} → %{customdata[1]}<br>%{z:.3f}<extra></extra>",
        )
    )
    size = 11 if len(keep) > 40 else 12
    per_token = size + 3
    side = max(420, per_token * len(keep))
    # The column labels stand rotated under the plot: the figure grows by the room fit_margins gives them.
    style(fig, f"Where the encoder looks ({plotly_text(shorten(att.label, 40))}) — {what}", "attended token (key)", "token (query)",
          height=side + label_width(labels, size) + 260)
    fig.update_layout(margin_t=TOP_MARGIN)  # left and bottom are fit_margins' below
    ticks = {"tickmode": "array", "tickvals": at, "ticktext": labels, "tickfont_size": size, "showgrid": False}
    fig.update_yaxes(autorange="reversed", **ticks)
    fig.update_xaxes(tickangle=-90, **ticks)
    return fit_margins(fig, labels, labels, size)


def field_bar(fields: dict[str, float], title: str = "Attribution per field") -> go.Figure:
    frame = pd.DataFrame({"field": [plotly_text(f) for f in fields], "attribution": list(fields.values())})
    frame = frame.reindex(frame["attribution"].abs().sort_values().index)
    colours = [f"rgb({POSITIVE})" if v >= 0 else f"rgb({NEGATIVE})" for v in frame["attribution"]]
    fig = go.Figure(go.Bar(x=frame["attribution"], y=frame["field"], orientation="h", marker_color=colours))
    style(fig, title, "attribution (score units)", "", height=max(320, 34 * len(frame) + 110))
    return fit_margins(fig, list(frame["field"]))


def history_items_shown(items: list[HistoryContribution], n: int = 10) -> list[HistoryContribution]:
    """The ``n`` largest |contributions|, plus the item the model attended to most when it is not among them."""
    top = list(items[:n])
    if items:
        attended = max(items, key=lambda h: h.attention_weight)
        if attended not in top:
            top.append(attended)
    return top


def history_bar(items: list[HistoryContribution], n: int = 10) -> go.Figure:
    """Each history item's full-path contribution (= what removing it costs), split into its text part and
    the other paths (id, recency, attention), the rank without it, and the model's attention beside it.

    Two panels side by side sharing the item axis (no axis on top, so the title has the top to itself).
    Parts are coloured by path, not sign: a stacked bar's direction from zero already gives the sign.
    """
    top = history_items_shown(items, n)[::-1]

    # The position keeps two items of one title apart; the second line is ours, not uploaded text.
    names = [f"{h.title} (#{h.position + 1})" for h in top]
    second = [f"<br>without it: rank {h.rank_without:,}" if h.rank_without is not None else "" for h in top]
    at = list(range(len(top)))
    fig = go.Figure()
    fig.add_trace(go.Bar(x=[h.text_attribution for h in top], y=at, orientation="h", name="text (IG share)",
                         marker_color=PALETTE[2], hovertemplate="%{customdata}<br>text %{x:+.3f}<extra></extra>"))
    fig.add_trace(go.Bar(x=[h.other_attribution for h in top], y=at, orientation="h",
                         name="id, recency, attention", marker_color="#A0A0A0",
                         hovertemplate="%{customdata}<br>other paths %{x:+.3f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[h.attribution for h in top], y=at, mode="markers", name="total = score − score without it",
                             marker={"symbol": "line-ns", "size": 20, "line": {"width": 4, "color": PALETTE[3]}},  # seen on dark too
                             hovertemplate="%{customdata}<br>total %{x:+.3f}<extra></extra>"))
    fig.add_trace(go.Bar(x=[h.attention_weight for h in top], y=at, orientation="h", name="model attention",
                         marker_color=PALETTE[1], xaxis="x2", hovertemplate="%{customdata}<br>attention %{x:.2f}<extra></extra>"))
    height = max(380, 46 * len(top) + 230)
    style(fig, "History items: what removing each one costs", "score units (text + other paths)", "", height=height)
    # The legend goes under the axis title: its offset is in plot heights, the room it needs in pixels.
    below, legend_room = 2 * FONT_SIZE + 30, 100
    fig.update_layout(
        barmode="relative",
        xaxis={"domain": [0, 0.72], "zeroline": True, "zerolinecolor": "#666"},
        xaxis2={"domain": [0.78, 1], "anchor": "y", "range": [0, 1], "tickformat": ".0%", "showgrid": False,
                "title": {"text": "attention", "font": {"size": FONT_SIZE}}},
        legend={"orientation": "h", "y": -below / (height - TOP_MARGIN - below - legend_room), "yanchor": "top",
                "x": 0, "font": {"size": FONT_SIZE - 2}},
        margin={"t": TOP_MARGIN, "b": below + legend_room},
    )
    fig.update_yaxes(tickfont_size=FONT_SIZE - 3)
    labels = label_axis(fig, names, suffixes=second)
    return fit_margins(fig, labels, size=FONT_SIZE - 3)


RANDOM = "random"  # the method name of deletion_curves' random-order baseline
MEAN_DROP = "mean score drop ↑"
RANDOM_DROP = "random order's drop"
COMPREHENSIVENESS = "comprehensiveness ↑"
SUFFICIENCY = "sufficiency ↓"
FAITHFULNESS_NUMBERS = (MEAN_DROP, RANDOM_DROP, COMPREHENSIVENESS, SUFFICIENCY)
# What the numbers are, in words.  The area is the score *lost*, not the area under the score curve: the
# literature's "deletion AUC" is the latter, where lower is better, so the word "area" alone misleads.
FAITHFULNESS_CAPTION = (
    "**Mean score drop**: how much of the score is lost, on average over the removal steps above, as the "
    "tokens a method ranks highest are removed first. Higher = the method found what the score rests on. "
    "(It is the score lost, not the area under the curve that papers call deletion AUC, where lower is better.) "
    "**Random order's drop** is the same for tokens removed in a random order: a method is only informative "
    "when its drop is clearly above it. **Comprehensiveness**: score lost when the top 20% are removed "
    "(higher is better). **Sufficiency**: score lost when only the top 20% are kept (lower is better)."
)


def deletion_figure(curves: list[DeletionCurve]) -> go.Figure:
    """Score after removing each share of tokens, one line per method; the random order dotted, as the baseline."""
    def name(c: DeletionCurve) -> str:
        what = "random order (baseline)" if c.method == RANDOM else c.method
        return f"{what}: mean drop {c.area:+.3f}"

    rows = [{"method": name(c), "removed": f, "score": s} for c in curves for f, s in zip(c.fractions, c.scores)]
    fig = px.line(pd.DataFrame(rows), x="removed", y="score", color="method", markers=True)
    for curve, trace in zip(curves, fig.data):
        if curve.method == RANDOM:
            trace.line.dash, trace.line.color = "dot", "#888888"
    fig.update_xaxes(tickformat=".0%")
    return style(fig, "Deletion curves: score as top-ranked tokens are removed", "share of tokens removed (top first)",
                 "model score")


def contrast_bar(parts: list[tuple[str, float]], title: str) -> go.Figure:
    """Signed parts of a score difference (red: favours A, blue: favours B), largest |value| on top."""
    ordered = sorted(parts, key=lambda kv: abs(kv[1]))
    colours = [f"rgb({POSITIVE})" if v >= 0 else f"rgb({NEGATIVE})" for _, v in ordered]
    fig = go.Figure(go.Bar(x=[v for _, v in ordered], y=[plotly_text(k) for k, _ in ordered], orientation="h",
                           marker_color=colours, text=[f"{v:+.3f}" for _, v in ordered], textposition="outside",
                           cliponaxis=False))
    fig = style(fig, title, "share of score(A) − score(B)", "", height=max(320, 34 * len(ordered) + 120))
    # Room beyond the longest bars for their labels: drawn outside, a negative one ran into the axis's names.
    values = [v for _, v in ordered] or [0.0]
    low, high = min(0.0, *values), max(0.0, *values)
    room = 0.15 * ((high - low) or 1.0)
    fig.update_xaxes(range=[low - room if low < 0 or high == 0 else 0.0, high + room if high > 0 or low == 0 else 0.0])
    return fit_margins(fig, [plotly_text(k) for k, _ in ordered])


def contrast_words_caption(c: Contrast) -> str:
    """What the word level of a comparison measures: which parts are words and which whole texts, and how well
    they add up (their sum is the difference up to the convergence delta)."""
    tolerance = ExplainConfig().delta_tolerance
    flag = "" if c.delta_share <= tolerance else f" — above the {tolerance:.0%} flag: read small parts with care"
    return (f"Word level for the two item texts only: each bar \"A item: …\" / \"B item: …\" is the words of one field "
            f"of A's or B's text. The user's profile and history texts, which both scores share, are not split into "
            f"words: \"profile: (whole text)\" and \"history: (whole text)\" are their exact text-level shares. "
            f"\"{c.BLANKED}\" is the difference that is left with every text blanked ({c.baseline_difference:+.3f}). "
            f"The parts add up to the difference of {c.difference:+.3f} up to a convergence delta of "
            f"{c.convergence_delta:+.4f} ({c.delta_share:.1%} of what the texts carry{flag}).")


def counterfactual_table(change: Counterfactual) -> pd.DataFrame:
    """The history items of a counterfactual, as the analyst reads them."""
    rows = {"removed from the history": [r.title for r in change.removed], "item id": [r.item_id for r in change.removed]}
    if any(r.rating_label for r in change.removed):
        rows["rating"] = [r.rating_label or "" for r in change.removed]
    return pd.DataFrame(rows)


def faithfulness_scope(exp: Explanation) -> str:
    """Which texts' tokens the curves rank and remove (the others keep their served vectors)."""
    covered = exp.faithfulness[0].texts if exp.faithfulness else []
    names = _text_names(exp)
    if not covered or len(covered) == len(names):
        return "Over the tokens of every text of the pair."
    shown = [names.get(n, f"text {n}") for n in covered]
    listed = ", ".join(shown[:6]) + (f" and {len(shown) - 6} more" if len(shown) > 6 else "")
    return (f"Over the tokens of the {len(covered)} texts shown split into tokens ({listed}); the other "
            f"{len(names) - len(covered)} texts keep their served vectors. Split the other history texts to "
            "judge every token.")


# The LXR figures of the history orderings at the page's list length, in words (explain/fidelity.py).
STILL_IN_TOP = "still in the list, top-ranked removed ↓"
STILL_IN_BOTTOM = "still in the list, lowest-ranked removed ↑"
SCORE_TOP_REMOVED = "score change, top-ranked removed ↓"
SCORE_TOP_KEPT = "score change, only top-ranked kept ↑"
HISTORY_FIDELITY_SHARES = (STILL_IN_TOP, STILL_IN_BOTTOM)
HISTORY_FIDELITY_SCORES = (SCORE_TOP_REMOVED, SCORE_TOP_KEPT)


def history_fidelity_caption(k: int) -> str:
    return (
        "Each ordering of this pair's history items is judged by removing 10 %, 20 %, … 100 % of the items the "
        "model reads, in that order, and re-scoring the whole catalogue each time. **Still in the list, "
        f"top-ranked removed**: share of those 10 steps at which the item is still in the top {k} when the items "
        "the ordering ranks highest go first (lower = it found what keeps the item there; POS@"
        f"{k} in the literature). **Lowest-ranked removed**: the same when the items it ranks lowest go first "
        f"(higher = what it calls unimportant is; NEG@{k}). **Score change**: the score's mean change, in logits, "
        "with the top-ranked items removed (DEL, lower is better) or with only them kept (INS, higher is better). "
        "**full path (shipped)** is the ordering of the bars above. One pair is one small sample: the figures over "
        "many pairs are in docs/benchmarks.md (bench/history_fidelity.py)."
    )


def history_fidelity_table(rows: list[HistoryFidelity], k: int) -> pd.DataFrame:
    """One row per ordering of the history items, its LXR figures at list length ``k``, the shipped one first."""
    return pd.DataFrame(
        [{"ordering": f.method, STILL_IN_TOP: f.pos[k], STILL_IN_BOTTOM: f.neg[k], SCORE_TOP_REMOVED: f.deletion,
          SCORE_TOP_KEPT: f.insertion} for f in rows],
        columns=["ordering", *HISTORY_FIDELITY_SHARES, *HISTORY_FIDELITY_SCORES],
    )


def faithfulness_table(curves: list[DeletionCurve]) -> pd.DataFrame:
    """One row per method with the random order's mean drop beside its own (the random row itself last)."""
    baseline = next((c.area for c in curves if c.method == RANDOM), float("nan"))
    ordered = [c for c in curves if c.method != RANDOM] + [c for c in curves if c.method == RANDOM]
    return pd.DataFrame(
        [{"method": c.method, MEAN_DROP: c.area, RANDOM_DROP: baseline, COMPREHENSIVENESS: c.comprehensiveness,
          SUFFICIENCY: c.sufficiency} for c in ordered],
        columns=["method", *FAITHFULNESS_NUMBERS],
    )


def share_bar(shares: dict[str, float], title: str) -> go.Figure:
    frame = pd.DataFrame({"field": [plotly_text(f) for f in shares], "share": list(shares.values())}).sort_values("share")
    fig = px.bar(frame, x="share", y="field", orientation="h", text_auto=".0%")
    fig.update_xaxes(tickformat=".0%")
    fig.update_traces(textfont_size=FONT_SIZE)
    return style(fig, title, "share of |attribution|", "", height=max(320, 34 * len(frame) + 110))
