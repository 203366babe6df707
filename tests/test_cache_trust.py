"""A shared embedding cache is checked, never trusted (issue 19 §1), and training never keeps a non-finite model.

Each case is one an analyst sharing a ``--cache-dir`` met: a planted shard of shuffled real vectors, vectors
8 wide instead of 384, all NaN, and encoder weights changed in place.  A bad shard costs a re-encoding and
one warning, never a wrong vector and never an exception.
"""
from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from recsys_core import artifacts, training
from recsys_core.embedding_cache import EmbeddingCache
from recsys_core.encoder import EncoderConfig, TextEncoder, encoder_fingerprint, resolve_encoder_path
from recsys_core.errors import ArtifactError, RecsysError
from recsys_core.pipeline import FitOptions, fit
from recsys_core.training import TrainConfig, TrainingDiverged

TEXTS = [f"title: film {i} about {topic}" for i, topic in enumerate(["the sea", "a heist", "space", "a chef", "cars"])]
LAST = "shard-9999999999-9999999999999999999-9999.npz"  # the cache's own naming scheme, sorting after every real shard


@pytest.fixture(scope="module")
def truth(tmp_path_factory):
    """The real vectors of TEXTS, computed with no cache at all."""
    return TextEncoder(EncoderConfig(batch_size=8)).encode(TEXTS)


def _filled_cache(root) -> TextEncoder:
    enc = TextEncoder(EncoderConfig(batch_size=8), cache_dir=root)
    enc.encode(TEXTS)
    return enc


def _plant(folder, name, vectors, *, forged: EmbeddingCache | None = None) -> None:
    """Put vectors for TEXTS under ``name``: as the issue's attacker did (np.savez), or with a valid checksum."""
    hashes = np.array([EmbeddingCache.text_hash(t) for t in TEXTS])
    if forged is None:
        np.savez(folder / name, hashes=hashes, vectors=vectors)
        return
    forger = EmbeddingCache(folder.parent, folder.name, encoder=forged.encoder)  # no width check: writes anything
    before = set(folder.iterdir())
    forger._check_vectors = lambda v: None  # a forger writes NaN too
    forger.put_many(TEXTS, vectors)
    [written] = set(folder.iterdir()) - before
    written.rename(folder / name)


def _read_back(root) -> tuple[np.ndarray, TextEncoder]:
    enc = TextEncoder(EncoderConfig(batch_size=8), cache_dir=root)
    return enc.encode(TEXTS), enc


def test_a_planted_shard_named_to_sort_last_is_ignored_and_left_alone(tmp_path, truth):
    folder = _filled_cache(tmp_path).cache.dir
    shuffled = truth[np.random.default_rng(0).permutation(len(TEXTS))]
    _plant(folder, "shard-zzzz.npz", shuffled)  # not a name this cache writes: never read, never touched
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got, _ = _read_back(tmp_path)
    np.testing.assert_allclose(got, truth, atol=1e-5)
    assert (folder / "shard-zzzz.npz").exists()


@pytest.mark.parametrize("case", ["shuffled", "width 8", "all NaN", "infinite"])
@pytest.mark.parametrize("forged", [False, True], ids=["old format", "valid checksum"])
def test_a_bad_shard_in_the_caches_own_names_is_re_encoded_with_one_warning(tmp_path, truth, case, forged):
    first = _filled_cache(tmp_path)
    folder = first.cache.dir
    vectors = {
        "shuffled": truth[np.random.default_rng(0).permutation(len(TEXTS))],
        "width 8": np.random.default_rng(0).standard_normal((len(TEXTS), 8)).astype(np.float32),
        "all NaN": np.full_like(truth, np.nan),
        "infinite": np.where(np.arange(truth.shape[1]) == 3, np.inf, truth).astype(np.float32),
    }[case]
    if case == "shuffled" and forged:
        pytest.skip("a forger who may write the folder can always sign shuffled vectors (documented limit)")
    _plant(folder, LAST, vectors, forged=first.cache if forged else None)
    # the real shard is gone too, so the planted one is all a reader could serve
    for shard in folder.glob("shard-*.npz"):
        if shard.name != LAST:
            shard.unlink()
    with pytest.warns(RuntimeWarning, match="its texts are encoded again") as caught:
        got, enc = _read_back(tmp_path)
    assert len([w for w in caught if issubclass(w.category, RuntimeWarning)]) == 1
    assert got.shape == truth.shape and np.isfinite(got).all()
    np.testing.assert_allclose(got, truth, atol=1e-5)
    assert enc.cache.rejected == 1 and not (folder / LAST).exists() and (folder / f"rejected-{LAST}").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # set aside: no reader, in this process or another, reads it again
        again, _ = _read_back(tmp_path)
    np.testing.assert_allclose(again, truth, atol=1e-5)


