"""Saving a model survives ``kill -9`` at any instant: the old or the new model always loads under its name.

A forked child process (no new interpreter, so ~60 trials take seconds) saves
the tiny model over the previous one and is SIGKILLed at a random moment,
sometimes while paused exactly between two steps of the save.  After every
kill the parent loads the model and checks it is one of the two versions.
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import os
import random
import signal
import stat
import time

import pytest

from recsys_core import artifacts

STEPS = ("written", "old moved aside", "swapped")


def _save_in_child(rec, path, log_path, pause_at, no_exchange):
    if no_exchange:
        os.environ["RECSYS_NO_RENAME_EXCHANGE"] = "1"
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)

    def pause(step):
        os.write(log, (step + "\n").encode())
        if step == pause_at:
            time.sleep(5)  # the parent kills us during this pause

    artifacts._pause = pause
    artifacts.save(rec, path)
    os.write(log, b"done\n")
    os._exit(0)


def _wait_for(log_path, step, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        seen = open(log_path).read().split("\n") if os.path.exists(log_path) else []
        if step in seen or "done" in seen:
            return True
        time.sleep(0.002)
    return False


@pytest.mark.parametrize("no_exchange", [False, True], ids=["rename-exchange", "two-renames"])
def test_a_save_killed_at_any_moment_leaves_the_old_or_the_new_model(tiny_model, tmp_path, no_exchange):
    fork = multiprocessing.get_context("fork")
    versions = [dataclasses.replace(tiny_model, fingerprint=f"v{i}") for i in range(2)]
    path = tmp_path / "models" / "m"
    artifacts.save(versions[0], path)
    started = time.perf_counter()
    artifacts.save(versions[0], path)
    save_seconds = time.perf_counter() - started
    current = 0
    outcomes = {"old": 0, "new": 0}
    kills_after = {step: 0 for step in ("none", *STEPS)}
    trials = 40  # two parametrisations: 80 kills in all
    rng = random.Random(1234)
    for trial in range(trials):
        new = 1 - current
        log_path = str(tmp_path / f"log-{trial}")
        steps = STEPS if no_exchange else ("written", "swapped")  # an exchange has no step in between
        pause_at = rng.choice([None, None, *steps])
        child = fork.Process(target=_save_in_child, args=(versions[new], path, log_path, pause_at, no_exchange))
        child.start()
        if pause_at is None:
            time.sleep(rng.uniform(0, save_seconds * 1.5))
        else:
            _wait_for(log_path, pause_at)
            time.sleep(rng.uniform(0, 0.01))
        os.kill(child.pid, signal.SIGKILL)
        child.join(10)
        reached = [s for s in open(log_path).read().split("\n") if s in STEPS] if os.path.exists(log_path) else []
        kills_after[reached[-1] if reached else "none"] += 1

        loaded = artifacts.load(path)  # must never fail
        assert loaded.fingerprint in (f"v{current}", f"v{new}"), loaded.fingerprint
        if loaded.fingerprint == f"v{new}":
            outcomes["new"] += 1
            current = new
        else:
            outcomes["old"] += 1
        assert path.is_dir()  # and it is back under its own name
    print(f"\n{trials} kills ({'two renames' if no_exchange else 'rename exchange'}): "
          f"loaded old {outcomes['old']}, new {outcomes['new']}; last step before kill: {kills_after}")
    assert outcomes["old"] and outcomes["new"]  # the kills really landed on both sides of the swap
    assert kills_after["written"] and kills_after["swapped"]
    if no_exchange:
        assert kills_after["old moved aside"]

    artifacts.save(versions[0], path)  # the next save cleans what the killed writers left
    assert sorted(p.name for p in path.parent.iterdir()) == ["m"]


def test_saved_files_share_the_folder_permissions(tiny_model, tmp_path):
    old = os.umask(0o022)
    try:
        path = artifacts.save(tiny_model, tmp_path / "m")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.iterdir()}
    assert set(modes.values()) == {0o644}, modes  # safetensors alone would write 0600


def test_a_failed_save_leaves_no_temporary_and_the_previous_model(tiny_model, tmp_path, monkeypatch):
    path = artifacts.save(dataclasses.replace(tiny_model, fingerprint="before"), tmp_path / "m")
    monkeypatch.setenv("RECSYS_NO_RENAME_EXCHANGE", "1")
    real_replace = os.replace

    def fail_second(src, dst):
        if ".saving-" in str(src):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(artifacts.os, "replace", fail_second)
    with pytest.raises(OSError):
        artifacts.save(dataclasses.replace(tiny_model, fingerprint="after"), path)
    monkeypatch.undo()
    assert artifacts.load(path).fingerprint == "before"
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_stale_temporaries_of_dead_writers_are_cleaned_but_nothing_else(tiny_model, tmp_path):
    root = tmp_path / "models"
    artifacts.save(tiny_model, root / "m")
    dead = 2**22 + 12345  # above the default pid_max: no such process
    (root / f".m.saving-{dead}-1").mkdir()
    (root / f".m.saving-{dead}-1" / "weights.safetensors").write_bytes(b"x" * 1000)
    (root / f".m.saving-{os.getpid()}-2").mkdir()  # a live writer's: kept
    (root / ".m.saving-notes").mkdir()  # not our pattern: kept
    (root / f".other.saving-{dead}-1").mkdir()  # another model's: its own save cleans it
    artifacts.save(tiny_model, root / "m")
    assert sorted(p.name for p in root.iterdir()) == sorted(
        ["m", f".m.saving-{os.getpid()}-2", ".m.saving-notes", f".other.saving-{dead}-1"]
    )


def test_a_model_left_aside_between_renames_is_loaded_and_put_back(tiny_model, tmp_path):
    root = tmp_path / "models"
    artifacts.save(dataclasses.replace(tiny_model, fingerprint="old"), root / "m")
    os.replace(root / "m", root / f".m.old-{2**22 + 7}-5")  # what a kill between the renames leaves
    assert artifacts.load(root / "m").fingerprint == "old"
    assert (root / "m").is_dir() and [p.name for p in root.iterdir()] == ["m"]


@pytest.mark.parametrize("no_exchange", [False, True], ids=["rename-exchange", "two-renames"])
def test_loading_while_another_session_saves_always_gives_a_whole_model(tiny_model, tmp_path, monkeypatch, no_exchange):
    import threading

    if no_exchange:
        monkeypatch.setenv("RECSYS_NO_RENAME_EXCHANGE", "1")
    import copy

    import torch

    changed = copy.deepcopy(tiny_model.model)
    with torch.no_grad():
        for param in changed.parameters():
            param.add_(1.0)
    versions = [dataclasses.replace(tiny_model, fingerprint="v0"), dataclasses.replace(tiny_model, fingerprint="v1", model=changed)]
    with torch.no_grad():
        marker = {v.fingerprint: float(sum(p.sum() for p in v.model.parameters())) for v in versions}
    path = artifacts.save(versions[0], tmp_path / "m")
    stop = threading.Event()
    errors, seen = [], set()

    def saver():
        i = 0
        while not stop.is_set():
            i += 1
            artifacts.save(versions[i % 2], path)

    thread = threading.Thread(target=saver)
    thread.start()
    try:
        for _ in range(40):
            try:
                loaded = artifacts.load(path)
                seen.add(loaded.fingerprint)
                # config.json and weights.safetensors of one load come from the same save
                with torch.no_grad():
                    weights = float(sum(p.sum() for p in loaded.model.parameters()))
                assert weights == pytest.approx(marker[loaded.fingerprint], rel=1e-5), loaded.fingerprint
            except Exception as exc:  # noqa: BLE001
                errors.append(repr(exc))
    finally:
        stop.set()
        thread.join()
    assert not errors, errors[:3]
    assert seen <= {"v0", "v1"}


@pytest.mark.parametrize("no_exchange", [False, True], ids=["rename-exchange", "two-renames"])
def test_an_empty_folder_is_filled_and_a_model_folder_replaced(tiny_model, tmp_path, monkeypatch, no_exchange):
    if no_exchange:
        monkeypatch.setenv("RECSYS_NO_RENAME_EXCHANGE", "1")
    (tmp_path / "m").mkdir()
    artifacts.save(dataclasses.replace(tiny_model, fingerprint="first"), tmp_path / "m")
    artifacts.save(dataclasses.replace(tiny_model, fingerprint="second"), tmp_path / "m")
    assert artifacts.load(tmp_path / "m").fingerprint == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def _registry_op_in_child(root, op, rec, version_id):
    from recsys_core.registry import ModelRegistry

    registry = ModelRegistry(root, keep_versions=3)
    if op == "save":
        registry.save(rec, "m", overwrite=True, owner="child")
    elif op == "restore":
        registry.restore_version("m", version_id, by="child")
    else:
        registry.delete("m", confirm="m", by="child")
    os._exit(0)


def test_registry_writes_killed_at_any_moment_leave_a_usable_model_with_its_versions(tiny_model, tmp_path):
    """Saves over a name (versions kept and pruned), restores of a version and deletes to the trash, each
    SIGKILLed at a random moment: afterwards the model loads (from under its name, or after a restore from the
    trash when the delete got that far), it is one of the saved models, and every kept version loads."""
    from recsys_core.registry import ModelRegistry

    fork = multiprocessing.get_context("fork")
    models = [dataclasses.replace(tiny_model, fingerprint=f"v{i}") for i in range(2)]
    registry = ModelRegistry(tmp_path / "models", keep_versions=3)
    registry.save(models[0], "m", owner="parent")
    started = time.perf_counter()
    registry.save(models[1], "m", overwrite=True, owner="parent")
    seconds = time.perf_counter() - started
    rng = random.Random(19)
    done = {"save": 0, "restore": 0, "delete": 0}
    for _ in range(30):
        op = rng.choice(list(done))
        older = [v for v in registry.versions("m") if not v.current]
        child = fork.Process(target=_registry_op_in_child,
                             args=(registry.root, op, models[rng.randrange(2)], older[0].id if older else ""))
        child.start()
        time.sleep(rng.uniform(0, seconds * 1.5))
        os.kill(child.pid, signal.SIGKILL)
        child.join(10)
        done[op] += 1
        trash = [t for t in registry.trash() if t.name == "m"]  # finishes or undoes a delete that was killed
        if not registry.exists("m"):
            assert len(trash) == 1, (op, trash)
            registry.untrash(trash[0].id, by="parent")
        assert registry.load("m").fingerprint in ("v0", "v1"), op
        versions = registry.versions("m")
        assert sum(v.current for v in versions) == 1 and len(versions) <= 3 + 1, [v.id for v in versions]
        for v in versions:
            assert registry.load_version(v).fingerprint in ("v0", "v1")
    assert all(done.values()), done
