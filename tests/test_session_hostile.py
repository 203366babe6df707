"""The session store against planted files (issue 19 §5): a deep session.json, a symlinked session, a removal
left half-done.  Each case is reported as absent or finished, never raised, and nothing outside the store is touched.
"""
from __future__ import annotations

import json
import os

import pytest

from dashboard import session_store
from dashboard.session_store import MANIFEST, SessionStore, new_id
from recsys_core import durable
from test_session_store import source


@pytest.fixture
def store(tmp_path) -> SessionStore:
    return SessionStore(tmp_path / "sessions", days=7, max_mb=50)


def test_a_session_record_nested_100000_deep_is_damaged_not_a_recursion_error(store):
    sid = new_id()
    store.save_dataset(sid, source())
    (store.root / sid / MANIFEST).write_text("[" * 100_000 + "]" * 100_000)
    restored = store.restore(sid)  # raised RecursionError before
    assert restored.status == "damaged"
    (store.root / sid / session_store.RESULTS).write_text('{"a":' * 100_000 + "1" + "}" * 100_000)
    assert store._results(store.root / sid) == {}


def test_an_oversized_session_record_is_damaged_without_reading_it_whole(store):
    sid = new_id()
    store.save_dataset(sid, source())
    with open(store.root / sid / MANIFEST, "w") as f:
        f.write('{"format": "' + "x" * (session_store.MANIFEST_MAX_BYTES + 10) + '"}')
    assert store.restore(sid).status == "damaged"


def test_a_session_folder_that_is_a_symlink_is_neither_followed_nor_written_nor_pruned(store, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    victim = new_id()
    store.save_dataset(victim, source())
    os.rename(store.root / victim, elsewhere)  # a real session, moved out of the store
    planted = new_id()
    (store.root / planted).symlink_to(elsewhere, target_is_directory=True)
    before = sorted(p.name for p in elsewhere.iterdir())
    assert store.restore(planted).status == "missing"  # followed before: it restored the other folder
    with pytest.raises(OSError):
        store.save_dataset(planted, source())
    os.utime(elsewhere / MANIFEST, (0, 0))  # long expired, seen through the link
    store.prune()
    assert (store.root / planted).is_symlink() and sorted(p.name for p in elsewhere.iterdir()) == before


def test_a_removal_left_half_done_by_a_live_process_is_finished_by_the_next_prune(store):
    sid = new_id()
    store.save_dataset(sid, source())
    doomed = durable.temporary_path(store.root / sid, durable.DELETING)  # this (live) process's name
    os.replace(store.root / sid, doomed)  # a deletion that stopped after its rename (e.g. a permission error)
    assert doomed.exists()
    store.prune()
    assert not doomed.exists()  # before: only a dead writer's leftovers were collected
