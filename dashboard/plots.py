"""Plot builders: pure functions from data to plotly figures (no Streamlit).

Figures leave background and text colours to the Streamlit theme (pass them to
``st.plotly_chart`` with the default ``theme="streamlit"``), so they read in
light and dark mode; fonts are at least 14 px for presenting.  Categories
(models, methods, groups) are coloured from ``PALETTE`` on every page.
"""
from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from recsys_core import MODEL_NAME, EpochLog

from .safe_text import plotly_text

FONT_SIZE = 15
TITLE_SIZE = 19
HEIGHT = 380
# Okabe & Ito's qualitative palette: told apart with every common colour-vision deficiency and on washed-out
# projectors.  Its black is left out (invisible in the dark theme) and its yellow comes last (faint on white).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")
# Every plotly-express chart in the process colours its categories from PALETTE, including those built in
# explain_view; set once at import, never changed, so sessions in other threads all see the same value.
px.defaults.color_discrete_sequence = list(PALETTE)
# As many marker shapes as colours, so that lines are told apart in grey print too.
SYMBOLS = ("circle", "diamond", "square", "x", "triangle-up", "cross", "star")


# Plotly's toolbar (the modebar: zoom, pan, download) appears at the top right of a chart under the
# pointer, over whatever is drawn there.  Titles start this far below the top, so it never covers them.
MODEBAR_ROOM = 32
TOP_MARGIN = MODEBAR_ROOM + TITLE_SIZE + 24  # toolbar, title, and a gap above the plot
# Toolbar buttons that do nothing useful on these charts (box and lasso selection select nothing here):
# fewer buttons make a shorter toolbar.
MODEBAR_REMOVE = ("select2d", "lasso2d", "autoScale2d")
CHART_CONFIG = {"displaylogo": False, "displayModeBar": "hover", "modeBarButtonsToRemove": list(MODEBAR_REMOVE)}


def style(fig: go.Figure, title: str, x: str, y: str, height: int = HEIGHT) -> go.Figure:
    fig.update_layout(
        title=dict(text=title, font=dict(size=TITLE_SIZE), yref="container", y=1, yanchor="top",
                   pad=dict(t=MODEBAR_ROOM)),
        font=dict(size=FONT_SIZE),
        height=height,
        margin=dict(l=10, r=10, t=TOP_MARGIN, b=10),
        legend=dict(font=dict(size=FONT_SIZE), title_text=""),
        hoverlabel=dict(font_size=FONT_SIZE),
        colorway=list(PALETTE),  # traces given no colour of their own (plain graph_objects traces)
    )
    fig.update_xaxes(title_text=x, title_font_size=FONT_SIZE, tickfont_size=FONT_SIZE - 1)
    fig.update_yaxes(title_text=y, title_font_size=FONT_SIZE, tickfont_size=FONT_SIZE - 1)
    if any(getattr(t, "orientation", None) == "h" and t.y is not None and len(t.y) and isinstance(t.y[0], str)
           for t in fig.data):
        # Names beside horizontal bars are labels: a word "20" or a column "2024" would otherwise turn the axis
        # numeric, with the names gone and the bars placed by value.
        fig.update_yaxes(type="category")
    return fig


# Average advance of a character of the theme's sans-serif font, in font sizes (digits and lower case
# are narrower, capitals wider): enough room for the labels the dashboard draws.
CHAR_WIDTH = 0.62
AXIS_TITLE = FONT_SIZE + 16  # room for an axis title beside its tick labels, px


def label_width(labels: Sequence[str], size: int) -> int:
    """Pixels the longest line of ``labels`` needs at font ``size`` (plotly's ``<br>`` starts a line)."""
    lines = (html.unescape(line) for label in labels for line in str(label).split("<br>"))
    return int(max((len(line) for line in lines), default=0) * size * CHAR_WIDTH) + 8


