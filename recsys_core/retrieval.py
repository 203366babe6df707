"""First-stage candidate retrieval for large catalogues, behind one small ``Retriever`` seam.

Above ``recommender.RERANK_ABOVE`` items a user's list is served in two
stages: a cheap rule picks a few thousand candidates, and the full model
ranks only those.  The candidates come from two sources, because the model's
top items come from two places:

- **personal**: the items nearest the user by ``cos(item text, query) + item
  bias``, the query being the mean of the user's recent history vectors plus
  the profile vector.  Written as one inner product over augmented vectors,
  ``[v̂ᵢ, bᵢ] · [q, 1]``, it is answered exactly (``ExactRetriever``: one
  matrix–vector product over vectors normalised once) or approximately by an
  HNSW graph (``FaissRetriever``, the optional ``faiss-cpu`` of the scale extra);
- **popular**: the items with the largest learned item bias, the same list
  for every user (sorted once), minus the user's own exclusions.

Why both: a cosine lies in [-1, 1] while a trained bias spreads far less, so
the personal rule barely sees the bias.  On a synthetic 1M-item catalogue
trained one epoch the model's top-10 were all high-bias items outside the
user's taste cluster; the personal rule alone recalled 0.3% of them, the
popular list alone 100% (on a 100k-item one: 99.7% and 47.5%).
``POPULAR_SHARE`` of the candidates (a quarter) recalled 100% at both sizes.
``bench/retrieval.py`` reports the recall of the final top-10 against full
scoring and the latency of each backend.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from .errors import RecsysError

RETRIEVERS = ("exact", "faiss")
POPULAR_SHARE = 0.25  # of the candidates, taken by item bias alone (see the module docstring)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """L2-normalised rows (zero rows stay zero), float32."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-9)).astype(np.float32)


def retrieval_query(item_units: np.ndarray, recent: np.ndarray, profile: np.ndarray | None) -> np.ndarray:
    """The query of one user: mean unit vector of the recent history items, plus the unit profile vector."""
    query = item_units[recent].mean(0) if len(recent) else np.zeros(item_units.shape[1], np.float32)
    if profile is not None:
        query = query + profile / max(float(np.linalg.norm(profile)), 1e-9)
    return query.astype(np.float32)


