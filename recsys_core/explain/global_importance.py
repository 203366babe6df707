"""Global feature importance: integrated gradients over a sample of pairs, rolled up.

``global_importance`` explains a sample of (user, top-K item) pairs and rolls
them up to each field's share of |attribution|, the words of field values that
raised scores most, and the same shares split by user activity and item
popularity buckets; plus the attention–IG agreement across the sample.  The
pairs are explained in this process (with a measured time per pair and the
time left as progress text) or, with ``engine=Engine("ray")``, on Ray workers
(``explain.batch.explain_pairs``); both give the same numbers.

The other global view, what removing a field from every text does to the
ranking, is ``field_ablation``.

Long runs report through the package's one protocol (``recsys_core.progress``:
``progress(fraction, message)`` and a ``cancel`` checkpoint that raises
``Cancelled``); a cancelled run returns nothing, so a partial sample is never
mistaken for the requested one.
"""
from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import RecsysError
from ..parallel import Engine
from ..progress import Checkpoint, Progress, duration, go_on, quiet
from ..recommender import Recommender
from ..recommender import UserContext
from .batch import explain_recommender_pairs
from .core import explain_pair
from .rollup import merge_words
from .shares import PairShares, pair_shares, shares_only
from .types import SEPARATORS, ExplainConfig, Explanation, FieldKey, TokenAttribution, jsonable

BUCKET_NAMES = ("low", "mid", "high")
MIN_BUCKET_PAIRS = 5  # below this many sampled pairs a bucket's shares are shown as "n too small"
TOP_WORDS = 25
# Token-level IG of the texts that carry the score only (see ``global_importance``): a quarter to half
# the time of splitting every text, field shares within 0.012 on the demo model.
IMPORTANCE_CONFIG = ExplainConfig(n_steps=16, faithfulness=False, token_level="carrying")
DEFAULT_USERS, DEFAULT_K = 12, 3  # the Feature importance page's sample: users × top-K items each

# Words that carry grammar, not content: ranking them says nothing about what the model reads.
# A small fixed list on purpose (no downloads, same result on every machine).
STOP_WORDS = frozenset((
    "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are", "as",
    "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could",
    "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have",
    "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into",
    "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of",
    "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she",
    "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then",
    "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was",
    "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you",
    "your", "yours", "yourself", "yourselves",
))


# -- buckets ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class BucketRange:
    """A range of a count (history length, interactions per item) defined from the whole dataset."""

    name: str  # "low" | "mid" | "high"
    low: int  # smallest count in the bucket (inclusive)
    high: int  # largest count in the bucket (inclusive)
    population: int  # users (or items) of the dataset in the bucket


def quantile_buckets(values: np.ndarray) -> list[BucketRange]:
    """Tercile buckets of ``values`` over the whole dataset, defined before any sampling.

    Cut points are actual values (``low``: v ≤ first tercile, ``mid``: up to the second,
    ``high``: above); a bucket no value falls in (ties at the cut points) does not exist.
    """
    values = np.asarray(values, dtype=np.int64)
    if values.size == 0:
        return []
    cuts = np.quantile(values, [1 / 3, 2 / 3], method="lower")
    masks = [values <= cuts[0], (values > cuts[0]) & (values <= cuts[1]), values > cuts[1]]
    return [
        BucketRange(name, int(values[m].min()), int(values[m].max()), int(m.sum()))
        for name, m in zip(BUCKET_NAMES, masks)
        if m.any()
    ]


def bucket_of(value: int, buckets: Sequence[BucketRange]) -> str:
    for b in buckets:
        if value <= b.high:
            return b.name
    return buckets[-1].name


@dataclass(frozen=True)
class Bucket:
    """One activity or popularity bucket with what the sample says about it."""

    name: str
    low: int
    high: int
    population: int  # users / items of the dataset in this bucket
    n_pairs: int  # sampled pairs that fell in it
    field_share: dict[FieldKey, float]  # mean share of |attribution| per field over its pairs ({} without pairs)

    @property
    def enough(self) -> bool:
        return self.n_pairs >= MIN_BUCKET_PAIRS

    @property
    def status(self) -> str:
        if self.n_pairs == 0:
            return "no sampled pairs"
        return "ok" if self.enough else f"n too small (< {MIN_BUCKET_PAIRS} pairs)"

    def label(self, unit: str) -> str:
        span = f"{self.low}" if self.low == self.high else f"{self.low}–{self.high}"
        return f"{self.name} ({span} {unit})"


