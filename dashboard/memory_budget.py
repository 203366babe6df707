"""How much of the server's memory one session, and all sessions together, may hold in uploaded data.

Every browser session is a thread of one process, so one analyst's 3M-row upload is memory every
other analyst loses.  Before an upload is parsed, its cost is estimated from the files
(``recsys_core.loading.footprint``) and checked against two budgets: this session's and the
server's.  An upload that does not fit is refused with a message that says what it needs, what is
allowed and where data that size belongs (the CLI or the Ray engine), so the load never starts.

What sessions hold is counted by a process-wide ledger of the objects that hold it (each uploaded
dataset, with its files' bytes).  The ledger keeps weak references: when a session replaces its
dataset, or Streamlit drops a closed session's state, the dataset is collected and stops counting
without anyone having to remember to release it.

Budgets come from the environment, read on every check (cheap, and an operator's change needs no restart):
``RECSYS_SERVER_MEMORY_MB`` (default: half of the memory this process may use -- its cgroup's limit on a
container host such as Streamlit Community Cloud, else the machine's RAM) and ``RECSYS_SESSION_MEMORY_MB``
(default: a quarter of the server budget, so no one session can take it all).
"""
from __future__ import annotations

import os
import threading
import uuid
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import streamlit as st

from recsys_core import Dataset, RecsysError
from recsys_core.loading.footprint import LoadFootprint, dataset_bytes
from recsys_core.loading.messages import format_size

SERVER_ENV = "RECSYS_SERVER_MEMORY_MB"
SESSION_ENV = "RECSYS_SESSION_MEMORY_MB"
MB = 1024 * 1024
# The process's resident size after loading is ~1.5x what the frames report (63 vs 41 B per
# interaction in bench/upload_memory.py): allocator pages and Arrow buffers kept for reuse.
HELD_OVERHEAD = 1.5
_OWNER_KEY = "_memory_owner"


class OverBudget(RecsysError):
    """An upload that would take more memory than this session or the server may use."""


@dataclass(frozen=True)
class Budget:
    session_bytes: int
    server_bytes: int

    @classmethod
    def from_env(cls) -> Budget:
        server = _env_mb(SERVER_ENV) or machine_memory() // 2
        session = _env_mb(SESSION_ENV) or server // 4
        return cls(session_bytes=min(session, server), server_bytes=server)


def _env_mb(name: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        # A typo must neither switch the budget off nor quietly mean the default: loads are refused, saying why.
        raise OverBudget(f"{name}={raw!r} is not a positive number of megabytes; fix it in the server's "
                         "environment (or unset it for the default).")
    return int(value * MB)


def machine_memory() -> int:
    """Bytes this process may use: its cgroup's memory limit when it has one, else the machine's RAM."""
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        # cgroup v2 says "max" for no limit; v1 says a huge number.
        if text.isdigit() and int(text) < 1 << 50:
            return int(text)
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


@dataclass
class _Held:
    ref: weakref.ref
    nbytes: int


class MemoryLedger:
    """Bytes held per session (weakly, per object) plus bytes reserved by loads in progress; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str], _Held] = {}
        self._reserved: dict[str, list[int]] = {}

    def hold(self, owner: str, what: str, obj: object, nbytes: int) -> None:
        """Count ``nbytes`` against ``owner`` while ``obj`` is alive (replacing what ``owner`` held as ``what``)."""
        with self._lock:
            self._held[(owner, what)] = _Held(weakref.ref(obj), int(nbytes))

    def held(self, owner: str | None = None) -> int:
        """Bytes held and reserved by ``owner`` (every session when None); an object held twice counts once."""
        with self._lock:
            return self._total(owner)

    def _total(self, owner: str | None) -> int:
        # Called with the lock held.  Dead references are dropped here rather than in weakref
        # callbacks, which the garbage collector may run inside this very lock in this very thread.
        for key in [k for k, h in self._held.items() if h.ref() is None]:
            del self._held[key]
        alive: dict[int, int] = {}
        for (who, _), h in self._held.items():
            obj = h.ref()  # may have died since the sweep: another thread dropped it
            if obj is not None and (owner is None or who == owner):
                alive[id(obj)] = max(alive.get(id(obj), 0), h.nbytes)
        reserved = sum(sum(v) for who, v in self._reserved.items() if owner is None or who == owner)
        return sum(alive.values()) + reserved

    @contextmanager
    def reserve(self, owner: str, footprint: LoadFootprint, budget: Budget) -> Iterator[None]:
        """Hold room for one load while it runs, or raise OverBudget (before anything is parsed)."""
        need = footprint.file_bytes + max(footprint.peak_bytes, footprint.held_bytes)
        # Check and reserve under one lock, so two sessions uploading at once cannot both fit in the same room.
        with self._lock:
            problem = refusal(need, footprint, budget, self._total(owner), self._total(None))
            if problem:
                raise OverBudget(problem)
            self._reserved.setdefault(owner, []).append(need)
        try:
            yield
        finally:
            with self._lock:
                self._reserved[owner].remove(need)
                if not self._reserved[owner]:
                    del self._reserved[owner]


def refusal(need: int, footprint: LoadFootprint, budget: Budget, mine: int, everyone: int) -> str | None:
    """The message refusing a load of ``need`` bytes, or None when it fits both budgets."""
    what = (f"Loading these files needs about {format_size(need)} of server memory "
            f"({footprint.rows:,} interactions, {format_size(footprint.file_bytes)} of files)")
    elsewhere = ("For data this size use the command line (`python -m recsys_core train …`) or the Ray "
                 "engine (README, \"Larger than one machine\")")
    if mine + need > budget.session_bytes:
        held = f" and it already holds {format_size(mine)}" if mine else ""
        return (f"{what}, but one session may use {format_size(budget.session_bytes)}{held}. {elsewhere}, "
                f"or ask whoever runs this server to raise {SESSION_ENV}.")
    if everyone + need > budget.server_bytes:
        return (f"{what}, but the server has {format_size(max(budget.server_bytes - everyone, 0))} of its "
                f"{format_size(budget.server_bytes)} for uploads left: other sessions hold the rest. Try again "
                f"when they are done, or ask whoever runs this server to raise {SERVER_ENV}. {elsewhere}.")
    return None


LEDGER = MemoryLedger()


def owner() -> str:
    """This browser session's key in the ledger (made on first use; it dies with the session's state)."""
    if _OWNER_KEY not in st.session_state:
        st.session_state[_OWNER_KEY] = uuid.uuid4().hex
    return st.session_state[_OWNER_KEY]


@contextmanager
def room_for(footprint: LoadFootprint) -> Iterator[None]:
    """Reserve room for a load in this session, or raise OverBudget with the message to show."""
    with LEDGER.reserve(owner(), footprint, Budget.from_env()):
        yield


def hold(what: str, data: Dataset, file_bytes: int) -> None:
    """Count ``data`` (and the files it came from) against this session while the session keeps it."""
    LEDGER.hold(owner(), what, data, int(dataset_bytes(data) * HELD_OVERHEAD) + file_bytes)
