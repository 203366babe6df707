"""A browser reload keeps the analyst's work: the uploaded dataset, the trained (unsaved) model and what was
computed with it come back.

Debian's chromium walks the dashboard: upload the tiny tables on the Data page, switch pages (the session
id must stay in the address), reload, see the same dataset; start a long training, reload while it runs
(the training is found again), stop it; compute feature importance (smallest sample) and the field ablation,
pick a pair on Explain that is not the first, compare it with another item in words and re-score it without a
field; reload, and see the same pair with the same comparison and what-if shown as current, the same
importance charts and the training summary with the model back as an unsaved draft.  Screenshots: test-output/screenshots/10_session_*.png.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from browser_support import SHOTS, browser, go, load_tables, needs_chromium, server_fixture, shoot, wait_idle  # noqa: F401  (browser: a fixture)
from conftest import tiny_tables
from dashboard.session_store import valid_id
from recsys_core import load_dataset

RUN_TIMEOUT_MS = 300_000

pytestmark = [pytest.mark.browser, needs_chromium]
pytest.importorskip("playwright.sync_api")

server = server_fixture(range(8610, 8615))


def session_in(url: str) -> str | None:
    values = parse_qs(urlsplit(url).query).get("session", [])
    return values[0] if values else None


def sidebar(page) -> str:
    return page.get_by_test_id("stSidebar").inner_text().replace("\u2060", "")  # plain()'s word joiners


# Every chart's data, numbers to 4 digits (kept results have 6) and without plotly's base64 copy of arrays
# ("bdata": its bytes differ in the 7th digit; the decoded numbers beside it are compared).
CHART_DATA = """() => [...document.querySelectorAll('.js-plotly-plot')].map(p => JSON.stringify(p.data,
    (key, value) => key === 'bdata' ? undefined : typeof value === 'number' ? Math.round(value * 1e4) / 1e4 : value))"""


# The comparison's charts ("why A above B": net parts, word level), numbers as in CHART_DATA.
CONTRAST_DATA = """() => [...document.querySelectorAll('.js-plotly-plot')]
    .filter(p => /What favours A|Words of A/.test(((p.layout || {}).title || {}).text || ''))
    .map(p => JSON.stringify(p.data,
        (key, value) => key === 'bdata' ? undefined : typeof value === 'number' ? Math.round(value * 1e4) / 1e4 : value))"""


def explain_results(page) -> tuple:
    """What the Explain page shows of its comparison and what-if: the sentence, the word level's caption, the
    charts' data, the what-if's change and metrics."""
    metrics = page.get_by_test_id("stMetric").filter(has_text="after").all_inner_texts()
    return (page.get_by_text("a difference of", exact=False).first.inner_text(),
            page.get_by_text("Word level for the two item texts only", exact=False).first.inner_text(),
            page.evaluate(CONTRAST_DATA), page.get_by_text("without the item's genres", exact=False).first.inner_text(),
            metrics)


def chosen(page, label: str) -> str:
    """The shown value of the select box labelled ``label``."""
    return page.get_by_test_id("stSelectbox").filter(has=page.get_by_text(label, exact=True)).inner_text()


def model_label(page) -> str:
    """The sidebar's model line, e.g. "trained at 10:02 (unsaved)"."""
    return re.search(r"Model: ([^\n]*)", sidebar(page)).group(1).strip()


