"""Charts and tables read on real data: long titles, the plotly toolbar, round ticks, honest faithfulness
labels, genres in tables, the history's length, the CSV's user and field names without escapes (issue 18)."""
from __future__ import annotations

from pathlib import Path

import pytest

from dashboard import explain_view, formatting, importance_view, page, plots
from dashboard.safe_text import plain
from recsys_core import EpochLog
from recsys_core.explain import DeletionCurve, TextContribution
from recsys_core.explain.global_importance import Bucket
from recsys_core.explain.types import HistoryContribution

ROOT = Path(__file__).resolve().parents[1]
# 80 characters each (the tags count: they are shown as text); the first two share their first 40, so a cut label alone would merge their bars.
LONG = [
    "The Extraordinary and Entirely Unabridged Adventures of <b>Someone</b>: Part I..",
    "The Extraordinary and Entirely Unabridged Adventures of <b>Someone</b>: Part II.",
    "A Very Long Documentary About the History of Very Long Titles in Film, 1895–2025",
]
HALF_PAGE = 560  # px: one of two columns on a 1280-px wide page


def _shares() -> list[TextContribution]:
    assert all(len(title) == 80 for title in LONG)
    texts = [TextContribution(0, "item", 2.0, True, 0.0, 8)]
    texts += [TextContribution(i + 1, f"history: {t}", 1.0 - 0.3 * i, False, 0.0, 0) for i, t in enumerate(LONG)]
    return texts


