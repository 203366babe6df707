"""The model registry: named models in a shared directory."""
from __future__ import annotations

import json

import numpy as np
import pytest

from recsys_core import artifacts
from recsys_core.errors import ArtifactError
from recsys_core.errors import RecsysError, UnknownEntityError
from recsys_core.registry import MODELS_DIR_ENV, ModelRegistry, default_root


@pytest.fixture
def registry(tmp_path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "models")


def test_an_empty_or_missing_directory_lists_no_models(registry):
    assert registry.list() == []


def test_save_then_list_describes_the_model(registry, tiny_model):
    info = registry.save(tiny_model, "tiny-v1")
    assert info.name == "tiny-v1"
    assert info.path == registry.root / "tiny-v1"
    assert info.n_items == 40
    assert info.n_users == 30
    assert info.encoder == tiny_model.encoder_config.name
    assert info.ndcg10 == pytest.approx(tiny_model.report.table("test").loc["HybridBERT", "NDCG@10"])
    assert info.saved_at.endswith("Z")
    assert registry.list() == [info]


def test_a_loaded_model_recommends_like_the_saved_one(registry, tiny_model):
    registry.save(tiny_model, "tiny")
    loaded = registry.load("tiny")
    before = tiny_model.recommend("u00", k=5)
    after = loaded.recommend("u00", k=5)
    assert [r.item_id for r in after] == [r.item_id for r in before]
    np.testing.assert_allclose([r.score for r in after], [r.score for r in before], rtol=1e-5)


@pytest.mark.parametrize(
    "bad", ["", "my model", "../escape", "a/b", ".hidden", "naïve", "x" * 65, "v1.2", "ok\n", "ok\r", "a\tb", "ok\x00", "\u0661"]
)
def test_bad_names_are_refused_with_a_message_that_says_what_is_allowed(registry, tiny_model, bad):
    with pytest.raises(RecsysError, match="letters, digits, '-' or '_'"):
        registry.save(tiny_model, bad)
    assert not registry.root.exists() or not any(registry.root.iterdir())


def test_saving_never_silently_replaces_a_model_of_the_same_name(registry, tiny_model):
    registry.save(tiny_model, "shared")
    with pytest.raises(RecsysError, match="already exists"):
        registry.save(tiny_model, "shared")
    registry.save(tiny_model, "shared", overwrite=True)
    assert [i.name for i in registry.list()] == ["shared"]


def test_delete_removes_the_model_and_unknown_names_say_what_exists(registry, tiny_model):
    registry.save(tiny_model, "keep")
    registry.save(tiny_model, "drop")
    registry.delete("drop", confirm="drop")
    assert [i.name for i in registry.list()] == ["keep"]
    with pytest.raises(UnknownEntityError, match="saved models: keep"):
        registry.load("drop")
    with pytest.raises(UnknownEntityError):
        registry.delete("drop", confirm="drop")


def test_list_skips_unfinished_saves_and_other_files(registry, tiny_model):
    registry.save(tiny_model, "real")
    (registry.root / ".real.saving-123").mkdir()
    (registry.root / "notes.txt").write_text("not a model")
    (registry.root / "empty-dir").mkdir()
    assert [i.name for i in registry.list()] == ["real"]


def test_a_damaged_model_is_listed_so_it_can_be_deleted(registry, tiny_model):
    registry.save(tiny_model, "broken")
    (registry.root / "broken" / "config.json").write_text("{not json")
    [info] = registry.list()
    assert info.name == "broken" and info.ndcg10 is None
    registry.delete("broken", confirm="broken")
    assert registry.list() == []


def test_default_root_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "shared"))
    assert default_root() == tmp_path / "shared"
    assert ModelRegistry().root == tmp_path / "shared"
    monkeypatch.delenv(MODELS_DIR_ENV)
    assert default_root().name == "models"


def test_a_name_with_a_newline_is_refused_by_the_registry_itself(registry):
    for bad in ("ok\n", "ok\r\n", "o\x1bk"):
        with pytest.raises(RecsysError, match="control characters"):
            registry.check_name(bad)


def test_overwrite_refuses_a_folder_that_is_not_a_model(registry, tiny_model):
    (registry.root / "notes").mkdir(parents=True)
    (registry.root / "notes" / "thesis.txt").write_text("years of work")
    with pytest.raises(RecsysError, match="not a recsys_core model"):
        registry.save(tiny_model, "notes", overwrite=True)
    assert (registry.root / "notes" / "thesis.txt").read_text() == "years of work"


