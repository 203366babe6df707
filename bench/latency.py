"""Recommendation latency per user for catalogues of 3k and 100k items.

    python bench/latency.py [--users 50]

Latency does not depend on what the weights learned, so the model here is
freshly initialised over random text vectors of the real size (384); the
scoring path is exactly the served one (``Recommender.recommend``), including
the two-stage retrieve-then-rerank above 20k items.  Prints the median and
p95 per user, and the full-scoring time for the 100k catalogue as reference.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recsys_core from a checkout, installed or not

from recsys_core.catalog import Catalog
from recsys_core.encoder import EncoderConfig
from recsys_core.model import HybridRecommender, ModelConfig
from recsys_core.recommender import Recommender
from recsys_core.text import build_field_text


def make(n_items: int, n_users: int, seed: int = 0) -> Recommender:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n_items, 384)).astype(np.float32)
    empty = build_field_text({}, [])
    histories = {f"u{u}": rng.choice(n_items, size=rng.integers(5, 60), replace=False) for u in range(n_users)}
    catalog = Catalog([f"i{i}" for i in range(n_items)], [empty] * n_items, vectors, [], [], [], [], np.zeros((0, 384), np.float32), histories)
    torch.manual_seed(seed)
    model = HybridRecommender(ModelConfig(n_items=n_items, text_dim=384)).eval()
    return Recommender(model, catalog, EncoderConfig())


def timings(rec: Recommender, users: list[str], **kwargs) -> np.ndarray:
    rec.recommend(users[0], 10, **kwargs)  # warm-up
    out = []
    for u in users:
        started = time.perf_counter()
        rec.recommend(u, 10, **kwargs)
        out.append(time.perf_counter() - started)
    return np.array(out) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50)
    args = parser.parse_args()
    print(f"torch threads {torch.get_num_threads()}")
    for n_items in (3_000, 100_000):
        rec = make(n_items, args.users)
        users = rec.known_users()
        ms = timings(rec, users)
        print(f"{n_items:>7} items: top-10 per user median {np.median(ms):7.1f} ms, p95 {np.percentile(ms, 95):7.1f} ms")
        if n_items > 20_000:
            started = time.perf_counter()
            for u in users[:10]:
                rec.score_items(rec.context(u))
            full = (time.perf_counter() - started) / 10 * 1000
            print(f"{'':>7}        full scoring of every item (no retrieval stage): {full:7.1f} ms per user "
                  f"→ two-stage speed-up {full / np.median(ms):.1f}x")
        ms = timings(rec, users[:20], diversity=0.3)
        print(f"{'':>7}        with MMR diversity 0.3: median {np.median(ms):7.1f} ms")


if __name__ == "__main__":
    main()