def test_long_titles_are_cut_on_the_text_share_axis_with_the_full_title_on_hover():
    fig = explain_view.text_share_bar(_shares())
    ticks = list(fig.layout.yaxis.ticktext)
    assert len(ticks) == len(fig.layout.yaxis.tickvals) == 4 == len(set(fig.data[0].y))  # two look-alikes: two bars
    cut = [t for t in ticks if t.startswith("history: ")]
    assert len(cut) == 3 and all(t.endswith(plots.ELLIPSIS) for t in cut)
    shown = [t.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") for t in ticks]
    assert all(len(t) <= plots.LABEL_CHARS for t in shown), shown
    hover = list(fig.data[0].customdata)
    for title in LONG:  # the whole title, escaped for plotly (its <b> is text, not bold)
        assert any(h.endswith(title.replace("<", "&lt;").replace(">", "&gt;")) for h in hover), hover
    assert "%{customdata}" in fig.data[0].hovertemplate
    # the axis title is whole and the cut labels leave it room in half a page
    assert fig.layout.xaxis.title.text == "attribution (score units)"
    plot_width = HALF_PAGE - fig.layout.margin.l - fig.layout.margin.r
    assert plot_width >= plots.label_width([fig.layout.xaxis.title.text], plots.FONT_SIZE), plot_width


def test_history_chart_cuts_long_titles_but_keeps_the_rank_line_and_the_full_title_on_hover():
    items = [HistoryContribution(f"i{k}", t, 1.0 - 0.1 * k, 0.3, k, 0.5, 0.5, rank_without=4 + k)
             for k, t in enumerate(LONG)]
    fig = explain_view.history_bar(items)
    ticks = list(fig.layout.yaxis.ticktext)
    assert len(ticks) == 3 and all(f"without it: rank {4 + k}" in t for k, t in zip((2, 1, 0), ticks))
    assert all(plots.ELLIPSIS in t.split("<br>")[0] for t in ticks)
    assert all(len(t.split("<br>")[0].replace("&lt;", "<").replace("&gt;", ">")) <= plots.LABEL_CHARS for t in ticks)
    for trace in fig.data:
        assert any("Part I.." in c for c in trace.customdata) and "%{customdata}" in trace.hovertemplate


def test_shorten_keeps_short_labels_and_cuts_long_ones_to_the_limit():
    assert plots.shorten("Heat (1995)") == "Heat (1995)"
    assert plots.shorten("a\nb   c") == "a b c"
    cut = plots.shorten("x" * 80)
    assert len(cut) == plots.LABEL_CHARS and cut.endswith(plots.ELLIPSIS)


def test_bucket_charts_label_every_field_and_grow_with_them():
    fields = {f"field number {i}": 1 / 9 for i in range(9)}
    buckets = [Bucket(name, 1, 9, 100, 50, dict(fields)) for name in ("low", "mid", "high")]
    fig = importance_view.bucket_bars(buckets, "By user activity", "items in history")
    axis = fig.layout.yaxis
    assert axis.tickmode == "array" and list(axis.tickvals) == list(range(9))
    assert sorted(axis.ticktext) == sorted(fields)  # every field named, none skipped
    bar_px = (fig.layout.height - fig.layout.margin.t - fig.layout.margin.b) / (9 * 3)
    assert bar_px >= 10, bar_px  # each bucket's bar of each field stays a readable bar
    assert fig.layout.margin.l >= plots.label_width(list(axis.ticktext), plots.FONT_SIZE - 1)


def test_words_that_look_like_numbers_are_still_labels_on_the_words_chart():
    from recsys_core.explain.global_importance import WordWeight

    fig = importance_view.words_bar([WordWeight("20", 6.0, 3), WordWeight("24", 1.0, 2), WordWeight("noir", 0.5, 1)], "t")
    assert fig.layout.yaxis.type == "category"  # not a numeric axis from 20 to 24 with two bars and no words
    assert list(fig.data[0].y) == ["noir", "24", "20"]


def test_titles_start_below_the_plotly_toolbar_on_every_chart():
    figs = [
        explain_view.text_share_bar(_shares()),
        explain_view.history_bar([HistoryContribution("i", "t", 1.0, 0.5, 0, 0.5, 0.5)]),
        plots.training_curve([EpochLog(1, 4.5, 0.09, 20.0), EpochLog(2, 4.0, 0.12, 20.0)], 2),
        importance_view.bucket_bars([Bucket("low", 1, 2, 10, 50, {"title": 1.0})], "t", "items"),
    ]
    for fig in figs:
        title = fig.layout.title
        assert title.yref == "container" and title.yanchor == "top" and title.pad.t >= plots.MODEBAR_ROOM
        assert fig.layout.margin.t >= title.pad.t + plots.TITLE_SIZE + 10, fig.layout.title.text
    assert plots.CHART_CONFIG["displaylogo"] is False and plots.CHART_CONFIG["displayModeBar"] == "hover"


def test_every_chart_is_drawn_through_page_chart():
    """One place sets the toolbar: no page or dashboard module calls st.plotly_chart itself."""
    callers = [path.relative_to(ROOT) for folder in ("pages", "dashboard") for path in (ROOT / folder).glob("*.py")
               if ".plotly_chart(" in path.read_text(encoding="utf-8")]
    assert callers == [Path("dashboard/page.py")], callers


@pytest.mark.parametrize("best, expected", [
    (0.5987, [0.0, 0.2, 0.4, 0.6]), (0.0132, [0.0, 0.005, 0.01, 0.015]), (0.09, [0.0, 0.02, 0.04, 0.06, 0.08, 0.1]),
])
def test_the_training_curve_ndcg_axis_has_round_ticks(best, expected):
    log = [EpochLog(1, 4.5, best / 3, 20.0), EpochLog(2, 4.0, best, 20.0), EpochLog(3, 3.9, best * 0.9, 20.0)]
    axis = plots.training_curve(log, 2).layout.yaxis2
    assert axis.tickmode == "array" and list(axis.tickvals) == pytest.approx(expected)
    decimals = plots.tick_decimals(expected)
    assert list(axis.ticktext) == [f"{t:.{decimals}f}" for t in expected]
    assert axis.range[0] == 0 and axis.range[1] >= best


def _curves() -> list[DeletionCurve]:
    fractions = [0.0, 0.5, 1.0]
    return [DeletionCurve("integrated gradients", fractions, [3.0, 1.0, 0.0], 1.667, 1.5, 0.4),
            DeletionCurve("random", fractions, [3.0, 2.5, 0.0], 0.833, 0.3, 2.0),
            DeletionCurve("attention", fractions, [3.0, 2.0, 0.0], 1.0, 0.6, 1.0)]


def test_faithfulness_says_what_the_number_is_and_shows_the_random_baseline_beside_it():
    table = explain_view.faithfulness_table(_curves())
    assert not any("area" in c for c in table.columns)  # "deletion area ↑" read as the literature's AUC, reversed
    assert list(table.columns) == ["method", "mean score drop ↑", "random order's drop", "comprehensiveness ↑",
                                   "sufficiency ↓"]
    assert list(table["method"]) == ["integrated gradients", "attention", "random"]
    assert table["random order's drop"].tolist() == [0.833] * 3
    assert "mean score drop ↑" in explain_view.FAITHFULNESS_NUMBERS
    caption = explain_view.FAITHFULNESS_CAPTION
    assert "higher = the method found what the score rests on" in caption.lower() and "random order" in caption.lower()
    fig = explain_view.deletion_figure(_curves())
    random = [t for t in fig.data if t.name.startswith("random order (baseline)")]
    assert len(random) == 1 and random[0].line.dash == "dot"
    assert [t.name for t in fig.data if "integrated" in t.name] == ["integrated gradients: mean drop +1.667"]


def test_tables_show_the_genre_like_field_by_default():
    assert formatting.default_display_fields(["movie_title", "release_year", "class"]) == [
        "movie_title", "release_year", "class"]  # RecBole's MovieLens: "class" holds the genres
    assert formatting.default_display_fields(["title", "genres", "tags", "description"]) == ["title", "genres"]
    assert formatting.default_display_fields(["name", "year", "studio", "Category"]) == ["name", "year", "Category"]
    assert formatting.default_display_fields(["description", "plot"]) == ["description", "plot"]


def test_history_table_shows_fifteen_rows_and_no_empty_room_below_a_short_history():
    assert page.table_height(40, page.HISTORY_ROWS) >= 16 * page.ROW_PX  # fifteen rows and the header
    assert page.table_height(40, page.HISTORY_ROWS) == page.table_height(15, page.HISTORY_ROWS)
    assert page.table_height(3, page.HISTORY_ROWS) == 4 * page.ROW_PX + 3


def test_the_recommendations_download_names_the_user_first(tiny_model):
    recs = tiny_model.recommend("u00", k=3)
    table = formatting.recommendations_table(tiny_model, recs, ["title"])
    known = formatting.recommendations_download(table, "u00")
    assert list(known.columns) == ["user_id", *table.columns] and set(known["user_id"]) == {"u00"}
    new = formatting.recommendations_download(table, None)
    assert set(new["user_id"]) == {formatting.NEW_USER} == {"(new user)"}
    clash = formatting.recommendations_download(table.rename(columns={"title": "user_id"}), "u00")
    assert list(clash.columns)[:1] == ["for user_id"] and "user_id" in clash.columns  # the item field is kept


def test_field_names_in_labels_show_no_backslash():
    """A widget's aria-label is its label's Markdown source: snake_case names are left as typed."""
    assert plain("movie_title") == "movie_title" == plain("movie_title").replace("\\", "")
    assert plain("_it_") == "\\_it\\_" and plain("a__b") == "a\\_\\_b"  # these could be emphasis: escaped
