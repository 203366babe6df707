"""An incremental update from the Train page (issue 21 §1), in Debian's chromium.

The analyst loads the tiny tables, trains one epoch, then drops a file of new interactions and one of new
items into "Update with new data", asks for the retrain comparison and presses Update: the report says what
was added, NDCG@10 before and after (and the retrained model's) are shown as metrics and a bar chart, and the
Evaluation page says its report is from the first training.  Screenshots: test-output/screenshots/12_update_*.png.
"""
from __future__ import annotations

import pytest

from browser_support import browser, go, load_tables, needs_chromium, server_fixture, shoot, wait_idle  # noqa: F401  (browser: a fixture)
from conftest import tiny_tables
from test_update_page import NEW_INTERACTIONS, NEW_ITEMS

RUN_TIMEOUT_MS = 300_000

pytestmark = [pytest.mark.browser, needs_chromium]
pytest.importorskip("playwright.sync_api")

server = server_fixture(range(8660, 8665))


def text_of(page) -> str:
    return page.get_by_test_id("stMain").inner_text().replace("\u2060", "")  # plain()'s word joiners


def test_new_data_uploaded_on_the_train_page_updates_the_model_and_reports_it(server, browser, tmp_path):
    interactions, items, users = tiny_tables()
    tables = [tmp_path / "ratings.csv", tmp_path / "items.csv", tmp_path / "users.csv"]
    interactions.to_csv(tables[0], index=False)
    items.to_csv(tables[1], index=False)
    users.to_csv(tables[2], index=False)
    (tmp_path / "new_ratings.csv").write_bytes(NEW_INTERACTIONS)
    (tmp_path / "new_items.csv").write_bytes(NEW_ITEMS)

    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(server, timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    load_tables(page, tables)
    go(page, "Train")
    page.get_by_role("spinbutton", name="Epochs (at most)").fill("1")
    page.get_by_role("spinbutton", name="Epochs (at most)").press("Tab")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Training finished").wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)

    form = page.get_by_test_id("stForm").filter(has_text="New interactions")
    uploaders = form.locator('[data-testid="stFileUploader"] input[type="file"]')
    uploaders.nth(0).set_input_files(str(tmp_path / "new_ratings.csv"))
    uploaders.nth(1).set_input_files(str(tmp_path / "new_items.csv"))
    form.get_by_text("Also retrain from scratch to compare").click()
    form.get_by_role("spinbutton", name="Passes (at most)").fill("2")
    form.get_by_text("The files use the columns").click()  # the number is taken; no help tooltip is left open
    shoot(page, "12_update_form")
    form.get_by_role("button", name="Update", exact=True).click()
    page.get_by_text("Update finished").wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    shown = text_of(page)
    assert "Added 7 interactions, 2 new items (0 changed texts) and 1 new users (2 known users extended)" in shown
    assert "A model retrained from scratch on all the data" in shown
    metrics = page.get_by_test_id("stMetric").all_inner_texts()
    assert any("NDCG@10 before" in m for m in metrics) and any("Retrained from scratch" in m for m in metrics)
    page.get_by_text("NDCG@10 on the newest interactions", exact=True).first.wait_for(timeout=RUN_TIMEOUT_MS)
    assert "updated at" in page.get_by_test_id("stSidebar").inner_text()  # the session's model now
    shoot(page, "12_update_report")

    go(page, "Evaluation")
    assert "This evaluation report is from the model's first training: 1 update followed" in text_of(page)
    shoot(page, "12_update_evaluation_note")