def fit_margins(fig: go.Figure, y_labels: Sequence[str] = (), x_labels: Sequence[str] = (),
                size: int = FONT_SIZE - 1) -> go.Figure:
    """Margins sized from the tick labels in Python, instead of plotly's ``automargin``.

    ``automargin`` (on in plotly's default template) measures every tick label in the browser and then
    draws the chart a second time.  In a long page each measurement forces a layout of the whole page:
    on the Explain page this was about half the first paint (0.7–0.8 s of 1.6 s from click to settled,
    for one 50-token heatmap).  For the same reason ``ticklabeloverflow`` is "allow": its default on numeric
    axes measures every label again to hide those that pass the chart's edge, which the margins prevent.
    ``x_labels`` are rotated tick labels under the plot; horizontal ones need no room.
    """
    layout = fig.layout
    left = label_width(y_labels, size) + (AXIS_TITLE if layout.yaxis.title.text else 0) if y_labels else 10
    bottom = label_width(x_labels, size) if x_labels else FONT_SIZE + 10
    bottom += AXIS_TITLE if layout.xaxis.title.text else 0
    fig.update_xaxes(automargin=False, ticklabeloverflow="allow")
    fig.update_yaxes(automargin=False, ticklabeloverflow="allow")
    fig.update_layout(margin={"l": left + 10, "b": max(bottom, layout.margin.b or 0)})
    return fig


# Tick labels longer than this are cut with an ellipsis (the full text is in the hover): an 80-character
# title would take most of a half-page chart's width and leave the bars a sliver.
LABEL_CHARS = 28
ELLIPSIS = "…"


def shorten(text: object, limit: int = LABEL_CHARS) -> str:
    """``text`` cut to at most ``limit`` characters, an ellipsis marking the cut (raw text, not yet escaped)."""
    text = " ".join(str(text).split())  # line breaks and runs of blanks in uploaded titles: one line
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def label_axis(fig: go.Figure, labels: Sequence[str], axis: str = "y", limit: int = LABEL_CHARS,
               suffixes: Sequence[str] = ()) -> list[str]:
    """Put ``labels`` (raw uploaded text: titles, field names) on a chart's category axis, cut to ``limit``.

    The traces must place their points at positions 0, 1, … of ``labels`` (not at the labels themselves:
    two titles that share their first ``limit`` characters would fall on one category).  Each trace gets
    the full, escaped label as ``customdata`` for its hover, unless it set its own.  ``suffixes`` are
    plotly markup added after each cut label (e.g. a second line).  Returns the tick texts, for
    ``fit_margins``.
    """
    ticks = [plotly_text(shorten(label, limit)) + (suffixes[i] if suffixes else "") for i, label in enumerate(labels)]
    full = [plotly_text(label) for label in labels]
    for trace in fig.data:
        if trace.customdata is None:
            trace.customdata = full
    fig.update_layout({f"{axis}axis": {"tickmode": "array", "tickvals": list(range(len(labels))), "ticktext": ticks}})
    return ticks


