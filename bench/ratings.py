"""Explicit ratings (issue 17): does reading them help, and do disliked items stop being "the reason"?

    python bench/ratings.py [--case demo 100k-rated] [--epochs N] [--seed 0] [--reason-users 300] [--threads 1]

For each case (bench/cases.py; both carry 1–5 ratings) ONE catalogue and ONE split are made, the
split of the product with ratings (``make_split(..., scale)``: the last *like* of each user is the
test item, the like before it the validation item, everything earlier, disliked items included, is
training history).  Three models are trained on that same split and judged on the same test cases:

* **ratings ignored** — every training interaction is a target and no rating reaches the model
  (what the product did before ratings were used);
* **likes as targets** — only likes are targets, but the model does not read ratings;
* **likes + ratings read** — the product's default: likes are targets and each history item's
  rating features (``recsys_core/ratings.py``) scale and shift it.

EASE (the best classic baseline, fitted on the likes) and Random run on the same cases.  Each
model's NDCG@10 has a 95% interval over users, and every variant is paired with the product on the
same cases.

**Reasons.**  For ``--reason-users`` users (seeded sample of the test users) each model serves a
top-10 from the user's whole known history (with its ratings); each recommendation's *main reason*
is the history item whose removal lowers the score most (the explanation's "Recommended mainly
because of …", ``explain.history.leave_one_out`` over the items the model reads).  The script counts
the recommendations whose main reason the user rated at the bottom of the scale (1★), and those
whose main reason is a disliked item (``ratings.liked`` is False).

Everything is seeded; wall times are printed per step.  Run it alone (2 cores).
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recsys_core from a checkout, installed or not

from bench.cases import load_case
from recsys_core.catalog import Catalog, build_catalog
from recsys_core.encoder import TextEncoder, default_cache_dir
from recsys_core.encoding import encoder_for
from recsys_core.evaluation import (
    EvaluationReport,
    baseline_scorer,
    evaluate_all,
    evaluate_scorer,
    fit_baselines,
    model_scorer,
    paired_comparison,
    random_scorer,
)
from recsys_core.explain.history import HistoryGame, leave_one_out
from recsys_core.pipeline import FitOptions, model_config_for, rating_scale_for
from recsys_core.ratings import RatingScale, liked
from recsys_core.recommender import Recommender
from recsys_core.splits import Split, make_split
from recsys_core.training import TrainConfig, train_model

IGNORED, LIKES, PRODUCT = "ratings ignored", "likes as targets", "likes + ratings read"
METRIC = "NDCG@10"


@dataclass
class ReasonCount:
    recommendations: int = 0
    with_reason: int = 0  # recommendations with a positive history contribution (a named main reason)
    bottom_rated: int = 0  # ... whose main reason the user rated at the bottom of the scale
    disliked: int = 0  # ... whose main reason is not a like


def train_variant(catalog: Catalog, split: Split, options: FitOptions, scale: RatingScale | None):
    config = model_config_for(catalog, options, scale)
    val_cases = split.validation[: options.train.validation_users(catalog.n_items)]

    def validate(model) -> float:
        return evaluate_scorer(model_scorer(model, catalog), val_cases, catalog.n_items, ks=(10,)).get(METRIC, 0.0)

    def log(e) -> None:
        print(f"  epoch {e.epoch}: loss {e.loss:.3f}, validation {METRIC} {e.val_ndcg10:.4f}, {e.seconds:.0f} s", flush=True)

    return train_model(catalog, split, config, options.train, validate=validate, on_epoch=log)


def main_reasons(rec: Recommender, users: list[str], scale: RatingScale) -> ReasonCount:
    count = ReasonCount()
    for user in users:
        ctx = rec.context(user)
        likes = liked(ctx.ratings, scale)
        for r in rec.recommend(user, 10):
            count.recommendations += 1
            item = rec.item_position(r.item_id)
            window = min(len(ctx.history), rec.max_history)
            if window == 0:
                continue
            effects, _, _ = leave_one_out(HistoryGame(rec, ctx, item, window))
            slot = int(np.argmax(effects))
            if effects[slot] <= 0:
                continue
            count.with_reason += 1
            position = len(ctx.history) - 1 - slot
            count.bottom_rated += int(ctx.ratings[position] <= scale.low)
            count.disliked += int(not likes[position])
    return count


def run_case(case: str, args) -> None:
    started = time.perf_counter()
    dataset = load_case(case)
    if not dataset.has_ratings:
        raise SystemExit(f"case {case!r} has no ratings")
    options = FitOptions(train=TrainConfig(epochs=args.epochs, seed=args.seed))
    scale = rating_scale_for(dataset, options)
    encoder = TextEncoder(options.encoder, cache_dir=default_cache_dir())
    catalog = build_catalog(dataset, encoder_for(encoder, options.engine))
    split = make_split(dataset.interactions, catalog, replace(options.split, seed=args.seed), scale)
    print(f"\n## {case}: {dataset.summary()}, ratings {scale.low:g}–{scale.high:g}; "
          f"{len(split.test)} test users; catalogue and split {time.perf_counter() - started:.0f} s")
    variants = {
        IGNORED: (replace(split, train_targets={}, train_ratings={}), None),
        LIKES: (replace(split, train_ratings={}), None),
        PRODUCT: (split, scale),
    }
    models, seconds = {}, {}
    for name, (variant_split, variant_scale) in variants.items():
        t = time.perf_counter()
        result = train_variant(catalog, variant_split, options, variant_scale)
        models[name] = result.model
        seconds[name] = time.perf_counter() - t
        print(f"- trained {name}: best epoch {result.best_epoch} ({result.stopped}), {seconds[name]:.0f} s")
    scorers = {name: model_scorer(m, catalog) for name, m in models.items()}
    ease = next(b for b in fit_baselines(split, catalog) if b.name == "EASE")
    scorers["EASE"] = baseline_scorer(ease, catalog, scale=scale)
    scorers["Random"] = random_scorer(catalog.n_items)
    t = time.perf_counter()
    report: EvaluationReport = evaluate_all(scorers, split, catalog)
    test = report.slice("test")
    print(f"\nProtocol: {report.protocol}\n")
    print(f"| {METRIC} ± 95% | test ({test.n_cases} users) | paired with {PRODUCT} |")
    print("|---|---|---|")
    for name in scorers:
        value = test.metrics[name][METRIC]
        ci = test.ci95.get(name, {}).get(METRIC, float("nan"))
        pair = ""
        if name in models and name != PRODUCT:
            p = paired_comparison(scorers[PRODUCT], scorers[name], split.test, catalog.n_items)
            pair = f"{PRODUCT} − this: {p.diff:+.4f} ± {p.diff_ci95:.4f} (ratio {p.ratio:.2f})"
        print(f"| {name} | {value:.4f} ± {ci:.4f} | {pair} |")
    print(f"\nevaluation {time.perf_counter() - t:.0f} s")

    rng = np.random.default_rng(args.seed)
    test_users = sorted({c.user_id for c in split.test})
    users = sorted(rng.choice(test_users, size=min(args.reason_users, len(test_users)), replace=False).tolist())
    print(f"\nMain reasons of the top-10 of {len(users)} users (whole known history, with ratings):\n")
    print("| model | recommendations | with a history reason | reason rated bottom of scale | reason disliked |")
    print("|---|---|---|---|---|")
    for name, model in models.items():
        t = time.perf_counter()
        rec = Recommender(model=model, catalog=catalog, encoder_config=options.encoder)
        c = main_reasons(rec, users, scale)
        print(f"| {name} | {c.recommendations} | {c.with_reason} | {c.bottom_rated} "
              f"({c.bottom_rated / max(c.with_reason, 1):.1%}) | {c.disliked} ({c.disliked / max(c.with_reason, 1):.1%}) |"
              f"  ({time.perf_counter() - t:.0f} s)")
    print(f"\ncase total {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", nargs="+", default=["demo", "100k-rated"])
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reason-users", type=int, default=300)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (1 is faster when other jobs share the cores)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    for case in args.case:
        run_case(case, args)


if __name__ == "__main__":
    main()
