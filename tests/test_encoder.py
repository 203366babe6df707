"""The default encoder loads offline, pools as configured and caches on disk."""
import numpy as np
import pytest
import torch

from recsys_core.encoder import EncoderConfig, TextEncoder, open_cache, pool
from recsys_core.errors import RecsysError


def test_pooling_ignores_padding():
    hidden = torch.tensor([[[1.0, 1.0], [3.0, 3.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert torch.allclose(pool(hidden, mask, "mean"), torch.tensor([[2.0, 2.0]]))
    assert torch.allclose(pool(hidden, mask, "max"), torch.tensor([[3.0, 3.0]]))
    assert torch.allclose(pool(hidden, mask, "cls"), torch.tensor([[1.0, 1.0]]))


def test_unknown_pooling_is_refused():
    with pytest.raises(RecsysError, match="pooling"):
        EncoderConfig(pooling="median")


def test_encode_is_batch_independent_and_cached(tmp_path):
    enc = TextEncoder(EncoderConfig(batch_size=2), cache_dir=tmp_path)
    texts = ["title: a space crew", "title: a detective in the rain at night", "x"]
    together = enc.encode(texts)
    alone = np.stack([TextEncoder(EncoderConfig()).encode([t])[0] for t in texts])
    assert together.shape == (3, 384)
    np.testing.assert_allclose(together, alone, atol=1e-4)  # padding and length-sorting change nothing
    assert list(tmp_path.rglob("shard-*.npz"))
    reread = TextEncoder(EncoderConfig(batch_size=2), cache_dir=tmp_path)
    reread._encode_uncached = None  # any re-encoding would now fail loudly
    np.testing.assert_array_equal(reread.encode(texts), together)


def test_similar_texts_are_closer():
    enc = TextEncoder()
    v = enc.encode(["a crew of astronauts in space", "astronauts drift through space", "a chef cooks pasta"])
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    assert v[0] @ v[1] > v[0] @ v[2]


def test_the_eager_model_shares_the_weights_and_returns_attentions():
    enc = TextEncoder()
    fast, eager = enc.model, enc.eager_model
    assert all(a.data_ptr() == b.data_ptr() for a, b in zip(fast.parameters(), eager.parameters()))
    assert fast.config._attn_implementation != "eager"  # plain encoding keeps its fast kernel
    batch = enc.tokenize(["a crew of astronauts in space", "pasta"])
    with torch.inference_mode():
        seen = eager(**batch, output_attentions=True)
        plain = fast(**batch)
    assert len(seen.attentions) == fast.config.num_hidden_layers
    assert torch.allclose(seen.attentions[0].sum(-1), torch.ones_like(seen.attentions[0].sum(-1)))
    torch.testing.assert_close(seen.last_hidden_state, plain.last_hidden_state, atol=1e-4, rtol=0)


def test_missing_encoder_path_is_a_clear_error(tmp_path):
    enc = TextEncoder(EncoderConfig(name=str(tmp_path / "no-such-model")))
    with pytest.raises(RecsysError, match="No encoder directory at"):
        enc.encode(["x"])


def test_unknown_model_id_is_a_clear_error():
    enc = TextEncoder(EncoderConfig(name="nobody/no-such-bert"))
    with pytest.raises(RecsysError, match="Could not load"):
        enc.encode(["x"])


# -- the on-disk embedding cache: damaged files are misses, never fatal -----------------------

import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

from recsys_core.embedding_cache import EmbeddingCache  # noqa: E402

DEAD_PID = 2**22 + 4321  # above the default pid_max: no such process


def _fill(cache: EmbeddingCache, n: int = 50, dim: int = 8, seed: int = 0) -> tuple[list[str], np.ndarray]:
    texts = [f"text number {i}" for i in range(n)]
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    cache.put_many(texts, vectors)
    return texts, vectors


def test_cache_round_trips_and_writes_only_complete_shards(tmp_path):
    cache = EmbeddingCache(tmp_path, "k")
    texts, vectors = _fill(cache)
    names = [p.name for p in (tmp_path / "k").iterdir()]
    assert len(names) == 1 and names[0].startswith("shard-") and names[0].endswith(".npz")
    again = EmbeddingCache(tmp_path, "k").get_many(texts + ["unknown"])
    assert list(again) == texts
    np.testing.assert_array_equal(np.stack([again[t] for t in texts]), vectors)


@pytest.mark.parametrize("keep", [0, 1, 10, 22, 30, 100, 0.25, 0.5, 0.75, 0.9, 0.99, -1])
def test_a_truncated_shard_is_a_cache_miss_with_one_warning(tmp_path, keep):
    cache = EmbeddingCache(tmp_path, "k")
    texts, _ = _fill(cache)
    survivors, _ = _fill(cache, n=3, seed=1)  # a second, intact shard holding three of the texts
    shard = sorted((tmp_path / "k").glob("shard-*.npz"))[0]  # the first (50 texts), by name = write time
    data = shard.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else (len(data) + keep if keep < 0 else keep)
    shard.write_bytes(data[:cut])
    reader = EmbeddingCache(tmp_path, "k")
    with pytest.warns(RuntimeWarning, match="unreadable"):
        found = reader.get_many(texts)
    assert set(survivors) <= set(found) <= set(texts)  # the intact shard is still served; nothing raises
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per shard, not on every lookup
        reader.get_many(texts)
        EmbeddingCache(tmp_path, "k").get_many(texts)


def test_stale_temporaries_are_never_read_and_dead_writers_files_are_removed(tmp_path):
    folder = tmp_path / "k"
    cache = EmbeddingCache(tmp_path, "k")
    texts, vectors = _fill(cache)
    (folder / f"shard-00003-{DEAD_PID}.tmp.npz").write_bytes(b"PK\x03\x04 truncated")  # left by the old code
    (folder / f".partial-{DEAD_PID}-1").write_bytes(b"PK\x03\x04 half")
    (folder / f".partial-{os.getpid()}-2").write_bytes(b"PK")  # a live writer's: left alone
    (folder / "notes.txt").write_text("not ours")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = EmbeddingCache(tmp_path, "k").get_many(texts)
    assert len(found) == len(texts)
    left = sorted(p.name for p in folder.iterdir())
    assert f"shard-00003-{DEAD_PID}.tmp.npz" not in left and f".partial-{DEAD_PID}-1" not in left
    assert f".partial-{os.getpid()}-2" in left and "notes.txt" in left


def test_a_shard_temporary_of_a_killed_writer_is_removed_whatever_its_stamp(tmp_path):
    folder = tmp_path / "k"
    texts, _ = _fill(EmbeddingCache(tmp_path, "k"))
    left = [f".shard-{DEAD_PID}-1-2.npz.{DEAD_PID}-3-4",  # what a writer killed mid-write leaves now
            f".partial-{DEAD_PID}-1-2"]  # ... and what it left before (pid, time, thread)
    for name in left:
        (folder / name).write_bytes(b"PK\x03\x04 half")
    (folder / f".shard-{os.getpid()}-1-2.npz.{os.getpid()}-3-4").write_bytes(b"PK")  # a live writer's
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(EmbeddingCache(tmp_path, "k").get_many(texts)) == len(texts)
    names = {p.name for p in folder.iterdir()}
    assert not names & set(left) and f".shard-{os.getpid()}-1-2.npz.{os.getpid()}-3-4" in names


def test_encode_with_a_damaged_shard_re_encodes_instead_of_failing(tmp_path):
    enc = TextEncoder(EncoderConfig(), cache_dir=tmp_path)
    texts = ["a quiet film about the sea", "a loud film about cars"]
    first = enc.encode(texts)
    for shard in tmp_path.rglob("shard-*.npz"):
        shard.write_bytes(shard.read_bytes()[:40])
    with pytest.warns(RuntimeWarning, match="unreadable"):
        again = TextEncoder(EncoderConfig(), cache_dir=tmp_path).encode(texts)
    np.testing.assert_allclose(again, first, atol=1e-5)


def test_one_cache_shared_by_threads(tmp_path):
    cache = EmbeddingCache(tmp_path, "k")
    errors = []

    def work(worker: int) -> None:
        try:
            for round_ in range(20):
                texts = [f"w{worker} r{round_} t{i}" for i in range(5)]
                cache.put_many(texts, np.full((5, 4), worker, dtype=np.float32))
                got = cache.get_many(texts)
                assert len(got) == 5 and all((v == worker).all() for v in got.values())
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(EmbeddingCache(tmp_path, "k").get_many([f"w{w} r{r} t{i}" for w in range(8) for r in range(20) for i in range(5)])) == 800


CHILD = """
import sys, time
from recsys_core.embedding_cache import EmbeddingCache
from recsys_core.encoder import EncoderConfig, TextEncoder
EmbeddingCache.FLUSH_TEXTS = 16
enc = TextEncoder(EncoderConfig(batch_size=8), cache_dir=sys.argv[1])
texts = [f"film number {i} about the sea and the stars" for i in range(4000)]
enc.encode(texts, progress=lambda fraction, message: time.sleep(0.01))
"""


def test_a_kill_during_encoding_keeps_the_shards_already_written(tmp_path):
    root = Path(__file__).resolve().parent.parent
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], env={**os.environ, "PYTHONPATH": str(root)})
    try:
        deadline = time.monotonic() + 300  # leaves as soon as 3 shards exist; long only on a loaded machine
        while time.monotonic() < deadline and len(list(tmp_path.rglob("shard-*.npz"))) < 3:
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    texts = [f"film number {i} about the sea and the stars" for i in range(4000)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no damaged shard: temporaries are never read
        kept = open_cache(EncoderConfig(), tmp_path).get_many(texts)
    # 3 shards of at least one batch of 8 each (the first is flushed after one batch when loading the
    # weights on a busy machine takes longer than FLUSH_SECONDS)
    assert 3 * 8 <= len(kept) < len(texts)
    sample = list(kept)[:3]
    np.testing.assert_allclose(np.stack([kept[t] for t in sample]), TextEncoder(EncoderConfig()).encode(sample), atol=1e-4)


def test_an_encoder_folder_with_damaged_weights_is_a_short_clear_error(tmp_path):
    import shutil

    from recsys_core.encoder import resolve_encoder_path

    folder = tmp_path / "enc"
    shutil.copytree(resolve_encoder_path("default"), folder)
    (folder / "model.safetensors").write_bytes(b"garbage" * 10)
    with pytest.raises(RecsysError, match="Could not load the encoder") as info:
        TextEncoder(EncoderConfig(name=str(folder))).encode(["x"])
    assert len(info.value.summary) < 200 and "SafetensorError" in info.value.details


def test_a_cache_that_cannot_be_written_only_warns(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    cache = EmbeddingCache(blocker, "k")
    assert cache.get_many(["a"]) == {}
    with pytest.warns(RuntimeWarning, match="could not be written"):
        cache.put_many(["a"], np.ones((1, 4), dtype=np.float32))
    assert set(cache.get_many(["a"])) == {"a"}  # still served from memory for this process
    assert blocker.read_text().startswith("a file")
