"""One explanation worker per process: a priority queue in front of a single thread.

Only the dashboard queues work (the CLI and a notebook call ``recsys_core.explain`` directly), so the
worker lives here; it imports no Streamlit, so its tests drive it with plain threads.

Why one thread: an explanation is CPU-bound torch work that already uses both
cores; two sessions computing at once only thrash them and double the peak
memory (three sessions at once once reached 1.6 GB).  Queued work is done one
job at a time, most urgent first:

    INTERACTIVE  what an analyst is looking at (first view, its token split)
    ON_REQUEST   what an analyst asked for below the fold (remaining texts, faithfulness)
    PREFETCH     the top recommendations of a list on screen, before anyone asks

Jobs with the same ``key`` are merged (the second caller gets the first job,
raised to the more urgent priority), prefetch jobs are dropped when the queue
is full, and queued jobs can be cancelled (a running one stops at its next
``checkpoint``).  A long job's ``checkpoint`` also runs any more urgent job
that arrived meanwhile before going on, so a prefetch never makes an analyst
wait for more than one text's worth of work.  Results land in the explanation cache as well, so a job
whose waiter went away (a rerun, a closed tab) is not wasted.

A job's ``progress`` and ``checkpoint`` are the package's one protocol (``recsys_core.progress``), and a
cancelled job raises that module's ``Cancelled``: core code stopped by a job's checkpoint and the code
waiting for the job see the same exception.
"""
from __future__ import annotations

import atexit
import ctypes
import gc
import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from recsys_core.progress import Cancelled

INTERACTIVE, ON_REQUEST, PREFETCH = 0, 1, 2
MAX_QUEUED = 32  # beyond this, prefetch jobs are refused (the queue bounds memory and latency)


@dataclass(eq=False)
class Job:
    """A unit of explanation work; ``fn(job)`` may call ``job.progress`` and ``job.checkpoint``."""

    fn: Callable[[Job], Any]
    priority: int
    key: tuple | None = None
    owner: str | None = None  # who asked (a session id), for cancelling a session's prefetches
    waiters: set = field(default_factory=set)  # every owner whose submission was merged into this job
    description: str = ""  # what the work is, in words, for a "busy" line (the first submission's)
    fraction: float = 0.0
    message: str = "queued"
    result: Any = None
    error: BaseException | None = None
    cancelled: bool = False
    started_at: float | None = None
    finished_at: float | None = None
    _done: threading.Event = field(default_factory=threading.Event, repr=False)
    _order: int = field(default=0, repr=False)  # its place among queued jobs of its priority (first in, first out)
    _executor: ExplanationExecutor | None = field(default=None, repr=False)

    @classmethod
    def finished(cls, message: str = "done", result: Any = None) -> Job:
        """A job that is already done (nothing to run): for work a cache already holds."""
        job = cls(lambda _job: result, PREFETCH, fraction=1.0, message=message, result=result)
        job.finished_at = time.time()
        job._done.set()
        return job

    def progress(self, fraction: float, message: str) -> None:
        """A ``recsys_core.progress.Progress``; also a checkpoint (long steps report more often than they check)."""
        self.fraction, self.message = fraction, message
        self.checkpoint()

    def checkpoint(self) -> None:
        """A ``recsys_core.progress.Checkpoint``: stop here if cancelled; first run any more urgent job that is waiting."""
        if self.cancelled:
            raise Cancelled()
        if self._executor is not None:
            self._executor.run_more_urgent(self.priority)
        if self.cancelled:
            raise Cancelled()

    def cancel(self) -> None:
        self.cancelled = True

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> Any:
        """The job's result (re-raising its error); ``TimeoutError`` if not done in time."""
        if not self._done.wait(timeout):
            raise TimeoutError("explanation job still running")
        if self.error is not None:
            raise self.error
        return self.result


@dataclass(frozen=True)
class JobStatus:
    """Where one job stands (see ``ExplanationExecutor.work_of``)."""

    job: Job
    running: bool
    ahead: int  # live jobs that run before it; 0 when it runs


def _return_freed_memory() -> None:
    """Hand the heap's free pages back to the system when the queue runs dry (glibc only).

    An explanation's backward pass frees ~200 MB of activations, but glibc keeps those pages, so
    the server's resident size stayed at its peak between explanations (826 → 613 MB after a
    trim on the demo); the next job, or another session, then starts from the lower figure.

    Cyclic garbage of the finished jobs is collected first, so that its pages can go back too.
    """
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


