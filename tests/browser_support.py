"""What every real-browser test shares: chromium launched offline, and a check that no request left the machine.

Import the fixtures into a browser test module::

    from browser_support import browser, no_request_leaves_loopback  # noqa: F401  (pytest fixtures)

``browser`` gives pages and contexts whose every request (and websocket) is logged;
``no_request_leaves_loopback`` (autouse once imported) fails the test that caused any request to a
host other than loopback.  The dashboard promises that nothing it loads leaves the machine: no web
fonts, icons, scripts, images named by uploaded text, or telemetry.
"""
from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from dashboard.serve import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-output" / "screenshots"
LOCAL_SCHEMES = {"data", "blob", "about"}  # content the page made itself, no network involved
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


class OfflineBrowser:
    """A playwright Browser whose pages and contexts log every URL they request."""

    def __init__(self, browser):
        self._browser = browser
        self.requests: list[str] = []
        self.sources: dict[str, str] = {}  # requested URL → URL of the page that asked for it
        self.contexts: list = []  # closed after each test by no_request_leaves_loopback

    def _log(self, url: str, source: str) -> None:
        self.requests.append(url)
        self.sources.setdefault(url, source)

    def _log_request(self, request) -> None:
        try:
            source = request.frame.url
        except Exception:  # a service worker's request has no frame
            source = "?"
        self._log(request.url, source)

    def _watch(self, context):
        context.on("request", self._log_request)
        context.on("page", lambda p: p.on("websocket", lambda ws: self._log(ws.url, p.url)))
        self.contexts.append(context)
        return context

    def new_context(self, **kwargs):
        return self._watch(self._browser.new_context(**kwargs))

    def new_page(self, **kwargs):
        """A page in its own context (as ``Browser.new_page``), watched from its first request."""
        return self.new_context(**kwargs).new_page()

    def close_contexts(self) -> None:
        while self.contexts:
            self.contexts.pop().close()

    def outside(self, since: int = 0) -> list[str]:
        """Every non-loopback URL requested (from the ``since``-th request on), with the page that asked."""
        urls = self.requests[since:]
        return sorted({f"{url} (from {self.sources.get(url, '?')})" for url in urls if leaves_machine(url)})


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield OfflineBrowser(b)
        b.close()


@pytest.fixture(autouse=True)
def no_request_leaves_loopback(browser):
    """Fail any browser test during which the browser asked a non-loopback host for anything."""
    browser.requests.clear()
    browser.sources.clear()
    yield
    browser.close_contexts()
    outside = browser.outside()
    assert not outside, f"{len(outside)} request(s) left loopback: {outside[:10]}"
    assert browser.requests, "no request was logged at all: the request log is not wired up"


def wait_idle(page, timeout_ms: int = 300_000) -> None:
    """Wait until the script run has finished and charts have drawn."""
    page.wait_for_timeout(500)  # let a rerun that was just triggered begin
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms)
    page.wait_for_timeout(1500)  # plotly and the data grid draw after the run ends


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


def go(page, label: str, timeout_ms: int = 300_000) -> None:
    """Open a page from the sidebar navigation and wait for its run to finish."""
    page.get_by_test_id("stSidebarNav").get_by_text(label, exact=True).click()
    wait_idle(page, timeout_ms)
