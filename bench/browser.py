"""Browser benchmark: page load → fully rendered Explain page, with a warm model, and server memory.

    python bench/browser.py [--repeats 3]

Starts the dashboard, opens the Explain page in Debian's chromium (playwright),
and times until the attention heatmap and the attribution chart are drawn.
The first load includes computing the explanation; later loads of the same
pair hit the explanation cache ("warm").  Peak RSS of the server is read from
/proc at the end (target for Streamlit Community Cloud: well under 1 GB).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from dashboard.serve import CHROMIUM, CHROMIUM_ARGS, dashboard_server, peak_rss_mb

READY = "text=Integrated gradients: what moved the score"


def load_explain(page, url: str) -> float:
    started = time.perf_counter()
    page.goto(f"{url}/Explain", wait_until="domcontentloaded")
    page.wait_for_selector(READY, timeout=300_000)
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 4", timeout=300_000)
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=300_000)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    log = Path(tempfile.mkdtemp()) / "streamlit.log"
    with dashboard_server(log) as (url, pid), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        started = time.perf_counter()
        page.goto(url)
        page.wait_for_selector("text=RecSys Studio", timeout=300_000)
        print(f"home page (server cold, demo model load): {time.perf_counter() - started:6.1f} s")
        cold = load_explain(page, url)
        print(f"Explain page, explanation computed:       {cold:6.1f} s")
        warm = [load_explain(page, url) for _ in range(args.repeats)]
        print(f"Explain page, explanation cached (warm):  {min(warm):6.1f} s best, {max(warm):6.1f} s worst")
        print(f"server peak RSS: {peak_rss_mb(pid):,.0f} MB")
        browser.close()


if __name__ == "__main__":
    main()
