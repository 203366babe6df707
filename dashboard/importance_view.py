"""Figures and tables of the Feature importance page (pure functions of its result types; no Streamlit).

Buckets are shown *all*, each with its n: a bucket with too few sampled pairs
is listed as such instead of vanishing, and only buckets with enough pairs
are drawn as bars (a share from two pairs would look as solid as one from fifty).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

# Internal on purpose, and the only one: the time format of the run's own progress text, so the
# estimate reads like it (ask for it to be exported from recsys_core.explain rather than copying it).
from recsys_core.progress import duration

from .plots import FONT_SIZE, PALETTE, TOP_MARGIN, fit_margins, label_axis, style
from .safe_text import plotly_text

if TYPE_CHECKING:  # result types, for annotations only
    from recsys_core.explain import Bucket, FieldAblation, GlobalImportance, WordWeight


def estimate(last: GlobalImportance, n_users: int, k: int) -> str:
    """How long ``n_users`` × ``k`` pairs would take at the pace the last run measured here (never a promise)."""
    return (f"The last run here measured {last.seconds_per_pair:.1f} s per pair: {n_users} users × {k} items "
            f"would take about {duration(last.seconds_per_pair * n_users * k)} at that pace.")


def bucket_table(buckets: list[Bucket], unit: str, population: str) -> pd.DataFrame:
    """Every bucket of the dataset: its range, how many users/items it holds, sampled pairs, status.

    (Four columns: they fit half the page; the shares themselves are in the chart.)"""
    return pd.DataFrame(
        [{"bucket": b.label(unit), population: b.population, "sampled pairs": b.n_pairs, "status": b.status}
         for b in buckets]
    )


def bucket_bars(buckets: list[Bucket], title: str, unit: str) -> go.Figure:
    """Field shares of the buckets with enough pairs, each legend entry naming its n.

    Fields run down the side, one group of bars per field, with the height grown per field and bucket:
    as columns under a half-page chart, plotly skipped every other field name once they crowded.
    """
    drawn = [b for b in buckets if b.enough]
    fields = list(dict.fromkeys(f for b in drawn for f in b.field_share))[::-1]  # the first field on top
    fig = go.Figure([
        go.Bar(x=[b.field_share.get(f, 0.0) for f in fields], y=list(range(len(fields))), orientation="h",
               name=f"{b.label(unit)}, n={b.n_pairs}", marker_color=PALETTE[i % len(PALETTE)],
               hovertemplate="%{customdata}: %{x:.1%}<extra>%{fullData.name}</extra>")
        for i, b in enumerate(drawn)
    ])
    height = max(380, len(fields) * (14 * len(drawn) + 16) + 230)
    style(fig, title, "share of |attribution|", "", height=height)
    below, legend_room = 2 * FONT_SIZE + 30, 28 * len(drawn)  # the legend under the axis title, a line each
    fig.update_layout(barmode="group", margin={"b": below + legend_room},
                      # reversed: plotly draws a group's first bar lowest, so the legend lists them as seen
                      legend={"orientation": "h", "x": 0, "yanchor": "top", "traceorder": "reversed",
                              "y": -below / (height - TOP_MARGIN - below - legend_room)})
    fig.update_xaxes(tickformat=".0%")
    return fit_margins(fig, label_axis(fig, fields, limit=40))


def words_bar(words: list[WordWeight], title: str) -> go.Figure:
    frame = pd.DataFrame(
        [(plotly_text(w.word), w.attribution, w.pairs) for w in words], columns=["word", "attribution", "pairs"]
    ).iloc[::-1]
    fig = px.bar(frame, x="attribution", y="word", orientation="h", hover_data=["pairs"])
    return style(fig, title, "summed positive attribution (score units)", "", height=max(380, 26 * len(frame) + 100))


def ablation_bar(ablation: FieldAblation) -> go.Figure:
    """Drop in NDCG@10 per field with its bootstrap 95% interval; fields within noise drawn grey."""
    drops = ablation.drop
    names = list(drops)[::-1]
    colours = ["#999999" if ablation.within_noise(n) else PALETTE[0] for n in names]
    lows = [drops[n] - ablation.intervals[n][0] for n in names]
    highs = [ablation.intervals[n][1] - drops[n] for n in names]
    fig = go.Figure(go.Bar(
        x=[drops[n] for n in names], y=[plotly_text(n) for n in names], orientation="h", marker_color=colours,
        error_x={"type": "data", "symmetric": False, "array": highs, "arrayminus": lows, "thickness": 2},
        text=[f"{drops[n]:+.4f} ({ablation.verdict(n)})" for n in names], textposition="outside",
        textfont_size=FONT_SIZE,
    ))
    fig.add_vline(x=0, line_width=1, line_color="#444444")
    return style(fig, f"NDCG@10 lost without each field, 95% interval (validation NDCG@10 with all: "
                 f"{ablation.base_ndcg10:.4f})", "drop in NDCG@10", "", height=max(320, 40 * len(names) + 120))


def ablation_table(ablation: FieldAblation) -> pd.DataFrame:
    return pd.DataFrame(
        [{"field": name, "NDCG@10 without": ablation.ablated_ndcg10[name], "drop": drop,
          "95% interval": f"[{ablation.intervals[name][0]:+.4f}, {ablation.intervals[name][1]:+.4f}]",
          "verdict": ablation.verdict(name)} for name, drop in ablation.drop.items()]
    )