def test_a_rejected_shard_is_said_on_the_progress_line(tmp_path, truth):
    folder = _filled_cache(tmp_path).cache.dir
    _plant(folder, LAST, np.full_like(truth, np.nan))
    messages = []
    with pytest.warns(RuntimeWarning):
        TextEncoder(EncoderConfig(batch_size=8), cache_dir=tmp_path).encode(TEXTS, lambda f, m: messages.append(m))
    assert any("set aside" in m for m in messages)


@pytest.fixture
def encoder_copy(tmp_path):
    folder = tmp_path / "encoder"
    shutil.copytree(resolve_encoder_path("default"), folder)
    return folder


def test_changed_encoder_weights_never_get_the_old_vectors(tmp_path, encoder_copy):
    config = EncoderConfig(name=str(encoder_copy), batch_size=8)
    cache = tmp_path / "cache"
    before = TextEncoder(config, cache_dir=cache).encode(TEXTS)
    weights = load_file(encoder_copy / "model.safetensors")
    name = next(k for k in weights if k.endswith("word_embeddings.weight"))
    weights[name][:, 0] += 0.5  # one weight column of the token embeddings
    save_file(weights, encoder_copy / "model.safetensors", metadata={"format": "pt"})
    after = TextEncoder(config, cache_dir=cache).encode(TEXTS)
    assert not np.allclose(after, before, atol=1e-3)
    np.testing.assert_allclose(after, TextEncoder(config).encode(TEXTS), atol=1e-5)  # the new weights' own vectors


def test_the_fingerprint_is_memoised_per_file_and_follows_changes(encoder_copy, monkeypatch):
    import recsys_core.encoder as encoder_module

    first = encoder_fingerprint(str(encoder_copy))
    assert first is not None and first.width == 384
    hashed = []
    real = encoder_module.hashlib.file_digest
    monkeypatch.setattr(encoder_module.hashlib, "file_digest", lambda f, a: hashed.append(f.name) or real(f, a))
    assert encoder_fingerprint(str(encoder_copy)) == first and hashed == []  # nothing re-read
    (encoder_copy / "vocab.txt").write_text((encoder_copy / "vocab.txt").read_text() + "newword\n")
    changed = encoder_fingerprint(str(encoder_copy))
    assert changed.digest != first.digest and [p.rsplit("/", 1)[-1] for p in hashed] == ["vocab.txt"]


# -- training and saved models: never a non-finite model ---------------------------------------------


def _nan_encode(self, texts, progress=None):
    return np.full((len(texts), 384), np.nan, dtype=np.float32)


def test_nan_text_vectors_stop_training_with_a_clear_message(tiny_dataset, monkeypatch, tmp_path):
    monkeypatch.setattr(TextEncoder, "encode", _nan_encode)
    with pytest.raises(TrainingDiverged, match="not finite") as info:
        fit(tiny_dataset, FitOptions(train=TrainConfig(epochs=1), baselines=False, cache_dir=str(tmp_path)))
    assert len(info.value.summary) < 200


