"""Field ablation: what each field is worth to the ranking, measured by removing it.

``field_ablation`` drops one field from every text (an item field from every
item text, a profile field from every profile text), re-encodes, and measures
the change of NDCG@10 on validation cases — each user's second-last
interaction given the earlier ones — with the same model weights.  The drop of
each field comes with a seeded bootstrap interval over those cases (the same
resamples for every field), so a difference within noise is said to be one.

Unlike the attributions of ``global_importance`` this retrains nothing and
explains no pair: it only re-encodes texts and re-ranks, through the same
per-case metric loop as the evaluation reports (``evaluation.per_case_metrics``).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from ..catalog import Catalog
from ..errors import RecsysError
from ..evaluation import model_scorer, per_case_metrics
from ..model import HybridRecommender
from ..progress import Checkpoint, Progress, go_on, quiet
from ..recommender import Recommender
from ..splits import EvalCase, last_out_case
from .types import FieldKey, jsonable

BOOTSTRAP_SAMPLES = 1000


@dataclass
class FieldAblation:
    """Validation NDCG@10 with each field removed from every text (drop = how much the field is worth).

    ``intervals[field]`` is the seeded bootstrap 95% interval of the drop over the
    validation cases (the same resamples for every field); an interval that
    contains zero means the difference is within noise — neither a gain nor a loss.
    """

    base_ndcg10: float
    ablated_ndcg10: dict[FieldKey, float]  # "item: genres" → NDCG@10 without it
    n_cases: int
    intervals: dict[FieldKey, tuple[float, float]] = field(default_factory=dict)  # field → (low, high) of the drop
    n_bootstrap: int = BOOTSTRAP_SAMPLES
    seed: int = 0

    @property
    def drop(self) -> dict[FieldKey, float]:
        return dict(sorted(((k, self.base_ndcg10 - v) for k, v in self.ablated_ndcg10.items()), key=lambda kv: -kv[1]))

    def within_noise(self, name: str) -> bool:
        low, high = self.intervals[name]
        return low <= 0.0 <= high

    def verdict(self, name: str) -> str:
        """Plain words for one field: worth something, removing it helps, or within noise."""
        if self.within_noise(name):
            return "within noise"
        return "the field helps" if self.drop[name] > 0 else "removing it helps"

    def to_dict(self) -> dict:
        verdicts = {name: self.verdict(name) for name in self.intervals}
        return jsonable({**asdict(self), "drop": self.drop, "verdict": verdicts})

    @classmethod
    def from_dict(cls, data: dict) -> FieldAblation:
        """The result ``to_dict`` wrote (drops and verdicts are recomputed); KeyError/TypeError/ValueError when
        ``data`` is not one."""
        low_high = {FieldKey(k): (float(v[0]), float(v[1])) for k, v in data.get("intervals", {}).items()}
        return cls(float(data["base_ndcg10"]), {FieldKey(k): float(v) for k, v in data["ablated_ndcg10"].items()},
                   int(data["n_cases"]), low_high, int(data.get("n_bootstrap", BOOTSTRAP_SAMPLES)),
                   int(data.get("seed", 0)))


def validation_cases(recommender: Recommender, max_users: int = 500, seed: int = 0) -> list[EvalCase]:
    """Each user's second-last interaction given the earlier ones (the leave-last-out validation case).

    At most ``max_users`` users with 3 or more interactions (a seeded sample, sorted).  A case
    whose target is already in its history (a re-consumed item) cannot be found by a ranking that
    hides seen items, so it is left out.
    """
    rng = np.random.default_rng(seed)
    histories = recommender.catalog.histories
    users = [u for u, h in histories.items() if len(h) >= 3]
    if len(users) > max_users:
        users = sorted(rng.choice(users, size=max_users, replace=False).tolist())
    cases = [last_out_case(u, histories[u][:-1]) for u in users]
    return [c for c in cases if len(np.setdiff1d(c.targets, c.history))]


def per_case_ndcg10(model: HybridRecommender, catalog: Catalog, cases: Sequence[EvalCase]) -> np.ndarray:
    """(len(cases),) NDCG@10 of every case (full catalogue ranked, its history hidden): paired across ablations."""
    _, metrics = per_case_metrics(model_scorer(model, catalog), cases, catalog.n_items, ks=(10,))
    return metrics["NDCG@10"]


def bootstrap_interval(diffs: np.ndarray, resamples: np.ndarray) -> tuple[float, float]:
    """95% percentile interval of the mean of ``diffs`` over the given resampled index rows."""
    means = diffs[resamples].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def ablatable_fields(catalog: Catalog) -> list[FieldKey]:
    """Every item field, and every profile field when the catalogue has profiles."""
    items = [FieldKey.of("item", f) for f in catalog.item_fields]
    return items + [FieldKey.of("profile", f) for f in catalog.user_fields if catalog.profile_ids]


def without_field(recommender: Recommender, key: FieldKey) -> Catalog:
    """The catalogue with ``key``'s field removed from every text of its side and those texts re-encoded."""
    catalog = recommender.catalog
    if key.side == "item":
        texts = [t.without([key.name]) for t in catalog.item_texts]
        return replace(catalog, item_vectors=recommender.encoder.encode([t.text for t in texts]))
    texts = [t.without([key.name]) for t in catalog.profile_texts]
    vectors = recommender.encoder.encode([t.text for t in texts]) if texts else catalog.profile_vectors
    return replace(catalog, profile_vectors=vectors)


def field_ablation(
    recommender: Recommender,
    fields: list[str] | None = None,
    max_users: int = 500,
    progress: Progress | None = None,
    cancel: Checkpoint | None = None,
    n_bootstrap: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
) -> FieldAblation:
    """Re-encode texts without each field and re-score validation cases (same model weights).

    ``fields``: keys such as "item: genres" or "profile: age" (default ``ablatable_fields``).
    """
    say, checkpoint = progress or quiet, cancel or go_on
    catalog = recommender.catalog
    cases = validation_cases(recommender, max_users, seed)
    if not cases:
        raise RecsysError("Field ablation needs validation cases: no user has 3 or more interactions with a new item "
                          "second-to-last. Train on data where users have longer histories.")
    base = per_case_ndcg10(recommender.model, catalog, cases)
    resamples = np.random.default_rng(seed).integers(0, len(cases), size=(n_bootstrap, len(cases)))
    todo = [FieldKey(f) for f in fields] if fields else ablatable_fields(catalog)
    ablated, intervals = {}, {}
    for n, key in enumerate(todo):
        checkpoint()
        say(n / len(todo), f"Re-encoding without field {n + 1} of {len(todo)}")
        without = per_case_ndcg10(recommender.model, without_field(recommender, key), cases)
        ablated[key] = float(without.mean())
        intervals[key] = bootstrap_interval(base - without, resamples)
    say(1.0, f"{len(todo)} of {len(todo)} fields done")
    return FieldAblation(float(base.mean()), ablated, len(cases), intervals, n_bootstrap, seed)
