"""Per-session and per-server memory budgets for uploads (issue 19 §2): estimated before parsing, enforced
under concurrency, released when a session lets its data go."""
from __future__ import annotations

import gc
import io
import threading

import numpy as np
import pandas as pd
import pytest

from dashboard import memory_budget
from dashboard.memory_budget import MB, Budget, MemoryLedger, OverBudget
from recsys_core import load_dataset
from recsys_core.loading.footprint import (HELD_BYTES_PER_ROW, PEAK_FIXED_BYTES, LoadFootprint, count_rows,
                                           dataset_bytes, estimate_footprint)

from test_pages import GOOD_INTERACTIONS, GOOD_ITEMS, open_page, texts


class Held:
    """Something a session keeps; weakly referenceable like a Dataset."""


def footprint(need_mb: int) -> LoadFootprint:
    return LoadFootprint(rows=1000, file_bytes=0, peak_bytes=need_mb * MB, held_bytes=0)


# -- the estimate -----------------------------------------------------------------------------------
def test_rows_are_counted_without_parsing():
    assert count_rows(b"user_id,item_id\nu1,i1\nu2,i2\n") == 2
    assert count_rows(b"user_id,item_id\nu1,i1\nu2,i2") == 2  # no final newline
    assert count_rows(b"user_id,item_id\n") == 0
    frame = pd.DataFrame({"user_id": ["u1", "u2", "u3"], "item_id": ["a", "b", "c"]})
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    assert count_rows(buffer.getvalue()) == 3  # from the Parquet footer


def test_the_estimate_is_not_below_what_a_loaded_dataset_keeps():
    rng = np.random.default_rng(0)
    rows = 60_000
    inter = pd.DataFrame({"user_id": rng.integers(0, 1200, rows), "item_id": rng.integers(0, 400, rows),
                          "rating": rng.integers(1, 6, rows)}).to_csv(index=False).encode()
    items = pd.DataFrame({"item_id": range(400), "title": [f"Film number {i}" for i in range(400)]}).to_csv(
        index=False).encode()
    estimate = estimate_footprint(inter, items)
    assert estimate.rows == rows
    assert estimate.peak_bytes >= PEAK_FIXED_BYTES + HELD_BYTES_PER_ROW * rows
    data = load_dataset(("ratings.csv", inter), ("items.csv", items))
    kept = dataset_bytes(data) * memory_budget.HELD_OVERHEAD
    assert kept <= estimate.held_bytes, (kept, estimate.held_bytes)  # errs towards refusing, never under


# -- the budgets --------------------------------------------------------------------------------------
def test_budgets_come_from_the_environment_and_a_typo_is_refused(monkeypatch):
    monkeypatch.setenv(memory_budget.SERVER_ENV, "4096")
    monkeypatch.setenv(memory_budget.SESSION_ENV, "512")
    assert Budget.from_env() == Budget(session_bytes=512 * MB, server_bytes=4096 * MB)
    monkeypatch.delenv(memory_budget.SESSION_ENV)
    assert Budget.from_env().session_bytes == 1024 * MB  # a quarter of the server's
    monkeypatch.setenv(memory_budget.SESSION_ENV, "8192")
    assert Budget.from_env().session_bytes == 4096 * MB  # never more than the server's
    monkeypatch.setenv(memory_budget.SESSION_ENV, "2GB")
    with pytest.raises(OverBudget, match="RECSYS_SESSION_MEMORY_MB='2GB' is not a positive number"):
        Budget.from_env()
    monkeypatch.delenv(memory_budget.SESSION_ENV)
    monkeypatch.delenv(memory_budget.SERVER_ENV)
    assert 0 < Budget.from_env().server_bytes <= memory_budget.machine_memory()