# -- data ---------------------------------------------------------------------------
def long_tail(entity_ids: pd.Series, what: str) -> go.Figure:
    """Interactions per user or item, most active first, on a log scale."""
    counts = entity_ids.value_counts().to_numpy()
    frame = pd.DataFrame({"rank": range(1, len(counts) + 1), "interactions": counts})
    fig = px.line(frame, x="rank", y="interactions", log_y=True)  # no fill: filling to 0 breaks a log axis
    fig.update_traces(line_width=3, name=f"{what}s", showlegend=True)
    median = float(np.median(counts)) if len(counts) else 0.0
    # A trace, not add_hline: shapes and annotations on a log axis take log10 positions.
    fig.add_trace(go.Scatter(x=[1, max(len(counts), 1)], y=[max(median, 1)] * 2, mode="lines",
                             line=dict(dash="dot", width=2, color=PALETTE[1]), name=f"median {median:g}"))
    fig.update_layout(legend=dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"))
    style(fig, f"Interactions per {what} (long tail)", f"{what}s, most active first", "interactions (log scale)")
    fig.update_yaxes(dtick=1)  # label only 1, 10, 100, …
    return fig


def rating_distribution(ratings: pd.Series) -> go.Figure:
    counts = ratings.value_counts().sort_index()
    frame = pd.DataFrame({"rating": counts.index.astype(str), "interactions": counts.to_numpy()})
    fig = px.bar(frame, x="rating", y="interactions", text_auto=",")
    fig.update_traces(textfont_size=FONT_SIZE)
    return style(fig, "Rating distribution", "rating", "interactions")


# (longest span, bin, axis word): the finest bin that still gives a readable number of bars.
TIME_BINS = (
    (pd.Timedelta(days=2), "h", "hour"),
    (pd.Timedelta(days=92), "D", "day"),
    (pd.Timedelta(days=3 * 366), "W", "week"),
    (None, "M", "month"),
)


def time_bin(span: pd.Timedelta) -> tuple[str, str]:
    """The pandas period and its name for binning interactions that span ``span``."""
    for longest, freq, word in TIME_BINS:
        if longest is None or span <= longest:
            return freq, word
    raise AssertionError("unreachable: the last bin has no limit")


def activity_over_time(timestamps: pd.Series) -> go.Figure:
    """Interactions per hour, day, week or month (whichever suits their span), as bars on a date axis.

    Timestamps are unix seconds.  Bars are drawn over their whole bin and the axis is padded by one bin
    on each side, so one busy day or one week still reads as dates on a sensible axis (a line through a
    single point would be an empty chart).
    """
    when = pd.to_datetime(timestamps, unit="s", utc=True).dt.tz_localize(None)
    freq, word = time_bin(when.max() - when.min() if len(when) else pd.Timedelta(0))
    periods = when.dt.to_period(freq)
    counts = periods.value_counts().sort_index()
    starts = counts.index.start_time
    ends = (counts.index + 1).start_time  # the next bin's start: a month is not a fixed length
    widths_ms = (ends - starts) / pd.Timedelta(1, "ms")
    fig = go.Figure(go.Bar(
        x=starts + (ends - starts) / 2, y=counts.to_numpy(), width=0.9 * widths_ms, marker_color=PALETTE[0],
        customdata=starts.strftime("%Y-%m-%d %H:%M"), name="interactions",
        hovertemplate=f"{word} from %{{customdata}} UTC<br>%{{y:,}} interactions<extra></extra>",
    ))
    if len(counts):
        pad = ends[0] - starts[0]
        fig.update_xaxes(type="date", range=[starts.min() - pad, ends.max() + pad])
    return style(fig, "Activity over time", f"{word} (UTC)", f"interactions per {word}")


def text_lengths(lengths: pd.DataFrame) -> go.Figure:
    """Box plot of characters per value, one box per text field (input: field, characters)."""
    # Field names are uploaded column names, and plotly reads <a href>, <b>… in tick labels as markup.
    lengths = lengths.assign(field=lengths["field"].map(plotly_text))
    fig = px.box(lengths, x="characters", y="field", orientation="h", points=False)
    height = max(HEIGHT, 90 + 60 * lengths["field"].nunique())
    return style(fig, "Text length per item field", "characters", "", height=height)


# -- recommendations -----------------------------------------------------------------
def scores_by_rank(scores: Sequence[float], labels: Sequence[str]) -> go.Figure:
    """The listed items' scores by rank: a step down is a clear lead, a flat run is a near-tie.

    ``labels`` are uploaded titles and ids (hover text only), escaped for plotly.
    """
    ranks = list(range(1, len(scores) + 1))
    fig = go.Figure(go.Bar(x=ranks, y=list(scores), marker_color=PALETTE[0],
                           customdata=[plotly_text(label) for label in labels],
                           hovertemplate="rank %{x}: %{customdata}<br>score %{y:.3f}<extra></extra>"))
    fig = style(fig, "Score by rank", "rank", "score (logit)", height=300)
    # Logits can all be far from 0: a zero-based axis would hide the gaps this chart is for.
    low, high = min(scores), max(scores)
    pad = max((high - low) * 0.15, 0.05)
    fig.update_yaxes(range=[low - pad, high + pad])
    fig.update_xaxes(dtick=1 if len(scores) <= 20 else 5)
    return fig


def round_ticks(high: float, at_most: int = 6) -> list[float]:
    """Ticks from 0 to at least ``high`` in a round step (1, 2, 2.5 or 5 times a power of ten), at most
    ``at_most`` of them counting 0: 0, 0.05, 0.10, …, never 0.0132, 0.0454."""
    high = high if np.isfinite(high) and high > 0 else 1.0
    for exponent in range(int(np.floor(np.log10(high))) - 1, int(np.floor(np.log10(high))) + 2):
        for mantissa in (1, 2, 2.5, 5):
            step = mantissa * 10.0 ** exponent
            count = int(np.ceil(high / step - 1e-9))
            if count + 1 <= at_most:
                return [round(i * step, 10) for i in range(count + 1)]
    raise AssertionError("unreachable: ten times a power of ten above ``high`` is one step")


def tick_decimals(ticks: Sequence[float]) -> int:
    """The fewest decimals that write every tick exactly (0.25 needs 2, 0.3 needs 1)."""
    for decimals in range(8):
        if all(abs(round(t, decimals) - t) < 1e-9 for t in ticks):
            return decimals
    return 8


# -- training and evaluation -----------------------------------------------------------
def training_curve(log: Sequence[EpochLog], best_epoch: int | None = None) -> go.Figure:
    """Training loss (left axis) and validation NDCG@10 (right axis) per epoch."""
    epochs = [e.epoch for e in log]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=epochs, y=[e.loss for e in log], name="training loss", mode="lines+markers",
                             line_color=PALETTE[0]))
    fig.add_trace(
        go.Scatter(x=epochs, y=[e.val_ndcg10 for e in log], name="validation NDCG@10", mode="lines+markers",
                   line_color=PALETTE[1], line_dash="dash"),  # dashed too: told apart without colour
        secondary_y=True,
    )
    if best_epoch:
        fig.add_vline(x=best_epoch, line_dash="dot")
        # The label sits above the plot area: inside it, it would cover the validation curve's peak,
        # which is where the best epoch is by definition.
        fig.add_annotation(x=best_epoch, y=1, yref="paper", yanchor="bottom", showarrow=False,
                           text=f"best epoch {best_epoch}", font_size=FONT_SIZE)
    style(fig, "Training curve", "epoch", "")
    fig.update_yaxes(title_text="loss", secondary_y=False)
    # From zero, on round ticks of its own: left to plotly, the axis followed the loss axis's grid and was
    # labelled 0.0132, 0.0454, …; one or two epochs got an autorange like −0.49…1.0 around their points.
    ticks = round_ticks(max((e.val_ndcg10 for e in log), default=0.0))
    fig.update_yaxes(title_text="validation NDCG@10", secondary_y=True, showgrid=False, tickmode="array",
                     tickvals=ticks, ticktext=[f"{t:.{tick_decimals(ticks)}f}" for t in ticks],
                     range=[0, ticks[-1] * 1.04])
    fig.update_xaxes(dtick=1 if len(epochs) <= 20 else None)
    fig.update_layout(legend=dict(orientation="h", y=-0.2))
    return fig


