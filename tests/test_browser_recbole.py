"""RecBole atomic files uploaded in a real browser: accepted by the picker, loaded with clean field names.

Streamlit's uploader checks the extension in the browser ("files are not allowed"), which AppTest
cannot see, so this walks the Data page in Debian's chromium.  Screenshot:
test-output/screenshots/01_data_recbole.png.
"""
from __future__ import annotations

import pytest

from browser_support import attach, browser, go, needs_chromium, server_fixture, shoot, wait_idle  # noqa: F401  (browser: a fixture)
from recbole_files import ML_INTER, ML_ITEM, ML_USER

RUN_TIMEOUT_MS = 300_000

pytestmark = [pytest.mark.browser, needs_chromium]
pytest.importorskip("playwright.sync_api")


server = server_fixture(range(8640, 8645))


def test_recbole_files_upload_and_load_with_clean_field_names(server, browser, tmp_path):
    paths = []
    for name, data in (("ml-100k.inter", ML_INTER), ("ml-100k.item", ML_ITEM), ("ml-100k.user", ML_USER)):
        paths.append(tmp_path / name)
        paths[-1].write_bytes(data)
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(server, timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    go(page, "Data")
    attach(page, paths)
    uploader_text = page.get_by_test_id("stFileUploader").all_inner_texts()
    assert not any("not allowed" in text for text in uploader_text), uploader_text
    assert all(path.name in " ".join(uploader_text) for path in paths), uploader_text
    # the column pickers show names without the RecBole types and picked the ids by name
    assert page.get_by_role("combobox", name="User", exact=True).input_value() == "user_id"
    assert page.get_by_role("combobox", name="Item", exact=True).input_value() == "item_id"
    assert page.get_by_role("combobox", name="Timestamp", exact=True).input_value() == "timestamp"
    fields = page.get_by_test_id("stMultiSelect").first.inner_text()
    assert "movie_title" in fields and "class" in fields and ":token" not in fields
    page.get_by_role("button", name="Load dataset").click()
    page.get_by_text("Dataset loaded").wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    assert page.get_by_text("as a RecBole atomic file").first.is_visible()
    assert not page.get_by_test_id("stException").count()
    assert not page.get_by_test_id("stAlertContentError").count()
    page.get_by_role("tab", name="Items").click()
    page.wait_for_timeout(1000)
    shoot(page, "01_data_recbole")
    page.close()
