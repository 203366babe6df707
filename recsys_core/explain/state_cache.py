"""The process-wide cache of pair states: a locked LRU that computes each state once.

Every session of the dashboard (and every thread of a batch) explains through
it.  Two threads asking for the same key compute it once: the first *claims*
the key and computes, the others wait for it to *release* the key and then
read what it stored.  The computing thread stores only results good enough to
serve to someone else; when it stores nothing (it failed, or its state was
flagged), the next waiter claims the key and tries itself.

Keys are opaque tuples (``state.state_key`` builds them); this module knows
nothing of what a state holds, so it sits at the bottom of ``explain``.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .state import PairState

CACHE_SIZE = 32  # pair states kept in memory (each holds its attention maps as float32 arrays)


class StateCache:
    """A locked LRU of pair states with in-flight de-duplication (see the module docstring)."""

    def __init__(self, size: int = CACHE_SIZE):
        self.size = size
        self._lock = threading.Lock()
        self._states: OrderedDict[tuple, PairState] = OrderedDict()
        self._inflight: dict[tuple, threading.Event] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._states)

    def get(self, key: tuple) -> PairState | None:
        """The cached state, or None (never waits, never computes)."""
        with self._lock:
            return self._touch(key)

    def claim(self, key: tuple) -> PairState | None:
        """The cached state, or None when this thread must compute it and then ``release`` the key
        (other threads claiming the same key meanwhile wait for that)."""
        while True:
            with self._lock:
                state = self._touch(key)
                if state is not None:
                    return state
                event = self._inflight.get(key)
                if event is None:
                    self._inflight[key] = threading.Event()
                    return None
            event.wait()
            with self._lock:
                state = self._touch(key)
                if state is not None:
                    return state
            # the computing thread failed or its result was not good enough to cache: try ourselves

    def release(self, key: tuple, state: PairState | None) -> None:
        """End this thread's claim on ``key``, storing ``state`` unless it is None; wakes the waiters."""
        with self._lock:
            if state is not None:
                self._states[key] = state
                while len(self._states) > self.size:
                    self._states.popitem(last=False)
            event = self._inflight.pop(key, None)
        if event is not None:
            event.set()

    def clear(self) -> None:
        with self._lock:
            self._states.clear()

    def _touch(self, key: tuple) -> PairState | None:  # caller holds the lock
        if key in self._states:
            self._states.move_to_end(key)
            return self._states[key]
        return None


STATES = StateCache()  # the one cache of the process