@dataclass(frozen=True)
class WordWeight:
    word: str
    attribution: float  # summed positive attribution over the sample (score units)
    pairs: int  # sampled pairs whose recommended item's text has the word in a field value


@dataclass
class GlobalImportance:
    n_pairs: int
    field_share: dict[FieldKey, float]  # field → mean share of |attribution| (sums to 1)
    field_signed: dict[FieldKey, float]  # field → mean signed attribution (score units)
    top_words: list[WordWeight]  # words of field values (labels, punctuation, stop-words excluded)
    by_user_activity: list[Bucket]  # every bucket of the dataset, in order low → high
    by_item_popularity: list[Bucket]
    agreement: dict[str, float]  # mean Spearman IG vs attention / rollout across pairs
    mean_delta_share: float  # mean |convergence delta| / |score − baseline score|
    delta_tolerance: float  # the flag (ExplainConfig.delta_tolerance)
    seconds_per_pair: float  # measured wall time per explained pair in this run
    engine: str = "local"
    pairs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def delta_flagged(self) -> bool:
        return not np.isfinite(self.mean_delta_share) or self.mean_delta_share > self.delta_tolerance

    @property
    def warnings(self) -> list[str]:
        out = []
        if self.delta_flagged:
            out.append(
                f"Mean convergence delta {self.mean_delta_share:.1%} of the score change is above the "
                f"{self.delta_tolerance:.0%} flag: the attributions do not add up to the score well enough to "
                "trust small differences between fields (use more integration steps)."
            )
        return out

    def to_dict(self) -> dict:
        return jsonable({**asdict(self), "delta_flagged": self.delta_flagged, "warnings": self.warnings})

    @classmethod
    def from_dict(cls, data: dict) -> GlobalImportance:
        """The result ``to_dict`` wrote (its derived keys are recomputed); KeyError/TypeError/ValueError when
        ``data`` is not one."""
        def shares(values: dict) -> dict[FieldKey, float]:
            return {FieldKey(k): float(v) for k, v in values.items()}

        def buckets(rows: list) -> list[Bucket]:
            return [Bucket(str(b["name"]), int(b["low"]), int(b["high"]), int(b["population"]), int(b["n_pairs"]),
                           shares(b["field_share"])) for b in rows]

        return cls(
            n_pairs=int(data["n_pairs"]), field_share=shares(data["field_share"]),
            field_signed=shares(data["field_signed"]),
            top_words=[WordWeight(str(w["word"]), float(w["attribution"]), int(w["pairs"])) for w in data["top_words"]],
            by_user_activity=buckets(data["by_user_activity"]), by_item_popularity=buckets(data["by_item_popularity"]),
            agreement={str(k): float(v) for k, v in data["agreement"].items()},
            mean_delta_share=float(data["mean_delta_share"]), delta_tolerance=float(data["delta_tolerance"]),
            seconds_per_pair=float(data["seconds_per_pair"]), engine=str(data.get("engine", "local")),
            pairs=[(str(u), str(i)) for u, i in data.get("pairs", [])],
        )


# -- words -----------------------------------------------------------------------------------
def value_words(tokens: Sequence[TokenAttribution], text_index: int = 0) -> list[tuple[str, float]]:
    """Words of the field *values* of one text with their summed attribution.

    A field's tokens spell ``name: value``; everything up to and including the
    first ":" of the field is its label (field names cannot contain ":"), so it
    is dropped — as are punctuation and English stop-words.  A word of a value
    that happens to equal a field name ("Title Fight") is kept: it is data.
    """
    runs: list[list[TokenAttribution]] = []
    last: TokenAttribution | None = None
    for t in tokens:
        if t.text_index != text_index or t.special or t.field is None:
            last = None
            continue
        if last is None or t.field != last.field or t.position != last.position + 1:
            runs.append([])
        runs[-1].append(t)
        last = t
    out: list[tuple[str, float]] = []
    for run in runs:
        colon = next((i for i, t in enumerate(run) if t.text == ":"), None)
        if colon is None:
            continue  # the text was cut inside the label: no value tokens
        value = run[colon + 1 :]
        words, sums = merge_words([t.text for t in value], [t.attribution for t in value])
        out.extend(
            (w, s) for w, s in zip(words, sums)
            if any(c.isalnum() for c in w) and w.lower() not in STOP_WORDS
        )
    return out