def test_a_reload_brings_back_the_uploaded_dataset_and_the_trained_model(server, browser, tmp_path):
    interactions, items, _ = tiny_tables()
    paths = [tmp_path / "my_ratings.csv", tmp_path / "my_items.csv"]
    interactions.to_csv(paths[0], index=False)
    items.to_csv(paths[1], index=False)
    expected = load_dataset(interactions, items).summary()

    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(server, timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    assert session_in(page.url) is None  # the demo needs nothing kept
    load_tables(page, paths)
    sid = session_in(page.url)
    assert valid_id(sid), page.url

    # Switching pages drops query parameters in Streamlit; the session puts its id back on the next run.
    for label in ("Home", "Evaluation", "Data"):
        go(page, label)
        assert session_in(page.url) == sid, (label, page.url)

    page.reload(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    page.get_by_text("Restored your session").wait_for(timeout=RUN_TIMEOUT_MS)
    assert session_in(page.url) == sid
    assert "my_ratings.csv + my_items.csv" in sidebar(page)
    assert page.get_by_role("heading", name="my_ratings.csv + my_items.csv").is_visible()
    metrics = dict(zip(page.get_by_test_id("stMetricLabel").all_inner_texts(),
                       page.get_by_test_id("stMetricValue").all_inner_texts()))
    assert metrics["Interactions"] == f"{expected['interactions']:,}"
    assert metrics["Users"] == f"{expected['users']:,}" and metrics["Items"] == f"{expected['items']:,}"
    assert not page.get_by_test_id("stException").count()
    shoot(page, "10_session_data_after_reload")

    # Train long enough to reload in the middle: the training is found again, then stopped after an epoch.
    go(page, "Train")
    page.get_by_role("spinbutton", name="Epochs (at most)").fill("300")
    page.get_by_text("Advanced options").click()
    page.get_by_role("spinbutton", name="Early-stopping patience (epochs)").fill("300")
    page.get_by_role("spinbutton", name="Early-stopping patience (epochs)").press("Tab")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_role("button", name="Stop").wait_for(timeout=RUN_TIMEOUT_MS)
    page.reload(timeout=RUN_TIMEOUT_MS)
    page.get_by_text("still running").wait_for(timeout=RUN_TIMEOUT_MS)
    page.get_by_role("button", name="Stop").wait_for(timeout=RUN_TIMEOUT_MS)
    page.locator(".js-plotly-plot").first.wait_for(timeout=RUN_TIMEOUT_MS)  # the live curve: an epoch is done
    assert session_in(page.url) == sid
    shoot(page, "10_session_training_after_reload")
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("Training finished").wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    assert page.get_by_text("stopped by user").first.is_visible()
    trained = model_label(page)
    assert trained.startswith("trained at") and trained.endswith("(unsaved)"), trained
    assert session_in(page.url) == sid
    summary = page.get_by_text("Training finished").inner_text()

    # Work a reload must keep: feature importance of the smallest sample, the field ablation, an Explain pair.
    go(page, "Feature importance")
    for slider in ("Users in the sample", "Top-K items per user", "Validation users"):
        page.get_by_role("slider", name=slider).press("Home")
        wait_idle(page)
    page.get_by_role("button", name="Compute attribution shares").click()
    page.get_by_text("pairs; mean convergence delta").wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    page.get_by_role("button", name=re.compile("Run ablation")).click()
    page.get_by_text("validation users; 95% intervals").wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    importance = (page.get_by_text("pairs; mean convergence delta").inner_text(), page.evaluate(CHART_DATA))
    assert len(importance[1]) == 3  # shares, words, the ablation (3 pairs fill no bucket chart)
    go(page, "Explain")
    for box in ("User", "One of the user's top-10 recommendations"):  # the second user, then their third item
        page.get_by_test_id("stSelectbox").filter(has=page.get_by_text(box, exact=True)).locator("input").click()
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        wait_idle(page)
    pair = (chosen(page, "User"), chosen(page, "One of the user's top-10 recommendations"))
    assert not pair[0].endswith("u00"), pair  # not the page's default pair
    page.get_by_text("Also attribute the difference to the words").click()  # why A above B, in words
    wait_idle(page)
    page.get_by_role("button", name="Compare", exact=True).click()
    page.get_by_text("Word level for the two item texts only", exact=False).wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    fields = page.get_by_test_id("stMultiSelect").filter(has_text="Remove item fields")  # what if: without genres
    fields.locator("input").click()
    page.keyboard.type("genres")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    wait_idle(page)
    page.get_by_role("button", name="Re-score").click()
    page.get_by_test_id("stMetric").filter(has_text="Rank after").wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    explained = explain_results(page)
    assert len(explained[2]) == 2 and len(explained[4]) == 2, explained  # two charts, two metrics

    page.reload(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    page.get_by_text("Restored your session").wait_for(timeout=RUN_TIMEOUT_MS)
    assert (chosen(page, "User"), chosen(page, "One of the user's top-10 recommendations")) == pair
    page.get_by_text("Word level for the two item texts only", exact=False).wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    assert explain_results(page) == explained  # the same comparison and what-if, with the inputs that made them
    assert page.get_by_text("Result for", exact=False).count() == 2
    assert page.get_by_text("earlier choice", exact=False).count() == 0  # shown as current: the widgets are back
    assert not page.get_by_test_id("stException").count()
    shoot(page, "10_session_explain_after_reload")
    page.get_by_text("Why this item above another?").scroll_into_view_if_needed()
    page.wait_for_timeout(600)
    page.screenshot(path=str(SHOTS / "10_session_compare_after_reload.png"))
    go(page, "Feature importance")
    assert (page.get_by_text("pairs; mean convergence delta").inner_text(), page.evaluate(CHART_DATA)) == importance
    assert page.get_by_role("button", name="Compute attribution shares").is_enabled()
    sliders = [page.get_by_test_id("stSlider").filter(has_text=name).get_by_test_id("stSliderThumbValue").inner_text()
               for name in ("Users in the sample", "Top-K items per user", "Validation users")]
    assert sliders == ["3", "1", "50"], sliders  # the settings the shown results were made with
    shoot(page, "10_session_importance_after_reload")
    go(page, "Train")
    restored = model_label(page)
    assert restored == trained.removesuffix("(unsaved)") + "(unsaved draft)", restored
    assert "my_ratings.csv + my_items.csv" in sidebar(page)
    assert page.get_by_role("heading", name="Last training").is_visible()  # its summary, curve and Save form
    assert page.get_by_text("Training finished").inner_text() == summary
    assert page.get_by_text("Save as").is_visible() and page.locator(".js-plotly-plot").count() == 1
    assert not page.get_by_test_id("stException").count()
    shoot(page, "10_session_model_after_reload")

    go(page, "Home")  # the model was trained on this dataset: no "trained on other data" advice
    assert page.get_by_text("trained on other data").count() == 0
    page.get_by_text("Where things are kept").click()
    page.get_by_text("kept on this server for").wait_for()
    shoot(page, "10_session_home_kept")

    # A link whose session is unknown opens the demo with a notice, and the bad id leaves the address.
    other = browser.new_page(viewport={"width": 1440, "height": 900})
    other.goto(f"{server}/?session={'A' * 43}", timeout=RUN_TIMEOUT_MS)
    wait_idle(other)
    other.get_by_text("could not be restored").wait_for(timeout=RUN_TIMEOUT_MS)
    assert "demo data" in sidebar(other) and session_in(other.url) is None
    shoot(other, "10_session_unknown_link")
    other.close()
    page.close()
