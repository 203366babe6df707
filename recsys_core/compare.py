"""Two trained models side by side on the same test cases: which is better, by how much, and how they differ.

``compare_models(a, b)`` rebuilds the split both models were trained and judged on (from the interactions
their catalogue keeps, with the split settings their training record keeps), ranks the same cases with both
(``evaluation.report_slices``, ``sample_cases``, ``per_case_metrics``: the Evaluation page's slices, sample
and metrics) and pairs them per user (``metrics.paired_difference``: the interval the Evaluation page's
"beyond noise" verdicts use).  It also measures how their lists differ: overlap@10, rank-biased overlap,
the items that enter and leave B's lists, catalogue coverage and popularity.  ``explain_both`` explains one
(user, item) pair under each model with the same settings, so the two explanations can be read side by side.

Nothing is retrained: both models score as saved.  A and B are the caller's names for the two models; every
difference is B minus A.
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from .catalog import Catalog
from .errors import RecsysError
from .evaluation import KS, MAX_RANKED_PAIRS, evaluable, model_scorer, per_case_metrics, report_slices, sample_cases
from .explain import ExplainConfig, Explanation, explain_pair
from .metrics import (
    METRIC_NAMES,
    PairedDifference,
    catalogue_coverage,
    list_overlap,
    paired_difference,
    rank_biased_overlap,
)
from .progress import Checkpoint, Progress, go_on, quiet, scaled
from .ratings import RatingScale
from .recommender import Recommender, UserContext
from .schema import ITEM, RATING, TIMESTAMP, USER
from .splits import Split, SplitConfig, make_split

VERDICT_METRIC = "NDCG@10"
LIST_K = 10  # overlap, rank-biased overlap, entering/leaving items, coverage and popularity read the top 10
RBO_P = 0.9
BLOCK = 256  # cases ranked between two progress reports and cancel checks
# One pair explained by each model: integrated gradients of the texts carrying the score, without deletion
# curves (the side-by-side view shows field shares and history items, not faithfulness), at the 16 steps
# global feature importance reads field shares with (32 took 101 s for both demo models on a loaded machine).
EXPLAIN_BOTH = ExplainConfig(method="ig", token_level="carrying", faithfulness=False, n_steps=16)


class NotComparable(RecsysError):
    """Two models that cannot be judged on the same test cases (other items, interactions or split)."""


# -- can they be compared? ---------------------------------------------------------------------------

def _split_config(rec: Recommender) -> SplitConfig:
    saved = rec.training.options.get("split") if isinstance(rec.training.options, dict) else None
    saved = saved if isinstance(saved, dict) else {}
    return SplitConfig(**{k: saved[k] for k in ("kind", "cold_items", "holdout_users", "seed") if k in saved})


def _describe_split(config: SplitConfig) -> str:
    return (f"{config.kind}, {config.cold_items:.0%} cold items, {config.holdout_users:.0%} held-out users, "
            f"seed {config.seed}")


def _some(ids: Sequence[str]) -> str:
    return ", ".join(repr(i)[:40] for i in sorted(ids)[:3])


def check_comparable(a: Recommender, b: Recommender, a_name: str = "A", b_name: str = "B") -> None:
    """Raise ``NotComparable`` saying what differs unless ``a`` and ``b`` can be judged on the same cases:
    the same items (in the same order), the same interactions, the same split settings and the same use of
    ratings (with ratings the held-out items are likes, without they are every interaction)."""
    ia, ib = a.catalog.item_ids, b.catalog.item_ids
    if ia != ib:
        only_a, only_b = set(ia) - set(ib), set(ib) - set(ia)
        detail = (f"{len(only_a):,} items only in {a_name}" + (f" (e.g. {_some(only_a)})" if only_a else "")
                  + f", {len(only_b):,} only in {b_name}" + (f" (e.g. {_some(only_b)})" if only_b else "")
                  if only_a or only_b else "the same items in another order")
        raise NotComparable(
            f"{a_name} and {b_name} were trained on different catalogues ({len(ia):,} and {len(ib):,} items; "
            f"{detail}): compare two models trained on the same dataset.")
    ha, hb = a.catalog.histories, b.catalog.histories
    differ = [u for u in set(ha) | set(hb) if u not in ha or u not in hb or not np.array_equal(ha[u], hb[u])]
    if differ:
        raise NotComparable(
            f"{a_name} and {b_name} were trained on different interactions ({len(differ):,} users' histories differ, "
            f"e.g. {_some(differ)}): compare two models trained on the same dataset.")
    sa, sb = _split_config(a), _split_config(b)
    if sa != sb:
        raise NotComparable(
            f"{a_name} and {b_name} were judged on different splits ({a_name}: {_describe_split(sa)}; {b_name}: "
            f"{_describe_split(sb)}): train one of them again with the other's split settings.")
    ra, rb = a.model.config.rating_scale, b.model.config.rating_scale
    if (ra is None) != (rb is None) or (ra is not None and tuple(ra) != tuple(rb)):
        reads = {True: "reads ratings (its test items are likes)", False: "ignores ratings (every interaction is a test item)"}
        raise NotComparable(
            f"{a_name} {reads[ra is not None]} and {b_name} {reads[rb is not None]}"
            + (f" on other scales ({tuple(ra)} and {tuple(rb)})" if ra is not None and rb is not None else "")
            + ": their test cases differ; train both with the same rating setting.")


def interactions_of(catalog: Catalog) -> pd.DataFrame:
    """The interactions a catalogue keeps (user, item, time, rating) as the canonical table ``make_split`` reads.

    Without timestamps the data's row order stood in for time; a user's history keeps that order, so the
    per-user splits come out the same with each user's positions as times (the temporal split cannot: see
    ``split_of``)."""
    users = sorted(catalog.histories)
    items = np.asarray(catalog.item_ids, dtype=object)
    frame = pd.DataFrame({
        USER: np.repeat(np.asarray(users, dtype=object), [len(catalog.histories[u]) for u in users]),
        ITEM: items[np.concatenate([catalog.histories[u] for u in users])] if users else np.zeros(0, object),
        TIMESTAMP: np.concatenate([catalog.times[u] if u in catalog.times else np.arange(len(catalog.histories[u]))
                                   for u in users]).astype(np.int64) if users else np.zeros(0, np.int64),
    })
    if catalog.ratings:
        frame[RATING] = np.concatenate([catalog.ratings[u] for u in users]).astype(np.float32)
    return frame


def split_of(rec: Recommender) -> Split:
    """The split ``rec`` was trained and evaluated on, rebuilt from its catalogue and training record."""
    config = _split_config(rec)
    if config.kind == "temporal" and not rec.catalog.times:
        raise NotComparable(
            "This model used the temporal split on data without timestamps (the file's row order stood in for "
            "time), which its saved files do not keep: compare models trained with a per-user split.")
    scale = RatingScale(*rec.model.config.rating_scale) if rec.model.config.rating_scale is not None else None
    return make_split(interactions_of(rec.catalog), rec.catalog, config, scale)


# -- results -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MetricDifference:
    """One metric of A and B on the same users; ``paired`` is B minus A (``paired.a`` is B's mean,
    ``paired.b`` A's), its interval the normal-approximation 95% interval of the mean per-user difference."""

    metric: str
    paired: PairedDifference

    @property
    def a(self) -> float:
        return self.paired.b

    @property
    def b(self) -> float:
        return self.paired.a

    @property
    def diff(self) -> float:
        return self.paired.diff

    @property
    def low(self) -> float:
        return self.paired.diff - self.paired.diff_ci95

    @property
    def high(self) -> float:
        return self.paired.diff + self.paired.diff_ci95

    @property
    def beyond_noise(self) -> bool:
        return self.paired.beyond_noise

    def interval(self) -> str:
        """"+0.0120 [+0.0040, +0.0200]": the difference and its 95% interval."""
        if not np.isfinite(self.paired.diff_ci95):
            return f"{self.diff:+.4f} [no interval: fewer than 2 users]"
        return f"{self.diff:+.4f} [{self.low:+.4f}, {self.high:+.4f}]"

    def verdict(self, a_name: str = "A", b_name: str = "B") -> str:
        """The plain sentence: "B is better on NDCG@10 by +0.0120 [+0.0040, +0.0200]" or "no difference
        beyond noise on NDCG@10: +0.0010 [-0.0030, +0.0050]"."""
        if not self.beyond_noise:
            return f"no difference beyond noise on {self.metric}: {self.interval()}"
        better = "better" if self.diff > 0 else "worse"
        return f"{b_name} is {better} than {a_name} on {self.metric} by {self.interval()}"

    def to_dict(self) -> dict:
        return {"metric": self.metric, "a": self.a, "b": self.b, "diff": self.diff, "low": self.low,
                "high": self.high, "beyond_noise": self.beyond_noise, "n_cases": self.paired.n_cases}


@dataclass
class SliceComparison:
    """Both models on one slice's cases (the same users, sampled and masked as the evaluation report does).

    user_ids, ndcg_a, ndcg_b: each evaluated user's NDCG@10 under A and B (their difference is what the
    histogram draws); top_a, top_b: their top-10 lists (item ids, best first; shorter when the slice ranks
    fewer items)."""

    name: str
    note: str
    n_cases: int
    n_total: int  # users in the slice (n_cases is a seeded sample when smaller)
    metrics: dict[str, MetricDifference]
    user_ids: list[str]
    ndcg_a: np.ndarray
    ndcg_b: np.ndarray
    top_a: list[list[str]] = field(default_factory=list)
    top_b: list[list[str]] = field(default_factory=list)

    @property
    def ndcg_diff(self) -> np.ndarray:
        """B minus A, NDCG@10 per user (aligned with ``user_ids``)."""
        return self.ndcg_b - self.ndcg_a

    def table(self, a_name: str = "A", b_name: str = "B") -> pd.DataFrame:
        """One row per metric: A, B, B − A, its 95% interval and the verdict."""
        rows = [{"metric": m.metric, a_name: m.a, b_name: m.b, f"{b_name} − {a_name}": m.diff, "low": m.low,
                 "high": m.high, "verdict": m.verdict(a_name, b_name)} for m in self.metrics.values()]
        return pd.DataFrame(rows)

    def users(self, n: int = 10, helped: bool = True) -> pd.DataFrame:
        """The ``n`` users B helps most (``helped``) or hurts most: user, NDCG@10 under A and B, B − A.
        Users B does not change are never listed."""
        diff = self.ndcg_diff
        order = np.argsort(-diff if helped else diff, kind="stable")[:n]
        order = [i for i in order if (diff[i] > 0 if helped else diff[i] < 0)]
        return pd.DataFrame({"user_id": [self.user_ids[i] for i in order], "A": self.ndcg_a[order],
                             "B": self.ndcg_b[order], "B − A": diff[order]})

    def to_dict(self) -> dict:
        return {"name": self.name, "note": self.note, "n_cases": self.n_cases, "n_total": self.n_total,
                "metrics": {k: m.to_dict() for k, m in self.metrics.items()}, "user_ids": list(self.user_ids),
                "ndcg_a": self.ndcg_a.tolist(), "ndcg_b": self.ndcg_b.tolist(),
                "top_a": self.top_a, "top_b": self.top_b}


@dataclass(frozen=True)
class ItemCount:
    item_id: str
    title: str
    users: int  # lists it enters (or leaves)


@dataclass
class ListDifferences:
    """How B's top-10 lists differ from A's on the test slice's users (lists as evaluated: history masked).

    overlap: mean share of the 10 items the two lists share; rbo: mean rank-biased overlap (p = 0.9, 1 for
    identical lists); entering / leaving: the items most often in B's list but not A's / in A's but not
    B's; coverage: share of the catalogue in some list; popularity: mean training interactions of a listed
    item (higher = more popular items recommended)."""

    k: int
    overlap: float
    rbo: float
    overlap_per_user: np.ndarray
    rbo_per_user: np.ndarray
    entering: list[ItemCount]
    leaving: list[ItemCount]
    coverage_a: float
    coverage_b: float
    popularity_a: float
    popularity_b: float

    def to_dict(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if k not in ("overlap_per_user", "rbo_per_user")}
        out["overlap_per_user"], out["rbo_per_user"] = self.overlap_per_user.tolist(), self.rbo_per_user.tolist()
        return out


@dataclass
class Comparison:
    """A and B on the same test cases: per-slice metrics with paired intervals, list differences."""

    a_name: str
    b_name: str
    protocol: str
    slices: list[SliceComparison]
    lists: ListDifferences | None
    seconds: float

    def slice(self, name: str) -> SliceComparison | None:
        return next((s for s in self.slices if s.name == name), None)

    @property
    def headline(self) -> str:
        """The verdict on NDCG@10 on the test slice (the first slice)."""
        return self.slices[0].metrics[VERDICT_METRIC].verdict(self.a_name, self.b_name)

    def to_dict(self) -> dict:
        return {"a": self.a_name, "b": self.b_name, "protocol": self.protocol, "seconds": self.seconds,
                "slices": [s.to_dict() for s in self.slices],
                "lists": self.lists.to_dict() if self.lists is not None else None}


# -- the comparison ----------------------------------------------------------------------------------

def _ranked(rec: Recommender, cases: list, candidates, say: Progress, stop: Checkpoint, done: list[int],
            total: int, who: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``per_case_metrics`` of ``rec`` in blocks of cases, reporting progress and checking ``stop`` between
    blocks (per-case values concatenate exactly: each case is ranked on its own)."""
    scorer = model_scorer(rec.model, rec.catalog)
    tops, metrics = [], []
    for start in range(0, len(cases), BLOCK):
        stop()
        top, values = per_case_metrics(scorer, cases[start:start + BLOCK], rec.catalog.n_items, KS, candidates)
        tops.append(top)
        metrics.append(values)
        done[0] += len(cases[start:start + BLOCK])
        say(done[0] / total, f"ranking user lists with {who}: {done[0]:,} / {total:,}")
    return np.concatenate(tops), {m: np.concatenate([v[m] for v in metrics]) for m in metrics[0]}


def _ids(top: np.ndarray, catalog: Catalog) -> list[list[str]]:
    return [[catalog.item_ids[i] for i in row[:LIST_K] if i < catalog.n_items] for row in top]


def _title(catalog: Catalog, index: int) -> str:
    """The item's first text field (the title in the demo), as the pages label items."""
    return next(iter(catalog.item_texts[index].values().values()), "")


def _list_differences(top_a: np.ndarray, top_b: np.ndarray, split: Split, catalog: Catalog) -> ListDifferences:
    # With k at most the catalogue's size, the first k ranks always hold items (padding starts past its end).
    k = min(LIST_K, catalog.n_items)
    a, b = top_a[:, :k], top_b[:, :k]
    overlap, rbo = list_overlap(a, b, k), rank_biased_overlap(a, b, k, RBO_P)
    entering, leaving = Counter(), Counter()
    for row_a, row_b in zip(a.tolist(), b.tolist()):
        entering.update(set(row_b) - set(row_a))
        leaving.update(set(row_a) - set(row_b))
    popularity = np.zeros(catalog.n_items)
    for items in split.train.values():
        np.add.at(popularity, items, 1)

    def counts(counter: Counter) -> list[ItemCount]:
        return [ItemCount(catalog.item_ids[i], _title(catalog, i), c) for i, c in counter.most_common(LIST_K)]

    return ListDifferences(
        k=k, overlap=float(overlap.mean()), rbo=float(rbo.mean()), overlap_per_user=overlap, rbo_per_user=rbo,
        entering=counts(entering), leaving=counts(leaving),
        coverage_a=catalogue_coverage(a, catalog.n_items, k), coverage_b=catalogue_coverage(b, catalog.n_items, k),
        popularity_a=float(popularity[a].mean()), popularity_b=float(popularity[b].mean()))


def compare_models(
    a: Recommender,
    b: Recommender,
    a_name: str = "A",
    b_name: str = "B",
    max_pairs: int = MAX_RANKED_PAIRS,
    seed: int = 0,
    progress: Progress | None = None,
    cancel: Checkpoint | None = None,
) -> Comparison:
    """A and B on the same test cases of the split they share, every metric at K = 5, 10, 20 paired per user.

    Slices: test (the warm users), cold items and new (held-out) users when the split has them; a slice too
    large to rank in full is evaluated on the same seeded user sample for both (as the evaluation report
    does, so with the same seed A's numbers are its report's).  Raises ``NotComparable`` first when the two
    cannot be judged on the same cases.  progress(fraction, message) after every block of ranked users;
    cancel() between blocks (its ``Cancelled`` propagates: nothing half-computed is returned).
    """
    say, stop = progress or quiet, cancel or go_on
    started = time.perf_counter()
    check_comparable(a, b, a_name, b_name)
    say(0.0, "rebuilding the split both models were judged on")
    split = split_of(a)
    catalog = a.catalog
    chosen = []
    for name, cases, candidates, note in report_slices(split, "test"):
        n_rankable = catalog.n_items if candidates is None else len(candidates)
        sampled = sample_cases(cases, n_rankable, max_pairs, seed)
        if len(sampled) < len(cases):
            sample_note = f"a seeded sample of {len(sampled):,} of {len(cases):,} users (seed {seed})"
            note = f"{note}; {sample_note}" if note else sample_note
        chosen.append((name, evaluable(sampled), candidates, note, len(cases)))
    total = 2 * sum(len(cases) for _, cases, *_ in chosen) or 1
    done = [0]
    slices, lists = [], None
    for name, cases, candidates, note, n_total in chosen:
        if not cases:
            continue
        top_a, va = _ranked(a, cases, candidates, say, stop, done, total, f"{a_name} and {b_name}")
        top_b, vb = _ranked(b, cases, candidates, say, stop, done, total, f"{a_name} and {b_name}")
        order = [f"{name}@{k}" for name in METRIC_NAMES for k in KS]  # HitRate@5, @10, @20, then NDCG…
        metrics = {m: MetricDifference(m, paired_difference(vb[m], va[m])) for m in order if m in va}
        slices.append(SliceComparison(name, note, len(cases), n_total, metrics, [c.user_id for c in cases],
                                      va[VERDICT_METRIC], vb[VERDICT_METRIC], _ids(top_a, catalog), _ids(top_b, catalog)))
        if lists is None and candidates is None:  # the lists of the test slice: whole-catalogue rankings
            lists = _list_differences(top_a, top_b, split, catalog)
    if not slices:
        raise NotComparable("The split these models share has no test user to compare them on.")
    protocol = (f"{_describe_split(split.config)}; both models rank the whole catalogue (the cold-item slice: the "
                f"cold items) for the same users, with each user's training and validation items masked; "
                f"differences are {b_name} minus {a_name} per user, with normal-approximation 95% intervals of "
                f"their mean.")
    return Comparison(a_name, b_name, protocol, slices, lists, time.perf_counter() - started)


# -- one pair explained by both ----------------------------------------------------------------------

@dataclass
class PairComparison:
    """One (user, item) pair explained by A and by B with the same settings (``EXPLAIN_BOTH``)."""

    user_id: str
    item_id: str
    a: Explanation
    b: Explanation

    def fields(self) -> pd.DataFrame:
        """Per field: each model's signed attribution and its share of the pair's total |attribution|
        (scores of two models are on their own scales; shares compare)."""
        names = list(dict.fromkeys([*self.a.fields, *self.b.fields]))

        def shares(exp: Explanation) -> dict[str, float]:
            total = sum(abs(v) for v in exp.fields.values()) or 1.0
            return {str(k): v / total for k, v in exp.fields.items()}

        sa, sb = shares(self.a), shares(self.b)
        return pd.DataFrame({"field": [str(n) for n in names],
                             "A share": [sa.get(str(n), 0.0) for n in names],
                             "B share": [sb.get(str(n), 0.0) for n in names]})

    def history(self) -> pd.DataFrame:
        """Per history item: its full-path contribution (score − score without it) under A and under B."""
        ca = {h.item_id: h for h in self.a.history_items}
        cb = {h.item_id: h for h in self.b.history_items}
        ids = list(dict.fromkeys([*ca, *cb]))
        return pd.DataFrame({
            "item_id": ids,
            "title": [(ca.get(i) or cb.get(i)).title for i in ids],
            "A": [ca[i].attribution if i in ca else np.nan for i in ids],
            "B": [cb[i].attribution if i in cb else np.nan for i in ids],
        })

    def to_dict(self) -> dict:
        def side(exp: Explanation) -> dict:
            return {"score": exp.score, "rank": exp.rank, "reason": exp.reason,
                    "fields": {str(k): v for k, v in exp.fields.items()},
                    "history_items": [asdict(h) for h in exp.history_items]}

        return {"user_id": self.user_id, "item_id": self.item_id, "a": side(self.a), "b": side(self.b)}


def evaluated_context(rec: Recommender, user_id: str, split: Split | None = None) -> UserContext:
    """The user as the comparison ranked them: the history of their test case (test, else new-user slice), so
    the held-out item is not part of it; a user without a test case as served (their whole history)."""
    split = split or split_of(rec)
    case = next((c for c in (*split.test, *split.inductive_test) if c.user_id == user_id), None)
    if case is None:
        return rec.context(user_id)
    return UserContext(user_id, case.history, rec.catalog.profile_vector(user_id), rec.catalog.profile_text(user_id),
                       case.ratings)


def explain_both(a: Recommender, b: Recommender, user_id: str, item_id: str, config: ExplainConfig = EXPLAIN_BOTH,
                 progress: Progress | None = None, cancel: Checkpoint | None = None) -> PairComparison:
    """``user_id`` and ``item_id`` explained by A, then by B, with the same ``config`` and the same history: the
    one the comparison ranked them with (``evaluated_context``; both models share the split)."""
    say = progress or quiet
    say(0.0, "rebuilding the user's test case")
    ctx = evaluated_context(a, user_id)
    ea = explain_pair(a, user_id, item_id, config, ctx=ctx, progress=scaled(say, 0.0, 0.5), cancel=cancel)
    eb = explain_pair(b, user_id, item_id, config, ctx=ctx, progress=scaled(say, 0.5, 1.0), cancel=cancel)
    return PairComparison(user_id, item_id, ea, eb)


__all__ = ["EXPLAIN_BOTH", "LIST_K", "VERDICT_METRIC", "Comparison", "ItemCount", "ListDifferences",
           "MetricDifference", "NotComparable", "PairComparison", "SliceComparison", "check_comparable",
           "compare_models", "evaluated_context", "explain_both", "interactions_of", "split_of"]