# -- the sample ------------------------------------------------------------------------------
def _allocate(n: int, populations: list[int]) -> list[int]:
    """``n`` draws split over strata in proportion to their size (largest remainder), each stratum
    getting at least one when ``n`` allows, none more than it holds."""
    total = sum(populations)
    n = min(n, total)
    exact = [n * p / total for p in populations]
    counts = [int(e) for e in exact]
    for i in sorted(range(len(exact)), key=lambda i: -(exact[i] - counts[i]))[: n - sum(counts)]:
        counts[i] += 1
    if n >= len(populations):
        for i, c in enumerate(counts):
            if c == 0:
                donor = max(range(len(counts)), key=lambda j: counts[j])
                counts[donor] -= 1
                counts[i] = 1
    return [min(c, p) for c, p in zip(counts, populations)]


def sample_users(recommender: Recommender, n_users: int, seed: int = 0) -> list[str]:
    """``n_users`` known users, stratified by activity bucket (proportional), seeded, sorted."""
    known = recommender.known_users()
    activity = np.array([len(recommender.catalog.histories[u]) for u in known])
    buckets = quantile_buckets(activity)
    rng = np.random.default_rng(seed)
    names = np.array([bucket_of(a, buckets) for a in activity])
    chosen: list[str] = []
    for b, count in zip(buckets, _allocate(n_users, [b.population for b in buckets])):
        members = [u for u, name in zip(known, names) if name == b.name]
        chosen.extend(rng.choice(members, size=count, replace=False).tolist())
    return sorted(chosen)


def pace(durations: Sequence[float]) -> float:
    """Seconds per pair from the pairs done so far; the first pair is left out once there are others,
    since it also pays one-off costs (loading the encoder, first-call set-up) the rest do not."""
    steady = durations[1:] if len(durations) > 1 else durations
    return float(np.mean(steady))


def eta_message(done: int, total: int, per_pair: float) -> str:
    """"Explained 3 of 36 pairs · 14.2 s per pair · about 7 min 48 s left"."""
    if done == 0:
        return f"Explaining pair 1 of {total} (timing the first pair…)"
    left = "" if done >= total else f" · about {duration(per_pair * (total - done))} left"
    return f"Explained {done} of {total} pairs · {per_pair:.1f} s per pair{left}"


def _explain_here(recommender, pairs, config, say: Progress, cancel: Checkpoint) -> list[Explanation | PairShares]:
    out: list[Explanation | PairShares] = []
    fast = shares_only(config)
    memo: dict = {}  # baseline vectors by token row, for this run only
    contexts: dict[str, UserContext] = {}
    durations: list[float] = []
    total = len(pairs)
    for n, (user, item) in enumerate(pairs):
        cancel()
        message = eta_message(n, total, pace(durations) if durations else 0.0)
        say(n / total, message)
        started = time.perf_counter()
        # Inner progress moves the bar within the pair; its messages name history items (user data) so
        # only the fraction is passed on.
        inner = lambda f, _m, n=n, message=message: say((n + f) / total, message)  # noqa: E731
        if fast:
            if user not in contexts:
                contexts[user] = recommender.context(user)
            ctx = contexts[user]
            out.append(pair_shares(recommender, ctx, item, config, memo, inner, cancel))
        else:
            out.append(explain_pair(recommender, user, item, config, progress=inner, cancel=cancel))
        durations.append(time.perf_counter() - started)
    say(1.0, eta_message(total, total, pace(durations)))
    return out


def _explain_on_ray(recommender, pairs, config, engine, model_dir, say: Progress, cancel: Checkpoint) -> list[Explanation]:
    cancel()
    say(0.0, f"Explaining {len(pairs)} pairs on Ray (no progress until the workers finish)…")
    result = explain_recommender_pairs(recommender, pairs, config, engine=engine, model_dir=model_dir)
    cancel()
    return result


