"""Who may reach the server (issue 19 §4): the demo script listens on loopback unless told otherwise, and a
team server turns on Streamlit's own sign-in with one setting; the signed-in identity owns the saved models."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from recsys_core.registry import MODELS_DIR_ENV, ModelRegistry

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
SECRETS = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test-only",
                    "client_id": "test-only", "client_secret": "test-only",
                    "server_metadata_url": "https://idp.example.org/.well-known/openid-configuration"}}


def run_demo_script(tmp_path: Path, *args: str, env: dict | None = None) -> tuple[list[str], str]:
    """scripts/demo.sh with a stand-in ``python`` that records its arguments: the streamlit command line, stderr."""
    stub = tmp_path / "bin"
    stub.mkdir(exist_ok=True)
    (stub / "python").write_text('#!/bin/sh\necho "$*" >> "$STUB_LOG"\n')
    (stub / "python").chmod(0o755)
    log = tmp_path / "calls.log"
    log.unlink(missing_ok=True)
    run_env = {k: v for k, v in os.environ.items() if k != "RECSYS_LOGIN"}
    run_env.update({"PATH": f"{stub}:{os.environ['PATH']}", "STUB_LOG": str(log), **(env or {})})
    done = subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh"), *args], env=run_env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    streamlit = [line for line in log.read_text().splitlines() if line.startswith("-m streamlit run")]
    return streamlit[0].split(), done.stderr


def test_the_demo_script_listens_on_loopback_by_default(tmp_path):
    argv, said = run_demo_script(tmp_path, "--server.port", "8600")
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert argv[-2:] == ["--server.port", "8600"]  # other arguments still reach streamlit
    assert "127.0.0.1 only" in said and "--network" in said


def test_the_network_flag_opens_it_and_says_so(tmp_path):
    argv, said = run_demo_script(tmp_path, "--network")
    assert argv[argv.index("--server.address") + 1] == "0.0.0.0" and "--network" not in argv
    assert "every interface WITHOUT sign-in" in said and "anyone who can reach" in said
    _, said = run_demo_script(tmp_path, "--network", env={"RECSYS_LOGIN": "1"})
    assert "sign-in is required" in said


@pytest.fixture
def models_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "models"))
    monkeypatch.setenv("RECSYS_CACHE_DIR", str(tmp_path / "embeddings"))
    monkeypatch.setenv("RECSYS_SESSION_DAYS", "0")
    monkeypatch.delenv("RECSYS_LOGIN", raising=False)
    return tmp_path / "models"


def app(page: str | None = None, *, secrets: dict | None = None, user: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in (secrets or {}).items():
        at.secrets[key] = value
    if user is not None:
        at.user = user
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_without_sign_in_the_home_page_says_anyone_who_can_reach_the_server_can_use_it(models_dir):
    at = app()
    assert any("anyone who can reach this server can use it" in w.value for w in at.warning)


def test_sign_in_switched_on_but_not_configured_stops_every_page_with_a_message(models_dir, monkeypatch):
    monkeypatch.setenv("RECSYS_LOGIN", "1")
    for page in (None, "pages/2_Train.py"):
        at = app(page)
        assert any("requires sign-in" in e.value for e in at.error)
        assert not at.dataframe and "dataset" not in at.session_state  # nothing of the app was drawn or loaded


def test_with_sign_in_a_visitor_sees_only_the_sign_in_button(models_dir, monkeypatch):
    monkeypatch.setenv("RECSYS_LOGIN", "1")
    monkeypatch.setattr("streamlit.auth_util.is_authlib_installed", lambda: True)  # Authlib is the auth extra
    at = app(secrets=SECRETS, user={"is_logged_in": False})
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.dataframe and "dataset" not in at.session_state
    assert not any("anyone who can reach" in w.value for w in at.warning)


def test_a_signed_in_user_saves_and_deletes_models_under_their_identity(models_dir, monkeypatch, tiny_model):
    monkeypatch.setenv("RECSYS_LOGIN", "1")
    monkeypatch.setattr("streamlit.auth_util.is_authlib_installed", lambda: True)
    ModelRegistry(models_dir).save(tiny_model, "theirs", owner="bob")
    at = app("pages/2_Train.py", secrets=SECRETS,
             user={"is_logged_in": True, "email": "ana@example.org", "name": "Ana"})
    assert "owner_label_input" not in [t.key for t in at.text_input]  # the identity is not editable
    assert any("ana" in c.value and "your sign-in" in c.value for c in at.caption)
    at.text_input(key="delete_confirm").set_value("theirs").run()
    at.button(key="delete_saved").click().run()
    assert ModelRegistry(models_dir).trash()[0].deleted_by == "ana@example.org"
