"""Which ordering of a user's history items best explains a recommendation?  The LXR fidelity metrics.

    nice -n 5 python bench/history_fidelity.py [demo] [100k] [--users 20] [--k 10] [--kernel-samples 200]
                                              [--epochs 2] [--seed 0] [--threads 2]

Pairs: ``--users`` users drawn with ``--seed`` (among those with at least 2 history items), each with every
item of their top-``--k`` list (seen items excluded).  ``demo`` is the shipped demo model; ``100k`` (bench/cases.py,
MovieLens-100k-shaped) is trained here for ``--epochs`` epochs, no baselines, with the embedding cache of the
other benches (a small budget: the figures judge explanations of *this* model, not a converged one).

For every pair, the orderings of ``recsys_core.explain.core.history_orderings`` (the shipped full-path
contributions, the text-only IG share, the model's attention over the history, the text cosine to the item,
KernelSHAP through Captum with ``--kernel-samples`` coalitions, a random order) are judged by
``recsys_core.explain.fidelity.history_fidelity``: POS@5/10/20 (lower is better), NEG@5/10/20 (higher is better),
DEL (lower is better) and INS (higher is better), averaged over 10 removal steps of 10 % of the model's window
and over the pairs.  DEL and INS are logit changes from the served score.

Then, against the shipped ordering measured on the same pairs: the mean difference (shipped − other) on POS@10,
NEG@10, DEL and INS with its 95 % interval over users (a user's pairs averaged first: users are the sampling
unit, as in the evaluation report).  The seconds are wall times on a possibly shared machine (the load
average is printed): for orientation only.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recsys_core from a checkout, installed or not
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/cases.py

from recsys_core.explain import ExplainConfig, pair_state  # noqa: E402
from recsys_core.explain.core import pair_history_fidelity  # noqa: E402
from recsys_core.explain.fidelity import KS, SHIPPED, mean_fidelity  # noqa: E402
from recsys_core.explain.types import HistoryFidelity  # noqa: E402
from recsys_core.metrics import paired_difference  # noqa: E402

CACHE = Path(tempfile.gettempdir()) / "recsys-bench-cache"  # the other benches' cache: texts encode once per machine
CONFIG = ExplainConfig(method="ig", token_level="none", faithfulness=False)  # the first view: what the orderings read


def model_for(case: str, epochs: int):
    if case == "demo":
        from recsys_core.demo import load_demo_model

        return load_demo_model(), "the shipped demo model"
    from cases import load_case
    from recsys_core.pipeline import FitOptions, fit
    from recsys_core.training import TrainConfig

    started = time.perf_counter()
    options = FitOptions(train=TrainConfig(epochs=epochs), baselines=False, text_reference=False, cache_dir=str(CACHE))
    rec = fit(load_case(case), options)
    ndcg = rec.report.slices[0].metrics["HybridBERT"]["NDCG@10"]
    return rec, f"trained here: {epochs} epochs in {time.perf_counter() - started:.0f} s, test NDCG@10 {ndcg:.4f}"


def run(case: str, args) -> None:
    rec, how = model_for(case, args.epochs)
    users = [u for u in rec.known_users() if len(rec.catalog.histories[u]) >= 2]
    chosen = np.random.default_rng(args.seed).choice(users, size=min(args.users, len(users)), replace=False)
    per_user: dict[str, list[list[HistoryFidelity]]] = {}
    windows, seconds = [], {"orderings and metrics": 0.0, "first view": 0.0}
    for user in chosen:
        ctx = rec.context(str(user))
        for r in rec.recommend_for(ctx, args.k):
            started = time.perf_counter()
            state = pair_state(rec, str(user), r.item_id, CONFIG, ctx)
            seconds["first view"] += time.perf_counter() - started
            started = time.perf_counter()
            per_user.setdefault(str(user), []).append(pair_history_fidelity(state, args.kernel_samples, args.seed))
            seconds["orderings and metrics"] += time.perf_counter() - started
            windows.append(len(state.pair.history_items))
    pairs = [p for rows in per_user.values() for p in rows]
    n = len(pairs)
    print(f"\n== {case}: {n} pairs ({len(per_user)} users × their top {args.k}, seed {args.seed}); {how}")
    print(f"   window (history items the model reads) per pair: median {np.median(windows):.0f}, "
          f"min {min(windows)}, max {max(windows)} (model max {rec.max_history}); catalogue {rec.catalog.n_items:,} items; "
          f"KernelSHAP {args.kernel_samples} coalitions")
    table(mean_fidelity(pairs))
    against_shipped(per_user)
    print("   seconds per pair: " + ", ".join(f"{k} {v / n:.2f}" for k, v in seconds.items())
          + f"; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def table(rows: list[HistoryFidelity]) -> None:
    head = [f"POS@{k}" for k in KS] + [f"NEG@{k}" for k in KS] + ["DEL", "INS"]
    print(f"   {'ordering':<24}" + "".join(f"{h:>8}" for h in head))
    print(f"   {'(better)':<24}" + "".join(f"{'lower':>8}" for _ in KS) + "".join(f"{'higher':>8}" for _ in KS)
          + f"{'lower':>8}{'higher':>8}")
    for f in rows:
        values = [f.pos[k] for k in KS] + [f.neg[k] for k in KS]
        print(f"   {f.method:<24}" + "".join(f"{v:8.3f}" for v in values) + f"{f.deletion:+8.3f}{f.insertion:+8.3f}")


def against_shipped(per_user: dict[str, list[list[HistoryFidelity]]]) -> None:
    """Shipped − other, per user (their pairs averaged), with the 95 % interval of the mean difference."""
    means = {u: {f.method: f for f in mean_fidelity(rows)} for u, rows in per_user.items()}
    methods = list(next(iter(means.values())))
    measures = {"POS@10": lambda f: f.pos[10], "NEG@10": lambda f: f.neg[10], "DEL": lambda f: f.deletion,
                "INS": lambda f: f.insertion}
    print(f"   shipped − other (95 % interval over {len(means)} users):")
    for other in methods:
        if other == SHIPPED:
            continue
        cells = []
        for name, get in measures.items():
            d = paired_difference(np.array([get(m[SHIPPED]) for m in means.values()]),
                                  np.array([get(m[other]) for m in means.values()]))
            cells.append(f"{name} {d.a - d.b:+.3f} ± {d.diff_ci95:.3f}")
        print(f"     vs {other:<24} " + "   ".join(cells))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", default=["demo", "100k"])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--k", type=int, default=10, help="each user's top-k items are the pairs")
    parser.add_argument("--kernel-samples", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=2, help="training budget of the cases trained here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.users < 1 or args.k < 1 or args.kernel_samples < 2 or args.epochs < 1:
        print("--users, --k and --epochs must be at least 1 and --kernel-samples at least 2.", file=sys.stderr)
        return 2
    unknown = [c for c in args.cases if c not in ("demo", "100k")]
    if unknown:
        print(f"unknown case {unknown[0]!r}: choose demo and/or 100k.", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    for case in args.cases:
        run(case, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
