"""Local training against data-parallel training on Ray Train workers, same case, same settings, same run.

    python bench/ray_training.py [100k] [--workers 2] [--epochs 3]

Each run is its own process (one cannot warm or slow the other) with ``TrainConfig(epochs=N)``, no
baselines and no text-only reference; the embedding cache is warm (encoding is not compared).  It prints
each run's seconds per epoch (training and validation, from the epoch log), the whole training call
(Ray: with starting the runtime and the workers), validation and test NDCG@10, the ratio Ray / local
of both times, and the paired per-user test NDCG@10 difference (Ray − local, 95% interval).
On one 2-core machine the workers share the cores the local run has to itself: Ray cannot be faster
there, it measures the overhead (start-up, gradient all-reduce, one validator), not a speed-up.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CACHE = Path(tempfile.gettempdir()) / "recsys-bench-cache"  # texts encode once per machine (bench/training.py's)


def run(case: str, workers: int, epochs: int) -> dict:
    from cases import load_case
    from recsys_core.catalog import build_catalog
    from recsys_core.encoder import EncoderConfig, TextEncoder
    from recsys_core.evaluation import evaluable, model_scorer, per_case_metrics
    from recsys_core.parallel import Engine
    from recsys_core.pipeline import FitOptions, fit, rating_scale_for
    from recsys_core.splits import make_split
    from recsys_core.training import TrainConfig

    data = load_case(case)
    build_catalog(data, TextEncoder(EncoderConfig(), cache_dir=str(CACHE)).encode)  # warm the cache: not timed
    engine = Engine("ray", workers=workers) if workers else Engine()
    options = FitOptions(train=TrainConfig(epochs=epochs), baselines=False, text_reference=False,
                         cache_dir=str(CACHE), train_engine=engine)
    stamps = {}

    def progress(fraction: float, message: str) -> None:
        if fraction == 0.0 and message in ("training", "evaluating"):
            stamps.setdefault(message, time.perf_counter())

    rec = fit(data, options, progress)
    split = make_split(data.interactions, rec.catalog, options.split, rating_scale_for(data, options))
    cases = evaluable(split.test)
    per_user = per_case_metrics(model_scorer(rec.model, rec.catalog), cases, rec.catalog.n_items, (10,))[1]["NDCG@10"]
    return {
        "shipped": shipped(rec, split, data),
        "epochs": len(rec.train_log),
        "per_epoch": sum(e.seconds for e in rec.train_log) / len(rec.train_log),
        "train_call": stamps["evaluating"] - stamps["training"],
        "val": max(e.val_ndcg10 for e in rec.train_log),
        "best_epoch": rec.training.best_epoch,
        "test_per_user": per_user.tolist(),
    }


def shipped(rec, split, data) -> dict:
    """Bytes of what every Ray worker receives and builds (docs/distributed_training.md scales them up):
    the text vectors (read in place from the object store, once per node), the rest of the catalogue
    and the split (copied into each worker), the examples and the model's weights."""
    import pickle

    import numpy as np
    from recsys_core.training import training_examples

    catalog = rec.catalog
    vectors = catalog.item_vectors.nbytes + np.asarray(catalog.profile_vectors).nbytes
    users, positions = training_examples(split, catalog)
    return {
        "interactions": len(data.interactions),
        "examples": len(positions),
        "text vectors": vectors,
        "catalogue without vectors": len(pickle.dumps(catalog)) - vectors,
        "split": len(pickle.dumps(split)),
        "examples (pickled)": len(pickle.dumps((users, positions))),
        "model weights": sum(t.nbytes for t in rec.model.state_dict().values()),
        "id tables": rec.model.item_emb.weight.nbytes + rec.model.item_bias.weight.nbytes,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("cases", nargs="*", default=["100k"])
    parser.add_argument("--workers", type=int, default=2, help="Ray Train workers (default 2)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs in both runs (default 3)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        case, workers, epochs = json.loads(args.child)
        print(json.dumps(run(case, workers, epochs)))
        return
    from recsys_core.metrics import paired_difference

    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs")
    print("| case | run | epochs | best epoch | s/epoch | training call | val NDCG@10 | test NDCG@10 |")
    print("|---|---|---|---|---|---|---|---|")
    for case in args.cases:
        results = {}
        for name, workers in (("local", 0), (f"Ray, {args.workers} workers", args.workers)):
            out = subprocess.run([sys.executable, __file__, "--child", json.dumps([case, workers, args.epochs])],
                                 check=True, capture_output=True, text=True).stdout
            r = results[name] = json.loads(out.strip().splitlines()[-1])
            test = sum(r["test_per_user"]) / len(r["test_per_user"])
            print(f"| {case} | {name} | {r['epochs']} | {r['best_epoch']} | {r['per_epoch']:.1f} s | "
                  f"{r['train_call']:.0f} s | {r['val']:.4f} | {test:.4f} |", flush=True)
        local, ray = results["local"], results[f"Ray, {args.workers} workers"]
        sizes = local["shipped"]
        print(f"| {case} | what a worker holds | " + ", ".join(
            f"{k}: {v:,}" if k in ("interactions", "examples") else f"{k}: {v / 2**20:.1f} MB" for k, v in sizes.items())
            + " | | | | | |")
        paired = paired_difference(ray["test_per_user"], local["test_per_user"])
        print(f"| {case} | Ray / local | | | **{ray['per_epoch'] / local['per_epoch']:.2f}×** | "
              f"**{ray['train_call'] / local['train_call']:.2f}×** | {ray['val'] - local['val']:+.4f} | "
              f"{paired.diff:+.4f} ± {paired.diff_ci95:.4f} ({'beyond' if paired.beyond_noise else 'within'} noise, "
              f"{paired.n_cases} users) |", flush=True)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
