"""End to end at three sizes: encode (empty cache), split, train, evaluate with baselines, save.

    python bench/scale.py [demo] [100k] [1m] [1m-mini] [--max-minutes M] [--sparse-ids] [--cache-dir DIR] [--set KEY=VALUE]
                          [--fit KEY=VALUE]

Cases are described in bench/cases.py (the bundled demo, a MovieLens-100k-shaped set,
and 1M interactions / 20k users / 100k items, and ``1m-mini``: its fifth).  Each case runs in its own process so
its peak RSS (``ru_maxrss``) is its own; the table gives each stage's wall time, the
peak RSS, the test NDCG@10 of the model and of the best baseline, and how many test
users were ranked (a seeded sample above ``evaluation.MAX_RANKED_PAIRS``).  Issue 9's
target for the 1m case: at most 45 min and 8 GB on the 2-core machine.  Run it alone.

``--sparse-ids`` trains with row-wise id-table updates (``TrainConfig.sparse_ids``) and ``--set`` sets any other
``TrainConfig`` field and ``--fit`` a ``FitOptions`` one (a JSON value, e.g. ``--fit id_dropout=0.25``), so two
runs compare the variants at equal time budget.  ``--cache-dir`` keeps the
embedding cache between runs (the encode column then reads the cache instead of running BERT).
The table also gives the median seconds per epoch and, from the report, the model's paired difference
with the best baseline on the same test users.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def run(case: str, max_minutes: float | None, settings: dict, cache_dir: str | None, fit_settings: dict | None = None
        ) -> dict:
    from cases import load_case
    from recsys_core import artifacts
    from recsys_core.pipeline import FIT_STAGES, FitOptions, fit
    from recsys_core.training import TrainConfig

    marks: dict[str, float] = {}
    started = time.perf_counter()
    data = load_case(case)
    marks["loading"] = time.perf_counter() - started
    stamps: dict[str, float] = {}

    def progress(_fraction: float, message: str) -> None:
        if message in FIT_STAGES:
            stamps.setdefault(message, time.perf_counter())

    def epoch_line(e) -> None:
        print(f"  {case} epoch {e.epoch}: val NDCG@10 {e.val_ndcg10:.4f} in {e.seconds:.0f} s", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory() as fresh, tempfile.TemporaryDirectory() as out:
        train = TrainConfig(max_minutes=max_minutes, **settings)
        options = FitOptions(train=train, cache_dir=cache_dir or fresh, **(fit_settings or {}))
        rec = fit(data, options, progress, on_epoch=epoch_line)
        fitted = time.perf_counter()
        artifacts.save(rec, Path(out) / "model")
        saved = time.perf_counter()
    marks["encoding"] = stamps["splitting"] - stamps["encoding texts"]
    marks["splitting"] = stamps["training"] - stamps["splitting"]
    marks["training"] = stamps["evaluating"] - stamps["training"]
    marks["evaluation"] = fitted - stamps["evaluating"]
    marks["saving"] = saved - fitted
    test = rec.report.slices[0]
    best_base = max((m for m in test.metrics if m not in ("HybridBERT", "Random")),
                    key=lambda m: test.metrics[m]["NDCG@10"])
    s = data.summary()
    paired = test.paired.get(best_base, {}).get("NDCG@10")
    return {
        "epoch_s": sorted(e.seconds for e in rec.train_log)[len(rec.train_log) // 2],
        "vs_best": None if paired is None else [paired.a - paired.b, paired.diff_ci95],
        "case": case, "interactions": s["interactions"], "users": s["users"], "items": s["items"],
        **marks, "total": saved - started,
        "epochs": len(rec.train_log), "best_epoch": rec.training.best_epoch, "stopped": rec.training.stopped,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "ndcg": test.metrics["HybridBERT"]["NDCG@10"], "ci": test.ci95.get("HybridBERT", {}).get("NDCG@10"),
        "baseline": best_base, "baseline_ndcg": test.metrics[best_base]["NDCG@10"],
        "test_users": test.n_cases, "test_total": test.n_total or test.n_cases,
    }


def key_values(items: list[str]) -> dict:
    """``["KEY=VALUE", …]`` (JSON values) as a dict."""
    return {k: json.loads(v) for k, v in (item.split("=", 1) for item in items)}


def minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("cases", nargs="*", default=["demo", "100k", "1m"])
    parser.add_argument("--max-minutes", type=float, help="training time budget (TrainConfig.max_minutes)")
    parser.add_argument("--sparse-ids", action="store_true", help="TrainConfig(sparse_ids=True)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="another TrainConfig field")
    parser.add_argument("--cache-dir", help="embedding cache kept between runs (default: a fresh one per case)")
    parser.add_argument("--fit", action="append", default=[], metavar="KEY=VALUE", help="a FitOptions field (JSON value)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    settings, fit_settings = key_values(args.set), key_values(args.fit)
    if args.sparse_ids:
        settings["sparse_ids"] = True
    if args.child:
        print(json.dumps(run(args.child, args.max_minutes, settings, args.cache_dir, fit_settings)))
        return
    print(f"settings: {settings or 'defaults'}, fit: {fit_settings or 'defaults'}, budget {args.max_minutes or 'none'} min")
    print("| case | interactions / users / items | encode | split | train (epochs, best) | evaluate | save | total "
          "| peak RSS | test NDCG@10 model ± 95% | best baseline | model − best (paired) | s / epoch | test users ranked |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for case in args.cases:
        command = [sys.executable, __file__, "--child", case]
        if args.max_minutes:
            command += ["--max-minutes", str(args.max_minutes)]
        command += ["--sparse-ids"] * args.sparse_ids + [f"--set={item}" for item in args.set]
        command += ["--cache-dir", args.cache_dir] if args.cache_dir else []
        command += [f"--fit={item}" for item in args.fit]
        r = json.loads(subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout.splitlines()[-1])
        ci = f" ± {r['ci']:.4f}" if r["ci"] is not None else ""
        gap = "-" if r["vs_best"] is None else f"{r['vs_best'][0]:+.4f} ± {r['vs_best'][1]:.4f}"
        print(f"| {case} | {r['interactions']:,} / {r['users']:,} / {r['items']:,} | {minutes(r['encoding'])} | "
              f"{minutes(r['splitting'])} | {minutes(r['training'])} ({r['epochs']}, best {r['best_epoch']}, "
              f"{r['stopped']}) | {minutes(r['evaluation'])} | {minutes(r['saving'])} | **{minutes(r['total'])}** | "
              f"{r['peak_mb'] / 1024:.1f} GB | {r['ndcg']:.4f}{ci} | {r['baseline']} {r['baseline_ndcg']:.4f} | "
              f"{gap} | "
              f"{r['epoch_s']:.0f} | "
              f"{r['test_users']:,} of {r['test_total']:,} |", flush=True)


if __name__ == "__main__":
    main()
