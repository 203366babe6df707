"""The Data page's uploads, checked as soon as they are chosen rather than when "Load dataset" is pressed.

An analyst who drops the items file into the interactions slot, or picks the wrong id column, should
hear so before filling in the rest of the form.  The check *is* the load: ``recsys_core.load_dataset``
on the chosen files with the chosen mapping (0.2 s for 100k interactions), so it can neither miss a
problem the load would report nor report one the load would not.  Its result is remembered per
(files, mapping) in the session, so the reruns each widget causes do not load again, and pressing
"Load dataset" uses the dataset already checked (it is then the session's dataset: one copy in memory).
"""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from recsys_core import Dataset, RecsysError, load_interactions

from recsys_core.loading.footprint import estimate_footprint

from . import memory_budget, state
from .session_store import DatasetSource

_KEY = "upload_check"
# What the uploaders accept (the Data page's, the Train page's update): tables, and RecBole atomic files (TSV).
FILE_TYPES = ["csv", "tsv", "tab", "txt", "parquet", "pq", "inter", "item", "user"]


@dataclass(frozen=True)
class UploadCheck:
    """What the chosen files and mapping give: a dataset ready to use, or the message the load fails with."""

    source: DatasetSource | None = None  # set when both required files are chosen
    dataset: Dataset | None = None  # set when they load
    problem: str | None = None  # load_dataset's (or load_interactions') message

    @property
    def ready(self) -> bool:
        return self.dataset is not None


def _identity(upload) -> tuple | None:
    # Streamlit gives every upload a file_id; a new file (even one of the same name) gets a new one.
    return None if upload is None else (upload.name, upload.size, getattr(upload, "file_id", None))


def check(interactions, items, users=None, **options) -> UploadCheck:
    """Load the chosen files with ``options`` (load_dataset's keywords) once per distinct choice.

    With only the interactions file chosen, its columns are checked on their own (``load_interactions``),
    so a wrong file in that slot is reported before the items file is picked.
    """
    if interactions is None:
        return UploadCheck()
    key = (tuple(_identity(f) for f in (interactions, items, users)), repr(sorted(options.items())))
    remembered = st.session_state.get(_KEY)
    if remembered is not None and remembered[0] == key:
        return remembered[1]
    # The previous choice's dataset is not needed any more: let it go before loading the next one.
    st.session_state.pop(_KEY, None)
    # ``getvalue()`` copies an upload's bytes: each file is copied once, into the source (or, with only the
    # interactions chosen, into ``data``), and both the estimate and the load read that copy.
    if items is None:
        source, data = None, interactions.getvalue()
        files = [data]
    else:
        source = state.upload_source(interactions, items, users, **options)
        files = [f.data for f in source.files.values()]
    try:
        with memory_budget.room_for(estimate_footprint(*files)):
            if source is None:
                result = _check_interactions(interactions.name, data, options["columns"])
            else:
                result = _check_dataset(source)
    except memory_budget.OverBudget as exc:
        # Not remembered: the same files may fit once other sessions are done.
        return UploadCheck(source, problem=str(exc))
    st.session_state[_KEY] = (key, result)
    return result


def _check_interactions(name: str, data: bytes, columns) -> UploadCheck:
    try:
        load_interactions((name, data), columns=columns)
    except RecsysError as exc:
        return UploadCheck(problem=str(exc))
    return UploadCheck()


def _check_dataset(source: DatasetSource) -> UploadCheck:
    try:
        data = source.load()
    except RecsysError as exc:
        return UploadCheck(source, problem=str(exc))
    memory_budget.hold("checked upload", data, source.size)
    return UploadCheck(source, data)
