"""Background jobs a reload finds again: a training or an update, by session id, until a session adopts it.

A training or an update runs in a thread that outlives the browser session that started it.  Each is
registered here under the session's id (the one in the page's URL) and its kind, so that a reload of that
URL finds it (``found``): the Train page shows its progress again and, once it ends, the session adopts its
model (``adopted`` then forgets it).  The registry is shared by every session of the process, hence the
lock.  A finished job nobody came back for is dropped after ``FORGET_SECONDS``: it holds a whole model.
"""
from __future__ import annotations

import threading
import time
from typing import Literal

from .background import ThreadJob

JobKind = Literal["training", "update"]
FORGET_SECONDS = 3600

_JOBS: dict[tuple[str, JobKind], ThreadJob] = {}
_LOCK = threading.Lock()


def register(sid: str, kind: JobKind, job: ThreadJob) -> None:
    """Keep ``job`` as session ``sid``'s ``kind`` job (replacing an earlier one of that kind)."""
    with _LOCK:
        _forget_old()
        _JOBS[(sid, kind)] = job


def found(sid: str, kind: JobKind) -> ThreadJob | None:
    """Session ``sid``'s ``kind`` job that no session has adopted yet: still running, or finished."""
    with _LOCK:
        _forget_old()
        return _JOBS.get((sid, kind))


def adopted(job: ThreadJob) -> None:
    """``job``'s result became a session's: a reload no longer needs to find it."""
    with _LOCK:
        for key in [k for k, j in _JOBS.items() if j is job]:
            del _JOBS[key]


def _forget_old() -> None:
    """Drop finished jobs older than FORGET_SECONDS (the caller holds the lock)."""
    now = time.time()
    for key in [k for k, j in _JOBS.items() if not j.running and now - j.finished_at > FORGET_SECONDS]:
        del _JOBS[key]
