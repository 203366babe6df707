"""End-to-end training time and peak memory: the demo data, and a synthetic 1M-interaction / 100k-item set.

    python bench/training.py demo [--epochs 12]
    python bench/training.py synthetic [--epochs 1] [--items 100000] [--interactions 1000000]
    python bench/training.py all

Each case runs in its own process so that its peak RSS (``ru_maxrss``) is its
own.  Timings are split into encoding (with an empty embedding cache),
training and evaluation (model + baselines).  The synthetic catalogue has short
generated titles (a few words from a 2,000-word vocabulary) so the encoding
cost stays comparable per item to a real title-only catalogue.
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd


def synthetic(n_items: int, n_interactions: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(2000)]
    topics = rng.integers(0, 50, n_items)
    words = rng.integers(0, 40, (n_items, 4)) + topics[:, None] * 40
    items = pd.DataFrame({
        "item_id": [f"i{i}" for i in range(n_items)],
        "title": [" ".join(vocab[w] for w in row) for row in words],
        "genres": [f"genre{t % 20}" for t in topics],
    })
    n_users = n_interactions // 50
    user_topic = rng.integers(0, 50, n_users)
    by_topic = [np.flatnonzero(topics == t) for t in range(50)]
    users = rng.integers(0, n_users, n_interactions)
    on_topic = rng.random(n_interactions) < 0.7
    picks = np.where(
        on_topic,
        [by_topic[user_topic[u]][rng.integers(len(by_topic[user_topic[u]]))] for u in users],
        rng.zipf(1.3, n_interactions) % n_items,
    )
    inter = pd.DataFrame({"user_id": [f"u{u}" for u in users], "item_id": [f"i{i}" for i in picks],
                          "timestamp": np.arange(n_interactions)})
    return inter.drop_duplicates(["user_id", "item_id"]), items


def run_case(case: str, epochs: int, n_items: int, n_interactions: int) -> None:
    from recsys_core.demo import DEMO_ITEM_FIELDS, DEMO_USER_FIELDS, SAMPLE_DIR
    from recsys_core.loading import load_dataset
    from recsys_core.pipeline import FitOptions, Progress, fit
    from recsys_core.training import TrainConfig

    if case == "demo":
        data = load_dataset(SAMPLE_DIR / "interactions.csv", SAMPLE_DIR / "items.csv", SAMPLE_DIR / "users.csv",
                            item_fields=DEMO_ITEM_FIELDS, user_fields=DEMO_USER_FIELDS)
    else:
        inter, items = synthetic(n_items, n_interactions)
        data = load_dataset(inter, items, item_fields=["title", "genres"])
    marks: dict[str, float] = {}
    progress = Progress(stage=lambda s: marks.setdefault(s, time.perf_counter()))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as cache:
        rec = fit(data, FitOptions(train=TrainConfig(epochs=epochs, patience=epochs), cache_dir=cache), progress)
    end = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    enc = marks["splitting"] - marks["encoding texts"]
    train = marks["evaluating"] - marks["training"]
    evaluation = end - marks["evaluating"]
    s = data.summary()
    test = rec.report.slices[0].metrics
    best_base = max((m for m in test if m != "HybridBERT"), key=lambda m: test[m].get("NDCG@10", 0))
    print(f"{case}: {s['interactions']:,} interactions, {s['users']:,} users, {s['items']:,} items, {epochs} epoch(s)")
    print(f"  encoding {enc:7.1f} s ({s['items'] / enc:.0f} items/s) | training {train:7.1f} s "
          f"({train / max(len(rec.train_log), 1):.1f} s/epoch) | evaluation {evaluation:6.1f} s | total {end - started:7.1f} s")
    print(f"  peak RSS {peak_mb:,.0f} MB | NDCG@10 model {test['HybridBERT']['NDCG@10']:.4f} vs best baseline "
          f"{best_base} {test[best_base]['NDCG@10']:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("case", choices=["demo", "synthetic", "all"])
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.case == "all":
        for case, epochs in (("demo", args.epochs or 12), ("synthetic", args.epochs or 1)):
            subprocess.run([sys.executable, __file__, case, "--epochs", str(epochs), "--items", str(args.items),
                            "--interactions", str(args.interactions)], check=True)
        return
    run_case(args.case, args.epochs or (12 if args.case == "demo" else 1), args.items, args.interactions)


if __name__ == "__main__":
    main()