def test_listing_cleans_leftovers_of_killed_saves_and_deletes(registry, tiny_model):
    import os

    registry.save(tiny_model, "kept")
    dead = 2**22 + 99  # above the default pid_max: no such process
    os.replace(registry.root / "kept", registry.root / f".kept.old-{dead}-1")  # killed between the renames
    (registry.root / f".gone.saving-{dead}-2").mkdir()
    (registry.root / f".gone.deleting-{dead}-3").mkdir()
    (registry.root / f".mine.saving-{os.getpid()}-4").mkdir()  # a live save: untouched
    assert [i.name for i in registry.list()] == ["kept"]
    # the registry's own lock file and versions folder stay; only dead writers' leftovers go
    assert sorted(p.name for p in registry.root.iterdir()) == [f".mine.saving-{os.getpid()}-4", ".registry.lock",
                                                               ".versions", "kept"]


# -- owners, versions, trash, fingerprints (issue 19 §3) ------------------------------------------------


def test_the_list_says_who_saved_each_model_and_the_cli_default_is_the_os_user(registry, tiny_model, monkeypatch):
    registry.save(tiny_model, "alices", owner="alice@example.org")
    monkeypatch.setattr("getpass.getuser", lambda: "bob")
    registry.save(tiny_model, "bobs")
    owners = {i.name: i.owner for i in registry.list()}
    assert owners == {"alices": "alice@example.org", "bobs": "bob"}
    info = next(i for i in registry.list() if i.name == "alices")
    assert info.fingerprint == artifacts.fingerprint(registry.root / "alices") and len(info.fingerprint) == 64


@pytest.mark.parametrize("owner", ["", "   ", "a\nb", "x" * 81, "\x1b[31mred"])
def test_an_owner_label_that_cannot_label_a_model_is_refused(registry, tiny_model, owner):
    with pytest.raises(RecsysError, match="cannot be used as an owner label"):
        registry.save(tiny_model, "m", owner=owner)
    assert not registry.exists("m")


def test_replacing_keeps_the_previous_version_and_one_call_puts_it_back(registry, tiny_model, short_window_model):
    registry.save(tiny_model, "shared", owner="alice")
    first = registry.current_version("shared")
    registry.save(short_window_model, "shared", overwrite=True, owner="bob")
    versions = registry.versions("shared")
    assert [(v.owner, v.current) for v in versions] == [("bob", True), ("alice", False)]
    assert registry.load("shared").max_history == short_window_model.max_history
    assert registry.list()[0].owner == "bob"
    registry.restore_version("shared", first.id, by="alice")
    assert registry.current_version("shared").id == first.id
    assert registry.load("shared").max_history == tiny_model.max_history
    assert registry.last_change("shared").action == "restored" and registry.last_change("shared").by == "alice"
    assert len(registry.versions("shared")) == 2  # going back adds no copy


def test_old_versions_are_pruned_by_count_and_the_current_one_is_always_kept(tmp_path, tiny_model):
    registry = ModelRegistry(tmp_path / "models", keep_versions=2)
    for owner in ("a", "b", "c", "d"):
        registry.save(tiny_model, "m", overwrite=True, owner=owner)
    assert [v.owner for v in registry.versions("m")] == ["d", "c"]
    assert len([p for p in (registry.root / ".versions" / "m").iterdir() if p.is_dir()]) == 2


def test_a_model_saved_before_versions_were_kept_is_kept_as_a_version_when_replaced(registry, tiny_model):
    artifacts.save(tiny_model, registry.root / "legacy")  # as the registry of before issue 19 wrote it
    assert registry.list()[0].owner == "unknown"
    registry.save(tiny_model, "legacy", overwrite=True, owner="carol")
    assert [v.owner for v in registry.versions("legacy")] == ["carol", "unknown"]


def test_a_session_is_told_its_model_was_replaced_by_whom_and_still_gets_its_version(registry, tiny_model,
                                                                                   short_window_model):
    mine = registry.save(tiny_model, "m", owner="alice")
    registry.save(short_window_model, "m", overwrite=True, owner="bob")
    status = registry.status_of("m", mine.fingerprint)
    assert status.state == "replaced" and status.change.by == "bob"
    assert status.own.owner == "alice" and status.current.owner == "bob"
    assert "bob replaced it" in status.message() and "this session uses it" in status.message()
    assert registry.load_version(status.own).max_history == tiny_model.max_history
    assert registry.status_of("m", registry.current_version("m").fingerprint).state == "current"


