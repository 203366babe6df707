"""Per-browser state: which dataset and model this session uses, and what it asked to explain.

Everything here lives in ``st.session_state``, so two analysts never see each
other's uploads or trained models.  A new session starts on the bundled demo
data and demo model (loaded once per process by ``dashboard.resources``).

Keys (other pages may read them; write them only through these functions):
    dataset, dataset_label      the Dataset the Data and Train pages use
    model, model_label          the Recommender the other pages use
    train_job                   the session's TrainingJob (dashboard.training)
    explain_target              an ExplainTarget set by the Recommendations page
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from recsys_core import Dataset, Recommender, RecsysError

from . import resources
from .training import TrainingJob

PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"
EXPLAIN_PAGE = "pages/4_Explain.py"
DEMO_DATASET_LABEL = "demo data (sample_data/)"
DEMO_MODEL_LABEL = "demo model"


@dataclass(frozen=True)
class ExplainTarget:
    """One recommendation to explain: a known user (``user_id``) or a new one (history and/or profile)."""

    item_id: str
    user_id: str | None = None
    history: tuple[str, ...] = ()  # item ids, oldest first (new-user mode)
    profile: dict[str, str] = field(default_factory=dict)  # field → value (new-user mode)


def ensure_defaults() -> None:
    """Give a new session the demo data and model (no action needed from the analyst).

    A model that finished training in the background since the last run becomes the session's model.
    """
    if "dataset" not in st.session_state:
        use_dataset(resources.demo_dataset(), DEMO_DATASET_LABEL)
    if "model" not in st.session_state:
        use_model(resources.demo_model(), DEMO_MODEL_LABEL)
    job = training_job()
    if job is not None and job.succeeded and st.session_state.get("adopted_job") != job.started_at:
        use_model(job.result, f"trained at {time.strftime('%H:%M', time.localtime(job.finished_at))} (unsaved)")
        st.session_state["adopted_job"] = job.started_at


def training_job() -> TrainingJob | None:
    return st.session_state.get("train_job")


def start_training(job: TrainingJob) -> None:
    """Start ``job`` in the background as this session's training (one at a time)."""
    current = training_job()
    if current is not None and current.running:
        raise RecsysError("A training is already running in this session: stop it or wait for it to finish.")
    st.session_state["train_job"] = job.start()


def dataset() -> Dataset:
    ensure_defaults()
    return st.session_state["dataset"]


def dataset_label() -> str:
    return st.session_state.get("dataset_label", "")


def use_dataset(data: Dataset, label: str) -> None:
    st.session_state["dataset"] = data
    st.session_state["dataset_label"] = label


def model() -> Recommender:
    ensure_defaults()
    return st.session_state["model"]


def model_label() -> str:
    return st.session_state.get("model_label", "")


def use_model(rec: Recommender, label: str) -> None:
    st.session_state["model"] = rec
    st.session_state["model_label"] = label


def explain_page_available() -> bool:
    return (PAGES_DIR.parent / EXPLAIN_PAGE).is_file()


def request_explanation(target: ExplainTarget) -> None:
    """Hand a recommendation to the Explain page and go there."""
    st.session_state["explain_target"] = target
    st.switch_page(EXPLAIN_PAGE)


def explain_target() -> ExplainTarget | None:
    return st.session_state.get("explain_target")
