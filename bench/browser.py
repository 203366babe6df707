"""Browser benchmark: the Explain page in real chromium — cold, prefetched, three sessions at once — and server memory.

    python bench/browser.py

On a fresh dashboard server (demo model):

1. the Data page, server cold (loads the demo data and model, prefetches nothing);
2. one session opens Explain (cold caches): seconds to the first view (score, each text's share,
   attention) and to the token split of the texts carrying the score; server peak RSS;
3. Home: seconds until its featured users' explanations are ready, then "Explain" on the first
   one: seconds from the click to the settled Explain page;
4. the same session opens Recommendations for another user, waits until the prefetch line says
   the top 3 are ready, clicks "Explain": seconds from the click to the settled Explain page
   (median over five users, each value printed);
5. three new sessions, three other users, each Recommendations → "Explain" at the same moment:
   seconds until all three settled; server peak RSS over that phase only (VmHWM reset).

"Settled" = the token split drawn, the last stage's widget ("Compute deletion curves") present and
Streamlit's running indicator gone.  Wall clock; the machine may be shared (say so when reporting).
"""
from __future__ import annotations

import functools
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # tests/serve.py, from any directory

from serve import CHROMIUM, CHROMIUM_ARGS, dashboard_server, peak_rss_mb

PORTS = range(8640, 8650)
PREFETCHED_USERS = ("u0005", "u0006", "u0007", "u0008", "u0009")
FIRST_VIEW = "text=Item text's share"
READY = "text=Integrated gradients: what moved the score"
TIMEOUT = 600_000
print = functools.partial(print, flush=True)  # each line as soon as measured, even when piped


def settled(page) -> None:
    page.wait_for_selector(READY, timeout=TIMEOUT)
    page.get_by_text("Compute deletion curves").wait_for(timeout=TIMEOUT)
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=TIMEOUT)


def reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM (Linux: write 5 to clear_refs) so the next phase's peak is its own."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def open_recommendations(page, url: str, user: str) -> None:
    """Recommendations for ``user``, reloaded every 5 s until its line says the top 3 are prefetched."""
    while True:
        page.goto(f"{url}/Recommendations", wait_until="domcontentloaded")
        box = page.get_by_label("Search users")
        box.wait_for(timeout=TIMEOUT)
        box.fill(user)
        box.press("Enter")
        time.sleep(1)  # let the rerun for this user start before reading its line
        line = page.get_by_text("Explanations of the top 3:")
        line.wait_for(timeout=TIMEOUT)
        page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=TIMEOUT)
        if "3 of 3 ready" in line.inner_text():
            return
        time.sleep(5)


def open_home_until_featured_ready(page, url: str) -> None:
    """Home, reloaded every 5 s until its featured-users line says every explanation is ready."""
    while True:
        page.goto(url, wait_until="domcontentloaded")
        line = page.get_by_text("Their explanations are prepared")
        line.wait_for(timeout=TIMEOUT)
        page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=TIMEOUT)
        text = line.inner_text()
        ready, _, rest = text.partition(" ready")[0].rpartition(": ")[2].partition(" of ")
        if ready and ready == rest:
            return
        time.sleep(5)


def main() -> None:
    log = Path(tempfile.mkdtemp()) / "streamlit.log"
    with dashboard_server(log, ports=PORTS) as (url, pid), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        started = time.perf_counter()
        page.goto(f"{url}/Data")
        page.wait_for_selector("[data-testid=\"stSidebar\"] >> text=Dataset:", timeout=TIMEOUT)
        print(f"Data page (server cold, demo model load):           {time.perf_counter() - started:6.1f} s")
        print(f"server RSS high-water mark after it:                {peak_rss_mb(pid):6.0f} MB")

        started = time.perf_counter()
        page.goto(f"{url}/Explain", wait_until="domcontentloaded")
        page.wait_for_selector(FIRST_VIEW, timeout=TIMEOUT)
        first = time.perf_counter() - started
        settled(page)
        cold = time.perf_counter() - started
        print(f"Explain, cold: first view {first:5.1f} s, tokens of the carrying texts {cold:5.1f} s")
        print(f"server peak RSS, one session explaining:            {peak_rss_mb(pid):6.0f} MB")

        started = time.perf_counter()
        open_home_until_featured_ready(page, url)
        print(f"Home: featured users' explanations ready after:     {time.perf_counter() - started:6.1f} s")
        started = time.perf_counter()
        page.get_by_role("button", name="Explain").first.click()
        settled(page)
        print(f"Explain of a featured pair, click → settled:        {time.perf_counter() - started:6.2f} s")

        times = []
        for user in PREFETCHED_USERS:  # one click is one sample of a ~1 s figure: take several
            open_recommendations(page, url, user)
            started = time.perf_counter()
            page.get_by_role("button", name="Explain").click()
            settled(page)
            times.append(time.perf_counter() - started)
        print(f"Explain of a prefetched pair, click → settled:      {statistics.median(times):6.2f} s median of "
              f"{len(times)} users ({', '.join(f'{t:.2f}' for t in times)})")

        reset = reset_peak(pid)
        sessions = [browser.new_context(viewport={"width": 1400, "height": 1000}).new_page() for _ in range(3)]
        for session, user in zip(sessions, ("u0010", "u0011", "u0012")):
            session.goto(f"{url}/Recommendations", wait_until="domcontentloaded")
            session.get_by_label("Search users").wait_for(timeout=TIMEOUT)
            session.get_by_label("Search users").fill(user)
            session.get_by_label("Search users").press("Enter")
            session.get_by_role("button", name="Explain").wait_for(timeout=TIMEOUT)
        started = time.perf_counter()
        for session in sessions:  # three clicks back to back: the sessions explain at the same moment
            session.get_by_role("button", name="Explain").click()
        for session in sessions:
            settled(session)
        print(f"three sessions, Explain clicked at once → all settled: {time.perf_counter() - started:5.1f} s "
              "(their own top-3 prefetches queued behind)")
        label = "three sessions' phase only" if reset else "whole run (VmHWM reset not allowed)"
        print(f"server peak RSS, {label}:          {peak_rss_mb(pid):6.0f} MB")
        browser.close()


if __name__ == "__main__":
    main()
