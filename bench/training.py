"""Time to the best validation NDCG@10 per case, and how other settings compare in the same run.

    python bench/training.py [demo] [100k] [--set negatives=64 --set lr=0.004] [--epochs 40]

For each case (bench/cases.py) the script trains with ``TrainConfig()`` as it ships (the
reference) and, when ``--set key=value`` is given, once more with those settings changed;
the embedding cache is warm (encoding is bench/scale.py's business).  It prints each run's
epochs, seconds per epoch, the time to its best validation epoch, the validation and test
NDCG@10, and the ratio variant / reference.  Each run is its own process so one cannot warm
or slow the other.  Validation NDCG on ~1,000 users moves by about ±0.01 between epochs, so
the "best" epoch of a plateau is partly chance: read the curve, not only that number.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CACHE = Path(tempfile.gettempdir()) / "recsys-bench-cache"  # texts encode once per machine


def run(case: str, settings: dict) -> dict:
    from cases import load_case
    from recsys_core.catalog import build_catalog
    from recsys_core.encoder import EncoderConfig, TextEncoder
    from recsys_core.pipeline import FitOptions, fit
    from recsys_core.training import TrainConfig

    data = load_case(case)
    config = TrainConfig(**settings)
    build_catalog(data, TextEncoder(EncoderConfig(), cache_dir=str(CACHE)).encode)  # warm the cache: encoding is not timed
    started = time.perf_counter()
    rec = fit(data, FitOptions(train=config, baselines=False, cache_dir=str(CACHE)))
    total = time.perf_counter() - started
    best = max(rec.train_log, key=lambda e: e.val_ndcg10)
    return {
        "epochs": len(rec.train_log),
        "best_epoch": best.epoch,
        "to_best": sum(e.seconds for e in rec.train_log if e.epoch <= best.epoch),
        "per_epoch": sum(e.seconds for e in rec.train_log) / len(rec.train_log),
        "val": best.val_ndcg10,
        "test": rec.report.slices[0].metrics["HybridBERT"]["NDCG@10"],
        "total": total,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("cases", nargs="*", default=["demo", "100k"])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a TrainConfig field changed in the variant run, e.g. negatives=64")
    parser.add_argument("--epochs", type=int, default=40, help="at most this many epochs in both runs (default 40)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        case, settings = json.loads(args.child)
        print(json.dumps(run(case, settings)))
        return
    variant = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    runs = [("reference", {"epochs": args.epochs})] + ([("variant", {"epochs": args.epochs, **variant})] if variant else [])
    print("| case | run | settings | epochs | best epoch | s/epoch | time to best | val NDCG@10 | test NDCG@10 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for case in args.cases:
        results = {}
        for name, settings in runs:
            out = subprocess.run([sys.executable, __file__, "--child", json.dumps([case, settings])],
                                 check=True, capture_output=True, text=True).stdout
            r = results[name] = json.loads(out.strip().splitlines()[-1])
            shown = ", ".join(f"{k}={v}" for k, v in settings.items()) or "defaults"
            print(f"| {case} | {name} | {shown} | {r['epochs']} | {r['best_epoch']} | {r['per_epoch']:.1f} s | "
                  f"{r['to_best']:.0f} s | {r['val']:.4f} | {r['test']:.4f} |", flush=True)
        if variant:
            ratio = results["variant"]["to_best"] / results["reference"]["to_best"]
            print(f"| {case} | variant / reference | | | | | **{ratio:.2f}×** | "
                  f"{results['variant']['val'] - results['reference']['val']:+.4f} | "
                  f"{results['variant']['test'] - results['reference']['test']:+.4f} |", flush=True)


if __name__ == "__main__":
    main()
