"""How often a small counterfactual exists, and what the search costs, on the demo model's top-10 pairs.

    python bench/counterfactual.py [--users 8] [--ranks 1 5 10] [--k 10] [--model DIR] [--threads 2]

For ``--users`` users drawn with a fixed seed and each of their recommendations at ``--ranks``, runs
``recsys_core.explain.counterfactual`` (greedy over the model's history window, then every smaller set
re-scored within the budget) and prints, per pair, the size of the set found, whether it is proven
minimal, the sets re-scored and the seconds; then the share of pairs with a counterfactual of size
≤ 1, ≤ 2, ≤ 3, the medians, and the seconds of one full-catalogue scoring of one user measured in the
same run (the unit the search is made of: each re-scored set costs about one).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recsys_core from a checkout, installed or not

from recsys_core import artifacts  # noqa: E402
from recsys_core.demo import DEMO_MODEL_DIR  # noqa: E402
from recsys_core.explain.counterfactual import MAX_SIZE, counterfactual  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--model", default=str(DEMO_MODEL_DIR))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rec = artifacts.load(args.model)
    users = sorted(rec.catalog.histories)
    chosen = [users[i] for i in np.random.default_rng(0).choice(len(users), args.users, replace=False)]

    ctx = rec.context(chosen[0])
    rec.score_items(ctx)  # warm
    one = []
    for _ in range(5):
        start = time.perf_counter()
        rec.score_items(ctx)
        one.append(time.perf_counter() - start)
    unit = float(np.median(one))

    rows = []
    print(f"{'user':>8} {'rank':>4} {'goal':>5} {'size':>4} {'minimal':>7} {'sets':>6} {'seconds':>7}")
    for user in chosen:
        ctx = rec.context(user)
        ranked = rec.recommend_for(ctx, max(args.ranks))
        for r in args.ranks:
            cf = counterfactual(rec, ctx, rec.item_position(ranked[r - 1].item_id), args.k)
            size = len(cf.removed) if cf.found else None
            rows.append((size, cf.minimal, cf.sets_checked, cf.seconds))
            print(f"{user:>8} {r:>4} {cf.goal:>5} {size if size else '-':>4} {str(cf.minimal):>7} "
                  f"{cf.sets_checked:>6} {cf.seconds:>7.2f}")
    sizes = [s for s, *_ in rows]
    n = len(rows)
    print(f"\n{n} pairs (top-{args.k}, history window {rec.model.config.max_history}):")
    for limit in (1, 2, 3):
        share = sum(1 for s in sizes if s is not None and s <= limit) / n
        print(f"  counterfactual of size <= {limit}: {share:.0%}")
    print(f"  none found within {MAX_SIZE} items: {sum(1 for s in sizes if s is None) / n:.0%}")
    proven = [m for s, m, *_ in rows if s is not None]
    if proven:
        print(f"  proven minimal among those found: {sum(proven) / len(proven):.0%}")
    seconds = [t for *_, t in rows]
    sets = [c for *_, c, _ in rows]
    print(f"  median seconds per pair {np.median(seconds):.2f} (max {max(seconds):.2f}); median sets re-scored "
          f"{np.median(sets):.0f}; one full-catalogue scoring {unit * 1000:.1f} ms "
          f"(median pair = {np.median(seconds) / unit:.0f} scorings)")


if __name__ == "__main__":
    main()
