"""Who may use the dashboard: Streamlit's own login (``st.login``, an OpenID Connect provider), behind one setting.

``$RECSYS_LOGIN`` decides:
    unset, "", "0", "off"   no login: anyone who can reach the server can use it (the Home page says so)
    "1", "on"               sign in with the provider of ``[auth]`` in ``.streamlit/secrets.toml``
    any other word NAME     sign in with the named provider ``[auth.NAME]`` (``st.login("NAME")``)

With login on, every page asks for it before anything else, and the signed-in identity (e-mail, else name,
else the provider's subject id) is the owner label of the models a session saves (``state.owner_label``).
A login that is on but not configured (no ``[auth]`` section, or Authlib missing) stops every page with a
message: the server never falls back to being open.  README "A team server" shows the secrets layout.
"""
from __future__ import annotations

import os

import streamlit as st

from .safe_text import plain

LOGIN_ENV = "RECSYS_LOGIN"
_OFF = {"", "0", "off", "false", "no"}
_DEFAULT = {"1", "on", "true", "yes"}


def setting() -> str | None:
    """None when login is off; "" for the default ``[auth]`` provider; else the named provider."""
    raw = os.environ.get(LOGIN_ENV, "").strip()
    if raw.lower() in _OFF:
        return None
    return "" if raw.lower() in _DEFAULT else raw


def enabled() -> bool:
    return setting() is not None


def identity() -> str | None:
    """The signed-in user's identity, or None (login off, or nobody signed in yet)."""
    if not enabled():
        return None
    user = st.user
    if not user.get("is_logged_in", False):
        return None
    for claim in ("email", "name", "sub"):
        value = user.get(claim)
        if isinstance(value, str) and value.strip():
            return value.strip()[:80]
    return None


def _problem() -> str | None:
    """Why login cannot work as configured, or None."""
    try:
        from streamlit.auth_util import is_authlib_installed
    except ImportError:  # a Streamlit without st.login
        return "this Streamlit version has no st.login"
    if not is_authlib_installed():
        return "Authlib is not installed (pip install 'streamlit[auth]')"
    try:
        section = st.secrets.get("auth")
    except Exception:  # no secrets.toml at all, or one that does not parse
        section = None
    if not section:
        return "there is no [auth] section in .streamlit/secrets.toml"
    name = setting()
    if name and name not in section:
        return f"there is no [auth.{name}] section in .streamlit/secrets.toml"
    return None


def require_login() -> None:
    """With login on, stop the page until the user is signed in (a sign-in button); show who is, in the sidebar."""
    name = setting()
    if name is None:
        return
    problem = _problem()
    if problem is not None:
        st.error(f"This dashboard requires sign-in ({LOGIN_ENV} is set), but {problem}. Ask the server's "
                 "administrator; see the README's 'A team server'.", icon=":material/lock:")
        st.stop()
    if identity() is None:
        st.info("Sign in to use this dashboard: the models you save carry your identity.", icon=":material/lock:")
        st.button("Sign in", key="sign_in", type="primary", icon=":material/login:", on_click=st.login,
                  args=(name,) if name else ())
        st.stop()
    with st.sidebar:
        st.caption(f"Signed in as **{plain(identity())}**")  # an identity is the provider's text, never markup
        st.button("Sign out", key="sign_out", icon=":material/logout:", on_click=st.logout)


def open_server_note() -> str | None:
    """One sentence for the Home page when login is off, else None."""
    if enabled():
        return None
    return ("This dashboard has no sign-in: anyone who can reach this server can use it, and see, load, replace "
            f"or delete the saved models (set {LOGIN_ENV} for a team server; see the README).")
