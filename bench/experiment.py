"""Quick model-design experiments on the demo data: python bench/experiment.py [--ablate use_item_ids ...].

Prints validation NDCG@10 per epoch and the test table (model + baselines), so
design choices (loss, negatives, ablations) are compared on the same split.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recsys_core from a checkout, installed or not

from recsys_core.commands import print_report
from recsys_core.demo import load_demo_dataset
from recsys_core.pipeline import FIT_STAGES, FitOptions, fit
from recsys_core.splits import SplitConfig
from recsys_core.training import TrainConfig


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--loss", default="softmax")
    p.add_argument("--negatives", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--ablate", nargs="*", default=[])
    p.add_argument("--cold-items", type=float, default=0.0)
    p.add_argument("--holdout-users", type=float, default=0.0)
    p.add_argument("--no-baselines", action="store_true")
    p.add_argument("--cache-dir", default=None)
    args = p.parse_args()
    train = TrainConfig(epochs=args.epochs, loss=args.loss, negatives=args.negatives, batch_size=args.batch_size, lr=args.lr)
    options = FitOptions(
        train=train,
        split=SplitConfig(cold_items=args.cold_items, holdout_users=args.holdout_users),
        ablate=tuple(args.ablate),
        baselines=not args.no_baselines,
        cache_dir=args.cache_dir,
    )
    started = time.perf_counter()
    rec = fit(load_demo_dataset(), options, lambda _f, message: message in FIT_STAGES and print(message), on_epoch=print)
    print(f"total {time.perf_counter() - started:.1f}s, best epoch {rec.training.best_epoch}")
    print_report(rec.report)


if __name__ == "__main__":
    main()
