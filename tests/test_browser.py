"""The dashboard in a real browser: `streamlit run app.py` driven by Debian's chromium via playwright.

Screenshots of every page go to test-output/screenshots/ (light theme, plus the
Evaluation page in dark theme) so that a person can look at what analysts see.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
START_TIMEOUT = 180  # the first start may train the demo model
RUN_TIMEOUT_MS = 120_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
playwright_api = pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A dashboard server on a free local port, stopped (and reaped) at the end."""
    port = free_port()
    env = {**os.environ, "RECSYS_MODELS_DIR": str(tmp_path_factory.mktemp("models"))}
    log = open(tmp_path_factory.mktemp("server") / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + START_TIMEOUT
        while True:
            assert proc.poll() is None, f"streamlit exited early, see {log.name}"
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.time() < deadline, "streamlit did not become healthy"
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module", autouse=True)
def screenshot_dir():
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


def wait_idle(page) -> None:
    """Wait until the script run has finished and charts have drawn."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=RUN_TIMEOUT_MS)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')",
        timeout=RUN_TIMEOUT_MS,
    )
    page.wait_for_timeout(1500)  # plotly and the data grid draw after the run ends


def shoot(page, name: str) -> Path:
    """A screenshot of the whole page: the viewport is grown to the main area's full height first."""
    height = page.evaluate(
        "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
        " return Math.max(m ? m.scrollHeight : 0, document.body.scrollHeight); }"
    )
    page.set_viewport_size({"width": 1440, "height": min(max(int(height), 900), 8000)})
    page.wait_for_timeout(800)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 1440, "height": 900})
    return path


def go(page, label: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(label, exact=True).click()
    wait_idle(page)


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
    assert page.get_by_test_id("stDataFrame").count() >= 2  # the history and the top-K
    assert page.get_by_text("Download as CSV").is_visible()
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
    assert page.locator(".js-plotly-plot").count() >= (0 if label == "Train" else 1)
    shoot(page, name)
    page.close()


def test_the_evaluation_page_reads_in_dark_mode(server, browser):
    context = browser.new_context(color_scheme="dark", viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(server, timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    go(page, "Evaluation")
    shoot(page, "05_evaluation_dark")
    context.close()
