"""The dashboard in a real browser: `streamlit run app.py` driven by Debian's chromium via playwright.

Screenshots of every page go to test-output/screenshots/ (light theme, plus the
Evaluation page in dark theme) so that a person can look at what analysts see.  Like every browser
test, each fails if the browser asked any host but loopback for anything (tests/browser_support.py).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from browser_support import browser, go, load_tables, needs_chromium, server_fixture, shoot, wait_idle  # noqa: F401  (browser: a fixture)
from conftest import tiny_tables

ROOT = Path(__file__).resolve().parents[1]
RUN_TIMEOUT_MS = 300_000  # the Explain page computes integrated gradients on first load

pytestmark = [pytest.mark.browser, needs_chromium]
pytest.importorskip("playwright.sync_api")


server = server_fixture(range(8620, 8625))


def test_an_analyst_walks_from_home_to_recommendations(server, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(server, timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    page.get_by_text("RecSys Studio").first.wait_for(timeout=RUN_TIMEOUT_MS)
    assert page.get_by_text("demo model").first.is_visible()
    assert page.get_by_text("Next step").is_visible()
    assert not page.get_by_test_id("stException").count()
    shoot(page, "01_home")

    go(page, "Recommendations")
    page.get_by_role("heading", name="Recommended").wait_for()
    page.get_by_test_id("stDataFrame").nth(1).wait_for(timeout=RUN_TIMEOUT_MS)  # the history and the top-K
    wait_idle(page)  # the download button is drawn after the tables: wait for the run to end, not for one element
    page.get_by_text("Download as CSV").wait_for(timeout=RUN_TIMEOUT_MS)
    assert not page.get_by_test_id("stException").count()
    shoot(page, "03_recommendations")

    if (ROOT / "pages" / "4_Explain.py").exists():
        page.get_by_role("button", name="Explain").click()
        page.wait_for_url("**/Explain**", timeout=RUN_TIMEOUT_MS)
        wait_idle(page)
        assert not page.get_by_test_id("stException").count()
        shoot(page, "04_explain")
    page.close()


@pytest.mark.parametrize("label, name", [("Data", "01_data"), ("Train", "02_train"), ("Evaluation", "05_evaluation")])
def test_every_page_renders_in_the_browser(server, browser, label, name):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(server, timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    go(page, label)
    page.get_by_role("heading", name=label).first.wait_for()
    assert not page.get_by_test_id("stException").count()
    if label != "Train":
        # Charts draw after the script run ends; on a loaded CI machine that can take seconds.
        page.locator(".js-plotly-plot").first.wait_for(timeout=RUN_TIMEOUT_MS)
    shoot(page, name)
    page.close()


def test_training_runs_live_and_stops_on_request(server, browser, tmp_path):
    """Upload a tiny dataset, train with a live chart, press Stop, see the result next to the baselines."""
    paths = []
    for name, table in zip(("interactions.csv", "items.csv"), tiny_tables()[:2]):
        paths.append(tmp_path / name)
        table.to_csv(paths[-1], index=False)
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(server, timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    load_tables(page, paths)
    go(page, "Train")
    page.get_by_role("spinbutton", name="Epochs (at most)").fill("300")
    page.get_by_text("Advanced options").click()
    page.get_by_role("spinbutton", name="Early-stopping patience (epochs)").fill("300")
    page.get_by_role("spinbutton", name="Early-stopping patience (epochs)").press("Tab")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_role("button", name="Stop").wait_for(timeout=RUN_TIMEOUT_MS)
    page.locator(".js-plotly-plot").first.wait_for(timeout=RUN_TIMEOUT_MS)  # the live curve: an epoch is done
    page.wait_for_timeout(2500)  # a few more polls: the chart grows
    shoot(page, "02_train_running")
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("Training finished").wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    assert page.get_by_text("stopped by user").first.is_visible()
    assert not page.get_by_test_id("stException").count()
    shoot(page, "02_train_done")
    page.close()


def test_the_evaluation_page_reads_in_dark_mode(server, browser):
    context = browser.new_context(color_scheme="dark", viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(server, timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    go(page, "Evaluation")
    shoot(page, "05_evaluation_dark")
    context.close()
