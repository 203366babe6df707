"""Where a generated case's test NDCG@10 comes from: on-topic targets, popular ones, and the top 10's topic share.

    python bench/topic_share.py [1m] [--max-minutes M] [--set KEY=VALUE] [--fit KEY=VALUE] [--users N]
                                [--cache-dir DIR] [--blend W ...]

Trains the model as ``pipeline.fit`` would (``--set`` a ``TrainConfig`` field, ``--fit`` a ``FitOptions`` one, as in
``bench/scale.py``; no baselines, no text-only reference), then ranks the same seeded ``--users`` test users with
the model and with TextKNN.  bench/cases.py's generator knows each item's topic, so the table splits NDCG@10 by
whether the held-out item is in the user's topic (the most common topic of their history) and gives the share of
each top 10 that is in it, and the median popularity rank of the top 10.  ``--blend W`` also ranks by the model's
score plus W × TextKNN's cosine (both standardised over each user's catalogue scores), a diagnostic of how
complementary the two are.  Run it alone: training is time-budgeted, and a 1m run ranks 1,000 users × 100k items
with the model (several minutes; encoding adds minutes more when the embedding cache lacks the case's texts).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases import CASES, load_case, synthetic  # noqa: E402
from scale import key_values  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", nargs="?", default="1m", choices=[c for c in CASES if c not in ("demo", "100k-rated")])
    parser.add_argument("--max-minutes", type=float, default=20.0)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--fit", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--blend", type=float, action="append", default=[])
    args = parser.parse_args()

    from recsys_core.baselines import TextKNN
    from recsys_core.catalog import build_catalog
    from recsys_core.encoder import EncoderConfig, TextEncoder, default_cache_dir
    from recsys_core.evaluation import baseline_scorer, model_scorer, per_case_metrics, sample_cases
    from recsys_core.pipeline import FitOptions, model_config_for, train
    from recsys_core.splits import make_split
    from recsys_core.training import TrainConfig
    from recsys_core.batching import history_matrix

    settings, fit_settings = key_values(args.set), key_values(args.fit)
    options = FitOptions(train=TrainConfig(max_minutes=args.max_minutes, **settings), baselines=False,
                         text_reference=False, cache_dir=args.cache_dir, **fit_settings)
    started = time.perf_counter()
    data = load_case(args.case)
    encoder = TextEncoder(EncoderConfig(), cache_dir=args.cache_dir or default_cache_dir())
    catalog = build_catalog(data, encoder.encode)
    encoded = time.perf_counter()
    split = make_split(data.interactions, catalog, options.split)
    model_config = model_config_for(catalog, options, None)
    val_cases = split.validation[: options.train.validation_users(catalog.n_items)]

    def epoch_line(e) -> None:
        print(f"  epoch {e.epoch}: val NDCG@10 {e.val_ndcg10:.4f} in {e.seconds:.0f} s", file=sys.stderr, flush=True)

    result = train(catalog, split, model_config, options, val_cases, on_epoch=epoch_line)
    trained = time.perf_counter()

    _, items = synthetic(*CASES[args.case], topics=True)
    topic_of = dict(zip(items["item_id"], items["topic"]))
    topic = np.array([topic_of[i] for i in catalog.item_ids])
    train_rows = [split.train[u] for u in sorted(split.train)]
    popularity = np.bincount(np.concatenate(train_rows), minlength=catalog.n_items)
    pop_rank = np.empty(catalog.n_items, dtype=np.int64)
    pop_rank[np.argsort(-popularity, kind="stable")] = np.arange(1, catalog.n_items + 1)
    history = history_matrix(train_rows, catalog.n_items)
    history.data[:] = 1.0
    text_knn = baseline_scorer(TextKNN().fit(history, catalog.item_vectors), catalog)

    cases = sample_cases([c for c in split.test if len(np.setdiff1d(c.targets, c.history))],
                         catalog.n_items, max_pairs=args.users * catalog.n_items)
    user_topic = np.array([np.bincount(topic[c.history]).argmax() for c in cases])
    on_topic = np.array([topic[c.targets[-1]] == t for c, t in zip(cases, user_topic)])
    model = model_scorer(result.model, catalog)
    scorers = {"model": model, "TextKNN": text_knn}
    scorers.update({f"model + {w:g}·TextKNN": _Blend(model, text_knn, w) for w in args.blend})
    rows = []
    for name, scorer in scorers.items():
        top, metrics = per_case_metrics(scorer, cases, catalog.n_items, ks=(10,))
        ndcg = metrics["NDCG@10"]
        rows.append({
            "scorer": name, "ndcg10": float(ndcg.mean()),
            "on_topic": float(ndcg[on_topic].mean()), "off_topic": float(ndcg[~on_topic].mean()),
            "top10_in_topic": float((topic[top[:, :10]] == user_topic[:, None]).mean()),
            "median_pop_rank": float(np.median(pop_rank[top[:, :10]])),
            "ndcg_per_case": ndcg,
        })
    reference = rows[1]["ndcg_per_case"]
    print(f"{args.case}: {len(cases)} test users ({on_topic.mean():.1%} of targets on the user's topic); "
          f"encoding {encoded - started:.0f} s, training {trained - encoded:.0f} s "
          f"({len(result.log)} epochs, best {result.best_epoch}, {result.stopped}); settings {json.dumps(settings)} "
          f"{json.dumps(fit_settings)}")
    print("| scorer | NDCG@10 | − TextKNN (paired 95%) | on-topic targets | off-topic targets | top-10 in topic "
          "| median popularity rank of the top 10 |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        diff = row["ndcg_per_case"] - reference
        half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
        print(f"| {row['scorer']} | {row['ndcg10']:.4f} | {diff.mean():+.4f} ± {half:.4f} | {row['on_topic']:.4f} "
              f"| {row['off_topic']:.4f} | {row['top10_in_topic']:.0%} | {row['median_pop_rank']:.0f} |")


class _Blend:
    """The model's scores, standardised per user, plus ``weight`` × TextKNN's cosine (also standardised)."""

    def __init__(self, model, text_knn, weight: float):
        self.model, self.text_knn, self.weight = model, text_knn, weight

    def score(self, cases):
        return _standardised(self.model.score(cases)) + self.weight * _standardised(self.text_knn.score(cases))


def _standardised(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float32)
    return (scores - scores.mean(axis=1, keepdims=True)) / (scores.std(axis=1, keepdims=True) + 1e-6)


if __name__ == "__main__":
    main()
