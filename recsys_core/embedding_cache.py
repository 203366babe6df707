"""The on-disk cache of pooled text vectors: one shard file per write, checked on read, bad shards treated as missing.

Keyed by (encoder, pooling, max length, fingerprint of the encoder's files, text hash), so neither a change
of encoder settings nor new weights in the same folder ever serve old vectors.  ``TextEncoder`` reads and
fills it; batch encoding on Ray (``encoding``) fills it from the driver only.
"""
from __future__ import annotations

import hashlib
import json
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


class ShardRejected(ValueError):
    """A shard that reads but fails a check (format, checksum, writer's encoder, width, finite, norm)."""


class EmbeddingCache:
    """Pooled vectors on disk, keyed by (encoder, pooling, max length, encoder fingerprint, text hash).

    Each write is a new ``shard-PID-NS-TID.npz`` file written by
    :func:`recsys_core.durable.write_file` (a hidden temporary the reader never
    matches, fsynced, then renamed), so a reader only ever sees complete
    shards; temporaries of writers that died are removed by the next reader
    that lists the folder.

    A folder may be shared by analysts (``--cache-dir``, the dashboard's one
    cache), so nothing read is trusted: a shard carries the writer's encoder
    fingerprint and a SHA-256 of its contents, and its vectors must have the
    encoder's width and be finite (no pooling here promises a length: see
    ``_check_vectors``).  A shard failing any check, or unreadable (disk damage, a
    file truncated by another tool, a shard of the format before these checks),
    counts as missing: its texts are encoded again, one warning is issued, and
    it is renamed ``rejected-NAME`` so that no process reads it again (kept,
    not deleted: it may be evidence).  Only names of this cache's own scheme
    (``shard-PID-NS-TID.npz``) are ever read or renamed; any other file in the
    folder, such as a planted ``shard-zzz.npz``, is ignored and left alone.

    The checks stop accidents and naive tampering, not a forger: anyone who may
    write the folder can also compute a valid checksum for vectors of their
    choosing (README, "A shared embedding cache is checked, not trusted").

    One instance may be shared by threads (dashboard sessions): the in-memory
    index is guarded by a lock, and shards written by other processes are
    picked up when a lookup misses.
    """

    FLUSH_TEXTS = 1024  # write a shard at least this often while encoding ...
    FLUSH_SECONDS = 15.0  # ... or after this long, so a kill loses little work
    _SHARD = re.compile(r"^shard-\d+-\d+-\d+\.npz$")  # exactly what put_many names; nothing else is read
    FORMAT = 2  # shards with their checksum and writer's fingerprint; format 1 (hashes and vectors only) is rejected
    REJECTED = "rejected-"  # prefix of a shard set aside: outside the scheme, so never read again
    # Temporaries of earlier versions (before recsys_core.durable named them): removed once their writer is gone.
    _LEGACY_TEMPS = (re.compile(r"^\.partial-(?P<pid>\d+)-\d+(?:-\d+)?$"),
                     re.compile(r"^shard-\d+-(?P<pid>\d+)\.tmp\.npz$"))
    _warned: set[str] = set()
    _warned_lock = threading.Lock()

    def __init__(self, root: str | Path, key: str, *, encoder: str = "", width: int | None = None):
        """``encoder``: the fingerprint of the encoder's files, written into every shard and required of every
        shard read; ``width``: the width of the encoder's vectors (None: not checked)."""
        self.dir = Path(root) / key
        self.encoder, self.width = encoder, width
        self._index: dict[str, np.ndarray] = {}
        self._seen: set[str] = set()  # shard file names already read (or found unreadable)
        self._lock = threading.Lock()
        self.rejected = 0  # shards this instance set aside (read by TextEncoder.encode to say so)

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
                hashes, vectors = self._read_shard(self.dir / name)
            except FileNotFoundError:
                continue  # set aside by another reader meanwhile
            except Exception as exc:  # noqa: BLE001 - zipfile, zlib, numpy, OS errors and failed checks alike: a miss
                self.rejected += 1
                reason = str(exc) if isinstance(exc, ShardRejected) else f"is unreadable ({type(exc).__name__})"
                where = (f"renamed {self.REJECTED}{name}, never read again; delete it when no longer needed"
                         if self._set_aside(name) else "could not be renamed, so each process skips it anew")
                self._warn_once(name, f"{reason}: its texts are encoded again (the file was {where}).")
                continue
            for h, v in zip(hashes.tolist(), vectors):
                self._index[str(h)] = v

    def _read_shard(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        """(text hashes, vectors) of a shard that passes every check; raises otherwise."""
        # Our own file handle: np.load leaks its handle when the archive is damaged.
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
            if "meta" not in data.files:
                raise ShardRejected("has no checksum (a shard of the format before checksums, written by an older recsys_core "
                                    "or by hand)")
            meta = json.loads(str(data["meta"]))
            hashes, vectors = data["hashes"], data["vectors"]
        if not isinstance(meta, dict) or meta.get("format") != self.FORMAT:
            raise ShardRejected(f"has an unknown format {str(meta.get('format') if isinstance(meta, dict) else meta)[:20]}")
        if meta.get("encoder") != self.encoder:
            raise ShardRejected("was written by another encoder (its encoder fingerprint differs from this one's)")
        if hashes.ndim != 1 or hashes.dtype.kind != "U" or vectors.ndim != 2 or vectors.dtype != np.float32 \
                or len(hashes) != len(vectors):
            raise ShardRejected(f"holds unexpected arrays: hashes {hashes.dtype} {hashes.shape}, vectors {vectors.dtype} "
                                f"{vectors.shape}")
        if meta.get("sha256") != self._checksum(hashes, vectors):
            raise ShardRejected("does not match its checksum")
        self._check_vectors(vectors)
        return hashes, vectors

    def _check_vectors(self, vectors: np.ndarray) -> None:
        """What any vector of this encoder must be: its width, and finite.

        No length is checked: ``encoder.pool`` returns raw mean, CLS or max states, never normalised (the
        model folder's sentence-transformers Normalize module, where it has one, is not applied), so no
        pooling here promises unit-length vectors."""
        if self.width is not None and vectors.shape[1] != self.width:
            raise ShardRejected(f"holds vectors of width {vectors.shape[1]}; this encoder's are {self.width} wide")
        if not np.isfinite(vectors).all():
            raise ShardRejected(f"holds {int((~np.isfinite(vectors)).any(axis=1).sum())} of its {len(vectors)} vectors "
                                "not finite (NaN or infinite)")

    def _checksum(self, hashes: np.ndarray, vectors: np.ndarray) -> str:
        digest = hashlib.sha256(f"{self.FORMAT}|{self.encoder}|{vectors.shape}|".encode())
        digest.update(np.ascontiguousarray(hashes).tobytes())
        digest.update(np.ascontiguousarray(vectors).tobytes())
        return digest.hexdigest()

    def _set_aside(self, name: str) -> bool:
        """Rename a rejected shard out of the scheme so that no process reads it again; never deletes it."""
        try:
            os.rename(self.dir / name, self.dir / f"{self.REJECTED}{name}")
            return True
        except FileNotFoundError:
            return True  # another reader set it aside first
        except OSError:
            return False  # a read-only folder: this instance skips it anyway

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

    def _warn_once(self, name: str, message: str) -> None:
        """Log and warn ``message`` once per file of this cache folder (per process)."""
        key = str(self.dir / name)
        with self._warned_lock:
            if key in self._warned:
                return
            self._warned.add(key)
        message = f"Embedding cache file {key} {message}"
        logger.warning(message)
        warnings.warn(message, RuntimeWarning, stacklevel=4)

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
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        try:
            self._check_vectors(vectors)
        except ShardRejected as exc:  # e.g. an encoder whose weights give NaN: never cached, so never served
            self._warn_once(f"shard-{os.getpid()}-refused", f"was not written: the encoder's new vectors failed a "
                                                            f"check (the shard {exc}); nothing is cached.")
            return
        hashes = np.array([self.text_hash(t) for t in texts])
        meta = np.array(json.dumps({"format": self.FORMAT, "encoder": self.encoder,
                                    "sha256": self._checksum(hashes, vectors)}))
        stamp = f"{os.getpid()}-{time.time_ns()}-{threading.get_ident() % 10_000}"
        final = self.dir / f"shard-{stamp}.npz"
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            # into a file object: np.savez would append ".npz" to a name
            durable.write_file(final, lambda f: np.savez(f, hashes=hashes, vectors=vectors, meta=meta))
        except OSError as exc:  # a full or read-only disk, or a file in the way, costs speed, not the encoding
            self._warn_once(final.name, f"could not be written ({exc}); vectors are kept in memory only, "
                                        "so they are encoded again next time.")
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
