"""Ablation of the hybrid model on the demo data: what each part contributes.

    python bench/ablation.py [--epochs 12] [--cold-items 0.1]

Each variant turns one part off (ModelConfig switches) and is trained and
evaluated on the same split (leave-last-out, with a cold-item slice).  Prints a
markdown table of test NDCG@10 / HitRate@10 and cold-item NDCG@10, with the
best classic baseline of the same run for reference.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recsys_core from a checkout, installed or not

from recsys_core.demo import load_demo_dataset
from recsys_core.evaluation import MODEL_NAME
from recsys_core.pipeline import FitOptions, fit
from recsys_core.splits import SplitConfig
from recsys_core.training import TrainConfig

VARIANTS = {
    "full model": {},
    "− item ids": {"ablate": ("use_item_ids",)},
    "− text": {"ablate": ("use_text",)},
    "− positions (recency)": {"ablate": ("use_positions",)},
    "− candidate attention (mean of history)": {"ablate": ("use_candidate_attention",)},
    "− profile": {"ablate": ("use_profile",)},
    "BPR loss instead of sampled softmax": {"loss": "bpr"},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--cold-items", type=float, default=0.1)
    parser.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    args = parser.parse_args()
    data = load_demo_dataset()
    print("| variant | NDCG@10 | HitRate@10 | cold NDCG@10 | best epoch | seconds |")
    print("|---|---|---|---|---|---|")
    baselines_done = False
    for name, change in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        train = TrainConfig(epochs=args.epochs, loss=change.get("loss", "softmax"))
        options = FitOptions(
            train=train,
            split=SplitConfig(cold_items=args.cold_items),
            ablate=change.get("ablate", ()),
            baselines=not baselines_done,
            text_reference=False,  # "− item ids" is that reference; the seconds column times one model each
        )
        started = time.perf_counter()
        rec = fit(data, options)
        seconds = time.perf_counter() - started
        test = rec.report.slices[0].metrics
        cold_slice = rec.report.slice("cold items")
        cold = cold_slice.metrics if cold_slice is not None else {}
        if not baselines_done:
            for model, m in test.items():
                if model != MODEL_NAME:
                    c = cold.get(model, {}).get("NDCG@10", float("nan"))
                    print(f"| baseline {model} | {m['NDCG@10']:.4f} | {m['HitRate@10']:.4f} | {c:.4f} | | |")
            baselines_done = True
        m = test[MODEL_NAME]
        c = cold.get(MODEL_NAME, {}).get("NDCG@10", float("nan"))
        print(f"| {name} | {m['NDCG@10']:.4f} | {m['HitRate@10']:.4f} | {c:.4f} | {rec.training.best_epoch} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
