"""What every real-browser test shares: chromium launched offline, and proof that no request left the machine.

The dashboard promises that nothing it loads leaves the machine: no web fonts, icons, scripts,
images named by uploaded text, or telemetry.  ``no_request_leaves_loopback`` (autouse for the whole
suite through tests/conftest.py) watches every playwright ``Browser.new_context`` and
``Browser.new_page`` made during a test, however the test launched chromium, and fails the test if
any page asked a host other than loopback for anything.  ``REQUEST_LOG`` keeps every URL with the
page that asked for it, so a test can also check page by page.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from serve import CHROMIUM, CHROMIUM_ARGS, dashboard_server

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-output" / "screenshots"
LOCAL_SCHEMES = {"data", "blob", "about"}  # content the page made itself, no network involved
SERVER_START_TIMEOUT = 180  # seconds: the first start may train the demo model
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium")


def leaves_machine(url: str) -> bool:
    """True when fetching ``url`` would contact another host (anything but loopback, data: or blob:)."""
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return False
    host = (parts.hostname or "").lower()
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name, or no host at all: either way not known to stay here
        return True


@dataclass
class RequestLog:
    """Every URL the watched browsers requested (websockets included), with the page that asked for it."""

    entries: list[tuple[str, str]] = field(default_factory=list)

    def add(self, url: str, source: str) -> None:
        self.entries.append((url, source))

    def request(self, request) -> None:
        try:
            source = request.frame.url
        except Exception:  # a service worker's request has no frame
            source = "?"
        self.add(request.url, source)

    def watch(self, context) -> None:
        context.on("request", self.request)
        context.on("page", lambda p: p.on("websocket", lambda ws: self.add(ws.url, p.url)))

    def outside(self, since: int = 0) -> list[str]:
        """Non-loopback URLs requested from the ``since``-th entry on, each with the page that asked."""
        return sorted({f"{url} (from {source})" for url, source in self.entries[since:] if leaves_machine(url)})


REQUEST_LOG = RequestLog()


@pytest.fixture(autouse=True)
def no_request_leaves_loopback(monkeypatch):
    """Fail any test during which a playwright browser asked a non-loopback host for anything."""
    try:
        from playwright.sync_api import Browser
    except ImportError:  # no playwright, no browser tests
        yield
        return
    new_context, new_page = Browser.new_context, Browser.new_page

    def watched_context(self, *args, **kwargs):
        context = new_context(self, *args, **kwargs)
        REQUEST_LOG.watch(context)
        return context

    def watched_page(self, *args, **kwargs):
        page = new_page(self, *args, **kwargs)  # its own context; nothing is requested before goto
        REQUEST_LOG.watch(page.context)
        page.on("websocket", lambda ws: REQUEST_LOG.add(ws.url, page.url))  # its context's "page" event has passed
        return page

    monkeypatch.setattr(Browser, "new_context", watched_context)
    monkeypatch.setattr(Browser, "new_page", watched_page)
    start = len(REQUEST_LOG.entries)
    yield
    outside = REQUEST_LOG.outside(since=start)
    assert not outside, f"{len(outside)} request(s) left loopback: {outside[:10]}"


def server_fixture(ports: range, *, own_embedding_cache: bool = False):
    """A module-scoped ``server`` fixture: the dashboard on a free port of ``ports`` (url), stopped at the end.

    Each server gets its own models folder (and, if asked, its own embedding cache), so tests
    never see each other's saved models; distinct port ranges keep parallel test modules apart.
    """

    @pytest.fixture(scope="module")
    def server(tmp_path_factory):
        env = {"RECSYS_MODELS_DIR": str(tmp_path_factory.mktemp("models"))}
        if own_embedding_cache:
            env["RECSYS_CACHE_DIR"] = str(tmp_path_factory.mktemp("embeddings"))
        log = tmp_path_factory.mktemp("server") / "streamlit.log"
        with dashboard_server(log, env, SERVER_START_TIMEOUT, ports=ports) as (url, _pid):
            yield url

    return server


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, headless, with nothing that reaches for the network on its own."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


# True once the script has been idle, with every plotly chart drawn, for QUIET_MS without a break. The clock
# restarts whenever a run is seen (a rerun chained to the last one, a fragment's timer) or a chart is not drawn
# (an element still loading its code shows a skeleton: the CI run where the first chart of a page took longer
# than the quiet period to load saw "no chart" without this),
# and on a page that has not set it (after a reload). It must stay under the Train page's 1 s fragment period:
# while a training runs, the idle gaps between the fragment's redraws are all the quiet there is.
QUIET_MS = 800
IDLE = """quiet => {
  const app = document.querySelector('[data-testid="stApp"]');
  // A chart's code is loaded on first use: until then Streamlit shows a skeleton in its place, and no plot.
  const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"], .js-plotly-plot')];
  const drawn = charts.every(c => c.querySelector('.main-svg')) && !document.querySelector('[data-testid="stSkeleton"]');
  const now = performance.now();
  const busy = !app || app.getAttribute('data-test-script-state') !== 'notRunning' || !drawn;
  if (busy || window.__busySince === undefined) window.__busySince = now;
  return now - window.__busySince >= quiet;
}"""


def wait_idle(page, timeout_ms: int = 300_000) -> None:
    """Wait until the script run has finished and charts have drawn, and stayed so for ``QUIET_MS``.

    The clock starts at the call, so a rerun that a click has just triggered (it starts a few hundred ms
    later) is seen and waited out instead of being mistaken for the finished run before it.
    """
    page.evaluate("() => { window.__busySince = performance.now(); }")
    page.wait_for_function(IDLE, arg=QUIET_MS, timeout=timeout_ms, polling=100)


def shoot(page, name: str) -> Path:
    """A screenshot of the whole page: the viewport is grown to the main area's full height first."""
    SHOTS.mkdir(parents=True, exist_ok=True)
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


def attach(page, paths, timeout_ms: int = 300_000) -> None:
    """Put ``paths`` into the Data page's file uploaders in order (interactions, items, users)."""
    for i, path in enumerate(paths):
        page.locator('[data-testid="stFileUploader"] input[type="file"]').nth(i).set_input_files(str(path))
        wait_idle(page, timeout_ms)


def load_tables(page, paths, timeout_ms: int = 300_000) -> None:
    """On the Data page, attach ``paths`` (interactions, items, users), press Load dataset and wait until loaded."""
    go(page, "Data", timeout_ms)
    attach(page, paths, timeout_ms)
    page.get_by_role("button", name="Load dataset").click()
    page.get_by_text("Dataset loaded").wait_for(timeout=timeout_ms)
    wait_idle(page, timeout_ms)


def go(page, label: str, timeout_ms: int = 300_000) -> None:
    """Open a page from the sidebar navigation and wait for its run to finish."""
    page.get_by_test_id("stSidebarNav").get_by_text(label, exact=True).click()
    # The page's url path is its title with underscores (app.py). Waiting for it first means a slow
    # machine cannot let wait_idle see the old page's finished run before the new one starts.
    path = "/" if label == "Home" else "/" + label.replace(" ", "_")
    page.wait_for_function(
        "p => window.location.pathname.replace(/\\/$/, '').endsWith(p.replace(/\\/$/, ''))",
        arg=path,
        timeout=timeout_ms,
    )
    wait_idle(page, timeout_ms)
