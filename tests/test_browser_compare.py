"""The Compare page in a real browser on two models of the demo data: the bundled demo model and a small
variant saved in the shared models folder (one epoch, dimension 16, a 5-item window).

Screenshots (looked at by a reviewer): test-output/screenshots/compare-running.png, compare-result.png,
compare-pair.png, compare-open-user.png.
"""
from __future__ import annotations

import re

import pytest

from browser_support import (  # noqa: F401  (browser: a fixture)
    SERVER_START_TIMEOUT,
    browser,
    go,
    needs_chromium,
    shoot,
    wait_idle,
)
from serve import dashboard_server

pytestmark = needs_chromium
RUN_TIMEOUT_MS = 300_000
VERDICT = re.compile(r"Warm users \(test\) \(994 users\): (demo-small is (better|worse) than demo model \(bundled\) on "
                     r"NDCG@10 by [+-]\d\.\d{4} \[[+-]\d\.\d{4}, [+-]\d\.\d{4}\]|no difference beyond noise)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The dashboard with a shared models folder holding a small variant of the demo model.

    The variant is trained on the demo data with the demo model's own catalogue (the same texts, encoded as
    the demo model has them), so the fixture trains for seconds instead of encoding 3,000 texts again.
    """
    from recsys_core import pipeline
    from recsys_core.demo import load_demo_dataset, load_demo_model
    from recsys_core.registry import ModelRegistry
    from recsys_core.training import TrainConfig

    demo = load_demo_model()
    models = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "build_catalog", lambda dataset, encode, progress=None: demo.catalog)
        small = pipeline.fit(load_demo_dataset(), pipeline.FitOptions(
            train=TrainConfig(epochs=1, batch_size=2048, negatives=32), dim=16, hidden=16, max_history=5, baselines=False))
    ModelRegistry(models).save(small, "demo-small")
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    with dashboard_server(log, {"RECSYS_MODELS_DIR": str(models)}, SERVER_START_TIMEOUT,
                          ports=range(8655, 8660)) as (url, _pid):
        yield url


def test_two_demo_models_compared_explained_and_a_user_opened(server, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(server, timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    go(page, "Compare")
    assert page.get_by_text("Press Compare", exact=False).count() == 1

    page.get_by_role("button", name="Compare", exact=True).click()
    page.get_by_role("button", name="Cancel").first.wait_for(timeout=RUN_TIMEOUT_MS)
    page.get_by_test_id("stProgress").get_by_text("ranking user lists with").first.wait_for(timeout=RUN_TIMEOUT_MS)
    shoot(page, "compare-running")

    # .first: while a rerun redraws the page, the old and the new verdict can both be there for a moment.
    page.get_by_text("Warm users (test) (994 users)").first.wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    # plain() puts invisible word joiners where Markdown could read a pattern: what a reader sees has none.
    verdict = page.get_by_test_id("stAlert").filter(has_text="Warm users (test)").inner_text().replace("\u2060", "")
    assert VERDICT.search(verdict), verdict
    assert page.get_by_role("button", name="Cancel").count() == 0
    assert page.locator(".js-plotly-plot").count() == 1  # the per-user difference histogram
    for heading in ("Verdict", "Who gains, who loses", "How the lists differ", "One pair, explained by both"):
        assert page.get_by_role("heading", name=heading).count() == 1, heading
    assert page.get_by_test_id("stMetric").filter(has_text="Rank-biased overlap").count() == 1
    shoot(page, "compare-result")

    page.get_by_role("button", name="Explain with both").click()
    page.get_by_text("under A,", exact=False).first.wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    assert page.locator(".js-plotly-plot").count() == 2  # the histogram and the pair's field shares
    assert page.get_by_text("History items", exact=False).count() >= 1
    shoot(page, "compare-pair")

    page.get_by_role("button", name="With B", exact=True).click()
    page.wait_for_function("() => window.location.pathname.endsWith('/Recommendations')", timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    sidebar = page.get_by_test_id("stSidebar").inner_text()
    assert "demo-small" in sidebar, sidebar
    assert page.get_by_role("heading", name="Profile").count() == 1
    shoot(page, "compare-open-user")
    page.close()