def test_a_session_over_its_budget_is_refused_with_what_it_needs_and_where_to_go():
    ledger, budget = MemoryLedger(), Budget(session_bytes=300 * MB, server_bytes=1000 * MB)
    kept = Held()
    ledger.hold("a", "dataset", kept, 200 * MB)
    with pytest.raises(OverBudget) as refused:
        with ledger.reserve("a", footprint(150), budget):
            pass
    message = str(refused.value)
    assert "needs about 150.0 MB" in message and "one session may use 300.0 MB" in message
    assert "already holds 200.0 MB" in message and "python -m recsys_core train" in message
    with ledger.reserve("b", footprint(150), budget):  # another session has its own room
        assert ledger.held("b") == 150 * MB
    assert ledger.held("b") == 0  # the reservation ends with the load


def test_the_server_budget_counts_every_session():
    ledger, budget = MemoryLedger(), Budget(session_bytes=500 * MB, server_bytes=1000 * MB)
    others = [Held() for _ in range(3)]
    for n, obj in enumerate(others):
        ledger.hold(f"s{n}", "dataset", obj, 300 * MB)
    with pytest.raises(OverBudget, match="the server has 100.0 MB of its 1000.0 MB for uploads left"):
        with ledger.reserve("me", footprint(200), budget):
            pass
    del others[0]  # that session closed: Streamlit dropped its state
    gc.collect()
    with ledger.reserve("me", footprint(200), budget):
        assert ledger.held() == 800 * MB


def test_what_a_session_lets_go_stops_counting_and_one_object_counts_once():
    ledger = MemoryLedger()
    data = Held()
    ledger.hold("a", "checked upload", data, 100 * MB)
    ledger.hold("a", "dataset", data, 100 * MB)  # the checked upload became the session's dataset
    assert ledger.held("a") == 100 * MB
    replacement = Held()
    ledger.hold("a", "dataset", replacement, 40 * MB)
    assert ledger.held("a") == 140 * MB  # the old one is still the remembered check
    del data
    gc.collect()
    assert ledger.held("a") == 40 * MB


def test_sessions_uploading_at_once_cannot_overcommit_the_server():
    ledger, budget = MemoryLedger(), Budget(session_bytes=400 * MB, server_bytes=1000 * MB)
    start, inside = threading.Barrier(8), threading.Barrier(8, timeout=10)
    admitted, refused, peaks = [], [], []

    def session(n: int) -> None:
        start.wait()
        try:
            with ledger.reserve(f"s{n}", footprint(300), budget):
                admitted.append(n)
                peaks.append(ledger.held())
                inside.wait()  # every thread has tried before any reservation ends
        except OverBudget:
            refused.append(n)
            inside.wait()

    threads = [threading.Thread(target=session, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 3 and len(refused) == 5  # 3 × 300 MB fit in 1000 MB, a fourth would not
    assert max(peaks) <= budget.server_bytes and ledger.held() == 0


# -- the Data page -------------------------------------------------------------------------------------
def test_an_upload_over_the_session_budget_is_refused_on_the_page_before_it_is_parsed(monkeypatch):
    from dashboard import uploads

    monkeypatch.setenv(memory_budget.SESSION_ENV, "50")
    parsed = []
    monkeypatch.setattr(uploads.DatasetSource, "load", lambda self: parsed.append(1))
    at = open_page("pages/1_Data.py")
    before = at.session_state["dataset"]
    at.file_uploader(key="upload_interactions").set_value(("ratings.csv", GOOD_INTERACTIONS, "text/csv"))
    at.file_uploader(key="upload_items").set_value(("items.csv", GOOD_ITEMS, "text/csv")).run()
    assert not at.exception
    assert "one session may use 50.0 MB" in texts(at.error)
    assert at.button(key="load_dataset").proto.disabled and parsed == []
    assert at.session_state["dataset"] is before  # nothing the session had is lost

    monkeypatch.delenv(memory_budget.SESSION_ENV)  # the operator raised it: the same files now load
    monkeypatch.undo()
    at.run()
    assert not at.error, texts(at.error)
    assert "These files load: 32 interactions" in texts(at.success)
