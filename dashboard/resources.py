"""Process-wide cached objects: the demo data and model, the model registry, uploaded tables.

``st.cache_resource`` objects are shared by every browser session, so they
are only ever read (never mutated) by the pages; which dataset and model a
session uses is kept in ``st.session_state`` (see ``dashboard.state``).
"""
from __future__ import annotations


import pandas as pd
import streamlit as st

from recsys_core import Dataset, Recommender, artifacts, demo, read_table
from recsys_core.registry import ModelRegistry



@st.cache_resource(show_spinner="Loading the demo data…")
def demo_dataset() -> Dataset:
    return demo.load_demo_dataset()


@st.cache_resource(show_spinner="Loading the demo model (the first start trains it, 1–3 minutes)…")
def demo_model() -> Recommender:
    return demo.load_demo_model()


def registry() -> ModelRegistry:
    """The shared models directory: $RECSYS_MODELS_DIR or ./models (read on every call; it is cheap)."""
    return ModelRegistry()


@st.cache_resource(max_entries=4, show_spinner="Loading the saved model…")
def saved_model(path: str, saved_at: str) -> Recommender:
    """A saved model; ``saved_at`` is part of the key so a replaced model is read again."""
    return artifacts.load(path)


@st.cache_data(max_entries=12, show_spinner="Reading the file…")
def read_upload(name: str, data: bytes) -> pd.DataFrame:
    """An uploaded table, parsed once per distinct content."""
    return read_table((name, data))
