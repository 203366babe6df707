"""Saving the session's model to the shared registry: the one save path of the Train page.

A trained model is saved under a name the analyst types; an updated model whose starting point was a saved
model is also offered as that name's next version (the registry keeps the version it replaces).
"""
from __future__ import annotations

import streamlit as st

from recsys_core import Recommender

from . import page, resources, state
from .safe_text import plain


def save(rec: Recommender, name: str, overwrite: bool) -> None:
    """Save ``rec`` as this session's owner; it stays the session's model, now as that saved version."""
    # Only spaces are trimmed: a control character must reach the registry, which refuses it.
    info = resources.registry().save(rec, name.strip(" "), overwrite=overwrite, owner=state.owner_label())
    state.use_model(rec, info.name, saved_as=info.name, fingerprint=info.fingerprint)
    page.done(f"Saved as **{plain(info.name)}** in {plain(info.path)}.", icon=":material/save:")


def new_version_button(rec: Recommender, name: str, key: str) -> None:
    """Save ``rec`` as the next version of the saved model ``name`` in one click (the previous one is kept)."""
    if st.button(f"Save as a new version of {plain(name)}", key=f"{key}_new_version", type="primary",
                 icon=":material/save:", help="Its current version is kept as an older one: one click in its "
                                              "Versions (under Saved models) puts it back."):
        with page.user_errors():
            save(rec, name, overwrite=True)


def save_form(rec: Recommender, key: str = "save") -> None:
    """Save ``rec`` to the shared registry under a name the analyst types (it stays the session's model).

    ``key`` tells two forms on one page apart."""
    with st.form(f"{key}_model"):
        a, b = st.columns([3, 1])
        name = a.text_input("Save as", key=f"{key}_name", placeholder="e.g. movies-softmax_v1",
                            help="Letters, digits, - and _ only. Saved models are shared with everyone "
                                 "using this server.")
        overwrite = b.checkbox("Replace if it exists", key=f"{key}_replace",
                               help="The model it replaces is kept as an older version: one click puts it back.")
        st.caption(f"Saved as **{plain(state.owner_label())}** (the owner shown in the list of saved models).")
        if st.form_submit_button("Save", key=key, icon=":material/save:"):
            with page.user_errors():
                save(rec, name, overwrite)
