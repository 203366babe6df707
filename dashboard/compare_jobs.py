"""The Compare page's models and background runs (the page reads and writes them only through this module).

A comparison ranks every test user with both models (about half a minute on the demo) and one pair explained
by both runs integrated gradients twice: both go through the process's one explanation worker at
``ON_REQUEST`` urgency with progress and Cancel, exactly as feature importance does (``importance_jobs.start``
and ``follow``), so they never hold the two cores against an analyst's explanation.  A session keeps its last
result per pair of models (keyed by their fingerprints) while it lives; a reload does not bring it back.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from recsys_core import Recommender
from recsys_core.compare import Comparison, PairComparison, compare_models, explain_both

from . import importance_jobs, resources, state
from .importance_jobs import ImportanceRun

DEMO = "demo model (bundled)"
RUNS, RESULTS = "compare_runs", "compare_results"  # session keys


@dataclass(frozen=True)
class Choice:
    """A model the page offers: the bundled demo or a model saved in the shared registry."""

    label: str
    root: str | None = None  # the registry's folder; None: the demo model
    version: str = ""  # the saved model's current version when the list was read ("" before versions were kept)
    fingerprint: str = ""  # its content fingerprint, checked when it is loaded

    def load(self) -> Recommender:
        if self.root is None:
            return resources.demo_model()
        return resources.saved_model(self.root, self.label, self.version, self.fingerprint)


def choices() -> dict[str, Choice]:
    """The demo model, then every saved model, newest first (unreadable ones left out)."""
    out = {DEMO: Choice(DEMO)}
    registry = resources.registry()
    for info in registry.list():
        if info.encoder != "unreadable":
            out[info.name] = Choice(info.name, str(registry.root), info.version, info.fingerprint)
    return out


def pair_key(a: Recommender, b: Recommender) -> str:
    return f"{a.model_fingerprint}:{b.model_fingerprint}"


def runs() -> dict[tuple[str, str], ImportanceRun]:
    """This session's latest run per (pair key, kind): kind "comparison" or "pair"."""
    return st.session_state.setdefault(RUNS, {})


def results() -> dict[tuple[str, str], Any]:
    """This session's finished results per (pair key, kind): a ``Comparison`` or a ``PairComparison``."""
    return st.session_state.setdefault(RESULTS, {})


def busy(key: str, kind: str) -> bool:
    run = runs().get((key, kind))
    return run is not None and not run.job.done


def start_comparison(a: Recommender, b: Recommender, a_name: str, b_name: str) -> None:
    key = pair_key(a, b)
    runs()[key, "comparison"] = importance_jobs.start(
        "comparison", key, lambda progress, cancel: compare_models(a, b, a_name, b_name, progress=progress,
                                                                    cancel=cancel), what="compare")


def start_pair(a: Recommender, b: Recommender, user_id: str, item_id: str) -> None:
    key = pair_key(a, b)
    runs()[key, "pair"] = importance_jobs.start(
        "pair", key, lambda progress, cancel: explain_both(a, b, user_id, item_id, progress=progress, cancel=cancel),
        {"user_id": user_id, "item_id": item_id}, what="compare")


def wait(key: str, kind: str, what: str) -> None:
    """Once this session's ``kind`` run for the pair ends, its result becomes the shown one (while it runs:
    progress and Cancel, then a rerun; see ``importance_jobs.finished_run``)."""
    run = importance_jobs.finished_run(runs(), (key, kind), what, cancel_key=f"cmp_cancel_{kind}")
    if run is not None:
        results()[key, kind] = run.job.result


def comparison(key: str) -> Comparison | None:
    return results().get((key, "comparison"))


def pair(key: str) -> PairComparison | None:
    return results().get((key, "pair"))


def open_on_recommendations(choice: Choice, user_key: str) -> None:
    """A button's ``on_click``: make ``choice`` the session's model and open the user chosen in the select box
    ``user_key`` on the Recommendations page (read at the click, so a choice made just before counts)."""
    if choice.root is None:
        state.use_demo_model()
    elif state.model_label() != choice.label:
        # With its version's fingerprint: a reload then brings back this very version.
        state.use_model(choice.load(), choice.label, saved_as=choice.label, fingerprint=choice.fingerprint)
    state.request_recommendations(st.session_state[user_key])


__all__ = ["DEMO", "Choice", "busy", "choices", "comparison", "open_on_recommendations", "pair", "pair_key",
           "results", "runs", "start_comparison", "start_pair", "wait"]
