"""Two-stage serving on large catalogues: recall of the final top-10 against full scoring, and latency.

    python bench/retrieval.py [--sizes 100000,1000000] [--users 50] [--epochs 1] [--cache DIR]

For each catalogue size a model is *trained* (so that the cheap first-stage
score and the model agree as much as they do in practice; an untrained model
would make recall meaningless) on synthetic data: clustered 384-d "text"
vectors (no BERT: encoding a million texts is a separate cost, see
bench/training.py), and users who mostly pick items from a favourite cluster,
with popular items mixed in.  Then, for held-out users, it measures per user:

- full scoring of the whole catalogue by the model (the reference list);
- two-stage with the exact retriever (personal candidates by the cheap score over
  every item, plus the items of largest bias; model on 2,000);
- the same with personal candidates only (``POPULAR_SHARE = 0``, the first stage
  before the popular share was added), for comparison in the same run;
- two-stage with the faiss HNSW retriever (index build time reported once);

and prints median / p95 latency, the ratio to full scoring measured in the same
run, and recall@10 = |two-stage top-10 ∩ full top-10| / 10.
Run it alone: another heavy job on the 2 cores changes the latencies 5–10×.
Training one epoch at 1M items takes ~20 min here; ``--cache DIR`` keeps the
trained weights (per size and epochs; the data is seeded, so they match) for
the next run, which then says it loaded them.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recsys_core from a checkout, installed or not

from recsys_core import retrieval
from recsys_core.catalog import Catalog
from recsys_core.encoder import EncoderConfig
from recsys_core.model import HybridRecommender, ModelConfig
from recsys_core.recommender import RETRIEVE, Recommender
from recsys_core.splits import SplitConfig, make_split
from recsys_core.text import build_field_text
from recsys_core.training import TrainConfig, train_model


def synthetic(n_items: int, n_users: int, per_user: int = 30, seed: int = 0) -> tuple[Catalog, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n_clusters = 200
    centres = rng.standard_normal((n_clusters, 384)).astype(np.float32)
    cluster = rng.integers(0, n_clusters, n_items)
    vectors = centres[cluster] + 0.5 * rng.standard_normal((n_items, 384)).astype(np.float32)
    members = [np.flatnonzero(cluster == c) for c in range(n_clusters)]
    favourite = rng.integers(0, n_clusters, n_users)
    rows = []
    for u in range(n_users):
        own = members[favourite[u]]
        picks = np.where(
            rng.random(per_user) < 0.8,
            own[rng.integers(0, len(own), per_user)],
            rng.zipf(1.5, per_user) % n_items,  # popular items, shared by everyone
        )
        rows.extend((f"u{u}", f"i{i}", t) for t, i in enumerate(picks))
    interactions = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).drop_duplicates(["user_id", "item_id"])
    empty = build_field_text({}, [])
    catalog = Catalog(
        [f"i{i}" for i in range(n_items)], [empty] * n_items, vectors, [], [], [], [], np.zeros((0, 384), np.float32), {}
    )
    return catalog, interactions


def build(n_items: int, n_users: int, epochs: int, cache: Path | None) -> tuple[Recommender, list]:
    catalog, interactions = synthetic(n_items, n_users)
    split = make_split(interactions, catalog, SplitConfig())
    config = ModelConfig(n_items=n_items, text_dim=384, use_profile=False)
    stored = cache / f"retrieval_model_{n_items}_{epochs}.pt" if cache else None
    if stored is not None and stored.exists():
        model = HybridRecommender(config)
        model.load_state_dict(torch.load(stored))
        model.eval()
        print(f"  loaded the weights trained earlier ({epochs} epoch(s)) from {stored}")
    else:
        started = time.perf_counter()
        model = train_model(catalog, split, config, TrainConfig(epochs=epochs)).model
        print(f"  trained {epochs} epoch(s) on {len(interactions):,} interactions in {time.perf_counter() - started:.0f} s")
        if stored is not None:
            stored.parent.mkdir(parents=True, exist_ok=True)
            torch.save(model.state_dict(), stored)
    catalog.histories = dict(split.train)
    return Recommender(model, catalog, EncoderConfig()), split.test


def per_user(rec: Recommender, users: list[str], fn) -> tuple[np.ndarray, list]:
    fn(users[0])  # warm-up
    times, lists = [], []
    for u in users:
        started = time.perf_counter()
        lists.append(fn(u))
        times.append(time.perf_counter() - started)
    return np.array(times) * 1000, lists


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=None, help="folder keeping trained weights between runs")
    args = parser.parse_args()
    print(f"torch threads {torch.get_num_threads()}; first stage keeps {RETRIEVE:,} candidates")
    for n_items in (int(s) for s in args.sizes.split(",")):
        print(f"\n{n_items:,} items")
        rec, test = build(n_items, n_users=max(2_000, n_items // 50), epochs=args.epochs, cache=args.cache)
        users = [c.user_id for c in test[: args.users]]

        def full(u):
            ctx = rec.context(u)
            scores = rec.score_items(ctx)
            scores[ctx.history] = -np.inf
            return set(np.argsort(-scores)[:10].tolist())

        def two_stage(u):
            return {rec.item_position(r.item_id) for r in rec.recommend(u, 10)}

        ref_ms, ref = per_user(rec, users, full)
        rows = [("full scoring", ref_ms, 1.0)]
        exact_ms, exact = per_user(rec, users, two_stage)
        rows.append(("two-stage, exact", exact_ms, np.mean([len(a & b) / 10 for a, b in zip(exact, ref)])))
        shipped, retrieval.POPULAR_SHARE = retrieval.POPULAR_SHARE, 0.0
        try:
            alone_ms, alone = per_user(rec, users, two_stage)
        finally:
            retrieval.POPULAR_SHARE = shipped
        rows.append(("  personal only", alone_ms, np.mean([len(a & b) / 10 for a, b in zip(alone, ref)])))
        started = time.perf_counter()
        rec.use_retriever("faiss")
        print(f"  faiss HNSW index built in {time.perf_counter() - started:.1f} s")
        approx_ms, approx = per_user(rec, users, two_stage)
        rows.append(("two-stage, faiss HNSW", approx_ms, np.mean([len(a & b) / 10 for a, b in zip(approx, ref)])))
        print(f"  {'path':<24}{'median ms':>10}{'p95 ms':>9}{'vs full':>9}{'recall@10':>11}")
        for name, ms, recall in rows:
            print(f"  {name:<24}{np.median(ms):>10.1f}{np.percentile(ms, 95):>9.1f}"
                  f"{np.median(ms) / np.median(ref_ms):>8.2f}x{recall:>11.3f}")


if __name__ == "__main__":
    main()
