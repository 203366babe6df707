"""The on-disk cache of pooled text vectors: one shard file per write, damaged shards treated as missing.

Keyed by (encoder, pooling, max length, text hash), so a change of encoder settings never serves old
vectors.  ``TextEncoder`` reads and fills it; batch encoding on Ray (``encoding``) fills it from the
driver only.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import durable

logger = logging.getLogger(__name__)


class EmbeddingCache:
    """Pooled vectors on disk, keyed by (encoder, pooling, max length, text hash).

    Each write is a new ``shard-PID-NS-TID.npz`` file written by
    :func:`recsys_core.durable.write_file` (a hidden temporary the reader never
    matches, fsynced, then renamed), so a reader only ever sees complete
    shards; temporaries of writers that died are removed by the next reader
    that lists the folder.  A shard that cannot be read
    anyway (disk damage, a file truncated by another tool) counts as missing:
    its texts are encoded again and a warning is issued once per shard.  One
    instance may be shared by threads (dashboard sessions): the in-memory
    index is guarded by a lock, and shards written by other processes are
    picked up when a lookup misses.
    """

    FLUSH_TEXTS = 1024  # write a shard at least this often while encoding ...
    FLUSH_SECONDS = 15.0  # ... or after this long, so a kill loses little work
    _SHARD = re.compile(r"^shard-.*\.npz$")
    # Temporaries of earlier versions (before recsys_core.durable named them): removed once their writer is gone.
    _LEGACY_TEMPS = (re.compile(r"^\.partial-(?P<pid>\d+)-\d+(?:-\d+)?$"),
                     re.compile(r"^shard-\d+-(?P<pid>\d+)\.tmp\.npz$"))
    _warned: set[str] = set()
    _warned_lock = threading.Lock()

    def __init__(self, root: str | Path, key: str):
        self.dir = Path(root) / key
        self._index: dict[str, np.ndarray] = {}
        self._seen: set[str] = set()  # shard file names already read (or found unreadable)
        self._lock = threading.Lock()

    @staticmethod
    def text_hash(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()

    # -- reading -------------------------------------------------------------------
    def _refresh(self) -> None:
        """Read shards not read yet (caller holds the lock)."""
        try:
            names = sorted(p.name for p in self.dir.iterdir())
        except OSError:
            return
        for name in names:
            if name in self._seen:
                continue
            if self._remove_if_orphaned(name) or not self._SHARD.match(name):
                continue  # a temporary (removed if its writer is gone), or not a shard
            self._seen.add(name)
            try:
                # Our own file handle: np.load leaks its handle when the archive is damaged.
                with open(self.dir / name, "rb") as f, np.load(f, allow_pickle=False) as data:
                    hashes, vectors = data["hashes"], data["vectors"]
                    if vectors.ndim != 2 or len(hashes) != len(vectors):
                        raise ValueError(f"shapes {hashes.shape} and {vectors.shape} do not match")
                    for h, v in zip(hashes.tolist(), vectors):
                        self._index[str(h)] = v
            except Exception as exc:  # noqa: BLE001 - zipfile, zlib, numpy and OS errors alike: a cache miss
                self._warn_once(name, exc)

    def _remove_if_orphaned(self, name: str) -> bool:
        """True when ``name`` is a temporary of a writer of this cache; deleted if that writer is gone.

        Never reads nor deletes anything else.
        """
        temp = durable.parse_temporary(self.dir / name)
        if temp is not None:
            pid = temp.pid
        else:
            legacy = next((m for m in (p.match(name) for p in self._LEGACY_TEMPS) if m), None)
            if legacy is None:
                return False
            pid = int(legacy["pid"])
        if not durable.pid_alive(pid):
            durable.discard(self.dir / name)
        return True

    def _warn_once(self, name: str, exc: Exception, writing: bool = False) -> None:
        key = str(self.dir / name)
        with self._warned_lock:
            if key in self._warned:
                return
            self._warned.add(key)
        if writing:
            message = (
                f"Embedding cache file {key} could not be written ({exc}); vectors are kept in memory only, "
                "so they are encoded again next time."
            )
        else:
            message = (
                f"Embedding cache file {key} is unreadable ({type(exc).__name__}); its texts are encoded again. "
                "Delete the file to silence this warning."
            )
        logger.warning(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)

    def get_many(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        with self._lock:
            hashes = [self.text_hash(t) for t in texts]
            if any(h not in self._index for h in hashes):
                self._refresh()  # another process may have written what we lack
            return {t: self._index[h] for t, h in zip(texts, hashes) if h in self._index}

    # -- writing -------------------------------------------------------------------
    def put_many(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store one shard; it becomes visible to readers only once complete."""
        if len(texts) == 0:
            return
        hashes = np.array([self.text_hash(t) for t in texts])
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        stamp = f"{os.getpid()}-{time.time_ns()}-{threading.get_ident() % 10_000}"
        final = self.dir / f"shard-{stamp}.npz"
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            # into a file object: np.savez would append ".npz" to a name
            durable.write_file(final, lambda f: np.savez(f, hashes=hashes, vectors=vectors))
        except OSError as exc:  # a full or read-only disk, or a file in the way, costs speed, not the encoding
            self._warn_once(final.name, exc, writing=True)
        with self._lock:
            self._seen.add(final.name)
            for h, v in zip(hashes.tolist(), vectors):
                self._index[str(h)] = v

    def writer(self) -> "_CacheWriter":
        """Collects vectors during one encoding and writes them in shards as it goes."""
        return _CacheWriter(self)


class _CacheWriter:
    def __init__(self, cache: EmbeddingCache):
        self.cache = cache
        self.texts: list[str] = []
        self.vectors: list[np.ndarray] = []
        self.last = time.monotonic()

    def add(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        self.texts.extend(texts)
        self.vectors.append(vectors)
        if len(self.texts) >= self.cache.FLUSH_TEXTS or time.monotonic() - self.last >= self.cache.FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.texts:
            self.cache.put_many(self.texts, np.concatenate(self.vectors))
        self.texts, self.vectors, self.last = [], [], time.monotonic()
