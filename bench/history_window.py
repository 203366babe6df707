"""What a longer history window costs and gives: training time and NDCG@10 for each window H.

    nice -n 5 python bench/history_window.py [demo] [100k] [--windows 20,50,100,200] [--epochs 2]
    nice -n 5 python bench/history_window.py demo --timing [--batches 20 --rounds 2]   # cost only

For each case (bench/cases.py) it prints the users' history lengths (median, 90th percentile, max:
the "auto" window is the 90th percentile, ``pipeline.history_window``), then trains the model once per
window H with everything else as it ships, for ``--epochs`` epochs, each run in its own process after
the embedding cache is warm.  Per run: seconds per training epoch (validation not included), seconds
per validation (wall and CPU: on a shared machine the process's CPU seconds are the fairer
measure of cost, since they do not count time spent waiting for a core), validation NDCG@10 of the best epoch, test NDCG@10, and against the first window of the
list (the reference, 20 as shipped before windows were a setting) measured in the same run: the time
ratio and the paired test-NDCG difference with its 95 % interval (same split, same users).

``--timing`` measures cost only, quickly: seconds per training batch (the real loop, stopped after a
few batches) and per validation user, the windows interleaved over rounds in one process, so a change
of load hits them alike.  An epoch is the same number of batches for every window.

Wall times depend on what else runs on the machine; the ratios are what to read, and runs
of one case follow each other so that they see similar load.  A short budget of epochs
compares windows early in training, not at convergence: say so when quoting it.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CACHE = Path(tempfile.gettempdir()) / "recsys-bench-cache"  # texts encode once per machine


def history_lengths(case: str) -> dict:
    from cases import load_case
    from recsys_core.schema import USER

    lengths = load_case(case).interactions.groupby(USER).size().to_numpy()
    return {"median": float(np.median(lengths)), "p90": float(np.percentile(lengths, 90)), "max": int(lengths.max()),
            "users": len(lengths)}


def run(case: str, window: int, epochs: int) -> dict:
    from cases import load_case
    from recsys_core.catalog import build_catalog
    from recsys_core.encoder import EncoderConfig, TextEncoder
    from recsys_core.evaluation import evaluate_scorer, model_scorer, per_case_metrics
    from recsys_core.pipeline import FitOptions, model_config_for, rating_scale_for
    from recsys_core.splits import make_split
    from recsys_core.training import TrainConfig, train_model

    data = load_case(case)
    options = FitOptions(max_history=window, train=TrainConfig(epochs=epochs), baselines=False, cache_dir=str(CACHE))
    catalog = build_catalog(data, TextEncoder(EncoderConfig(), cache_dir=str(CACHE)).encode)
    scale = rating_scale_for(data, options)
    split = make_split(data.interactions, catalog, options.split, scale)
    config = model_config_for(catalog, options, scale)
    val_cases = split.validation[: options.train.validation_users(catalog.n_items)]
    validation_seconds: list[float] = []
    validation_cpu: list[float] = []

    def validate(model) -> float:
        started, cpu = time.perf_counter(), time.process_time()
        value = evaluate_scorer(model_scorer(model, catalog), val_cases, catalog.n_items, ks=(10,))["NDCG@10"]
        validation_seconds.append(time.perf_counter() - started)
        validation_cpu.append(time.process_time() - cpu)
        return value

    cpu = time.process_time()
    result = train_model(catalog, split, config, options.train, validate=validate)
    cpu = time.process_time() - cpu - sum(validation_cpu)
    _, per_case = per_case_metrics(model_scorer(result.model, catalog), split.test, catalog.n_items, ks=(10,))
    return {
        "window": config.max_history,
        "epochs": len(result.log),
        "train_epoch": float(np.mean([e.seconds - v for e, v in zip(result.log, validation_seconds)])),
        "train_epoch_cpu": cpu / len(result.log),
        "validation": float(np.mean(validation_seconds)),
        "validation_cpu": float(np.mean(validation_cpu)),
        "val": max(e.val_ndcg10 for e in result.log),
        "test": per_case["NDCG@10"].tolist(),
    }


def timing(case: str, windows: list[int], batches: int, rounds: int) -> dict[int, dict[str, list[float]]]:
    """Seconds per training batch and per validation user for each window, the windows interleaved over
    ``rounds`` rounds in one process (so that a change of load on a shared machine hits every window alike).

    Training runs the real loop (``train_model``) and is stopped after ``batches`` batches through its
    cancel checkpoint; the first 3 batches of each run are left out (warm-up)."""
    from cases import load_case
    from recsys_core.catalog import build_catalog
    from recsys_core.encoder import EncoderConfig, TextEncoder
    from recsys_core.evaluation import evaluate_scorer, model_scorer
    from recsys_core.model import HybridRecommender
    from recsys_core.pipeline import FitOptions, model_config_for, rating_scale_for
    from recsys_core.progress import Cancelled
    from recsys_core.splits import make_split
    from recsys_core.training import TrainConfig, TrainingStopped, train_model

    data = load_case(case)
    catalog = build_catalog(data, TextEncoder(EncoderConfig(), cache_dir=str(CACHE)).encode)
    options = FitOptions(train=TrainConfig(epochs=1), baselines=False)
    scale = rating_scale_for(data, options)
    split = make_split(data.interactions, catalog, options.split, scale)
    val_cases = split.validation[:200]
    out: dict[int, dict[str, list[float]]] = {w: {"batch": [], "val_user": []} for w in windows}
    for _ in range(rounds):
        for window in windows:
            config = model_config_for(catalog, FitOptions(max_history=window), scale)
            stamps: list[float] = []

            def stop() -> None:
                if len(stamps) >= batches + 3:
                    raise Cancelled()

            try:
                train_model(catalog, split, config, options.train, progress=lambda f, m: stamps.append(time.perf_counter()),
                            cancel=stop)
            except TrainingStopped:
                pass
            out[window]["batch"].append(float(np.median(np.diff(stamps[3:]))))
            started = time.perf_counter()
            evaluate_scorer(model_scorer(HybridRecommender(config).eval(), catalog), val_cases, catalog.n_items, ks=(10,))
            out[window]["val_user"].append((time.perf_counter() - started) / len(val_cases))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("cases", nargs="*", default=["demo"])
    parser.add_argument("--windows", default="20,50,100,200", help="comma-separated windows; the first is the reference")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per run (early stopping still applies)")
    parser.add_argument("--timing", action="store_true",
                        help="cost only: seconds per training batch and per validation user, windows interleaved")
    parser.add_argument("--batches", type=int, default=20, help="timed training batches per window and round (--timing)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over the windows (--timing)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        case, window, epochs = json.loads(args.child)
        print(json.dumps(run(case, window, epochs)))
        return
    from cases import load_case
    from recsys_core.catalog import build_catalog
    from recsys_core.encoder import EncoderConfig, TextEncoder
    from recsys_core.metrics import ci95_half_width

    windows = [int(w) for w in args.windows.split(",")]
    if args.timing:
        for case in args.cases:
            t = timing(case, windows, args.batches, args.rounds)
            ref = t[windows[0]]
            print(f"\n{case}: {args.rounds} round(s) × {args.batches} batches per window, windows interleaved\n")
            # The fastest round is the least disturbed by other load: its ratio is the one to read.
            print(f"| window H | s / training batch (median per round) | fastest × H={windows[0]} | "
                  f"ms / validation user (per round) | fastest × H={windows[0]} |")
            print("|---|---|---|---|---|")
            for w in windows:
                b, v = t[w]["batch"], t[w]["val_user"]
                print(f"| {w} | {' / '.join(f'{x:.2f}' for x in b)} | {min(b) / min(ref['batch']):.2f}× | "
                      f"{' / '.join(f'{1000 * x:.1f}' for x in v)} | {min(v) / min(ref['val_user']):.2f}× |", flush=True)
        return
    for case in args.cases:
        build_catalog(load_case(case), TextEncoder(EncoderConfig(), cache_dir=str(CACHE)).encode)  # not timed
        h = history_lengths(case)
        print(f"\n{case}: {h['users']:,} users, history length median {h['median']:g}, "
              f"90th percentile {h['p90']:g}, max {h['max']}; {args.epochs} epoch(s) per window\n")
        ref = f"H={windows[0]}"
        print(f"| window H | epochs | wall s / training epoch | CPU s / training epoch | CPU × {ref} | "
              f"CPU s / validation | CPU × {ref} | val NDCG@10 | test NDCG@10 | test − {ref} (95 % CI, paired) |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        reference = None
        for window in windows:
            out = subprocess.run([sys.executable, __file__, "--child", json.dumps([case, window, args.epochs])],
                                 check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            test = np.asarray(r["test"])
            reference = reference or {**r, "test": test}
            diff = test - reference["test"]
            print(f"| {window} | {r['epochs']} | {r['train_epoch']:.1f} | {r['train_epoch_cpu']:.1f} | "
                  f"{r['train_epoch_cpu'] / reference['train_epoch_cpu']:.2f}× | {r['validation_cpu']:.1f} | "
                  f"{r['validation_cpu'] / reference['validation_cpu']:.2f}× | {r['val']:.4f} | {test.mean():.4f} | "
                  f"{diff.mean():+.4f} ± {ci95_half_width(diff):.4f} |", flush=True)


if __name__ == "__main__":
    main()
