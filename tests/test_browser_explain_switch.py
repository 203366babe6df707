"""Switching pairs on Explain in a real browser: the old pair's results are gone while the new pair computes.

Streamlit keeps the previous run's elements on screen (faded) until the new run draws over them, so
only a browser shows what an analyst sees between the switch and the new pair's results.
"""
from __future__ import annotations

import re
import time

import pytest

from browser_support import SHOTS, browser, needs_chromium, server_fixture, wait_idle  # noqa: F401  (browser: a fixture)

server = server_fixture(range(8650, 8655))
pytestmark = [pytest.mark.browser, needs_chromium]
pytest.importorskip("playwright.sync_api")
BUSY = '[data-testid="stAlertContainer"]:has-text("Computing")'

# Every text node of the main area that mentions one of ``needles`` (case-insensitive, whole words) and is
# not inside a widget that offers it as an option or an alert that says it is for an earlier choice.
UNLABELLED = """needles => {
  const main = document.querySelector('[data-testid="stMain"]');
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  const found = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || getComputedStyle(el).visibility === 'hidden') continue;
    const hit = needles.find(w => new RegExp('\\\\b' + w + '\\\\b', 'i').test(n.textContent));
    if (!hit) continue;
    if (el.closest('[data-testid="stSelectbox"], [data-testid="stMultiSelect"]')) continue;
    const alert = el.closest('[data-testid="stAlertContainer"]');
    if (alert && alert.textContent.includes('earlier choice')) continue;
    const block = el.closest('[data-testid="stElementContainer"]');
    found.push(hit + ' in ' + (block ? block.getAttribute('data-testid') + ':' + (block.className || '') : el.tagName)
               + ' stale=' + !!el.closest('[data-stale="true"]') + ': ' + n.textContent.slice(0, 80));
  }
  return found;
}"""


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]{5,}", text.lower()))


def test_switching_pair_clears_the_old_pair_and_shows_what_is_computed(server, browser, demo_model):
    rec = demo_model
    user = rec.known_users()[0]  # what the page opens on
    old, new = [r.item_id for r in rec.recommend(user, 2)]
    texts = rec.catalog.item_texts
    title = lambda i: texts[rec.item_position(i)].text.split(" | ")[0].removeprefix("title: ")  # noqa: E731
    shared = _words(texts[rec.item_position(new)].text).union(*(_words(texts[i].text) for i in rec.context(user).history))
    needles = sorted(_words(texts[rec.item_position(old)].text) - shared) + [re.escape(title(old))]
    assert len(needles) > 2, needles

    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    start = time.time()
    page.goto(f"{server}/Explain")
    page.get_by_text("Top words by integrated gradients").first.wait_for(timeout=600_000)  # the old pair's token view
    wait_idle(page, 600_000)
    assert page.evaluate(UNLABELLED, needles), "the old pair's view should show its words (else this proves nothing)"
    assert page.locator(BUSY).count() == 0

    opened = time.time()
    page.get_by_test_id("stSelectbox").filter(has_text="top-10 recommendations").click()
    page.get_by_role("option", name=re.compile(re.escape(f"({new})"))).click()
    busy = page.locator(BUSY).filter(has_text=f"({new})").first
    busy.wait_for(timeout=60_000)  # drawn by the first progress report of the new pair's work
    during = page.evaluate(UNLABELLED, needles)
    page.screenshot(path=str(SHOTS / "explain-switch-computing.png"))
    cleared = time.time()
    assert not during, during
    assert re.search(r"Computing (the first view|token attributions)", busy.inner_text()), busy.inner_text()
    assert page.get_by_test_id("stProgress").filter(has_text=f"({new}) for user {user}").count() == 1

    page.get_by_text("Top words by integrated gradients").first.wait_for(timeout=600_000)
    wait_idle(page, 600_000)
    page.screenshot(path=str(SHOTS / "explain-switch-done.png"))
    print(f"old pair shown {opened - start:.1f} s; switch to busy line and check {cleared - opened:.1f} s; "
          f"new pair done {time.time() - cleared:.1f} s later")
    assert page.locator(BUSY).count() == 0, "the busy line stays after the work is done"
    assert not page.evaluate(UNLABELLED, needles)
    assert not page.get_by_test_id("stException").count()
