"""Feature importance in a real browser: a long sample shows its progress and time per pair, and Cancel stops it.

The demo model's sample of 12 users × 3 items takes minutes, so the run is still going when Cancel is
clicked; the page must then say it was cancelled and show nothing from the unfinished sample.
Screenshots (looked at by a reviewer): test-output/screenshots/importance-running.png, importance-cancelled.png.
"""
from __future__ import annotations

import re

from browser_support import (  # noqa: F401  (browser: a fixture)
    browser,
    go,
    needs_chromium,
    server_fixture,
    shoot,
    wait_idle,
)

pytestmark = needs_chromium
RUN_TIMEOUT_MS = 300_000
MEASURED = re.compile(r"Explained ([1-9]|[12][0-9]|3[0-5]) of 36 pairs · [0-9.]+ s per pair · about .+ left")

server = server_fixture(range(8620, 8625))


def test_feature_importance_can_be_cancelled(server, browser):  # noqa: F811  (browser: the fixture)
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(server, timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    go(page, "Feature importance")
    assert page.get_by_text("Each pair is timed as it is explained").count() == 1
    assert page.get_by_text("one to two seconds", exact=False).count() == 0, "a static time promise is back"

    page.get_by_role("button", name="Compute attribution shares").click()
    cancel = page.get_by_role("button", name="Cancel")
    cancel.wait_for(timeout=RUN_TIMEOUT_MS)
    progress = page.get_by_test_id("stProgress")
    # After the first pair, the bar says what it measured and what that means for the rest.
    progress.get_by_text("s per pair").wait_for(timeout=RUN_TIMEOUT_MS)
    assert MEASURED.search(progress.inner_text()), progress.inner_text()
    assert page.get_by_role("button", name="Compute attribution shares").is_disabled()
    shoot(page, "importance-running")

    cancel.click()
    message = page.get_by_text("Cancelled after")
    message.wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    text = message.inner_text()
    assert MEASURED.search(text), text
    assert "Nothing is shown from it" in text and "not the result you asked for" in text
    assert page.get_by_text("pairs; mean convergence delta").count() == 0, "a partial sample was shown as a result"
    assert page.get_by_role("button", name="Cancel").count() == 0
    assert page.get_by_role("button", name="Compute attribution shares").is_enabled()
    assert page.get_by_test_id("stException").count() == 0
    shoot(page, "importance-cancelled")

    # The message stays (it is this session's last run) when the analyst changes something else.
    page.get_by_role("slider", name="Top-K items per user").press("Home")
    wait_idle(page)
    assert page.get_by_text("Cancelled after").count() == 1
    page.close()
