"""First-stage candidate retrieval for large catalogues, behind one small ``Retriever`` seam.

Above ``recommender.RERANK_ABOVE`` items a user's list is served in two
stages: a cheap score picks a few thousand candidates, and the full model
ranks only those.  The cheap score is the cosine between the item's text
vector and a query (the mean of the user's recent history vectors plus the
profile vector) plus the model's learned item bias.  Written as one inner
product over augmented vectors, ``[v̂ᵢ, bᵢ] · [q, 1]``, it can be answered
exactly (``ExactRetriever``: one matrix–vector product over vectors
normalised once) or approximately by an HNSW graph (``FaissRetriever``, the
optional ``faiss-cpu`` of the scale extra).  ``bench/retrieval.py`` reports
the recall of the final top-10 against full scoring and the latency of each.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from .errors import RecsysError

RETRIEVERS = ("exact", "faiss")


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
    """Candidates by the cheap score ``cos(item text, query) + item bias``.

    Built once per catalogue (vectors normalised and indexed once, never per call).
    """

    name: str

    def __init__(self, item_vectors: np.ndarray, item_bias: np.ndarray):
        if len(item_vectors) != len(item_bias):
            raise ValueError(f"{len(item_vectors)} item vectors but {len(item_bias)} biases.")
        self.units = unit_rows(item_vectors)
        self.bias = np.asarray(item_bias, dtype=np.float32)

    def query(self, recent: np.ndarray, profile: np.ndarray | None) -> np.ndarray:
        return retrieval_query(self.units, recent, profile)

    @abstractmethod
    def candidates(self, query: np.ndarray, n: int, exclude: np.ndarray | None = None) -> np.ndarray:
        """Up to ``n`` item indices, best cheap score first, none of them in ``exclude``."""


class ExactRetriever(Retriever):
    """Every item's cheap score: exact, O(items × dim) per query."""

    name = "exact"

    def candidates(self, query: np.ndarray, n: int, exclude: np.ndarray | None = None) -> np.ndarray:
        cheap = self.units @ query + self.bias
        if exclude is not None and len(exclude):
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

    def candidates(self, query: np.ndarray, n: int, exclude: np.ndarray | None = None) -> np.ndarray:
        import faiss

        excluded = np.unique(exclude) if exclude is not None and len(exclude) else np.zeros(0, np.int64)
        # Over-fetch by the excluded count so that removing seen items still leaves n candidates.
        want = min(n + len(excluded), self.index.ntotal)
        params = faiss.SearchParametersHNSW(efSearch=max(self.search_depth, want))
        _, found = self.index.search(np.append(query, 1.0).astype(np.float32)[None, :], want, params=params)
        found = found[0][found[0] >= 0]
        if len(excluded):
            found = found[~np.isin(found, excluded)]
        return found[:n].astype(np.int64)


def make_retriever(kind: str, item_vectors: np.ndarray, item_bias: np.ndarray) -> Retriever:
    if kind == "exact":
        return ExactRetriever(item_vectors, item_bias)
    if kind == "faiss":
        return FaissRetriever(item_vectors, item_bias)
    raise RecsysError(f"Unknown retriever {kind!r}: choose one of {', '.join(RETRIEVERS)}.")
