"""Uploaded text is data, never markup: a hostile dataset walked through every page in a real browser.

Every text field, id, column name and file name of the dataset carries Markdown images and links,
``javascript:`` links, raw HTML (``<img onerror>``, ``<script>``, ``<a href>``), ``$…$`` math, a bare
URL and Streamlit's ``:material/…:`` / ``:red[…]`` syntax.  Image targets are loopback
(127.0.0.1:9) and TEST-NET (203.0.113.7, never reachable): the request log shows whether the
browser even tried.  On every page the test asserts that no element was made from the payload,
no KaTeX was rendered, no script ran, the payload is shown literally, and no request left loopback.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from browser_support import REQUEST_LOG, attach, browser, go, needs_chromium, server_fixture, shoot, wait_idle  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.browser, needs_chromium]
playwright_api = pytest.importorskip("playwright.sync_api")

RUN_TIMEOUT_MS = 300_000
PAYLOADS = (
    "![b](http://127.0.0.1:9/b.png)",
    "![n](http://203.0.113.7/x.png)",
    "[link](http://203.0.113.7/l)",
    "[js](javascript:window.__pwned=1)",
    '<img id="hostile-img" src="http://203.0.113.7/h.png" onerror="window.__pwned=2">',
    "<script>window.__pwned=3</script>",
    '<a id="hostile-a" href="http://203.0.113.7/a">a</a>',
    "<b id=\"hostile-b\">bold</b>",
    "$x^2$",
    "http://203.0.113.7/auto",
    ":material/warning: :red[red]",
)
HOSTILE = " ".join(PAYLOADS)
HOSTILE_COLUMN = 'note ![c](http://203.0.113.7/col.png) <b id="hostile-col">c</b> $y$'
# A file name has no slash, and the browser sends '"' in it as %22.
FILE_PAYLOAD = "![f](javascript:alert(1)) <b id=hostile-file>F <i>i $z$"
GENRES = ["Drama", "Comedy", "Sci-Fi", "Horror"]
N_USERS, N_ITEMS = 24, 32

# Elements and attributes that would mean the payload became markup: any URL-bearing or event-handler
# attribute naming a payload target, any element with a payload id, and a script holding the payload.
# A MutationObserver installed before the app's own scripts records them as they appear, so an element
# that is shown for a moment (a progress message, say) and replaced counts too; the Streamlit elements
# around it are named to say where it came from.
WATCH = r"""(() => {
  window.__made = [];
  const target = /203\.0\.113\.7|127\.0\.0\.1:9\/|javascript:|__pwned/i;
  const urlAttrs = new Set(['src', 'href', 'srcset', 'xlink:href', 'action', 'formaction', 'data', 'poster', 'style']);
  const where = (el) => {
    const ids = [];
    for (let e = el; e && ids.length < 3; e = e.parentElement) {
      if (e.getAttribute && e.getAttribute('data-testid')) ids.push(e.getAttribute('data-testid'));
    }
    return ids.join(' < ') || '?';
  };
  const check = (el) => {
    if (!el || el.nodeType !== 1) return;
    for (const a of el.attributes) {
      if ((urlAttrs.has(a.name) || a.name.startsWith('on')) && target.test(a.value)) {
        window.__made.push(`${el.tagName} ${a.name}=${a.value.slice(0, 60)} in ${where(el)}`);
      }
    }
    if (el.id && el.id.startsWith('hostile')) window.__made.push(`${el.tagName}#${el.id} in ${where(el)}`);
    if (el.tagName === 'SCRIPT' && el.textContent.includes('__pwned')) window.__made.push(`SCRIPT in ${where(el)}`);
    if (el.classList.contains('katex')) window.__made.push(`KaTeX in ${where(el)}`);
  };
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (m.type === 'attributes') check(m.target);
      for (const n of m.addedNodes) {
        check(n);
        if (n.querySelectorAll) n.querySelectorAll('*').forEach(check);
      }
    }
  }).observe(document, {subtree: true, childList: true, attributes: true});
})();"""
INSPECT = r"""() => ({
  made: [...new Set(window.__made)],
  katex: document.querySelectorAll('.katex, .katex-display, math').length,
  pwned: window.__pwned === undefined ? null : String(window.__pwned),
  text: document.body.innerText.replaceAll('\u2060', ''),
})"""


def hostile_tables() -> dict[str, pd.DataFrame]:
    """Interactions, items and users (each user mostly likes one genre) whose every string is hostile."""
    def item_id(i: int) -> str:
        return f"i{i:02d}{PAYLOADS[i % len(PAYLOADS)]}"

    def user_id(u: int) -> str:
        return f"u{u:02d}{PAYLOADS[u % len(PAYLOADS)]}"

    items = pd.DataFrame({
        "item_id": [item_id(i) for i in range(N_ITEMS)],
        "title": [f"{GENRES[i % 4]} story {i} {HOSTILE}" for i in range(N_ITEMS)],
        "genres": [f"{GENRES[i % 4]} {PAYLOADS[i % len(PAYLOADS)]}" for i in range(N_ITEMS)],
        "description": [f"A {GENRES[i % 4].lower()} tale. {HOSTILE}" for i in range(N_ITEMS)],
        HOSTILE_COLUMN: [f"note {i}" for i in range(N_ITEMS)],
    })
    users = pd.DataFrame({
        "user_id": [user_id(u) for u in range(N_USERS)],
        "about": [f"Loves {GENRES[u % 4].lower()} films {HOSTILE}" for u in range(N_USERS)],
        HOSTILE_COLUMN: [f"{PAYLOADS[u % len(PAYLOADS)]}" for u in range(N_USERS)],
    })
    rows = [(user_id(u), item_id(i), 1_700_000_000 + 3600 * t)
            for u in range(N_USERS)
            for t, i in enumerate([i for i in range(N_ITEMS) if i % 4 == u % 4][:6])]
    interactions = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    return {"interactions": interactions, "items": items, "users": users}


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("hostile")
    paths = []
    for name, table in hostile_tables().items():
        paths.append(folder / f"{name} {FILE_PAYLOAD}.csv")  # the file name is uploaded text too
        table.to_csv(paths[-1], index=False)
    return paths


server = server_fixture(range(8625, 8630), own_embedding_cache=True)


def problems_on(page, name: str, since: int, *literals: str, settle: bool = True) -> list[str]:
    """What is wrong with how ``page`` shows the payload: elements made from it, KaTeX, a script that ran,
    requests that left loopback from the ``since``-th request on, or ``literals`` not visible as text.

    ``settle=False`` for a page that keeps a fragment rerunning (the caller has waited for its content).
    """
    if settle:
        wait_idle(page, RUN_TIMEOUT_MS)
    else:
        page.wait_for_timeout(3000)  # the data grid and charts draw after the content arrives
    shoot(page, f"hostile_{name}")
    found = page.evaluate(INSPECT)
    page.evaluate("() => { window.__made = []; }")  # the next page is judged on its own elements
    problems = [f"elements made from uploaded text: {found['made'][:8]}"] if found["made"] else []
    if page.get_by_test_id("stException").count():
        problems.append("an exception is shown")
    if found["katex"]:
        problems.append(f"{found['katex']} KaTeX elements rendered from uploaded text")
    if found["pwned"] is not None:
        problems.append(f"uploaded script ran (window.__pwned={found['pwned']})")
    problems += [f"request left loopback: {url}" for url in REQUEST_LOG.outside(since=since)]
    for literal in (FILE_PAYLOAD, *literals):  # the sidebar names the uploaded files on every page
        if literal not in found["text"]:
            problems.append(f"{literal!r} is not shown literally")
    return [f"{name}: {p}" for p in problems]


def test_hostile_uploads_are_shown_as_text_on_every_page(server, browser, hostile_files):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.add_init_script(WATCH)
    problems = []  # gathered over the whole walk, so that one run reports every page

    first = since = len(REQUEST_LOG.entries)

    def check(name: str, *literals: str, settle: bool = True) -> None:
        """Judge the page now shown on what it displays and on the requests made since the last check."""
        nonlocal since
        problems.extend(problems_on(page, name, since, *literals, settle=settle))
        since = len(REQUEST_LOG.entries)

    page.goto(server, timeout=RUN_TIMEOUT_MS)
    wait_idle(page, RUN_TIMEOUT_MS)

    go(page, "Data")
    attach(page, hostile_files, RUN_TIMEOUT_MS)
    page.get_by_role("button", name="Load dataset").click()
    page.get_by_text("Dataset loaded").wait_for(timeout=RUN_TIMEOUT_MS)
    check("data")

    go(page, "Train")
    page.get_by_role("spinbutton", name="Epochs (at most)").fill("2")
    page.get_by_role("spinbutton", name="Epochs (at most)").press("Tab")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Training finished").wait_for(timeout=RUN_TIMEOUT_MS)
    check("train")

    go(page, "Home")
    check("home", HOSTILE_COLUMN)  # the caption lists the text fields

    # The page explains its top 3 in the background and redraws a status line every second meanwhile, so on
    # a busy machine the app may not settle for minutes: wait for the content instead.
    page.get_by_test_id("stSidebarNav").get_by_text("Recommendations", exact=True).click()
    page.get_by_text("Download as CSV").wait_for(timeout=RUN_TIMEOUT_MS)
    check("recommendations", *PAYLOADS, settle=False)  # the first user's profile: every payload
    page.get_by_text("New user", exact=True).click()
    check("recommendations_new_user", HOSTILE_COLUMN)  # profile fields are labels
    page.get_by_text("Known user", exact=True).click()
    page.get_by_text("Download as CSV").wait_for(timeout=RUN_TIMEOUT_MS)
    page.wait_for_timeout(1000)

    # The 5th recommendation: the page prefetches explanations of the top 3, and this one must be computed
    # while the Explain page watches, so its progress messages (they name history items) are shown too.
    choose = page.get_by_test_id("stSelectbox").filter(has_text="Explain a recommendation").get_by_role("combobox")
    for _ in range(10):  # the status line's reruns can close the list just opened: open it again
        choose.click()
        try:
            page.get_by_role("option").nth(4).click(timeout=5000)  # the list shows item labels: checked on Explain
            break
        except playwright_api.TimeoutError:
            page.keyboard.press("Escape")
    page.wait_for_timeout(2000)
    page.get_by_role("button", name="Explain").click()
    page.wait_for_url("**/Explain**", timeout=RUN_TIMEOUT_MS)
    check("explain")

    go(page, "Evaluation")
    check("evaluation")

    go(page, "Feature importance")
    for name in ("Users in the sample", "Top-K items per user"):  # the smallest sample: 3 pairs
        page.get_by_role("slider", name=name).press("Home")
        wait_idle(page, RUN_TIMEOUT_MS)
    page.get_by_role("button", name="Compute attribution shares").click()
    page.get_by_text("pairs; mean convergence delta").wait_for(timeout=RUN_TIMEOUT_MS)
    check("feature_importance")
    page.close()
    assert len(REQUEST_LOG.entries) > first + 50, "the request log saw (almost) nothing: it is not wired up"
    assert not problems, "\n".join(problems)
