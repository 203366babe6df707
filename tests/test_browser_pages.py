"""The Data, Recommendations and Evaluation pages in a real browser (issue 10's presentation faults).

Tables are drawn on a canvas, so what a reviewer must see is in screenshots
(test-output/screenshots/pages-*.png); what the DOM can prove is asserted: charts are SVG.
- pages-recommendations-1280: three item fields at 1280 px wide, rank/score/margin in view.
- pages-data-rename, pages-data-loaded: the rename boxes and the text BERT reads; the preview's dates
  and an activity chart of one day on an hourly axis.
- pages-evaluation-palette: metric-over-K lines in the Okabe-Ito palette.
- pages-home-paired-verdict, pages-evaluation-paired-verdict: the lead over the best baseline judged by the
  paired 95% interval, in words.
"""
from __future__ import annotations

import re

import pytest

from browser_support import (  # noqa: F401  (browser: a fixture)
    REQUEST_LOG, SHOTS, attach, browser, go, leaves_machine, needs_chromium, server_fixture, shoot, wait_idle,
)
from dashboard import plots

RUN_TIMEOUT_MS = 300_000
NARROW = {"width": 1280, "height": 900}  # a laptop or projector, where the score columns used to be cut off

pytestmark = [pytest.mark.browser, needs_chromium]
pytest.importorskip("playwright.sync_api")

server = server_fixture(range(8625, 8630))

ONE_DAY = 1_700_006_400  # 2023-11-15 00:00 UTC: every interaction below falls within ten hours of it
INTERACTIONS = b"user_id,item_id,rating,timestamp\n" + b"".join(
    f"u{u},i{(u + t) % 6},{1 + t % 5},{ONE_DAY + 3600 * (u + t)}\n".encode() for u in range(8) for t in range(4)
)
ITEMS = b"item_id,movie_title,genres\n" + b"".join(f"i{i},Film {i},Drama\n".encode() for i in range(6))


