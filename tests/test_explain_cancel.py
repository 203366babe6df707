"""Cancelling explanation work: what the Explain page's Cancel buttons rely on.

A session's Cancel withdraws it from its jobs; the executor cancels a job only when no other
session merged into it, the job stops at its next checkpoint, and nothing half-computed is cached.
"""
from __future__ import annotations

import threading

import pytest

from dashboard.executor import INTERACTIVE, ON_REQUEST, ExplanationExecutor
from recsys_core.explain import ExplainConfig, add_faithfulness, cached_state, clear_cache, pair_state
from recsys_core.progress import Cancelled


def _blocking_job(started: threading.Event, release: threading.Event):
    def run(job):
        started.set()
        while not release.wait(0.01):
            job.checkpoint()
        return "finished"

    return run


def test_withdraw_cancels_a_running_job_nobody_else_waits_for():
    pool = ExplanationExecutor()
    started, release = threading.Event(), threading.Event()
    job = pool.submit(_blocking_job(started, release), INTERACTIVE, ("faithfulness", 1), "session-a")
    assert started.wait(10)
    assert pool.withdraw("session-a", {"faithfulness"}) == 1
    with pytest.raises(Cancelled):
        job.wait(10)
    assert job.message == "cancelled"
    pool.shutdown()


def test_withdraw_leaves_work_another_session_waits_for():
    pool = ExplanationExecutor()
    started, release = threading.Event(), threading.Event()
    job = pool.submit(_blocking_job(started, release), INTERACTIVE, ("contrast", 1), "session-a")
    assert pool.submit(lambda j: "other", INTERACTIVE, ("contrast", 1), "session-b") is job  # merged
    assert started.wait(10)
    assert pool.withdraw("session-a", {"contrast"}) == 0  # b still waits: keep going
    assert pool.withdraw("session-a", {"faithfulness"}) == 0
    release.set()
    assert job.wait(10) == "finished"
    pool.shutdown()


def test_withdraw_touches_only_the_kinds_asked_for():
    pool = ExplanationExecutor()
    started, release = threading.Event(), threading.Event()
    running = pool.submit(_blocking_job(started, release), INTERACTIVE, ("state", 1), "session-a")
    assert started.wait(10)
    queued = pool.submit(lambda j: "curves", ON_REQUEST, ("faithfulness", 1), "session-a")
    assert pool.withdraw("session-a", {"faithfulness"}) == 1
    release.set()
    assert running.wait(10) == "finished"
    with pytest.raises(Cancelled):
        queued.wait(10)
    pool.shutdown()


def test_cancelled_deletion_curves_leave_nothing_behind(tiny_model):
    """Cancelling the faithfulness step part-way keeps no curves; a later request computes them in full."""
    clear_cache()
    user = tiny_model.known_users()[0]
    item = tiny_model.recommend(user, 1)[0].item_id
    config = ExplainConfig(n_steps=8, faithfulness=False)
    state = pair_state(tiny_model, user, item, config)
    calls = []

    def stop_at_curves(fraction: float, message: str) -> None:
        calls.append(message)
        if message == "deletion curves":
            raise Cancelled()

    with pytest.raises(Cancelled):
        add_faithfulness(state, stop_at_curves)
    assert "deletion curves" in calls
    assert state.curves == [] and cached_state(tiny_model, user, item, config).curves == []
    add_faithfulness(state)
    assert {c.method for c in state.curves} >= {"integrated gradients", "random"}


def test_a_cancelled_first_view_is_not_cached(tiny_model):
    clear_cache()
    user = tiny_model.known_users()[1]
    item = tiny_model.recommend(user, 1)[0].item_id
    config = ExplainConfig(n_steps=8)

    def stop(fraction: float, message: str) -> None:
        if fraction > 0.5:
            raise Cancelled()

    with pytest.raises(Cancelled):
        pair_state(tiny_model, user, item, config, progress=stop)
    assert cached_state(tiny_model, user, item, config) is None
    assert pair_state(tiny_model, user, item, config) is not None
