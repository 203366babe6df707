"""Feature importance beyond one pair.

- ``global_importance``: integrated gradients over a sample of (user, top-K item)
  pairs, rolled up to each field's share of |attribution|, the most
  influential words, and the same shares split by user activity and item
  popularity buckets; plus the attention–IG agreement across the sample.
- ``field_ablation``: drop one field from every text, re-encode, and measure the
  change of NDCG@10 on validation cases (each user's second-last interaction).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from ..catalog import Catalog
from ..evaluation import evaluate_scorer, model_scorer
from ..recommender import Recommender
from ..splits import EvalCase
from .core import explain_pair
from .rollup import SEPARATORS, merge_words
from .types import ExplainConfig, jsonable

BUCKETS = ("low", "mid", "high")


@dataclass
class GlobalImportance:
    n_pairs: int
    field_share: dict[str, float]  # field → mean share of |attribution| (sums to 1)
    field_signed: dict[str, float]  # field → mean signed attribution (score units)
    top_words: list[tuple[str, float]]  # word → summed positive attribution over the sample
    by_user_activity: dict[str, dict[str, float]]  # bucket → field share
    by_item_popularity: dict[str, dict[str, float]]
    agreement: dict[str, float]  # mean Spearman IG vs attention / rollout across pairs
    mean_delta_share: float
    pairs: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return jsonable(asdict(self))


def _bucket(value: float, edges: np.ndarray) -> str:
    return BUCKETS[int(np.searchsorted(edges, value, side="right"))]


def _shares(totals: dict[str, float]) -> dict[str, float]:
    absolute = {k: abs(v) for k, v in totals.items()}
    norm = sum(absolute.values()) or 1.0
    return {k: v / norm for k, v in absolute.items()}


def _mean_dicts(dicts: list[dict[str, float]]) -> dict[str, float]:
    sums: dict[str, float] = defaultdict(float)
    for d in dicts:
        for k, v in d.items():
            sums[k] += v
    n = max(len(dicts), 1)
    return dict(sorted(((k, v / n) for k, v in sums.items()), key=lambda kv: -abs(kv[1])))


def global_importance(
    recommender: Recommender,
    n_users: int = 20,
    k: int = 3,
    config: ExplainConfig = ExplainConfig(n_steps=16, faithfulness=False),
    seed: int = 0,
    users: list[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> GlobalImportance:
    """Aggregate IG over ``n_users`` sampled users × their top-``k`` recommendations."""
    rng = np.random.default_rng(seed)
    known = recommender.known_users()
    if users is None:
        users = sorted(rng.choice(known, size=min(n_users, len(known)), replace=False).tolist())
    activity = np.array([len(recommender.catalog.histories[u]) for u in known])
    popularity = np.bincount(
        np.concatenate(list(recommender.catalog.histories.values())), minlength=recommender.catalog.n_items
    )
    act_edges = np.quantile(activity, [1 / 3, 2 / 3])
    pop_edges = np.quantile(popularity, [1 / 3, 2 / 3])
    pairs = [(u, r.item_id) for u in users for r in recommender.recommend(u, k)]
    shares, signed, deltas = [], [], []
    by_act: dict[str, list] = defaultdict(list)
    by_pop: dict[str, list] = defaultdict(list)
    agreements: dict[str, list] = defaultdict(list)
    words: dict[str, float] = defaultdict(float)
    for n, (user, item) in enumerate(pairs):
        exp = explain_pair(recommender, user, item, config)
        totals = {k_: v for k_, v in exp.fields.items() if k_ != SEPARATORS}
        share = _shares(totals)
        shares.append(share)
        signed.append(totals)
        deltas.append(abs(exp.convergence_delta) / max(abs(exp.score - exp.baseline_score), 1e-9))
        by_act[_bucket(len(recommender.catalog.histories[user]), act_edges)].append(share)
        by_pop[_bucket(popularity[recommender.item_position(item)], pop_edges)].append(share)
        for key, value in exp.agreement.items():
            if np.isfinite(value):
                agreements[key].append(value)
        item_tokens = [t for t in exp.tokens if t.text_index == 0 and not t.special and t.field]
        for w, v in zip(*merge_words([t.text for t in item_tokens], [t.attribution for t in item_tokens])):
            if v > 0 and w.isalnum() and len(w) > 2:
                words[w] += v
        if progress:
            progress(n + 1, len(pairs))
    return GlobalImportance(
        n_pairs=len(pairs),
        field_share=_mean_dicts(shares),
        field_signed=_mean_dicts(signed),
        top_words=sorted(words.items(), key=lambda kv: -kv[1])[:25],
        by_user_activity={b: _mean_dicts(by_act[b]) for b in BUCKETS if by_act[b]},
        by_item_popularity={b: _mean_dicts(by_pop[b]) for b in BUCKETS if by_pop[b]},
        agreement={k_: float(np.mean(v)) for k_, v in agreements.items()},
        mean_delta_share=float(np.mean(deltas)) if deltas else float("nan"),
        pairs=pairs,
    )


@dataclass
class FieldAblation:
    """Validation NDCG@10 with each field removed from every text (drop = how much the field is worth)."""

    base_ndcg10: float
    ablated_ndcg10: dict[str, float]  # "item: genres" → NDCG@10 without it
    n_cases: int

    @property
    def drop(self) -> dict[str, float]:
        return dict(sorted(((k, self.base_ndcg10 - v) for k, v in self.ablated_ndcg10.items()), key=lambda kv: -kv[1]))

    def to_dict(self) -> dict:
        return jsonable({**asdict(self), "drop": self.drop})


def validation_cases(recommender: Recommender, max_users: int = 500, seed: int = 0) -> list[EvalCase]:
    """Each user's second-last interaction given the earlier ones (the leave-last-out validation case)."""
    rng = np.random.default_rng(seed)
    users = [u for u, h in recommender.catalog.histories.items() if len(h) >= 3]
    if len(users) > max_users:
        users = sorted(rng.choice(users, size=max_users, replace=False).tolist())
    return [EvalCase(u, recommender.catalog.histories[u][:-2], recommender.catalog.histories[u][-2:-1]) for u in users]