def opened(browser, url, viewport=None):
    page = browser.new_page(viewport=viewport or {"width": 1440, "height": 900})
    page.goto(url, timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    return page


def chart(page, title: str):
    """The plotly chart whose title is ``title`` (plotly draws SVG, so its parts are in the DOM)."""
    return page.locator(".js-plotly-plot").filter(has=page.locator(".gtitle", has_text=title)).first


def rgb_to_hex(colour: str) -> str:
    r, g, b = (int(v) for v in re.findall(r"\d+", colour)[:3])
    return f"#{r:02X}{g:02X}{b:02X}"


def test_recommendations_with_three_item_fields_keep_the_score_columns_in_view(server, browser):
    page = opened(browser, server, NARROW)
    go(page, "Recommendations")
    page.get_by_test_id("stMultiSelect").filter(has_text="Item fields").click()
    page.get_by_role("option", name="tags", exact=True).click()
    page.keyboard.press("Escape")
    wait_idle(page)
    fields = page.get_by_test_id("stMultiSelect").filter(has_text="Item fields").inner_text()
    assert all(f in fields for f in ("title", "genres", "tags")), fields
    assert page.get_by_text(re.compile(r"Ranked from [\d,]+ unseen items")).is_visible()
    table = page.get_by_test_id("stDataFrame").last  # the recommendations (the history comes first)
    box = table.bounding_box()
    assert box["x"] + box["width"] <= NARROW["width"], box  # the table itself fits the window
    scroller = table.locator(".dvn-scroller").first
    visible, scrolled = scroller.evaluate("e => [e.clientWidth, e.scrollLeft]")
    # rank 50 + score 70 + margin 70 px are the first columns (tests/test_pages.py checks the order and widths)
    assert scrolled == 0 and visible >= 50 + 70 + 70, visible
    assert not page.get_by_test_id("stException").count() and not page.get_by_test_id("stAlertContentError").count()
    SHOTS.mkdir(parents=True, exist_ok=True)  # at 1280 px, not shoot()'s 1440: the width the fault was seen at
    page.screenshot(path=str(SHOTS / "pages-recommendations-1280.png"))
    page.close()


def upload(page, tmp_path) -> None:
    paths = [tmp_path / "ratings.csv", tmp_path / "movies.csv"]
    for path, data in zip(paths, (INTERACTIONS, ITEMS)):
        path.write_bytes(data)
    attach(page, paths)


def rename(page, old: str, new: str) -> None:
    # by its visible label, which must also be its accessible name: the aria-label is the label's Markdown
    # source, and once showed movie\\_title
    label = page.get_by_test_id("stWidgetLabel").filter(has_text=re.compile(rf"^{re.escape(old)}$"))
    box = page.get_by_test_id("stTextInput").filter(has=label).locator("input")
    assert box.get_attribute("aria-label") == old
    box.fill(new)
    box.press("Enter")
    wait_idle(page)


def test_data_page_renames_text_fields_and_shows_dates_and_a_one_day_activity_axis(server, browser, tmp_path):
    page = opened(browser, server)
    go(page, "Data")
    assert page.get_by_text("RecBole atomic files (.inter, .item, .user)").is_visible()
    upload(page, tmp_path)
    assert page.get_by_test_id("stCode").inner_text().strip() == "movie_title: Film 0 | genres: Drama"

    rename(page, "movie_title", "ti|tle")  # refused as soon as typed, with what is wrong and how to fix it
    wait_idle(page)
    assert page.get_by_role("button", name="Load dataset").is_disabled()  # nothing to press: nothing replaced
    error = page.get_by_test_id("stAlertContentError").inner_text()
    assert "contains '|'" in error and "movie_title" in error, error
    assert page.get_by_test_id("stSidebar").get_by_text("demo data").count()

    rename(page, "movie_title", "title")
    assert page.get_by_test_id("stCode").inner_text().strip() == "title: Film 0 | genres: Drama"
    shoot(page, "pages-data-rename")
    page.get_by_role("button", name="Load dataset").click()
    page.get_by_text("Dataset loaded").wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    assert not page.get_by_test_id("stAlertContentError").count() and not page.get_by_test_id("stException").count()

    activity = chart(page, "Activity over time")
    activity.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    assert activity.locator(".xtitle").text_content() == "hour (UTC)"
    ticks = activity.locator(".xtick text").all_text_contents()  # SVG text
    assert len(ticks) >= 3 and all(re.search(r"\d\d:\d\d", t) for t in ticks), ticks  # hours, not one lost dot
    assert any("Nov 15, 2023" in t for t in ticks), ticks
    assert activity.locator(".point path").count() == 11  # hours 0 to 10 of the day: eleven bars
    page.get_by_role("tab", name="Interactions").click()
    page.get_by_test_id("stDataFrame").first.scroll_into_view_if_needed()
    shoot(page, "pages-data-loaded")
    page.close()


def test_evaluation_lines_use_the_okabe_ito_palette_in_the_browser(server, browser):
    start = len(REQUEST_LOG.entries)
    page = opened(browser, server)
    go(page, "Evaluation")
    # the page icons (navigation, heading) are drawn with the Material Symbols font our own server sends
    fonts = [url for url, _ in REQUEST_LOG.entries[start:] if "MaterialSymbols" in url]
    assert fonts and not any(leaves_machine(url) for url in fonts), fonts
    over_k = chart(page, "NDCG@K")
    over_k.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    strokes = [rgb_to_hex(s) for s in over_k.locator(".scatterlayer path.js-line").evaluate_all(
        "paths => paths.map(p => getComputedStyle(p).stroke)")]
    # the Streamlit theme keeps our colours: one per model, in palette order
    assert len(strokes) >= 3 and strokes == list(plots.PALETTE[: len(strokes)]), strokes
    legend = over_k.locator(".legendtext").all_text_contents()
    assert "HybridBERT" in legend and len(legend) == len(strokes)
    assert not page.get_by_test_id("stException").count()
    shoot(page, "pages-evaluation-palette")
    page.close()


def _overlap(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


def test_the_toolbar_leaves_chart_titles_clear_and_the_ndcg_axis_reads_round_numbers(server, browser):
    page = opened(browser, server)
    go(page, "Evaluation")
    curve = chart(page, "Training curve")
    curve.scroll_into_view_if_needed()
    page.wait_for_timeout(800)
    curve.locator(".nsewdrag").first.hover()  # plotly shows its toolbar under the pointer
    toolbar = curve.locator(".modebar")
    toolbar.wait_for(state="visible", timeout=10_000)
    page.wait_for_timeout(600)  # the toolbar fades in
    title = curve.locator(".gtitle").bounding_box()
    assert not _overlap(toolbar.bounding_box(), title), (toolbar.bounding_box(), title)
    ticks = curve.locator("g.y2tick text").all_text_contents()  # the right axis: validation NDCG@10
    values = [float(t) for t in ticks]
    assert len(values) >= 3 and values[0] == 0, ticks
    step = values[1] - values[0]
    assert all(abs((v - w) - step) < 1e-9 for v, w in zip(values[1:], values)), ticks  # evenly spaced
    round_steps = [m * 10.0 ** e for m in (1, 2, 2.5, 5) for e in range(-4, 1)]
    assert any(abs(step - r) < 1e-9 for r in round_steps), ticks  # 0.05, not 0.0322
    curve.screenshot(path=str(SHOTS / "pages-training-curve-toolbar.png"))
    page.close()


def test_eighty_character_titles_on_the_text_share_chart_stay_readable_in_half_a_page(browser):
    """The figure the Explain page draws, drawn by plotly.js (bundled with plotly, so offline) 560 px wide."""
    from dashboard import explain_view
    from recsys_core.explain import TextContribution

    titles = ["The Extraordinary and Entirely Unabridged Adventures of Someone Else: Part One!!",
              "The Extraordinary and Entirely Unabridged Adventures of Someone Else: Part Two!!",
              "A Very Long Documentary About the History of Very Long Titles in Film, 1895–2025"]
    assert all(len(t) == 80 for t in titles)
    texts = [TextContribution(0, "item", 2.0, True, 0.0, 8)]
    texts += [TextContribution(i + 1, f"history: {t}", 1.0 - 0.4 * i, False, 0.0, 0) for i, t in enumerate(titles)]
    fig = explain_view.text_share_bar(texts)
    page = browser.new_page(viewport={"width": 700, "height": 700})
    # set_content, not a file:// address: the page makes no request at all (the suite checks each one)
    page.set_content(fig.to_html(include_plotlyjs=True, full_html=True, default_width=560))
    plot = page.locator(".js-plotly-plot")
    plot.wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    box = plot.bounding_box()
    x_title = plot.locator("text.xtitle")
    assert x_title.text_content() == "attribution (score units)"  # whole, and inside the figure
    inside = lambda b: b["x"] >= box["x"] - 1 and b["x"] + b["width"] <= box["x"] + box["width"] + 1  # noqa: E731
    assert inside(x_title.bounding_box()), (x_title.bounding_box(), box)
    labels = plot.locator("g.ytick text")
    boxes = [t.bounding_box() for t in labels.all()]
    assert len(boxes) == 4 and all(inside(b) for b in boxes)
    assert not any(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:]), boxes
    assert all(len(t) <= plots.LABEL_CHARS for t in labels.all_text_contents())
    bar = plot.locator("g.point").nth(1).bounding_box()  # a cut label: the hover names the whole title
    page.mouse.move(bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] / 2)
    hover = page.locator(".hovertext")
    hover.wait_for(timeout=10_000)
    assert any(t in hover.text_content() for t in titles), hover.text_content()
    page.screenshot(path=str(SHOTS / "pages-long-titles.png"))
    page.close()


def test_home_and_evaluation_give_the_paired_verdict_against_the_best_baseline(server, browser):
    """The lead over the best baseline is judged by the paired interval on the same users, in words."""
    from dashboard import formatting
    from recsys_core.demo import load_demo_model

    expected = formatting.lead_sentence(load_demo_model().report.slice("test"))
    assert "paired difference" in expected and ("beyond noise" in expected or "within noise" in expected)
    page = opened(browser, server)
    verdict = page.get_by_text("paired difference", exact=False).first
    verdict.wait_for(timeout=30_000)
    shown = lambda v: v.inner_text().replace("\u2060", "")  # noqa: E731  (plain() puts word joiners after ":", "@")
    assert shown(verdict) == expected  # the page's sentence is the report's numbers, as text
    verdict.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "pages-home-paired-verdict.png"))
    go(page, "Evaluation")
    verdict = page.get_by_text("paired difference", exact=False).first
    verdict.wait_for(timeout=30_000)
    assert shown(verdict) == expected
    verdict.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "pages-evaluation-paired-verdict.png"))
    page.close()
