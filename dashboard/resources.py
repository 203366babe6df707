"""Process-wide cached objects: the demo data and model, the model registry, uploaded tables.

``st.cache_resource`` objects are shared by every browser session, so they
are only ever read (never mutated) by the pages; which dataset and model a
session uses is kept in ``st.session_state`` (see ``dashboard.state``).
"""
from __future__ import annotations

import gc

import pandas as pd
import streamlit as st

from recsys_core import Dataset, Recommender, UnknownEntityError, demo, read_table
from recsys_core.registry import ModelRegistry



@st.cache_resource(show_spinner="Loading the demo data…")
def demo_dataset() -> Dataset:
    return demo.load_demo_dataset()


@st.cache_resource(show_spinner="Loading the demo model (the first start trains it, 1–3 minutes)…")
def demo_model() -> Recommender:
    rec = demo.load_demo_model()
    freeze_startup_heap()
    return rec


def freeze_startup_heap() -> None:
    """Move the objects alive now (modules, the demo model) out of the garbage collector's sight, once.

    Streamlit runs a full ``gc.collect(2)`` after every script run (``runner.postScriptGC``), in
    the thread of the session that clicked, holding the GIL.  With torch, transformers and
    plotly imported that walk visits ~550k objects: 0.26 s on every widget change of every session,
    twice on a button that switches page.  ``gc.freeze`` moves the current objects to a generation
    that is never walked; import-time objects live as long as the process, so nothing collectable
    is lost, and objects made later (sessions' data, explanations) are collected as before (the
    walk after three explanations: 3 ms).  BERT's modules, which the first explanation imports, are
    imported here so that they are frozen too; captum is not (only the faithfulness panel's extra
    methods import it, and it added 30–45 MB to the server's RSS).  Called by the demo model's loader: once per process.
    """
    from recsys_core import heavy_imports

    heavy_imports.module("transformers.models.bert.modeling_bert")
    gc.collect()
    gc.freeze()


def registry() -> ModelRegistry:
    """The shared models directory: $RECSYS_MODELS_DIR or ./models (read on every call; it is cheap)."""
    return ModelRegistry()


@st.cache_resource(max_entries=4, show_spinner="Loading the saved model…")
def saved_model(root: str, name: str, version: str, fingerprint: str) -> Recommender:
    """Version ``version`` of the saved model ``name`` (its files checked against ``fingerprint``, the key of
    its content); ``version=""``: a model saved before versions were kept, read from under its name."""
    registry = ModelRegistry(root)
    if not version:
        return registry.load(name)
    found = next((v for v in registry.versions(name) if v.id == version and v.fingerprint == fingerprint), None)
    if found is None:
        raise UnknownEntityError(f"The version {version} of the saved model {name!r} is no longer kept.")
    return registry.load_version(found)


@st.cache_data(max_entries=12, show_spinner="Reading the file…")
def read_upload(name: str, data: bytes) -> pd.DataFrame:
    """An uploaded table, parsed once per distinct content."""
    return read_table((name, data))
