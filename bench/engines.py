"""What each batch stage costs, on the local engine and on a local Ray runtime, measured in one run.

    python bench/engines.py [--texts 2000] [--users 1000] [--pairs 6] [--workers 2]

Stages (demo model and data; the embedding cache is empty for encoding):
- encoding item texts with the frozen BERT,
- top-10 recommendation for every user of the saved demo model,
- explanations (integrated gradients) of (user, top item) pairs.

For each it prints seconds, throughput, the Ray/local ratio (Ray's start-up
and per-worker model loading included), and the cost extrapolated to 1M
units on this machine — linear in the number of units, which holds for these
stages because every unit is independent (the model is loaded once per
worker, an amortised constant).  On a cluster, divide by the number of
machines of this size; Ray's overhead is the ratio printed here.
Run it alone: another heavy job on the 2 cores changes the timings 5–10×.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import ray

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recsys_core from a checkout, installed or not

from recsys_core import artifacts
from recsys_core.demo import DEMO_MODEL_DIR, load_demo_dataset
from recsys_core.encoder import EncoderConfig
from recsys_core.batch import recommend_all
from recsys_core.encoding import encode_texts
from recsys_core.explain.batch import explain_pairs
from recsys_core.parallel import Engine
from recsys_core.explain import ExplainConfig


def timed(fn):
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    data = load_demo_dataset()
    rec = artifacts.load(DEMO_MODEL_DIR)
    texts = [t.text for t in rec.catalog.item_texts][: args.texts]
    users = rec.known_users()[: args.users]
    pairs = [(u, rec.recommend(u, 1)[0].item_id) for u in users[: args.pairs]]
    config = ExplainConfig(faithfulness=False)
    print(f"demo: {len(data.items):,} items, {len(users):,} users; {args.workers} Ray workers on this machine")

    ray_engine = Engine("ray", workers=args.workers)
    _, ray_start = timed(lambda: ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False))
    print(f"Ray runtime start: {ray_start:.1f} s (paid once per job; not in the rows below)\n")
    stages = [
        ("encode item texts", "texts", len(texts),
         lambda engine: encode_texts(texts, EncoderConfig(), cache_dir=tempfile.mkdtemp(), engine=engine)),
        ("recommend top-10", "users", len(users), lambda engine: recommend_all(DEMO_MODEL_DIR, users, 10, engine=engine)),
        ("explain (IG)", "pairs", len(pairs), lambda engine: explain_pairs(DEMO_MODEL_DIR, pairs, config, engine=engine)),
    ]
    print(f"{'stage':<20}{'units':>8}{'local s':>9}{'ray s':>8}{'ray/local':>10}{'local per 1M units':>22}")
    for name, unit, n, run in stages:
        _, local = timed(lambda: run(Engine("local")))
        _, distributed = timed(lambda: run(ray_engine))
        per_million = local / n * 1_000_000
        print(f"{name:<20}{n:>8,}{local:>9.1f}{distributed:>8.1f}{distributed / local:>10.2f}"
              f"{per_million / 3600:>17.1f} h ({unit})")
    ray.shutdown()


if __name__ == "__main__":
    main()