class Retriever(ABC):
    """Candidates: the personal nearest items plus the items of largest bias (see the module docstring).

    Built once per catalogue (vectors normalised, indexed and the bias order
    sorted once, never per call).
    """

    name: str

    def __init__(self, item_vectors: np.ndarray, item_bias: np.ndarray):
        if len(item_vectors) != len(item_bias):
            raise ValueError(f"{len(item_vectors)} item vectors but {len(item_bias)} biases.")
        self.units = unit_rows(item_vectors)
        self.bias = np.asarray(item_bias, dtype=np.float32)
        self.by_bias = np.argsort(-self.bias, kind="stable")

    def query(self, recent: np.ndarray, profile: np.ndarray | None) -> np.ndarray:
        return retrieval_query(self.units, recent, profile)

    def candidates(self, query: np.ndarray, n: int, exclude: np.ndarray | None = None) -> np.ndarray:
        """Up to ``n`` item indices, none in ``exclude``: the personal ones by cheap score, then the popular ones."""
        excluded = np.zeros(0, np.int64) if exclude is None else np.asarray(exclude, dtype=np.int64)
        personal = self.nearest(query, _n_personal(n), excluded)
        taken = np.concatenate([personal, excluded])
        # The first n + |taken| of the bias order always hold n items that are not taken.
        head = self.by_bias[: n + len(taken)]
        popular = head[~np.isin(head, taken)][: n - len(personal)]
        return np.concatenate([personal, popular]).astype(np.int64)

    def candidates_within(self, query: np.ndarray, pool: np.ndarray, n: int) -> np.ndarray:
        """``candidates`` restricted to an explicit ``pool`` of item indices (exact: pools are small)."""
        n = min(n, len(pool))
        cheap = self.cheap(query, pool)
        n_personal = _n_personal(n)
        personal = np.argpartition(-cheap, n_personal - 1)[:n_personal] if n_personal else np.zeros(0, np.int64)
        rest = np.setdiff1d(np.arange(len(pool)), personal)
        popular = rest[np.argsort(-self.bias[pool[rest]], kind="stable")[: n - n_personal]]
        return pool[np.concatenate([personal, popular])].astype(np.int64)

    def cheap(self, query: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        """The personal score ``[v̂ᵢ, bᵢ] · [q, 1]`` of the given item indices (default: every item)."""
        if items is None:
            return self.units @ query + self.bias
        return self.units[items] @ query + self.bias[items]

    @abstractmethod
    def nearest(self, query: np.ndarray, n: int, exclude: np.ndarray) -> np.ndarray:
        """Up to ``n`` item indices, best ``[v̂ᵢ, bᵢ] · [q, 1]`` first, none of them in ``exclude``."""


class ExactRetriever(Retriever):
    """Every item's cheap score: exact, O(items × dim) per query."""

    name = "exact"

    def nearest(self, query: np.ndarray, n: int, exclude: np.ndarray) -> np.ndarray:
        cheap = self.cheap(query)
        if len(exclude):
            cheap[exclude] = -np.inf
        n = min(n, int(np.isfinite(cheap).sum()))
        if n <= 0:
            return np.zeros(0, dtype=np.int64)
        part = np.argpartition(-cheap, n - 1)[:n]
        return part[np.argsort(-cheap[part], kind="stable")].astype(np.int64)


class FaissRetriever(Retriever):
    """An HNSW graph over the augmented vectors (approximate; faiss-cpu, the scale extra).

    ``neighbours`` is the graph degree (M) and ``search_depth`` faiss's efSearch:
    larger is slower and closer to exact.
    """

    name = "faiss"

    def __init__(self, item_vectors: np.ndarray, item_bias: np.ndarray, neighbours: int = 32, search_depth: int = 256):
        super().__init__(item_vectors, item_bias)
        try:
            import faiss
        except ImportError:
            raise RecsysError(
                "The faiss retriever needs faiss-cpu (the scale extra): run `pip install -e .[scale]`, "
                "or use the exact retriever."
            ) from None
        augmented = np.hstack([self.units, self.bias[:, None]]).astype(np.float32)
        self.index = faiss.IndexHNSWFlat(augmented.shape[1], neighbours, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = max(40, 2 * neighbours)
        self.index.add(augmented)
        self.search_depth = search_depth

    def nearest(self, query: np.ndarray, n: int, exclude: np.ndarray) -> np.ndarray:
        import faiss

        excluded = np.unique(exclude)
        # Over-fetch by the excluded count so that removing seen items still leaves n candidates.
        want = min(n + len(excluded), self.index.ntotal)
        if want <= 0:
            return np.zeros(0, dtype=np.int64)
        params = faiss.SearchParametersHNSW(efSearch=max(self.search_depth, want))
        _, found = self.index.search(np.append(query, 1.0).astype(np.float32)[None, :], want, params=params)
        found = found[0][found[0] >= 0]
        if len(excluded):
            found = found[~np.isin(found, excluded)]
        return found[:n].astype(np.int64)


def _n_personal(n: int) -> int:
    """How many of ``n`` candidates come from the personal score; the rest are the popular share."""
    return n - int(n * POPULAR_SHARE)


def make_retriever(kind: str, item_vectors: np.ndarray, item_bias: np.ndarray) -> Retriever:
    if kind == "exact":
        return ExactRetriever(item_vectors, item_bias)
    if kind == "faiss":
        return FaissRetriever(item_vectors, item_bias)
    raise RecsysError(f"Unknown retriever {kind!r}: choose one of {', '.join(RETRIEVERS)}.")
