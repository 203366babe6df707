"""The model registry: named models in a shared directory."""
from __future__ import annotations

import numpy as np
import pytest

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
    registry.delete("drop")
    assert [i.name for i in registry.list()] == ["keep"]
    with pytest.raises(UnknownEntityError, match="saved models: keep"):
        registry.load("drop")
    with pytest.raises(UnknownEntityError):
        registry.delete("drop")


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
    registry.delete("broken")
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
    assert sorted(p.name for p in registry.root.iterdir()) == [f".mine.saving-{os.getpid()}-4", "kept"]
