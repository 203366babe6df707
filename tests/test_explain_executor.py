"""The one-per-process explanation executor: urgency order, merged duplicates, cancellation, bounded queue."""
from __future__ import annotations

import threading

import pytest

from dashboard.executor import INTERACTIVE, ON_REQUEST, PREFETCH, ExplanationExecutor
from recsys_core.progress import Cancelled


def _blocker(pool: ExplanationExecutor):
    """A job that holds the worker until released, so the test can queue work behind it."""
    release, started = threading.Event(), threading.Event()

    def hold(job):
        started.set()
        release.wait(10)

    job = pool.submit(hold, INTERACTIVE)
    started.wait(10)
    return job, release


def test_jobs_run_most_urgent_first_and_duplicates_are_merged():
    pool = ExplanationExecutor()
    order = []
    _, release = _blocker(pool)
    low = pool.submit(lambda j: order.append("prefetch"), PREFETCH, key=("a",))
    mid = pool.submit(lambda j: order.append("request"), ON_REQUEST)
    high = pool.submit(lambda j: order.append("interactive"), INTERACTIVE)
    again = pool.submit(lambda j: order.append("duplicate"), INTERACTIVE, key=("a",))
    assert again is low and low.priority == INTERACTIVE  # raised to the more urgent priority, run once
    release.set()
    for job in (low, mid, high):
        job.wait(10)
    assert order == ["interactive", "prefetch", "request"]  # ("a",) re-queued as interactive, ahead of the request
    pool.shutdown()


def test_cancelling_a_sessions_prefetches_keeps_what_is_still_wanted():
    pool = ExplanationExecutor()
    _, release = _blocker(pool)
    keep = pool.submit(lambda j: "kept", PREFETCH, key=("keep",), owner="s1")
    drop = pool.submit(lambda j: "dropped", PREFETCH, key=("drop",), owner="s1")
    other = pool.submit(lambda j: "other session", PREFETCH, key=("x",), owner="s2")
    assert pool.cancel_owner("s1", PREFETCH, keep={("keep",)}) == 1
    release.set()
    assert keep.wait(10) == "kept" and other.wait(10) == "other session"
    drop._done.wait(10)
    assert drop.cancelled and drop.result is None
    pool.shutdown()


def test_a_running_job_stops_at_its_next_checkpoint_and_urgent_work_runs_inside_it():
    pool = ExplanationExecutor()
    seen = []
    go_on, cancel_sent = threading.Event(), threading.Event()

    def long_prefetch(job):
        for step in range(100):
            if step == 1:
                go_on.wait(10)
            if step == 50:
                cancel_sent.wait(10)
            job.checkpoint()  # runs urgent jobs that arrived, raises when cancelled
            seen.append(step)

    long = pool.submit(long_prefetch, PREFETCH, owner="s")
    urgent = pool.submit(lambda j: seen.append("urgent"), INTERACTIVE)
    go_on.set()
    urgent.wait(10)
    assert "urgent" in seen and seen.index("urgent") < 99  # did not wait for the prefetch to end
    pool.cancel_owner("s")
    cancel_sent.set()
    with pytest.raises(Cancelled):
        long.wait(10)
    pool.shutdown()


def test_prefetch_is_refused_when_the_queue_is_full():
    pool = ExplanationExecutor(max_queued=2)
    _, release = _blocker(pool)
    jobs = [pool.submit(lambda j: None, PREFETCH) for _ in range(4)]
    assert [j.cancelled for j in jobs] == [False, False, True, True]
    assert pool.submit(lambda j: "asked", INTERACTIVE).cancelled is False  # an analyst's request is never refused
    release.set()
    pool.shutdown()
