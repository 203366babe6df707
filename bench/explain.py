"""Explanation cost on the demo model: one full explanation vs one plain scoring of the pair.

    python bench/explain.py [--pairs 5]

For each pair: IG through the item text, the profile and 20 history texts
(50 Gauss–Legendre steps, as the issue asks), then the same with fewer steps,
reporting time and the convergence delta as a share of |score − baseline|
(the 5% threshold the dashboard flags).  The reference is one forward pass of
the encoder + model over the same texts.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from recsys_core.demo import load_demo_model
from recsys_core.explain import ExplainConfig, explain_pair
from recsys_core.explain.pair import build_pair


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args()
    rec = load_demo_model()
    users = [u for u in rec.known_users() if len(rec.catalog.histories[u]) >= 20][: args.pairs]
    print(f"torch threads {torch.get_num_threads()}; {len(users)} pairs (users with ≥ 20 history items, their top item)")
    rows = {}
    forward = []
    for user in users:
        item = rec.recommend(user, 1)[0].item_id
        pair = build_pair(rec, rec.context(user), rec.item_position(item))
        with torch.inference_mode():
            pair.score_from_ids(pair.input_ids.unsqueeze(0))
            started = time.perf_counter()
            pair.score_from_ids(pair.input_ids.unsqueeze(0))
            forward.append(time.perf_counter() - started)
        for steps in (50, 20, 10):
            for full in (False, True):
                cfg = ExplainConfig(n_steps=steps, method="all" if full else "ig", faithfulness=full)
                started = time.perf_counter()
                exp = explain_pair(rec, user, item, cfg)
                elapsed = time.perf_counter() - started
                share = abs(exp.convergence_delta) / max(abs(exp.score - exp.baseline_score), 1e-9)
                rows.setdefault((steps, full), []).append((elapsed, share))
    ref = float(np.median(forward))
    print(f"plain forward scoring of a pair ({pair.n_texts} texts): {ref * 1000:.0f} ms (median)")
    print(f"{'steps':>5} {'what':<38} {'median s':>9} {'× forward':>10} {'median |δ|/gap':>15} {'max':>7}")
    for (steps, full), values in rows.items():
        t = np.median([v[0] for v in values])
        shares = [v[1] for v in values]
        what = "IG + attention + deletion curves" if full else "IG only"
        print(f"{steps:>5} {what:<38} {t:9.2f} {t / ref:10.0f} {np.median(shares):15.2%} {max(shares):7.2%}")


if __name__ == "__main__":
    main()