def test_a_non_finite_loss_stops_training(tiny_dataset, embedding_cache, monkeypatch):
    monkeypatch.setattr(training.BatchLoss, "forward", lambda *args: torch.tensor(float("nan"), requires_grad=True))
    with pytest.raises(TrainingDiverged, match=r"epoch 1, batch 1: the loss is nan") as info:
        fit(tiny_dataset, FitOptions(train=TrainConfig(epochs=1), baselines=False, cache_dir=embedding_cache))
    assert isinstance(info.value, RecsysError) and len(info.value.summary) < 200


def test_the_cli_says_one_line_exits_non_zero_and_saves_nothing(tiny_dataset, monkeypatch, tmp_path, capsys):
    from conftest import tiny_tables
    from recsys_core.cli import main

    interactions, items, _ = tiny_tables()
    interactions.to_csv(tmp_path / "i.csv", index=False)
    items.to_csv(tmp_path / "items.csv", index=False)
    monkeypatch.setattr(TextEncoder, "encode", _nan_encode)
    code = main(["train", "--interactions", str(tmp_path / "i.csv"), "--items", str(tmp_path / "items.csv"),
                 "--out", str(tmp_path / "model"), "--epochs", "1", "--cache-dir", str(tmp_path / "cache")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and err[-1].startswith("error: ") and "not finite" in err[-1] and "Traceback" not in "".join(err)
    assert not (tmp_path / "model").exists()


def test_the_train_page_job_reports_a_non_finite_training_as_its_error(tiny_dataset, monkeypatch, tmp_path):
    from dashboard.training import TrainingJob

    monkeypatch.setattr(TextEncoder, "encode", _nan_encode)
    job = TrainingJob(tiny_dataset, FitOptions(train=TrainConfig(epochs=1), cache_dir=str(tmp_path))).start()
    assert job.wait(120)
    assert job.result is None and "not finite" in job.error.splitlines()[0]  # the page shows it in an st.error


@pytest.mark.parametrize("where", ["weights", "item vectors"])
def test_a_saved_model_with_non_finite_values_is_damaged_on_load(tiny_model, tmp_path, where):
    from safetensors.numpy import load_file as load_numpy, save_file as save_numpy

    folder = artifacts.save(tiny_model, tmp_path / "m")
    if where == "weights":
        weights = load_file(folder / "weights.safetensors")
        name = next(k for k, v in weights.items() if v.is_floating_point() and v.numel() > 1)
        weights[name].view(-1)[0] = float("nan")
        save_file(weights, folder / "weights.safetensors")
    else:
        vectors = load_numpy(folder / "vectors.safetensors")
        vectors["item_vectors"][2, 5] = np.inf
        save_numpy(vectors, folder / "vectors.safetensors")
    with pytest.raises(ArtifactError, match="is damaged: .*non-finite"):
        artifacts.load(folder)


HUB_CHILD = """
import sys
from recsys_core.encoder import EncoderConfig, encoder_fingerprint, encoder_folder, open_cache
folder = encoder_folder("someorg/tinybert")
print(folder.name, encoder_fingerprint("someorg/tinybert").width, encoder_fingerprint("nobody/nothing"),
      open_cache(EncoderConfig(name="nobody/nothing"), sys.argv[1]))
"""


def test_a_hub_id_is_fingerprinted_by_its_snapshot_found_offline(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    model = Path(resolve_encoder_path("default"))
    repo = tmp_path / "hub" / "models--someorg--tinybert"
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    for name in ("config.json", "vocab.txt", "tokenizer_config.json", "model.safetensors"):
        (snapshot / name).symlink_to(model / name)  # the hub cache's layout: snapshot files link to blobs
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub"),
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    out = subprocess.run([sys.executable, "-c", HUB_CHILD, str(tmp_path / "cache")], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.split() == ["abc123", "384", "None", "None"], out.stderr  # unknown id: no cache is read
