"""Full-catalogue ranking evaluation of the model and the baselines, on the same split.

For every held-out case the scorer ranks the *whole* catalogue (or, for the
cold-item slice, every cold item); the case's history — training and, at test
time, validation items — is masked first, so nothing seen can count as a hit.

Every scorer evaluated is a ``CaseScorer``: an object whose ``score(cases)``
gives (len(cases), n_items) scores.  ``CatalogScorer`` makes one of a
``scoring.Scorer`` (the model, a baseline) and the catalogue that supplies each
case's profile; ``model_scorer``, ``baseline_scorer`` and ``random_scorer``
build the ones the reports compare.  ``per_case_metrics`` is the one masking
+ top-k + per-case metric loop (reports average it; field ablation pairs it
across ablations).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import pandas as pd

from .baselines import Baseline, default_baselines
from .batching import history_matrix
from .catalog import Catalog
from .metrics import (
    PairedDifference,
    catalogue_coverage,
    ci95_half_width,
    intra_list_diversity,
    paired_difference,
    per_user_metrics,
)
from .model import HybridRecommender
from .ratings import RatingScale
from .scoring import DEFAULT_BUDGET, BaselineScorer, ModelScorer, Scorer, Users, top_k
from .splits import EvalCase, Split

KS = (5, 10, 20)
MODEL_NAME = "HybridBERT"
# The product model with item ids switched off, trained in the same fit on the same split: what text alone
# does on the cold-item and new-user slices (pipeline.fit trains it; the slices compare the model with it).
TEXT_ONLY_NAME = "Text-only reference"
# Users × rankable items one scorer ranks per slice before the slice is evaluated on a seeded user
# sample instead (e.g. 1,000 users of a 100k-item catalogue); below it, every user is evaluated.
MAX_RANKED_PAIRS = 100_000_000


class CaseScorer(Protocol):
    """What evaluation scores with: every catalogue item for each case."""

    def score(self, cases: Sequence[EvalCase]) -> np.ndarray:
        """Scores (len(cases), n_items), higher is better (seen items are masked by the caller)."""


def case_users(cases: Sequence[EvalCase], catalog: Catalog) -> Users:
    """The user side of evaluation cases: each case's history and its user's profile vector."""
    return Users([c.history for c in cases], [catalog.profile_vector(c.user_id) for c in cases],
                 [c.ratings for c in cases])


@dataclass(frozen=True)
class CatalogScorer:
    """A ``Scorer`` (model or baseline) as a ``CaseScorer``: cases' users taken from ``catalog``."""

    scorer: Scorer
    catalog: Catalog

    def score(self, cases: Sequence[EvalCase]) -> np.ndarray:
        return self.scorer.score(case_users(cases, self.catalog))


class RandomScorer:
    """Seeded uniform scores: the floor every real scorer should clear."""

    def __init__(self, n_items: int, seed: int = 0):
        self.n_items = n_items
        self.rng = np.random.default_rng(seed)

    def score(self, cases: Sequence[EvalCase]) -> np.ndarray:
        return self.rng.random((len(cases), self.n_items), dtype=np.float32)


def model_scorer(model: HybridRecommender, catalog: Catalog, budget: int = DEFAULT_BUDGET) -> CatalogScorer:
    """Scores of every catalogue item for each case's history and profile (through ``ModelScorer``)."""
    return CatalogScorer(ModelScorer(model, catalog.item_vectors, budget), catalog)


def baseline_scorer(baseline: Baseline, catalog: Catalog, budget: int = DEFAULT_BUDGET,
                    scale: RatingScale | None = None) -> CatalogScorer:
    """Scores of every catalogue item for each case's history (through ``BaselineScorer``; with a rating
    ``scale``, from the history's likes)."""
    return CatalogScorer(BaselineScorer(baseline, catalog.n_items, budget, scale), catalog)


def random_scorer(n_items: int, seed: int = 0) -> RandomScorer:
    return RandomScorer(n_items, seed)


