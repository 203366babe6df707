"""Three analysts open Explain at the same moment on a fresh server (real chromium, one Streamlit process).

Each of the three browser contexts is its own Streamlit session (its own script thread) sharing one
encoder, one explanation cache and one explanation worker.  None may show an error, and each must
show the numbers a lone computation in this test process gives for the same pair.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from serve import CHROMIUM, CHROMIUM_ARGS, dashboard_server

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-output" / "screenshots"
PORTS = range(8615, 8620)
READY = "text=Integrated gradients: what moved the score"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium")


def _metric(page, label: str) -> float:
    box = page.get_by_test_id("stMetric").filter(has_text=label).first
    value = box.get_by_test_id("stMetricValue").inner_text()
    return float(re.sub(r"[^0-9+\-.]", "", value.replace("−", "-")))


def _settled(page) -> None:
    page.wait_for_selector(READY, timeout=600_000)
    page.get_by_text("Compute deletion curves").wait_for(timeout=600_000)  # the last stage's widget is drawn
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=600_000)


def test_three_sessions_open_explain_at_once(tmp_path, demo_model):
    from playwright.sync_api import sync_playwright

    from recsys_core.explain import ExplainConfig, pair_state

    user = demo_model.known_users()[0]  # what the Explain page opens on by default
    item = demo_model.recommend(user, 1)[0].item_id
    lone = pair_state(demo_model, user, item, ExplainConfig())
    SHOTS.mkdir(parents=True, exist_ok=True)
    with dashboard_server(tmp_path / "streamlit.log", ports=PORTS) as (url, _pid), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = [browser.new_context(viewport={"width": 1400, "height": 1000}).new_page() for _ in range(3)]
        for page in pages:  # three navigations issued back to back: the sessions start together
            page.goto(f"{url}/Explain", wait_until="commit")
        for i, page in enumerate(pages):
            _settled(page)
            page.screenshot(path=str(SHOTS / f"explain-concurrent-{i + 1}.png"), full_page=False)
            assert not page.get_by_test_id("stException").count(), f"session {i + 1} shows a traceback"
            errors = page.locator('[data-testid="stAlertContentError"]')
            assert not errors.count(), f"session {i + 1} shows an error: {errors.first.inner_text()}"
            assert _metric(page, "Score (logit)") == pytest.approx(lone.level.score, abs=1e-3)
            assert _metric(page, "Blanked-text reference") == pytest.approx(lone.level.baseline_score, abs=1e-3)
            assert _metric(page, "Item text's share") == pytest.approx(lone.level.values[0], abs=1e-4)
            assert page.get_by_text("Integration error").count() == 0
            assert page.get_by_text("Convergence delta").count() == 1
        browser.close()


# -- one analyst's journey: results that stay, cancel, presentation ----------------------------------
def _idle(page, timeout_ms: int = 600_000) -> None:
    page.wait_for_timeout(400)  # let a rerun that was just triggered begin
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms)
    page.wait_for_timeout(1200)  # plotly and the data grid draw after the run ends


def _chart(page, title: str):
    return page.locator(".js-plotly-plot").filter(has=page.locator(".gtitle", has_text=title)).first


def _inside(inner: dict, outer: dict, slack: float = 1.0) -> bool:
    return (inner["x"] >= outer["x"] - slack and inner["y"] >= outer["y"] - slack
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack)


def _look(page, locator, name: str) -> None:
    """A screenshot of one element, whole: the viewport is made taller than it and the element centred
    (at the top of the view Streamlit's fixed header would cover its first 60 px)."""
    height = locator.bounding_box()["height"]
    page.set_viewport_size({"width": 1440, "height": max(1000, int(height) + 300)})
    locator.evaluate("e => e.scrollIntoView({block: 'center'})")
    page.wait_for_timeout(800)
    locator.screenshot(path=str(SHOTS / name))
    page.set_viewport_size({"width": 1440, "height": 1000})


def _results_shown(page) -> tuple[bool, bool]:
    contrast = page.get_by_text("a difference of", exact=False).count() > 0
    whatif = page.get_by_test_id("stMetric").filter(has_text="Rank after").count() > 0
    return contrast, whatif


def test_results_survive_cancel_works_and_charts_show_every_label(tmp_path, demo_model):
    from playwright.sync_api import sync_playwright

    from recsys_core.explain import ExplainConfig, pair_state

    user = demo_model.known_users()[0]
    item = demo_model.recommend(user, 1)[0].item_id
    lone = pair_state(demo_model, user, item, ExplainConfig())
    item_tokens = [t for t in lone.attentions[0].tokens if t not in ("[CLS]", "[SEP]")]
    SHOTS.mkdir(parents=True, exist_ok=True)
    with dashboard_server(tmp_path / "streamlit.log", ports=PORTS) as (url, _pid), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True).new_page()
        page.goto(f"{url}/Explain")
        _settled(page)
        _idle(page)

        # -- presentation: no probability; every token labelled on the heatmap, inside the figure
        assert page.get_by_test_id("stMetric").filter(has_text="P(interaction)").count() == 0
        heat = _chart(page, "Where the encoder looks")
        _look(page, heat, "explain-heatmap.png")
        box = heat.bounding_box()
        for part in ("text.gtitle", "text.xtitle", "text.ytitle"):
            assert _inside(heat.locator(part).first.bounding_box(), box), f"heatmap {part} cut off"
        for axis in ("xtick", "ytick"):
            ticks = heat.locator(f"g.{axis} text")
            labels = [t.text_content() for t in ticks.all()]
            assert len(labels) == len(item_tokens), (axis, labels)
            assert all(_inside(t.bounding_box(), box) for t in ticks.all()), f"{axis} labels cut off"
        # -- duplicate words: one bar per occurrence, each labelled apart
        top = _chart(page, "Top words by integrated gradients")
        _look(page, top, "explain-top-words.png")
        bars = top.locator("g.point").count()
        names = [t.text_content() for t in top.locator("g.ytick text").all()]
        assert bars == len(names) == len(set(names)) == 15, names

        # -- cancel a deletion-curve computation
        page.get_by_role("button", name="Compute deletion curves").click()
        cancel = page.get_by_role("button", name="Cancel deletion curves")
        cancel.wait_for(timeout=120_000)
        page.wait_for_timeout(1500)  # let it get going
        clicked = time.time()
        cancel.click()
        page.get_by_text("Deletion curves cancelled", exact=False).first.wait_for(timeout=120_000)
        _idle(page)
        cancel_seconds = time.time() - clicked
        print(f"cancel shown after {cancel_seconds:.1f} s")
        shoot_block(page, "Faithfulness: does removing", "explain-cancelled.png")
        assert page.get_by_role("button", name="Cancel deletion curves").count() == 0
        assert page.locator(".js-plotly-plot").filter(has=page.locator(".gtitle", has_text="Deletion curves")).count() == 0

        # -- cancel splitting the remaining history texts
        page.get_by_role("button", name=re.compile(r"Split the other \d+ texts")).click()
        cancel = page.get_by_role("button", name="Cancel splitting history texts")
        cancel.wait_for(timeout=120_000)
        cancel.click()
        page.get_by_text("Splitting the other texts was cancelled", exact=False).first.wait_for(timeout=120_000)
        _idle(page)
        assert page.get_by_role("button", name="Cancel splitting history texts").count() == 0

        # -- Compare and What-if
        page.get_by_role("button", name="Compare", exact=True).click()
        page.get_by_text("a difference of", exact=False).first.wait_for(timeout=300_000)
        _idle(page)
        fields = page.get_by_test_id("stMultiSelect").filter(has_text="Remove item fields")
        fields.locator("input").click()
        page.keyboard.type("description")
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        _idle(page)
        assert "description" in fields.inner_text()
        page.get_by_role("button", name="Re-score").click()
        page.get_by_test_id("stMetric").filter(has_text="Rank after").wait_for(timeout=120_000)
        _idle(page)
        assert _results_shown(page) == (True, True)
        summary = page.get_by_text("a difference of", exact=False).first.inner_text()
        assert "item ids" in summary and "item bias" in summary
        contrast = _chart(page, "What favours A")
        _look(page, contrast, "explain-contrast.png")

        # -- another widget, then a download: both results are still there, for unchanged inputs
        page.get_by_text("Hide [CLS] and [SEP]").click()
        _idle(page)
        assert _results_shown(page) == (True, True)
        with page.expect_download() as download:
            page.get_by_test_id("stDownloadButton").filter(has_text="HTML").click()
        card = download.value.path().read_text(encoding="utf-8")
        _idle(page)
        assert _results_shown(page) == (True, True)
        assert page.get_by_text("earlier choice", exact=False).count() == 0
        shoot_block(page, "Why this item above another?", "explain-results-after-download.png")
        shoot_block(page, "What if", "explain-whatif-after-download.png")

        # -- changed inputs: the results stay and say they are for the earlier choice
        other = page.get_by_test_id("stSelectbox").filter(has_text="Compare with")
        other.locator("input").click()
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        _idle(page)
        assert _results_shown(page) == (True, True)
        assert page.get_by_text("earlier choice", exact=False).count() == 1
        shoot_block(page, "Why this item above another?", "explain-results-stale.png")

        # -- the deletion curves in full: the table shows every column
        page.get_by_role("button", name="Compute deletion curves").click()
        page.locator(".js-plotly-plot").filter(has=page.locator(".gtitle", has_text="Deletion curves")).wait_for(
            timeout=900_000)
        _idle(page)
        # visible: the history table above it sits in a collapsed expander
        table = page.get_by_test_id("stDataFrame").filter(visible=True).first
        _look(page, table, "explain-faithfulness-table.png")
        scroller = table.locator(".dvn-scroller").first
        overflow = scroller.evaluate("e => e.scrollWidth - e.clientWidth")
        assert overflow <= 1, f"the faithfulness table scrolls sideways by {overflow}px: a column is cut off"

        # -- cancel a word-level comparison: the message, and the earlier result still shown
        shown = page.get_by_text("a difference of", exact=False).first.inner_text()
        page.get_by_text("Also attribute the difference to the words").click()
        _idle(page)
        page.get_by_role("button", name="Compare", exact=True).click()
        page.get_by_role("button", name="Cancel comparing").wait_for(timeout=120_000)
        page.get_by_role("button", name="Cancel comparing").click()
        page.get_by_text("Comparison cancelled", exact=False).first.wait_for(timeout=120_000)
        _idle(page)
        assert page.get_by_text("a difference of", exact=False).first.inner_text() == shown
        shoot_block(page, "Why this item above another?", "explain-compare-cancelled.png")

        # -- the HTML card's attention map, as a browser draws it
        card_page = browser.new_page(viewport={"width": 1100, "height": 900})
        card_page.set_content(card)
        heat_card = card_page.locator(".heat")
        heat_card.scroll_into_view_if_needed()
        heat_card.screenshot(path=str(SHOTS / "explain-html-attention.png"))
        assert not page.get_by_test_id("stException").count()
        browser.close()


def shoot_block(page, heading: str, name: str) -> None:
    """A screenshot of the viewport scrolled to a section heading."""
    page.get_by_text(heading, exact=False).first.scroll_into_view_if_needed()
    page.wait_for_timeout(600)
    page.screenshot(path=str(SHOTS / name))
