"""Offline top-K evaluation metrics (numpy only).

Conventions, shared by every function here (see ``docs/metrics.md``):

* Relevance is binary: an item is relevant to a user iff it is in the user's
  held-out set.
* ``topk`` is the ranking over the full catalogue with the user's training
  items already masked out by the caller; column 0 is rank 1.
* Reported numbers are plain means over the evaluated users (each user counts
  once, whatever the size of their held-out set).

Everything is computed from one boolean hit matrix ``H`` of shape
``(n_users, K_max)`` with ``H[u, i] = topk[u, i] in relevant[u]``; the metric
for every K is a prefix of cumulative sums over ``H``, so asking for several
K costs no more than asking for the largest one.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

# Order of the metric families in tables and result dicts.
METRIC_NAMES: tuple[str, ...] = ("HitRate", "NDCG", "Recall", "Precision", "MRR", "MAP")

# Users per batch in intra_list_diversity; bounded further by _DIVERSITY_BUDGET.
_DIVERSITY_BUDGET = 2**24  # floats held at once in the (users, k, dim) gather


# --------------------------------------------------------------------------- #
# Hit matrix
# --------------------------------------------------------------------------- #
def _check_topk(topk: np.ndarray, k_max: int) -> np.ndarray:
    """Return ``topk`` as a 2-D int64 array with at least ``k_max`` columns."""
    topk = np.asarray(topk)
    if topk.ndim != 2:
        raise ValueError(f"topk must be 2-D (n_users, K); got shape {topk.shape}.")
    if not np.issubdtype(topk.dtype, np.integer):
        raise ValueError(f"topk must hold integer item indices; got dtype {topk.dtype}.")
    if topk.shape[1] < k_max:
        raise ValueError(
            f"topk has {topk.shape[1]} columns but K={k_max} was asked for; "
            "rank at least max(ks) items per user."
        )
    return topk.astype(np.int64, copy=False)


def _check_ks(ks: Sequence[int]) -> list[int]:
    ks = [int(k) for k in ks]
    if not ks or min(ks) < 1:
        raise ValueError(f"ks must be a non-empty list of positive integers; got {ks}.")
    return ks


def _hit_matrix(
    topk: np.ndarray, relevant: Sequence[np.ndarray], k_max: int
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean hits of the first ``k_max`` ranks and the size of each relevant set.

    topk: (n_users, >= k_max) int item indices.
    relevant: n_users arrays of relevant item indices (duplicates are ignored).
    Returns ``hits`` (n_users, k_max) bool and ``n_rel`` (n_users,) int64.

    Vectorised without a per-user isin: every (user, item) pair is encoded as
    the single integer ``user * n_codes + item``; the relevant codes are sorted
    once and the top-K codes are looked up with one ``searchsorted``.
    """
    topk = _check_topk(topk, k_max)[:, :k_max]
    n_users = topk.shape[0]
    if len(relevant) != n_users:
        raise ValueError(
            f"relevant has {len(relevant)} entries but topk has {n_users} rows; "
            "pass one held-out array per ranked user."
        )
    rel_items = [np.asarray(r, dtype=np.int64).ravel() for r in relevant]
    sizes = np.fromiter((r.size for r in rel_items), dtype=np.int64, count=n_users)
    if n_users and sizes.min() == 0:
        empty = int(np.argmin(sizes))
        raise ValueError(
            f"user row {empty} has no relevant items; drop users without held-out "
            "interactions before evaluating."
        )
    if n_users == 0:
        return np.zeros((0, k_max), dtype=bool), sizes

    flat_rel = np.concatenate(rel_items)
    if min(flat_rel.min(), topk.min()) < 0:
        raise ValueError("item indices must be non-negative.")
    n_codes = int(max(flat_rel.max(), topk.max())) + 1
    owners = np.repeat(np.arange(n_users, dtype=np.int64), sizes)
    rel_codes = np.unique(owners * n_codes + flat_rel)  # sorted, de-duplicated
    # De-duplicated set sizes: a held-out item listed twice is still one item.
    n_rel = np.bincount(rel_codes // n_codes, minlength=n_users).astype(np.int64)

    top_codes = np.arange(n_users, dtype=np.int64)[:, None] * n_codes + topk
    pos = np.searchsorted(rel_codes, top_codes)
    pos = np.minimum(pos, rel_codes.size - 1)  # codes past the end cannot match
    hits = rel_codes[pos] == top_codes
    return hits, n_rel


def _discounts(k: int) -> np.ndarray:
    """``1 / log2(rank + 1)`` for ranks 1..k, shape (k,)."""
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def _ndcg_from_hits(hits: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    """Per-user NDCG@k from a hit matrix with >= k columns; shape (n_users,)."""
    disc = _discounts(k)
    dcg = hits[:, :k] @ disc
    # Ideal DCG: min(|rel|, k) hits packed into the top ranks.
    ideal_cum = np.cumsum(disc)
    idcg = ideal_cum[np.minimum(n_rel, k) - 1]
    return dcg / idcg


# --------------------------------------------------------------------------- #
# Accuracy metrics
# --------------------------------------------------------------------------- #
def ranking_metrics(
    topk: np.ndarray,
    relevant: Sequence[np.ndarray],
    ks: Sequence[int] = (5, 10, 20),
) -> dict[str, float]:
    """Mean top-K accuracy metrics over users.

    topk: (n_users, >= max(ks)) int item indices in rank order (seen items
        already masked by the caller). Items should not repeat within a row.
    relevant: n_users non-empty arrays of held-out relevant item indices.
    ks: cut-offs.

    Returns ``{"HitRate@K", "NDCG@K", "Recall@K", "Precision@K", "MRR@K",
    "MAP@K"}`` for every K, each a float mean over users.  Raises ValueError
    if a user has no relevant items or ``topk`` is too short.
    """
    return {name: float(np.mean(values)) for name, values in per_user_metrics(topk, relevant, ks).items()}


def per_user_metrics(
    topk: np.ndarray,
    relevant: Sequence[np.ndarray],
    ks: Sequence[int] = (5, 10, 20),
) -> dict[str, np.ndarray]:
    """The metrics of :func:`ranking_metrics` for every user, each (n_users,) float64.

    Their means are the reported metrics; their spread gives the confidence
    interval of a metric measured on a sample of users.
    """
    ks = _check_ks(ks)
    k_max = max(ks)
    hits, n_rel = _hit_matrix(topk, relevant, k_max)
    if hits.shape[0] == 0:
        raise ValueError("no users to evaluate.")

    ranks = np.arange(1, k_max + 1, dtype=np.float64)
    hitsf = hits.astype(np.float64)
    cum_hits = np.cumsum(hitsf, axis=1)  # hits within the first i ranks
    # Sum over i of P@i * rel_i, as a running total, for MAP.
    cum_prec_at_hits = np.cumsum(hitsf * cum_hits / ranks, axis=1)
    any_hit = hits.any(axis=1)
    # Rank of the first hit (1-based); k_max + 1 marks "no hit within k_max".
    first_hit = np.where(any_hit, hits.argmax(axis=1) + 1, k_max + 1)

    out: dict[str, np.ndarray] = {}
    for k in ks:
        n_hits = cum_hits[:, k - 1]
        in_k = first_hit <= k
        denom = np.minimum(n_rel, k)
        out[f"HitRate@{k}"] = (n_hits > 0).astype(np.float64)
        out[f"NDCG@{k}"] = _ndcg_from_hits(hits, n_rel, k)
        out[f"Recall@{k}"] = n_hits / n_rel
        out[f"Precision@{k}"] = n_hits / k
        out[f"MRR@{k}"] = np.where(in_k, 1.0 / first_hit, 0.0)
        out[f"MAP@{k}"] = cum_prec_at_hits[:, k - 1] / denom
    return out


def ci95_half_width(values: np.ndarray) -> float:
    """Half-width of the normal-approximation 95% interval of the mean of per-user values.

    Users are the sampling unit; with fewer than two users there is no spread to measure (NaN).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return float("nan")
    return float(1.96 * values.std(ddof=1) / np.sqrt(values.size))


@dataclass(frozen=True)
class PairedDifference:
    """Two scorers' per-user values of one metric on the SAME users: their means and the mean difference a − b.

    a, b: means over the users; diff_ci95: half-width of the 95% interval of the mean per-user difference
    (normal approximation, users the sampling unit; NaN below two users).  Pairing removes the spread that
    both scorers share (easy users are easy for both), so this interval is usually much narrower than the
    two metrics' own intervals, and it is the one that says whether a − b is more than noise.
    """

    a: float
    b: float
    n_cases: int
    diff_ci95: float

    @property
    def diff(self) -> float:
        return self.a - self.b

    @property
    def ratio(self) -> float:
        return self.a / self.b if self.b > 0 else float("nan")

    @property
    def beyond_noise(self) -> bool:
        """True when the 95% interval of the difference excludes 0 (False when it is unknown)."""
        return bool(np.isfinite(self.diff_ci95) and abs(self.diff) > self.diff_ci95)

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "n_cases": self.n_cases, "diff_ci95": self.diff_ci95}

    @classmethod
    def from_dict(cls, data: dict) -> "PairedDifference":
        return cls(float(data["a"]), float(data["b"]), int(data["n_cases"]), float(data["diff_ci95"]))


def paired_difference(a: np.ndarray, b: np.ndarray) -> PairedDifference:
    """Means of ``a`` and ``b`` (one value per user, the same users in the same order) and the 95% interval
    of their mean difference.  The one home of paired comparisons: the evaluation report and the benchmarks
    both call it."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired values must be two 1-D arrays over the same users; got shapes {a.shape} and {b.shape}.")
    if a.size == 0:
        raise ValueError("no users to compare.")
    return PairedDifference(float(a.mean()), float(b.mean()), int(a.size), ci95_half_width(a - b))


def per_user_ndcg(topk: np.ndarray, relevant: Sequence[np.ndarray], k: int) -> np.ndarray:
    """NDCG@k of every user, shape (n_users,) float64, for slicing and bootstrap.

    Same inputs and conventions as :func:`ranking_metrics`; its mean equals
    ``ranking_metrics(topk, relevant, [k])[f"NDCG@{k}"]``.
    """
    (k,) = _check_ks([k])
    hits, n_rel = _hit_matrix(topk, relevant, k)
    return _ndcg_from_hits(hits, n_rel, k)


# --------------------------------------------------------------------------- #
# Beyond-accuracy metrics
# --------------------------------------------------------------------------- #
def catalogue_coverage(topk: np.ndarray, n_items: int, k: int) -> float:
    """Fraction of the ``n_items`` catalogue that appears in at least one top-k list.

    topk: (n_users, >= k) int item indices in ``[0, n_items)``.
    """
    (k,) = _check_ks([k])
    if n_items < 1:
        raise ValueError(f"n_items must be positive; got {n_items}.")
    shown = _check_topk(topk, k)[:, :k]
    if shown.size and (shown.min() < 0 or shown.max() >= n_items):
        raise ValueError(f"topk holds item indices outside [0, {n_items}).")
    return float(np.unique(shown).size / n_items)


def intra_list_diversity(topk: np.ndarray, item_vectors: np.ndarray, k: int) -> float:
    """Mean over users of the mean pairwise cosine distance within each top-k list.

    topk: (n_users, >= k) int item indices.
    item_vectors: (n_items, dim) float item embeddings (any scale; they are
        L2-normalised here).  An all-zero vector has similarity 0 to everything,
        i.e. distance 1.
    Returns ``mean_u  2/(k(k-1)) * sum_{i<j} (1 - cos(v_i, v_j))``.  Needs k >= 2.

    Users are processed in chunks so that the gathered (chunk, k, dim) block
    stays around ``_DIVERSITY_BUDGET`` floats (128 MiB of float64).
    """
    (k,) = _check_ks([k])
    if k < 2:
        raise ValueError("intra-list diversity needs k >= 2 (it averages over item pairs).")
    shown = _check_topk(topk, k)[:, :k]
    if shown.shape[0] == 0:
        raise ValueError("no users to evaluate.")
    vectors = _l2_normalise(np.asarray(item_vectors, dtype=np.float64))
    if shown.min() < 0 or shown.max() >= vectors.shape[0]:
        raise ValueError(f"topk holds item indices outside [0, {vectors.shape[0]}).")

    chunk = max(1, _DIVERSITY_BUDGET // (k * max(1, vectors.shape[1])))
    n_pairs = k * (k - 1)  # ordered pairs i != j
    total = 0.0
    for start in range(0, shown.shape[0], chunk):
        block = vectors[shown[start : start + chunk]]  # (c, k, dim)
        # Sum of all k×k cosines = |sum_i v_i|² for unit v_i: O(k·dim) per user
        # instead of the O(k²·dim) Gram matrix.  Removing the diagonal
        # (sum_i |v_i|², i.e. 1 per non-zero vector) leaves the i != j pairs.
        summed = block.sum(axis=1)  # (c, dim)
        all_pairs = np.einsum("cd,cd->c", summed, summed)
        diag = np.einsum("cid,cid->c", block, block)
        mean_sim = (all_pairs - diag) / n_pairs
        total += float(np.sum(1.0 - mean_sim))
    return total / shown.shape[0]


def _prefix_overlaps(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """X[u, d-1] = |a_u[:d] ∩ b_u[:d]| for d = 1..k, shape (n_users, k).

    a, b: (n_users, >= k) int item indices, no item twice in a row; a negative index is padding (a rank past
    the end of a small catalogue) and never matches.  O(k²) per user, fine for list lengths of a page (k ≤ 100).
    """
    a, b = _check_topk(a, k)[:, :k], _check_topk(b, k)[:, :k]
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"the two lists must cover the same users; got {a.shape[0]} and {b.shape[0]} rows.")
    same = (a[:, :, None] == b[:, None, :]) & (a[:, :, None] >= 0)  # same[u, i, j]: a_u[i] is b_u[j]
    # Both prefixes of depth d: rows i < d and columns j < d of ``same``, summed by a double running total.
    totals = same.cumsum(axis=1).cumsum(axis=2)
    depth = np.arange(k)
    return totals[:, depth, depth].astype(np.float64)


def list_overlap(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """Per user, the share of the top-k items two rankings have in common, |a[:k] ∩ b[:k]| / k, shape (n_users,)."""
    (k,) = _check_ks([k])
    return _prefix_overlaps(a, b, k)[:, k - 1] / k


def rank_biased_overlap(a: np.ndarray, b: np.ndarray, k: int, p: float = 0.9) -> np.ndarray:
    """Per user, the rank-biased overlap of two top-k rankings (Webber, Moffat & Zobel 2010), shape (n_users,).

    The extrapolated form RBO_ext for two lists of the same length k:
    ``(X_k / k) p^k + (1 - p) / p * sum_{d=1..k} (X_d / d) p^d`` with X_d the overlap of the depth-d prefixes.
    1 for identical lists, 0 for disjoint ones; agreement near the top weighs more (with p = 0.9 the first
    10 ranks carry about 86% of the weight).  Two lists with the same items in another order score below 1.
    """
    (k,) = _check_ks([k])
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1); got {p}.")
    depth = np.arange(1, k + 1, dtype=np.float64)
    agreement = _prefix_overlaps(a, b, k) / depth  # (n_users, k): X_d / d
    return agreement[:, -1] * p**k + (1 - p) / p * (agreement @ p**depth)


def _l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Row-normalise a 2-D array; zero rows stay zero instead of becoming NaN."""
    if vectors.ndim != 2:
        raise ValueError(f"item_vectors must be 2-D (n_items, dim); got shape {vectors.shape}.")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


# --------------------------------------------------------------------------- #
# Reporting
# --------------------------------------------------------------------------- #
def metric_table(results: dict[str, dict[str, float]], ks: Sequence[int]) -> pd.DataFrame:
    """Tidy comparison table: one row per model, one column per ``metric@K``.

    results: ``{model_name: ranking_metrics(...)}``.  Columns follow
    ``METRIC_NAMES`` then K; a metric a model did not report is NaN.
    """
    ks = _check_ks(ks)
    columns = [f"{name}@{k}" for name in METRIC_NAMES for k in ks]
    table = pd.DataFrame.from_dict(results, orient="index").reindex(columns=columns)
    table.index.name = "model"
    return table.astype(float)
