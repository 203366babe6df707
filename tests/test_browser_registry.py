"""Two analysts share one server's saved models (issue 19 §3), in Debian's chromium.

Session A (alice) trains on the tiny tables and saves model "shared"; session B (bob, another browser context:
no shared cookies or address) trains and saves over it with "Replace if it exists".  A reloads: it still uses
its own version, is told plainly that bob replaced it, and one click makes its version the current one again;
B then sees that alice went back.  A delete needs the name typed: a wrong name deletes nothing, the right one
moves the model to the trash, from which it is restored.
Screenshots: test-output/screenshots/11_registry_*.png.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from browser_support import SERVER_START_TIMEOUT, browser, go, load_tables, needs_chromium, shoot, wait_idle  # noqa: F401  (browser: a fixture)
from conftest import tiny_tables
from recsys_core.registry import ModelRegistry
from serve import dashboard_server

RUN_TIMEOUT_MS = 300_000

pytestmark = [pytest.mark.browser, needs_chromium]
pytest.importorskip("playwright.sync_api")



@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def server(tmp_path_factory, models_dir):
    """The dashboard with a models folder this test reads too (to check what the clicks did on disk)."""
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    with dashboard_server(log, {"RECSYS_MODELS_DIR": str(models_dir)}, SERVER_START_TIMEOUT,
                          ports=range(8620, 8625)) as (url, _pid):
        yield url


def session_in(url: str) -> str | None:
    values = parse_qs(urlsplit(url).query).get("session", [])
    return values[0] if values else None


def text_of(page) -> str:
    return page.get_by_test_id("stMain").inner_text().replace("\u2060", "")  # plain()'s word joiners


def analyst(browser, server: str, tables: list[Path], owner: str, seed: int):
    """A new browser session that loads the tiny tables, names itself ``owner`` and trains one epoch."""
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    page.goto(server, timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    load_tables(page, tables)
    go(page, "Train")
    owner_box = page.get_by_role("textbox", name="Your name on the models you save")
    owner_box.fill(owner)
    owner_box.press("Enter")
    wait_idle(page)
    page.get_by_role("spinbutton", name="Epochs (at most)").fill("1")
    page.get_by_role("spinbutton", name="Seed").fill(str(seed))
    page.get_by_role("spinbutton", name="Seed").press("Tab")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Training finished").wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    return page


def save_as(page, name: str, replace: bool) -> None:
    page.get_by_role("textbox", name="Save as").fill(name)
    if replace:
        page.get_by_text("Replace if it exists").click()
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text(f"Saved as {name}").wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)


def test_a_model_replaced_by_a_colleague_is_said_plainly_and_one_click_puts_it_back(server, browser, tmp_path,
                                                                                    models_dir):
    interactions, items, _ = tiny_tables()
    tables = [tmp_path / "ratings.csv", tmp_path / "items.csv"]
    interactions.to_csv(tables[0], index=False)
    items.to_csv(tables[1], index=False)
    registry = ModelRegistry(models_dir)

    home = browser.new_page(viewport={"width": 1440, "height": 900})
    home.goto(server, timeout=RUN_TIMEOUT_MS)
    wait_idle(home)
    assert "anyone who can reach this server can use it" in text_of(home)  # no sign-in configured
    shoot(home, "11_registry_home_open_server")
    home.close()

    alice = analyst(browser, server, tables, "alice", seed=1)
    save_as(alice, "shared", replace=False)
    sid = session_in(alice.url)
    assert sid, alice.url
    mine = registry.current_version("shared")
    assert mine.owner == "alice"
    shoot(alice, "11_registry_alice_saved")

    bob = analyst(browser, server, tables, "bob", seed=2)
    bob.get_by_role("textbox", name="Save as").fill("shared")
    bob.get_by_role("button", name="Save", exact=True).click()  # without "Replace": refused, nothing changes
    bob.get_by_text("already exists").wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(bob)
    save_as(bob, "shared", replace=True)
    bob.get_by_text("Versions of shared (2 kept)").wait_for(timeout=RUN_TIMEOUT_MS)
    assert [(v.owner, v.current) for v in registry.versions("shared")] == [("bob", True), ("alice", False)]
    bob.get_by_text("Versions of shared (2 kept)").click()  # open: the versions with their owners
    versions = bob.get_by_test_id("stSelectbox").filter(has=bob.get_by_text("Version", exact=True))
    versions.wait_for(timeout=RUN_TIMEOUT_MS)
    shown = versions.inner_text() + " " + versions.locator("input").input_value()
    assert shown.strip().endswith("by alice"), shown  # the older version, and whose it is
    shoot(bob, "11_registry_bob_replaced")

    alice.reload(timeout=RUN_TIMEOUT_MS)
    wait_idle(alice)
    alice.get_by_text("bob replaced it").first.wait_for(timeout=RUN_TIMEOUT_MS)
    shown = text_of(alice)
    assert "The saved model 'shared' you used was changed: bob replaced it" in shown, shown
    assert "your version is still kept, and this session uses it" in shown
    assert shown.count("bob replaced it") == 1  # said once, with the choices
    assert session_in(alice.url) == sid
    assert not alice.get_by_test_id("stException").count()
    shoot(alice, "11_registry_alice_told_after_reload")

    alice.get_by_role("button", name="Make my version current again").click()
    alice.get_by_text("is the current one again").wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(alice)
    assert "bob replaced it" not in text_of(alice)
    assert registry.current_version("shared").fingerprint == mine.fingerprint
    assert registry.last_change("shared").by == "alice"
    shoot(alice, "11_registry_alice_went_back")

    bob.reload(timeout=RUN_TIMEOUT_MS)
    wait_idle(bob)
    bob.get_by_text("alice went back to an older version of it").first.wait_for(timeout=RUN_TIMEOUT_MS)
    shoot(bob, "11_registry_bob_told")
    bob.get_by_role("button", name="Use the current shared").click()
    bob.get_by_text("Now using the current").wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(bob)

    # Deleting needs the name typed: a wrong one deletes nothing; the right one moves it to the trash.
    confirm = bob.get_by_role("textbox", name="To delete shared, type its name")
    confirm.fill("share")
    confirm.press("Enter")
    wait_idle(bob)
    bob.get_by_role("button", name="Delete", exact=True).click()
    bob.get_by_text("type its name exactly").wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(bob)
    confirm.fill("shared")
    confirm.press("Enter")
    wait_idle(bob)
    bob.get_by_role("button", name="Delete", exact=True).click()
    bob.get_by_text("Moved shared to the trash").wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(bob)
    assert not registry.exists("shared") and [t.deleted_by for t in registry.trash()] == ["bob"]

    alice.reload(timeout=RUN_TIMEOUT_MS)
    wait_idle(alice)
    alice.get_by_text("was deleted by bob").first.wait_for(timeout=RUN_TIMEOUT_MS)
    assert text_of(alice).count("was deleted by bob") == 1
    shoot(alice, "11_registry_alice_told_deleted")
    alice.get_by_role("button", name="Restore it from the trash").click()
    alice.get_by_text("from the trash; this session uses it").wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(alice)
    assert not alice.get_by_test_id("stException").count() and not bob.get_by_test_id("stException").count()
    assert registry.current_version("shared").fingerprint == mine.fingerprint and registry.trash() == []
    shoot(alice, "11_registry_alice_restored")