class ExplanationExecutor:
    def __init__(self, max_queued: int = MAX_QUEUED):
        self.max_queued = max_queued
        self._heap: list[tuple[int, int, Job]] = []
        self._by_key: dict[tuple, Job] = {}
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._running: list[Job] = []  # innermost last (a checkpoint may run an urgent job inside another)
        self.completed = 0
        self._stopping = False

    def submit(self, fn: Callable[[Job], Any], priority: int = INTERACTIVE, key: tuple | None = None,
               owner: str | None = None, description: str = "") -> Job:
        with self._cond:
            existing = self._by_key.get(key) if key is not None else None
            if existing is not None and not existing.done and not existing.cancelled:
                if priority < existing.priority and existing not in self._running:
                    existing.priority, existing._order = priority, next(self._order)
                    heapq.heappush(self._heap, (priority, existing._order, existing))  # the stale entry is skipped
                if owner is not None:
                    existing.waiters.add(owner)
                self._ensure_worker()  # a merged job must still have a live worker to run it
                self._cond.notify()
                return existing
            job = Job(fn, priority, key, owner, waiters={owner} - {None}, description=description,
                      _order=next(self._order), _executor=self)
            if priority >= PREFETCH and len(self._heap) >= self.max_queued:
                job.cancelled = True
                job.message = "dropped: queue full"
                job._done.set()
                return job
            if key is not None:
                self._by_key[key] = job
            heapq.heappush(self._heap, (priority, job._order, job))
            self._ensure_worker()
            self._cond.notify()
            return job

    def cancel_owner(self, owner: str, priority: int = PREFETCH, keep: set[tuple] | frozenset = frozenset()) -> int:
        """Cancel the jobs of ``owner`` at ``priority`` or lower urgency (e.g. a session's prefetches),
        except those whose key is in ``keep`` (still wanted: no work thrown away)."""
        n = 0
        with self._cond:
            for job in [j for _, _, j in self._heap] + self._running:
                if job.owner == owner and job.priority >= priority and not job.cancelled and job.key not in keep:
                    job.cancel()
                    n += 1
        return n

    def withdraw(self, owner: str, kinds: set[str] | frozenset = frozenset()) -> int:
        """``owner`` no longer waits for its queued or running jobs (those whose key starts with one of
        ``kinds``, or all); a job nobody else waits for is cancelled.  An analyst's Cancel must not stop
        the same work another session merged into.  Returns how many jobs were cancelled."""
        n = 0
        with self._cond:
            for job in {j for _, _, j in self._heap} | set(self._running):
                if owner not in job.waiters or job.done or job.cancelled:
                    continue
                if kinds and not (job.key and job.key[0] in kinds):
                    continue
                job.waiters.discard(owner)
                if not job.waiters:
                    job.cancel()
                    n += 1
        return n

    def work_of(self, owner: str, priority: int = PREFETCH) -> list[JobStatus]:
        """The live jobs ``owner`` waits for, at ``priority`` or more urgent, each with how many live jobs run
        before it (as of now: a more urgent job submitted later can still overtake it)."""
        with self._cond:
            running = [j for j in self._running if not j.cancelled]
            queued = {j for _, _, j in self._heap if not (j.done or j.cancelled or j in self._running)}
            out = []
            for job in running + sorted(queued, key=lambda j: (j.priority, j._order)):
                if owner not in job.waiters or job.priority > priority:
                    continue
                if job in running:
                    out.append(JobStatus(job, True, 0))
                else:  # the job running now (it yields at its next checkpoint to a more urgent one) and those queued first
                    first = sum(1 for j in queued if (j.priority, j._order) < (job.priority, job._order))
                    out.append(JobStatus(job, False, first + (1 if running else 0)))
            return out

    def queued(self) -> int:
        with self._cond:
            return sum(1 for _, _, j in self._heap if not j.cancelled)

    def _ensure_worker(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._work, name="explanation-worker", daemon=True)
            self._thread.start()

    def _pop(self, more_urgent_than: int | None) -> Job | None:
        """The most urgent live job (only one more urgent than the given priority, if given), or None."""
        while self._heap:
            priority, _, job = self._heap[0]
            if more_urgent_than is not None and priority >= more_urgent_than:
                return None
            heapq.heappop(self._heap)
            if job.done or job in self._running or priority != job.priority:
                continue  # finished, or a stale entry of a re-prioritised job
            if job.cancelled:  # cancelled while queued: its waiters get Cancelled, as if it had started
                job.error, job.message = Cancelled(), "cancelled"
                self._finish(job)
                continue
            return job
        return None

    def _finish(self, job: Job) -> None:
        job.finished_at = time.time()
        if job.key is not None and self._by_key.get(job.key) is job:
            del self._by_key[job.key]
        job._done.set()

    def _execute(self, job: Job) -> None:
        with self._cond:
            self._running.append(job)
        job.started_at = time.time()
        try:
            job.result = job.fn(job)
            job.fraction, job.message = 1.0, "done"
        except Cancelled as exc:
            job.error, job.message = exc, "cancelled"
        except BaseException as exc:  # noqa: BLE001 - handed to the waiter
            job.error = exc
        with self._cond:
            self._running.remove(job)
            self.completed += 1
            self._finish(job)

    def run_more_urgent(self, priority: int) -> None:
        """Run, in the calling worker thread, every queued job more urgent than ``priority``."""
        if threading.current_thread() is not self._thread:
            return
        while True:
            with self._cond:
                job = self._pop(priority)
            if job is None:
                return
            self._execute(job)

    def _work(self) -> None:
        while True:
            with self._cond:
                job = self._pop(None)
            if job is None:
                _return_freed_memory()  # outside the lock: submitters never wait for it
            with self._cond:
                job = job or self._pop(None)
                while job is None:
                    if self._stopping:
                        return
                    self._cond.wait()
                    job = self._pop(None)
            self._execute(job)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel everything and let the worker finish: a torch call still running in a daemon
        thread when the interpreter exits aborts the process ("terminate called…")."""
        with self._cond:
            self._stopping = True
            for job in [j for _, _, j in self._heap] + self._running:
                job.cancel()
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)


_executor: ExplanationExecutor | None = None
_executor_lock = threading.Lock()


def executor() -> ExplanationExecutor:
    """The process's explanation executor (created on first use)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ExplanationExecutor()
            atexit.register(_executor.shutdown)
        return _executor


__all__ = ["INTERACTIVE", "MAX_QUEUED", "ON_REQUEST", "PREFETCH", "Cancelled", "ExplanationExecutor", "Job", "JobStatus", "executor"]
