"""The Explain page's results shown until replaced — the comparison ("why A above B") and the what-if — and
how they are kept for a reload.

A result is kept in the session with the inputs that made it (``Kept``) and shown under a line naming them;
when the page's widgets now say something else, a warning says the result is for the earlier choice
(``show_inputs``).  The inputs are plain JSON: the model's fingerprint, the user, the item(s), what was
asked (the item compared with and whether in words; the history items and fields removed, the edited
text) and ``pair_digest`` of the explanation cache's key of the pair (which also covers the user's history
and profile and the settings that change the numbers), so equal inputs mean the same computation.

A known user's result is also kept on the server (``dashboard.state.keep_result``).  A reload brings back
those made on the session's model, each read by its type's ``from_dict`` (a damaged entry is absent, never
the page's end), and, when the result is for the pair the page reopens on, puts its inputs back into the
page's widgets: it is then shown as current, exactly as before the reload.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from recsys_core.explain import Contrast, WhatIf

from . import state
from .safe_text import plain

log = logging.getLogger(__name__)

KINDS = {"contrast": "explain_contrast", "whatif": "explain_whatif"}  # kept result → its kind (state.keep_result)
READERS: dict[str, Callable[[dict], Any]] = {"contrast": Contrast.from_dict, "whatif": WhatIf.from_dict}


@dataclass
class Kept:
    """A result kept in the session with the inputs that produced it (shown until replaced)."""

    inputs: dict  # plain JSON (see the module docstring)
    described: str  # the inputs in words, for "this result is for …"
    value: Any


def pair_digest(key: tuple) -> str:
    """A pair's explanation key (``recsys_core.explain.state_key``: model, user context, item, settings) as a
    short text that is the same in every process (the key's parts print the same way everywhere)."""
    return hashlib.sha256(repr(key).encode()).hexdigest()[:32]


def show_inputs(result: Kept, current: dict, action: str) -> None:
    """Say which inputs a shown result belongs to, and warn when the widgets now say something else."""
    if result.inputs == current:
        st.caption(f"Result for {plain(result.described)}.")
    else:
        st.warning(f"This result is for the earlier choice: {plain(result.described)}. The inputs above have changed "
                   f"since; press **{action}** to compute it for them.", icon=":material/history:")


def keep(name: str, result: Kept) -> Kept:
    """Keep a known user's ``name`` result for a reload (a new user's, not kept, makes a reload forget the older
    one) and return it as a reload reads it back: shown from its kept form (numbers to 6 digits), the page looks
    the same before and after a reload, to the last digit a chart prints."""
    data = result.value.to_dict()
    if result.inputs.get("user") is None:
        state.keep_result(KINDS[name], {}, None)
    else:
        state.keep_result(KINDS[name], result.inputs, {"described": result.described, "result": data})
    return Kept(result.inputs, result.described, READERS[name](data))


def restored(top: Callable[[str], list[str]]) -> dict[str, Kept]:
    """The results a reload brought back that were made on the session's model (``top(user)``: the items the
    page offers to compare with, to check a kept choice before it goes back into its widget)."""
    found = {name: state.kept_result(kind) for name, kind in KINDS.items()}
    if not any(found.values()):
        return {}  # a session's first visit without a reload: nothing to read
    rec, out = state.model(), {}
    for name, kind in KINDS.items():
        kept = found[name]
        if kept is None or kept.inputs.get("model") != rec.model_fingerprint:
            continue  # another model's result is never this model's
        try:
            described = kept.value["described"]
            if not isinstance(described, str):
                raise TypeError("its description is not text")
            out[name] = Kept(dict(kept.inputs), described, READERS[name](kept.value["result"]))
        except Exception as exc:  # a damaged entry is absent, never the page's end
            log.warning("kept %s result unreadable: %s", kind, exc)
    try:
        _put_back(out, rec, top)
    except Exception as exc:  # the results still show, with a line saying the widgets differ
        log.warning("kept Explain inputs not put back: %s", exc)
    return out


def _put_back(results: dict[str, Kept], rec, top: Callable[[str], list[str]]) -> None:
    """Set the comparison's and the what-if's widgets to a kept result's inputs when it is for the pair the page
    opens on (pages/4_Explain.py's keys) and each value is one the widget offers."""
    user, item = st.session_state.get("explain_user"), st.session_state.get("explain_item")
    mine = {name: r.inputs for name, r in results.items() if (r.inputs.get("user"), r.inputs.get("item")) == (user, item)}
    widgets: dict[str, Any] = {}
    if "contrast" in mine:
        asked = mine["contrast"]
        if asked.get("other") in [i for i in top(user) if i != item] and isinstance(asked.get("words"), bool):
            widgets.update(explain_b=asked["other"], explain_compare_words=asked["words"])
    if "whatif" in mine:
        asked = mine["whatif"]
        window = {rec.catalog.item_ids[i] for i in rec.context(user).history[-rec.max_history:]}
        items, fields, text = asked.get("remove_history"), asked.get("remove_fields"), asked.get("item_text")
        if (isinstance(items, list) and set(items) <= window and isinstance(fields, list)
                and set(fields) <= set(rec.catalog.item_fields) and (text is None or isinstance(text, str))):
            widgets.update(whatif_items=items, whatif_fields=fields)
            if text is not None:
                widgets[f"whatif_text_{item}"] = text
    for key, value in widgets.items():
        st.session_state.setdefault(key, value)