@dataclass
class SliceResult:
    name: str
    n_cases: int  # users evaluated
    metrics: dict[str, dict[str, float]]  # model name → metric name → value
    note: str = ""
    # model name → metric name → half-width of the 95% interval over users (normal approximation)
    ci95: dict[str, dict[str, float]] = field(default_factory=dict)
    n_total: int | None = None  # users in the slice when n_cases is a seeded sample of them; None = all
    sample_seed: int | None = None
    # other model name → metric name → MODEL_NAME minus that model on the same users (paired difference)
    paired: dict[str, dict[str, PairedDifference]] = field(default_factory=dict)

    def best_baseline(self, metric: str = "NDCG@10") -> str | None:
        """The scorer with the highest ``metric`` here other than the model and its text-only reference
        (the reference is the model with a part switched off, not a baseline to beat); None if there is none."""
        scores = {name: m.get(metric, float("-inf")) for name, m in self.metrics.items()
                  if name not in (MODEL_NAME, TEXT_ONLY_NAME)}
        return max(scores, key=scores.get) if scores else None


# What became of a fit's text-only reference: "trained"; "turned off" (FitOptions.text_reference);
# "stopped" (the analyst stopped training before or while it trained: the model is kept, the reference
# skipped); "model is text-only" (the model uses no item ids: it is its own reference).
ReferenceState = Literal["trained", "turned off", "stopped", "model is text-only"]


@dataclass(frozen=True)
class TextReference:
    """The text-only reference of a fit with cold-item or held-out-user slices (``EvaluationReport.text_reference``).

    best_epoch, stopped (why its training ended: ``training.StopReason``) and seconds describe its
    training when ``state == "trained"``; a reference cut short by the time budget understates text.
    """

    state: ReferenceState
    best_epoch: int = 0
    stopped: str = ""
    seconds: float = 0.0

    def describe(self) -> str:
        """What became of the reference, as one or two plain sentences (for the CLI and the pages)."""
        if self.state == "trained":
            text = (f"The text-only reference (the same model with item ids switched off, trained on the same split "
                    f"and settings) kept its best epoch {self.best_epoch} ({self.stopped}, {self.seconds:.0f} s).")
            if self.stopped == "time budget":
                text += " The time budget cut its training short, so it may understate what text alone does."
            return text
        return {
            "turned off": "The text-only reference was turned off for this fit, so nothing here says whether text "
                          "alone would do as well.",
            "stopped": "The text-only reference was skipped because training was stopped (the model itself is kept).",
            "model is text-only": "The model itself uses no item ids: it is its own text-only reference.",
        }.get(self.state, f"The text-only reference is {self.state}.")

    def to_dict(self) -> dict:
        return {"state": self.state, "best_epoch": self.best_epoch, "stopped": self.stopped, "seconds": self.seconds}

    @classmethod
    def from_dict(cls, data: object) -> "TextReference | None":
        if not isinstance(data, dict):
            return None
        return cls(str(data["state"]), int(data.get("best_epoch", 0)), str(data.get("stopped", "")),
                   float(data.get("seconds", 0.0)))


