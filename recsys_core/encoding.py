"""Encoding many texts: in this process through the encoder's cache, or on Ray workers.

``build_catalog`` is handed an ``encode`` function and does not know which
engine runs it; ``encoder_for`` is where the pipeline chooses.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .catalog import EncodeFn
from .embedding_cache import EmbeddingCache
from .encoder import EncoderConfig, TextEncoder, open_cache
from .parallel import Engine, cpus_per_worker, map_on_ray
from .progress import Progress, counted


class _EncodeBatch:
    """Ray Data actor: one frozen encoder per worker, pooled vectors for batches of texts."""

    def __init__(self, config: EncoderConfig):
        import ray
        import torch

        torch.set_num_threads(cpus_per_worker(ray))
        self.encoder = TextEncoder(config)  # no cache on workers: the driver owns the cache

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.encoder.encode(batch["text"].tolist())
        return {"row": batch["row"], "vector": vectors}


def encode_texts(
    texts: Sequence[str],
    config: EncoderConfig = EncoderConfig(),
    *,
    cache_dir: str | Path | None = None,
    engine: Engine = Engine(),
    texts_per_batch: int = 512,
) -> np.ndarray:
    """Pooled vectors ``(len(texts), dim)`` float32, like ``TextEncoder.encode``, locally or on Ray.

    Texts are de-duplicated by the embedding cache's text hash before any work
    is sent out, texts already in the cache are read from it, and new vectors
    are written back to it by this process only (workers never touch the
    cache directory, which a cluster's nodes may not share).
    """
    texts = list(texts)
    if engine.kind == "local":
        return TextEncoder(config, cache_dir=cache_dir).encode(texts)
    cache = open_cache(config, cache_dir)
    cached = cache.get_many(texts) if cache else {}
    by_hash: dict[str, str] = {}
    for t in texts:
        if t not in cached:
            by_hash.setdefault(EmbeddingCache.text_hash(t), t)
    todo = sorted(by_hash.values(), key=len)  # length-sorted batches pad less
    fresh: dict[str, np.ndarray] = {}
    if todo:
        rows = pd.DataFrame({"row": np.arange(len(todo)), "text": todo})
        out = map_on_ray(engine, rows, _EncodeBatch, (config,), texts_per_batch)
        vectors = np.stack(out.sort_values("row")["vector"].to_list()).astype(np.float32)
        fresh = dict(zip(todo, vectors))
        if cache:
            cache.put_many(todo, vectors)
    lookup = {**cached, **fresh}
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([lookup[t] for t in texts]).astype(np.float32)


def encoder_for(encoder: TextEncoder, engine: Engine) -> EncodeFn:
    """How a catalogue's texts are encoded: by ``encoder`` here, or by Ray workers (same vectors, same cache)."""
    if engine.kind == "local":
        return encoder.encode

    def on_ray(texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        cache_root = encoder.cache.dir.parent if encoder.cache else None
        vectors = encode_texts(texts, encoder.config, cache_dir=cache_root, engine=engine)
        if progress:  # the workers report nothing on the way: one count at the end
            counted(progress, "encoding", "texts")(len(texts), len(texts))
        return vectors

    return on_ray