def test_delete_asks_for_the_name_typed_and_moves_the_model_to_a_restorable_trash(registry, tiny_model):
    info = registry.save(tiny_model, "precious", owner="alice")
    with pytest.raises(RecsysError, match="type its name exactly"):
        registry.delete("precious", confirm="precios", by="bob")
    assert registry.exists("precious")
    entry = registry.delete("precious", confirm="precious", by="bob")
    assert not registry.exists("precious") and registry.list() == []
    assert entry.deleted_by == "bob" and entry.name == "precious"
    status = registry.status_of("precious", info.fingerprint)
    assert status.state == "deleted" and "deleted by bob" in status.message()
    assert [t.id for t in registry.trash()] == [entry.id]
    registry.untrash(entry.id, by="alice")
    assert registry.list()[0].owner == "alice" and registry.trash() == []
    assert registry.status_of("precious", info.fingerprint).state == "current"
    assert [v.owner for v in registry.versions("precious")] == ["alice"]


def test_restoring_from_the_trash_never_replaces_a_model_saved_since(registry, tiny_model, short_window_model):
    registry.save(tiny_model, "m", owner="alice")
    entry = registry.delete("m", confirm="m", by="alice")
    registry.save(short_window_model, "m", owner="bob")
    with pytest.raises(RecsysError, match="was saved after this one was deleted"):
        registry.untrash(entry.id)
    assert registry.current_version("m").owner == "bob" and len(registry.trash()) == 1


def test_expired_trash_is_removed_and_nothing_the_registry_did_not_make(tmp_path, tiny_model):
    registry = ModelRegistry(tmp_path / "models", trash_days=0)
    registry.save(tiny_model, "m")
    registry.delete("m", confirm="m")
    stranger = registry.root / ".trash" / "notes.txt"
    stranger.write_text("mine")
    foreign = registry.root / ".trash" / "x.20260101T000000000000Z-abcdef"  # our name, not our record
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("years of work")
    import time as _time
    _time.sleep(1.1)  # expiry is at a one-second resolution
    assert registry.trash() == []
    assert sorted(p.name for p in (registry.root / ".trash").iterdir()) == ["notes.txt", foreign.name]


def test_a_delete_killed_half_way_is_finished_or_undone_by_the_next_listing(registry, tiny_model):
    import json, os
    registry.save(tiny_model, "a", owner="alice")
    registry.save(tiny_model, "b", owner="alice")
    dead = 2**22 + 99
    trash = registry.root / ".trash"
    trash.mkdir()
    # "a": killed after the model moved (the delete happened: finished); "b": before (never happened: undone)
    for name, moved in (("a", True), ("b", False)):
        pending = trash / f".pending-{dead}-1-{name}.20260101T000000000000Z-abcdef"
        pending.mkdir()
        (pending / "trash.json").write_text(json.dumps({"format": "recsys_core.registry", "name": name,
                                                        "deleted_by": "x", "deleted_at": "2026-01-01T00:00:00Z",
                                                        "expires_at": "2999-01-01T00:00:00Z"}))
        os.replace(registry.root / ".versions" / name, pending / "versions")
        if moved:
            os.replace(registry.root / name, pending / "model")
    assert [t.name for t in registry.trash()] == ["a"]
    assert [i.name for i in registry.list()] == ["b"]
    assert registry.current_version("b").owner == "alice"


@pytest.mark.parametrize("where", ["under the name", "in the version"])
def test_model_files_changed_after_saving_are_refused_with_a_clear_message(registry, tiny_model, where):
    info = registry.save(tiny_model, "m", owner="alice")
    version = registry.current_version("m")
    folder = info.path if where == "under the name" else version.path
    catalog = json.loads((folder / "catalog.json").read_text())
    catalog["item_texts"][0]["text"] = "planted text"
    (folder / "catalog.json").write_text(json.dumps(catalog))  # in place: both names see it (hard links)
    with pytest.raises(ArtifactError, match="changed after saving \\(fingerprint mismatch\\)"):
        registry.load("m")
    with pytest.raises(ArtifactError, match="changed after saving"):
        registry.load_version(version)


def test_a_file_replaced_under_the_name_only_is_refused_too(registry, tiny_model):
    info = registry.save(tiny_model, "m")
    train_log = info.path / "train_log.json"
    text = train_log.read_text()
    train_log.unlink()  # a new file: the version folder keeps the saved one
    train_log.write_text(text.replace("1", "2"))
    with pytest.raises(ArtifactError, match="changed after saving"):
        registry.load("m")