@dataclass
class EvaluationReport:
    protocol: str
    ks: tuple[int, ...]
    slices: list[SliceResult] = field(default_factory=list)
    # None: the fit had no cold-item or held-out-user slice, or the report predates the reference
    text_reference: TextReference | None = None

    def slice(self, name: str = "test") -> SliceResult | None:
        """The slice of that name ("test", "cold items", "inductive users"), or None when the report has none."""
        return next((s for s in self.slices if s.name == name), None)

    def table(self, slice_name: str = "test") -> pd.DataFrame:
        found = self.slice(slice_name)
        if found is None:
            raise KeyError(slice_name)
        return pd.DataFrame(found.metrics).T

    def to_dict(self) -> dict:
        return {
            "protocol": self.protocol,
            "ks": list(self.ks),
            "slices": [
                {
                    "name": s.name,
                    "n_cases": s.n_cases,
                    "note": s.note,
                    "metrics": s.metrics,
                    "ci95": s.ci95,
                    "n_total": s.n_total,
                    "sample_seed": s.sample_seed,
                    "paired": {
                        other: {metric: p.to_dict() for metric, p in by_metric.items()}
                        for other, by_metric in s.paired.items()
                    },
                }
                for s in self.slices
            ],
            "text_reference": self.text_reference.to_dict() if self.text_reference else None,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "EvaluationReport":
        return cls(
            protocol=data["protocol"],
            ks=tuple(data["ks"]),
            slices=[
                SliceResult(
                    s["name"],
                    s["n_cases"],
                    s["metrics"],
                    s.get("note", ""),
                    s.get("ci95", {}),  # reports written before intervals existed have none
                    s.get("n_total"),
                    s.get("sample_seed"),
                    {  # reports written before paired differences were kept have none
                        other: {metric: PairedDifference.from_dict(p) for metric, p in by_metric.items()}
                        for other, by_metric in s.get("paired", {}).items()
                    },
                )
                for s in data["slices"]
            ],
            text_reference=TextReference.from_dict(data.get("text_reference")),
        )


def fit_baselines(split: Split, catalog: Catalog) -> list[Baseline]:
    """The classic baselines, fitted on exactly the model's training interactions (with ratings, the likes)."""
    liked_train = split.liked_train()
    users = sorted(liked_train)
    train = history_matrix([liked_train[u] for u in users], catalog.n_items)
    train.data[:] = 1.0  # co-occurrence baselines want plain binary interactions
    return [b.fit(train, catalog.item_vectors) for b in default_baselines(catalog.n_items)]


def evaluate_scorer(
    scorer: CaseScorer,
    cases: Sequence[EvalCase],
    n_items: int,
    ks: Sequence[int] = KS,
    candidates: np.ndarray | None = None,
    item_vectors: np.ndarray | None = None,
    chunk: int = 512,
) -> dict[str, float]:
    """Metrics of one scorer over ``cases``; ``candidates`` restricts ranking to those items."""
    return scorer_metrics(scorer, cases, n_items, ks, candidates, item_vectors, chunk)[0]


@dataclass(frozen=True)
class ValidationNdcg:
    """``validate`` of ``training.train_model``: NDCG@10 of a model over validation cases of ``catalog``.

    A class rather than a closure so that the data-parallel training can build it on its first worker
    from the catalogue that reached it (``ray_training``) as the local training does here."""

    catalog: Catalog
    cases: Sequence[EvalCase]

    def __call__(self, model: HybridRecommender) -> float:
        return evaluate_scorer(model_scorer(model, self.catalog), self.cases, self.catalog.n_items, ks=(10,)).get(
            "NDCG@10", 0.0)


def per_case_metrics(
    scorer: CaseScorer,
    cases: Sequence[EvalCase],
    n_items: int,
    ks: Sequence[int] = KS,
    candidates: np.ndarray | None = None,
    chunk: int = 512,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Each case's ranked list and ranking metrics, its history masked (a seen item is never a hit).

    Returns ``(top, metrics)``: ``top`` (len(cases), max(*ks, 10)) item indices best first, a rank
    past the end of a small catalogue holding ``n_items`` (no item); ``metrics`` name → (len(cases),)
    values ("NDCG@10", "HitRate@5"…), paired with ``cases``.  ``candidates`` restricts the ranking
    to those items.  Every case needs a target outside its history.
    """
    kmax = max(*ks, 10)  # coverage and diversity are always read at 10
    allowed = None
    if candidates is not None:
        allowed = np.zeros(n_items, dtype=bool)
        allowed[candidates] = True
    tops = []
    for start in range(0, len(cases), chunk):
        part = cases[start : start + chunk]
        scores = np.asarray(scorer.score(part), dtype=np.float32).copy()
        for row, case in enumerate(part):
            scores[row, case.history] = -np.inf
        if allowed is not None:
            scores[:, ~allowed] = -np.inf
        tops.append(top_k(scores, kmax))
    top = np.concatenate(tops)
    if top.shape[1] < kmax:
        # A catalogue smaller than the largest K: the ranks past its end hold no item. The index
        # n_items names no item, so it can never be a hit (HitRate@20 on 12 items = HitRate@12).
        top = np.hstack([top, np.full((len(top), kmax - top.shape[1]), n_items, dtype=top.dtype)])
    relevant = [np.setdiff1d(c.targets, c.history) for c in cases]
    return top, per_user_metrics(top, relevant, ks)


def scorer_metrics(
    scorer: CaseScorer,
    cases: Sequence[EvalCase],
    n_items: int,
    ks: Sequence[int] = KS,
    candidates: np.ndarray | None = None,
    item_vectors: np.ndarray | None = None,
    chunk: int = 512,
) -> tuple[dict[str, float], dict[str, float]]:
    """(metrics, 95% interval half-widths of the ranking metrics) of one scorer over ``cases``."""
    result, intervals, _ = _scored(scorer, evaluable(cases), n_items, ks, candidates, item_vectors, chunk)
    return result, intervals


def evaluable(cases: Sequence[EvalCase]) -> list[EvalCase]:
    """The cases that can be scored: a case whose every target is in its history (re-consumed) cannot be found."""
    return [c for c in cases if len(np.setdiff1d(c.targets, c.history))]


def _scored(
    scorer: CaseScorer,
    cases: list[EvalCase],
    n_items: int,
    ks: Sequence[int],
    candidates: np.ndarray | None,
    item_vectors: np.ndarray | None,
    chunk: int = 512,
) -> tuple[dict[str, float], dict[str, float], dict[str, np.ndarray]]:
    """``scorer_metrics`` of evaluable ``cases``, plus the per-case ranking metrics (for paired differences)."""
    if not cases:
        return {}, {}, {}
    topk, per_case = per_case_metrics(scorer, cases, n_items, ks, candidates, chunk)
    result = {name: float(np.mean(values)) for name, values in per_case.items()}
    intervals = {name: ci95_half_width(values) for name, values in per_case.items()}
    pool = n_items if candidates is None else len(candidates)
    k_list = min(10, topk.shape[1], pool)
    # Share of the rankable items (the catalogue, or the candidates) that appear in some list.
    result["Coverage@10"] = catalogue_coverage(topk, n_items, k_list) * n_items / pool
    if item_vectors is not None and k_list >= 2:
        result["Diversity@10"] = intra_list_diversity(topk, item_vectors, k_list)
    return result, intervals, per_case


def sample_cases(
    cases: Sequence[EvalCase], n_rankable: int, max_pairs: int = MAX_RANKED_PAIRS, seed: int = 0
) -> list[EvalCase]:
    """All cases when ranking them is affordable, else a seeded sample of ``max_pairs // n_rankable`` users.

    The sample keeps the cases' order; the same seed picks the same users for
    every scorer, so the model and the baselines are compared on one sample.
    """
    n = max(1, max_pairs // max(n_rankable, 1))
    if len(cases) <= n:
        return list(cases)
    chosen = np.sort(np.random.default_rng(seed).choice(len(cases), size=n, replace=False))
    return [cases[i] for i in chosen]


def report_slices(split: Split, which: str = "test") -> list[tuple[str, list[EvalCase], np.ndarray | None, str]]:
    """The slices a report evaluates, as (name, cases, candidates or None for the whole catalogue, note):
    ``which`` ("test" or "validation"), then, for "test", the cold-item slice (ranked among the cold items
    only) and the inductive-user slice when the split has them.  The evaluation report and the comparison
    of two models (``recsys_core.compare``) both read them here."""
    slices = [(which, getattr(split, which), None, "")]
    if which == "test" and split.cold_test:
        slices.append(
            ("cold items", split.cold_test, split.cold_items, f"ranked among the {len(split.cold_items)} cold items only")
        )
    if which == "test" and split.inductive_test:
        slices.append(("inductive users", split.inductive_test, None, "users never seen in training"))
    return slices


def evaluate_all(
    scorers: dict[str, CaseScorer],
    split: Split,
    catalog: Catalog,
    ks: Sequence[int] = KS,
    which: str = "test",
    max_pairs: int = MAX_RANKED_PAIRS,
    seed: int = 0,
    paired_with: Sequence[str] = (),
    pair_best: bool = False,
) -> EvaluationReport:
    """Every scorer on the test slice, the cold-item slice and the inductive-user slice.

    A slice whose users × rankable items exceed ``max_pairs`` is evaluated on a
    seeded user sample (stated in the slice and the protocol); every metric
    carries the 95% interval over the evaluated users either way.  For each
    scorer named in ``paired_with``, every slice also keeps ``MODEL_NAME`` minus
    it per ranking metric on the same users (``SliceResult.paired``); with
    ``pair_best``, so does each slice's best baseline by NDCG@10
    (``SliceResult.best_baseline``): whether the model's lead over it is more
    than noise is a paired question, which the two rows' own intervals cannot answer.
    """
    paired_with = [name for name in paired_with if name in scorers and name != MODEL_NAME]
    report = EvaluationReport(protocol=describe_protocol(split), ks=tuple(ks))
    sampled = []
    for name, cases, candidates, note in report_slices(split, which):
        n_rankable = catalog.n_items if candidates is None else len(candidates)
        evaluated = sample_cases(cases, n_rankable, max_pairs, seed)
        scored = evaluable(evaluated)
        metrics, intervals, per_case = {}, {}, {}
        for model, scorer in scorers.items():
            metrics[model], intervals[model], per_case[model] = _scored(
                scorer, scored, catalog.n_items, ks, candidates, catalog.item_vectors
            )
        result = SliceResult(name, len(evaluated), metrics, note, intervals)
        if scored and MODEL_NAME in per_case:
            best = result.best_baseline() if pair_best else None
            result.paired = {
                other: {m: paired_difference(per_case[MODEL_NAME][m], values) for m, values in per_case[other].items()}
                for other in dict.fromkeys([*paired_with, *([best] if best else [])])
            }
        if len(evaluated) < len(cases):
            result.n_total, result.sample_seed = len(cases), seed
            sample_note = f"a seeded sample of {len(evaluated):,} of {len(cases):,} users (seed {seed})"
            result.note = f"{note}; {sample_note}" if note else sample_note
            sampled.append(f"{name}: {sample_note}")
        report.slices.append(result)
    if sampled:
        report.protocol = report.protocol.rstrip(".") + (
            f"; users × items above {max_pairs:,} ranked pairs are evaluated on a sample ("
            + "; ".join(sampled)
            + "), with 95% intervals."
        )
    return report


def paired_comparison(
    a: CaseScorer,
    b: CaseScorer,
    cases: Sequence[EvalCase],
    n_items: int,
    metric: str = "NDCG@10",
    candidates: np.ndarray | None = None,
    max_pairs: int = MAX_RANKED_PAIRS,
    seed: int = 0,
) -> PairedDifference:
    """``metric`` of ``a`` minus ``b`` on the same cases, picked (sampled, re-consumed targets left out) and
    ranked exactly as ``evaluate_all`` does, so its means are the report's numbers for the same scorers."""
    n_rankable = n_items if candidates is None else len(candidates)
    cases = evaluable(sample_cases(cases, n_rankable, max_pairs, seed))
    if not cases:
        raise ValueError("no evaluable cases to compare.")
    k = int(metric.rpartition("@")[2])
    va = per_case_metrics(a, cases, n_items, (k,), candidates)[1][metric]
    vb = per_case_metrics(b, cases, n_items, (k,), candidates)[1][metric]
    return paired_difference(va, vb)


def describe_protocol(split: Split) -> str:
    kind = {
        "leave-last-out": "per-user temporal leave-last-out (test = last interaction, validation = second last)",
        "temporal": "global temporal split (train before the 80% time quantile, validation to 90%, test after)",
        "random": "random per-user 80/10/10 split",
    }[split.config.kind]
    text = (
        f"{kind}; full ranking over the whole catalogue with each user's training and validation items masked; "
        f"{len(split.test)} test users"
    )
    if len(split.cold_items):
        text += f"; {len(split.cold_items)} cold items ({split.config.cold_items:.0%}) held out of training entirely"
    if split.inductive_test:
        text += f"; {len(split.inductive_test)} users held out of training (inductive)"
    if split.train_targets:
        text += ("; with ratings, held-out items are likes only (rated at least the lower of the user's mean and "
                 "the middle of the scale: for leave-last-out the last like is the test item and the like before it "
                 "the validation item), while disliked items stay in the histories as inputs")
    return text + "."
