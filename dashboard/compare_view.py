"""Tables and figures of the Compare page: pure functions from a comparison to what is drawn (no Streamlit).

Model names (registry names) and item titles (uploaded text) reach plotly through ``plotly_text`` and
dataframes as cell values, never as markup.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from recsys_core.compare import ItemCount, ListDifferences, PairComparison, SliceComparison

from .plots import PALETTE, style
from .safe_text import plotly_text

SLICE_LABELS = {"test": "Warm users (test)", "cold items": "Cold items", "inductive users": "New users"}
SHOWN_METRICS = ("NDCG", "HitRate", "Recall", "MRR")  # the table's rows, at every K; the CLI and JSON have all


def slice_label(name: str) -> str:
    return SLICE_LABELS.get(name, name)


def metric_table(s: SliceComparison, a: str, b: str) -> pd.DataFrame:
    """One row per metric at K = 5, 10, 20: A, B, B − A, its paired 95% interval and the verdict in words."""
    rows = []
    for m in s.metrics.values():
        if m.metric.split("@")[0] not in SHOWN_METRICS:
            continue
        verdict = "no difference beyond noise" if not m.beyond_noise else ("B better" if m.diff > 0 else "B worse")
        rows.append({"metric": m.metric, f"A: {a}": m.a, f"B: {b}": m.b, "B − A": m.diff,
                     "95% interval": f"[{m.low:+.4f}, {m.high:+.4f}]", "verdict": verdict})
    frame = pd.DataFrame(rows)
    order = {name: i for i, name in enumerate(SHOWN_METRICS)}
    frame["_order"] = [order[m.split("@")[0]] for m in frame["metric"]]
    return frame.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)


def difference_histogram(s: SliceComparison, a: str, b: str) -> go.Figure:
    """How many users each NDCG@10 difference (B − A) has; the mean as a dashed line."""
    diff = s.ndcg_diff
    fig = px.histogram(pd.DataFrame({"diff": diff}), x="diff", nbins=41)
    fig.add_vline(x=0, line_color="grey", line_width=1)
    fig.add_vline(x=float(diff.mean()), line_dash="dash", line_color=PALETTE[3],
                  annotation_text=f"mean {diff.mean():+.4f}",
                  annotation_position="top left" if diff.mean() < 0 else "top right")
    same = int(np.sum(diff == 0))
    return style(fig, f"NDCG@10 per user: {plotly_text(b)} minus {plotly_text(a)} ({same:,} of {len(diff):,} "
                 "users unchanged)", "B − A, NDCG@10", "users")


def user_table(rows: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    return rows.rename(columns={"user_id": "user", "A": f"A: {a}", "B": f"B: {b}"})


def item_table(counts: list[ItemCount]) -> pd.DataFrame:
    return pd.DataFrame({"title": [c.title for c in counts], "item": [c.item_id for c in counts],
                         "lists": [c.users for c in counts]})


def list_numbers(lists: ListDifferences) -> list[tuple[str, str, str | None]]:
    """(label, value, B against A) for the metric tiles of the list differences."""
    return [
        (f"Overlap@{lists.k}", f"{lists.overlap:.2f}", None),
        ("Rank-biased overlap", f"{lists.rbo:.2f}", None),
        ("Coverage@10, A → B", f"{lists.coverage_a:.1%} → {lists.coverage_b:.1%}",
         f"{lists.coverage_b - lists.coverage_a:+.1%}"),
        ("Mean popularity, A → B", f"{lists.popularity_a:.0f} → {lists.popularity_b:.0f}",
         f"{lists.popularity_b - lists.popularity_a:+.0f}"),
    ]


def field_share_bars(pair: PairComparison, a: str, b: str, n: int = 12) -> go.Figure:
    """Each field's signed share of the pair's |attribution| under A and under B, side by side."""
    frame = pair.fields()
    frame = frame.reindex(frame[["A share", "B share"]].abs().max(axis=1).sort_values().index[-n:])
    labels = [plotly_text(f) for f in frame["field"]]
    fig = go.Figure([
        go.Bar(y=labels, x=frame["A share"], name=plotly_text(f"A: {a}"), orientation="h", marker_color=PALETTE[0]),
        go.Bar(y=labels, x=frame["B share"], name=plotly_text(f"B: {b}"), orientation="h", marker_color=PALETTE[1]),
    ])
    fig.update_xaxes(tickformat=".0%")
    fig = style(fig, "Field shares of the score", "signed share of |attribution|", "",
                height=max(340, 46 * len(frame) + 170))
    # Below the axis: above the plot the two model names ran over the title.
    fig.update_layout(barmode="group", legend=dict(orientation="h", yanchor="top", y=-0.12, x=0),
                      margin=dict(b=70))
    return fig


def history_table(pair: PairComparison, a: str, b: str) -> pd.DataFrame:
    """Each history item's full-path contribution (score − score without it) under A and B, largest first."""
    frame = pair.history()
    frame = frame.reindex(frame[["A", "B"]].abs().max(axis=1).sort_values(ascending=False).index)
    return frame.rename(columns={"item_id": "item", "A": f"A: {a}", "B": f"B: {b}"}).reset_index(drop=True)


__all__ = ["SLICE_LABELS", "difference_histogram", "field_share_bars", "history_table", "item_table",
           "list_numbers", "metric_table", "slice_label", "user_table"]