def global_importance(
    recommender: Recommender,
    n_users: int = DEFAULT_USERS,
    k: int = DEFAULT_K,
    config: ExplainConfig = IMPORTANCE_CONFIG,
    seed: int = 0,
    users: list[str] | None = None,
    progress: Progress | None = None,
    cancel: Checkpoint | None = None,
    engine: Engine | None = None,
    model_dir: str | Path | None = None,
) -> GlobalImportance:
    """Aggregate IG over ``n_users`` sampled users × their top-``k`` recommendations.

    Users are sampled (seeded) across the activity buckets in proportion to
    their size.  By default only the texts that carry the score are split into
    tokens (the item, the profile, the main history items); the other history
    texts count with their exact text-level share as "history: (whole text)".
    On the demo model that took 0.26–0.62× the time of splitting every text
    (1.6–2.4 s against 6.0–6.1 s per pair with the machine nearly idle; 107–147 s
    against 237 s under a load of ~13 on 2 cores), with field shares within 0.012.  With such a
    config (no deletion curves, not every text split) each pair computes only what the roll-ups read
    (``shares.pair_shares``): 0.74× the forwards of the full ``explain_pair`` per pair on the demo
    (``bench/speed_importance.py``).  ``progress(fraction, message)`` reports pairs done with the
    time per pair measured so far and the time left; ``cancel()`` is called
    between (and inside) pairs and stops the run by raising.
    ``engine=Engine("ray")`` explains the pairs on Ray workers, which load
    ``model_dir`` (default: the recommender saved to a temporary directory,
    fine for a local Ray runtime only).
    """
    say, checkpoint = progress or quiet, cancel or go_on
    if users is None:
        users = sample_users(recommender, n_users, seed)
    lists = recommender.recommend_many(users, k)
    pairs = [(u, r.item_id) for u in users for r in lists[u]]
    if not pairs:
        raise RecsysError("No (user, item) pairs to explain: the model has no known users with recommendations.")
    started = time.perf_counter()
    kind = engine.kind if engine is not None else "local"
    if kind == "ray":
        explanations = _explain_on_ray(recommender, pairs, config, engine, model_dir, say, checkpoint)
    else:
        explanations = _explain_here(recommender, pairs, config, say, checkpoint)
    seconds = (time.perf_counter() - started) / max(len(pairs), 1)
    return summarise(recommender, explanations, config, seconds, kind)


def summarise(
    recommender: Recommender,
    explanations: Sequence[Explanation | PairShares],
    config: ExplainConfig,
    seconds_per_pair: float = float("nan"),
    engine: str = "local",
) -> GlobalImportance:
    """The sample's roll-ups from its explanations (the same code for both engines)."""
    catalog = recommender.catalog
    activity_buckets = quantile_buckets([len(h) for h in catalog.histories.values()])
    popularity = np.bincount(np.concatenate(list(catalog.histories.values())), minlength=catalog.n_items)
    popularity_buckets = quantile_buckets(popularity)
    shares, signed, deltas = [], [], []
    by_act: dict[str, list] = defaultdict(list)
    by_pop: dict[str, list] = defaultdict(list)
    agreements: dict[str, list] = defaultdict(list)
    words: dict[str, float] = defaultdict(float)
    word_pairs: dict[str, int] = defaultdict(int)
    for exp in explanations:
        totals = {k_: v for k_, v in exp.fields.items() if k_ != SEPARATORS}
        share = _shares(totals)
        shares.append(share)
        signed.append(totals)
        deltas.append(abs(exp.convergence_delta) / max(abs(exp.score - exp.baseline_score), 1e-9))
        by_act[bucket_of(len(catalog.histories[exp.user_id]), activity_buckets)].append(share)
        by_pop[bucket_of(int(popularity[recommender.item_position(exp.item_id)]), popularity_buckets)].append(share)
        for key, value in exp.agreement.items():
            if np.isfinite(value):
                agreements[key].append(value)
        seen: set[str] = set()
        for word, value in value_words(exp.tokens):
            if value > 0:
                words[word] += value
            seen.add(word)
        for word in seen:
            word_pairs[word] += 1
    ranked = sorted(words.items(), key=lambda kv: -kv[1])[:TOP_WORDS]
    return GlobalImportance(
        n_pairs=len(explanations),
        field_share=_mean_dicts(shares),
        field_signed=_mean_dicts(signed),
        top_words=[WordWeight(w, v, word_pairs[w]) for w, v in ranked],
        by_user_activity=_buckets(activity_buckets, by_act),
        by_item_popularity=_buckets(popularity_buckets, by_pop),
        agreement={k_: float(np.mean(v)) for k_, v in agreements.items()},
        mean_delta_share=float(np.mean(deltas)) if deltas else float("nan"),
        delta_tolerance=config.delta_tolerance,
        seconds_per_pair=seconds_per_pair,
        engine=engine,
        pairs=[(e.user_id, e.item_id) for e in explanations],
    )


def _buckets(ranges: list[BucketRange], members: dict[str, list]) -> list[Bucket]:
    return [
        Bucket(r.name, r.low, r.high, r.population, len(members[r.name]), _mean_dicts(members[r.name]))
        for r in ranges
    ]


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