def metric_over_k(frame: pd.DataFrame, family: str, slice_title: str) -> go.Figure:
    """One line per model (input: model, K, value); the trained model drawn thicker."""
    # Model and slice names are read from a saved model's metrics.json: plotly would render markup in them.
    frame = frame.assign(model=frame["model"].map(plotly_text))
    fig = px.line(frame, x="K", y="value", color="model", symbol="model", markers=True,
                  color_discrete_sequence=PALETTE, symbol_sequence=SYMBOLS)  # marker shapes too: lines are told apart without colour
    for trace in fig.data:
        trace.line.width = 4 if trace.name == MODEL_NAME else 2
        trace.marker.size = 11 if trace.name == MODEL_NAME else 8
    fig.update_xaxes(tickvals=sorted(frame["K"].unique()))
    return style(fig, f"{family}@K — {plotly_text(slice_title)}", "K (length of the list)", family)


def update_ndcg(before: float, after: float, retrained: float | None = None) -> go.Figure:
    """NDCG@10 on the newest interactions: the model before an update, after it, and retrained from scratch."""
    names = ["before the update", "after the update"] + (["retrained from scratch"] if retrained is not None else [])
    values = [before, after] + ([retrained] if retrained is not None else [])
    fig = go.Figure(go.Bar(x=names, y=values, marker_color=list(PALETTE[: len(values)]),
                           text=[f"{v:.4f}" for v in values], textposition="outside", cliponaxis=False,
                           hovertemplate="%{x}: NDCG@10 %{y:.4f}<extra></extra>"))
    fig = style(fig, "NDCG@10 on the newest interactions", "", "NDCG@10", height=320)
    ticks = round_ticks(max(values))
    fig.update_yaxes(tickmode="array", tickvals=ticks, ticktext=[f"{t:.{tick_decimals(ticks)}f}" for t in ticks],
                     range=[0, ticks[-1] * 1.12])  # room above the tallest bar for its label
    return fig