def field_ablation(
    recommender: Recommender,
    fields: list[str] | None = None,
    max_users: int = 500,
    progress: Callable[[int, int], None] | None = None,
) -> FieldAblation:
    """Re-encode texts without each field and re-score validation cases (same model weights)."""
    catalog = recommender.catalog
    cases = validation_cases(recommender, max_users)
    base = evaluate_scorer(model_scorer(recommender.model, catalog), cases, catalog.n_items, ks=(10,))["NDCG@10"]
    todo = fields or [f"item: {f}" for f in catalog.item_fields] + [f"profile: {f}" for f in catalog.user_fields if catalog.profile_ids]
    ablated = {}
    for n, key in enumerate(todo):
        side, name = key.split(": ", 1)
        if side == "item":
            texts = [t.without([name]) for t in catalog.item_texts]
            vectors = recommender.encoder.encode([t.text for t in texts])
            changed = replace_catalog(catalog, item_vectors=vectors)
        else:
            texts = [t.without([name]) for t in catalog.profile_texts]
            vectors = recommender.encoder.encode([t.text for t in texts]) if texts else catalog.profile_vectors
            changed = replace_catalog(catalog, profile_vectors=vectors)
        ablated[key] = evaluate_scorer(model_scorer(recommender.model, changed), cases, catalog.n_items, ks=(10,))["NDCG@10"]
        if progress:
            progress(n + 1, len(todo))
    return FieldAblation(base, ablated, len(cases))


def replace_catalog(catalog: Catalog, **changes) -> Catalog:
    return replace(catalog, **changes)
