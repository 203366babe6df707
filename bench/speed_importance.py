"""Feature importance at the page's defaults, cold: seconds and the ratio to one plain scoring forward.

    python bench/speed_importance.py [--model DIR] [--users N] [--k K] [--repeats R]

Runs what the Feature importance page's "Compute attribution shares" runs
(``global_importance`` with its default config on ``--users`` sampled users × their
top ``--k`` items; defaults: the page's, ``recsys_core.explain.DEFAULT_USERS`` /
``DEFAULT_K`` when this checkout has them, else 12 × 3) with the explanation cache
cleared and the encoder warmed once beforehand.  The reference, measured in the
same run, is one plain scoring forward of a pair's texts (the candidate, the
profile and every history item the model reads) through the encoder and the
model: the median of ``--repeats`` of them.  Wall times move with the machine's
load; the ratio much less, so compare ratios across runs and machines.

``measure(recommender)`` returns the figures as a dict, for a combined benchmark.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recsys_core from a checkout, installed or not

from recsys_core import artifacts
from recsys_core import explain as explain_package
from recsys_core.errors import RecsysError
from recsys_core.explain import clear_cache, global_importance
from recsys_core.explain.global_importance import sample_users
from recsys_core.explain.pair import build_pair

DEMO_MODEL = Path(__file__).resolve().parents[1] / "sample_data" / "demo_model"
# The page's sample; read from the package so the bench follows the page (an older checkout has no names).
PAGE_USERS = getattr(explain_package, "DEFAULT_USERS", 12)
PAGE_K = getattr(explain_package, "DEFAULT_K", 3)


def forward_seconds(recommender, user: str, repeats: int = 3) -> tuple[float, int]:
    """Median seconds of one plain scoring forward of ``user``'s pair with their top item, and its text count."""
    item = recommender.item_position(recommender.recommend(user, 1)[0].item_id)
    pair = build_pair(recommender, recommender.context(user), item)
    ids = pair.input_ids.unsqueeze(0)
    times = []
    with torch.inference_mode():
        pair.score_from_ids(ids)  # warms the encoder: loading it is no part of either figure
        for _ in range(repeats):
            started = time.perf_counter()
            pair.score_from_ids(ids)
            times.append(time.perf_counter() - started)
    return float(np.median(times)), pair.n_texts


def measure(recommender, n_users: int = PAGE_USERS, k: int = PAGE_K, repeats: int = 3) -> dict:
    """The page's default feature-importance run, cold, and the reference forward measured around it."""
    users = sample_users(recommender, n_users)
    before, n_texts = forward_seconds(recommender, users[0], repeats)
    clear_cache()
    started = time.perf_counter()
    result = global_importance(recommender, n_users=n_users, k=k)
    seconds = time.perf_counter() - started
    after, _ = forward_seconds(recommender, users[0], repeats)
    forward = float(np.median([before, after]))  # the load may change during the run: both ends count
    return {
        "what": f"feature importance, page defaults ({n_users} users × top {k})",
        "seconds": seconds,
        "pairs": result.n_pairs,
        "seconds_per_pair": seconds / max(result.n_pairs, 1),
        "forward_seconds": forward,
        "forward_texts": n_texts,
        "ratio": seconds / forward,
        "mean_delta_share": result.mean_delta_share,
        "field_share": result.field_share,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEMO_MODEL), help="saved model directory (default: the demo model)")
    parser.add_argument("--users", type=int, default=PAGE_USERS, help="users in the sample (default: the page's)")
    parser.add_argument("--k", type=int, default=PAGE_K, help="top-K items per user (default: the page's)")
    parser.add_argument("--repeats", type=int, default=3, help="reference forwards at each end (median)")
    args = parser.parse_args()
    try:
        recommender = artifacts.load(args.model)
    except (RecsysError, OSError) as error:
        sys.exit(f"Cannot load the model at {args.model}: {error}")
    print(f"torch threads {torch.get_num_threads()}; code {Path(explain_package.__file__).parents[2]}; model {args.model}; "
          f"history window {recommender.max_history}")
    r = measure(recommender, args.users, args.k, args.repeats)
    print(f"reference: one plain scoring forward of a pair ({r['forward_texts']} texts): {r['forward_seconds']:.3f} s (median)")
    print(f"{r['what']}: {r['pairs']} pairs in {r['seconds']:.1f} s ({r['seconds_per_pair']:.2f} s per pair) "
          f"= {r['ratio']:.0f} forwards; mean convergence delta {r['mean_delta_share']:.1%} of the score change")
    print("field shares: " + ", ".join(f"{k} {v:.3f}" for k, v in list(r["field_share"].items())[:8]))


if __name__ == "__main__":
    main()
