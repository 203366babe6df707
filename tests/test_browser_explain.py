"""Three analysts open Explain at the same moment on a fresh server (real chromium, one Streamlit process).

Each of the three browser contexts is its own Streamlit session (its own script thread) sharing one
encoder, one explanation cache and one explanation worker.  None may show an error, and each must
show the numbers a lone computation in this test process gives for the same pair.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from dashboard.serve import CHROMIUM, CHROMIUM_ARGS, dashboard_server

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-output" / "screenshots"
PORTS = range(8630, 8640)
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
