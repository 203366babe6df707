"""Classic non-neural baselines behind one small fit/score interface.

Every baseline is *inductive from history*: ``score`` takes the interaction
rows of the users to score (training users, held-out users or brand-new ones)
and never looks users up by index.  The caller chunks users, masks items the
user has already seen and takes the top-k; baselines only return dense scores.

Matrix conventions:

* ``train`` / ``user_items``: ``scipy.sparse`` (n_users, n_items), positive
  values for interactions, either 1.0 or a recency weight.
* Item–item models (ItemKNN, EASE, NeighbourhoodEASE) learn from the *binarised* training matrix
  (who interacted with what), and use the history *values* at scoring time,
  so recency weights emphasise recent items without distorting similarities.
* Scores are float32 (n_rows, n_items), higher is better.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import scipy.linalg
import scipy.sparse as sp

# Item rows of the co-occurrence matrix computed at once in ItemKNN.fit; bounds
# the memory of the un-pruned block (chunk × n_items) for dense catalogues.
_KNN_ITEM_CHUNK = 2048


@runtime_checkable
class Baseline(Protocol):
    """What the evaluation loop needs from a recommender."""

    name: str

    def fit(self, train: sp.csr_matrix, item_vectors: np.ndarray | None = None) -> "Baseline":
        """Learn from ``train`` (n_users, n_items); return self."""
        ...

    def score(self, user_items: sp.csr_matrix) -> np.ndarray:
        """Scores (n_rows, n_items) float32 for the history rows ``user_items``."""
        ...


# --------------------------------------------------------------------------- #
# Shared helpers
# --------------------------------------------------------------------------- #
def _as_csr(matrix: sp.spmatrix | sp.sparray, what: str) -> sp.csr_matrix:
    """Float32 CSR copy-if-needed of a 2-D scipy sparse matrix."""
    if not sp.issparse(matrix):
        raise ValueError(f"{what} must be a scipy.sparse matrix; got {type(matrix).__name__}.")
    return sp.csr_matrix(matrix, dtype=np.float32)


def _binarise(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Same sparsity pattern with every stored positive value set to 1.0."""
    binary = matrix.copy()
    binary.data = (binary.data > 0).astype(np.float32)
    binary.eliminate_zeros()
    return binary


def _check_history(user_items: sp.spmatrix, n_items: int | None, name: str) -> sp.csr_matrix:
    """Validate a history block against the fitted catalogue size."""
    if n_items is None:
        raise RuntimeError(f"{name} must be fitted before scoring.")
    history = _as_csr(user_items, "user_items")
    if history.shape[1] != n_items:
        raise ValueError(
            f"user_items has {history.shape[1]} item columns but {name} was fitted "
            f"on {n_items} items; build histories with the training item index."
        )
    return history


def _l2_normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """Row-normalise; zero rows stay zero (similarity 0) instead of becoming NaN."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def _top_n_per_row(matrix: sp.csr_matrix, n: int) -> sp.csr_matrix:
    """Keep the ``n`` largest stored values of each row (ties: lower column first).

    Vectorised: sort all entries by (row, -value), rank them within their row
    from ``indptr``, and keep ranks < n.
    """
    matrix = matrix.tocsr()
    matrix.sum_duplicates()
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    order = np.lexsort((matrix.indices, -matrix.data, rows))
    rank_in_row = np.arange(order.size) - matrix.indptr[rows[order]]
    keep = order[rank_in_row < n]
    return sp.csr_matrix(
        (matrix.data[keep], (rows[keep], matrix.indices[keep])), shape=matrix.shape
    )


# --------------------------------------------------------------------------- #
# Baselines
# --------------------------------------------------------------------------- #
class MostPopular:
    """Same ranking for everyone: items by number of training users who interacted."""

    name = "MostPopular"

    def __init__(self) -> None:
        self.counts: np.ndarray | None = None  # (n_items,) float32

    @property
    def n_items(self) -> int | None:
        return None if self.counts is None else self.counts.size

    def fit(self, train: sp.csr_matrix, item_vectors: np.ndarray | None = None) -> "MostPopular":
        # Count interactions, not summed recency weights: popularity is "how many".
        binary = _binarise(_as_csr(train, "train"))
        self.counts = np.asarray(binary.sum(axis=0), dtype=np.float32).ravel()
        return self

    def score(self, user_items: sp.csr_matrix) -> np.ndarray:
        """(n_rows, n_items) float32: the count vector repeated for each row."""
        history = _check_history(user_items, self.n_items, self.name)
        return np.tile(self.counts, (history.shape[0], 1))


class ItemKNN:
    """Item-based k-nearest neighbours on cosine similarity of item columns.

    ``S[i, j] = |U_i ∩ U_j| / (sqrt|U_i| sqrt|U_j| + shrinkage)`` for i != j,
    pruned to the ``neighbours`` largest entries of each row i (the items a
    history item i votes for).  ``score = history @ S``.
    """

    name = "ItemKNN"

    def __init__(self, neighbours: int = 100, shrinkage: float = 0.0) -> None:
        if neighbours < 1:
            raise ValueError(f"neighbours must be >= 1; got {neighbours}.")
        if shrinkage < 0:
            raise ValueError(f"shrinkage must be >= 0; got {shrinkage}.")
        self.neighbours = neighbours
        self.shrinkage = shrinkage
        self.similarity: sp.csr_matrix | None = None  # (n_items, n_items) float32

    @property
    def n_items(self) -> int | None:
        return None if self.similarity is None else self.similarity.shape[0]

    def fit(self, train: sp.csr_matrix, item_vectors: np.ndarray | None = None) -> "ItemKNN":
        binary = _binarise(_as_csr(train, "train"))
        item_users = binary.T.tocsr()  # (n_items, n_users)
        norms = np.sqrt(np.asarray(binary.sum(axis=0), dtype=np.float64).ravel())
        n_items = binary.shape[1]
        # Pruning block by block keeps memory at O(chunk × n_items) instead of
        # holding the full co-occurrence matrix of a dense catalogue.
        blocks = [
            self._similarity_block(
                item_users, binary, norms, start, min(start + _KNN_ITEM_CHUNK, n_items)
            )
            for start in range(0, n_items, _KNN_ITEM_CHUNK)
        ]
        self.similarity = (
            sp.vstack(blocks, format="csr").astype(np.float32)
            if blocks
            else sp.csr_matrix((0, 0), dtype=np.float32)
        )
        return self

    def _similarity_block(
        self,
        item_users: sp.csr_matrix,
        binary: sp.csr_matrix,
        norms: np.ndarray,
        start: int,
        stop: int,
    ) -> sp.csr_matrix:
        """Pruned cosine rows ``start:stop`` of S, shape (stop - start, n_items)."""
        co = (item_users[start:stop] @ binary).tocoo()  # co-occurrence counts
        keep = co.row + start != co.col  # an item is not its own neighbour
        rows, cols = co.row[keep], co.col[keep]
        sims = co.data[keep] / (norms[rows + start] * norms[cols] + self.shrinkage)
        block = sp.csr_matrix((sims, (rows, cols)), shape=(stop - start, binary.shape[1]))
        return _top_n_per_row(block, self.neighbours)

    def score(self, user_items: sp.csr_matrix) -> np.ndarray:
        """(n_rows, n_items) float32: weighted sum of each history item's neighbours."""
        history = _check_history(user_items, self.n_items, self.name)
        return np.asarray((history @ self.similarity).toarray(), dtype=np.float32)


class EASE:
    """Embarrassingly Shallow Autoencoder (Steck, WWW 2019), closed form.

    ``P = (XᵀX + l2·I)⁻¹``, ``B = -P / diag(P)`` column-wise, ``diag(B) = 0``;
    ``score = history @ B``.  B is a dense n_items² matrix and fitting inverts
    one, so catalogues above ``max_items`` are refused.
    """

    name = "EASE"

    def __init__(self, l2: float = 200.0, max_items: int = 20000) -> None:
        if l2 <= 0:
            raise ValueError(f"l2 must be positive; got {l2}.")
        self.l2 = l2
        self.max_items = max_items
        self.weights: np.ndarray | None = None  # B, (n_items, n_items) float32

    @property
    def n_items(self) -> int | None:
        return None if self.weights is None else self.weights.shape[0]

    def fit(self, train: sp.csr_matrix, item_vectors: np.ndarray | None = None) -> "EASE":
        binary = _binarise(_as_csr(train, "train"))
        n_items = binary.shape[1]
        if n_items > self.max_items:
            raise ValueError(
                f"EASE needs a dense {n_items}×{n_items} matrix inverse, which is too "
                f"large (max_items={self.max_items}); use ItemKNN for this catalogue."
            )
        # Float64 for the inversion: the Gram matrix can be badly conditioned.
        gram = (binary.T @ binary).toarray().astype(np.float64)
        gram[np.diag_indices(n_items)] += self.l2
        # numpy's LAPACK, not scipy's: scipy 1.17's inv crashed the whole process (SIGSEGV, no exception) from
        # 16,000 items here (12,000 passed), which in the dashboard would end every analyst's session at once.
        # numpy's bundled OpenBLAS uses 64-bit indices (``USE64BITINT``): 125 s at 16,000 items, 218 s at 20,000
        # on 2 cores (bench/ease_inverse.py).
        precision = np.linalg.inv(gram)
        weights = precision / -np.diag(precision)  # divides column j by -P_jj
        weights[np.diag_indices(n_items)] = 0.0
        self.weights = weights.astype(np.float32)
        return self

    def score(self, user_items: sp.csr_matrix) -> np.ndarray:
        """(n_rows, n_items) float32: history reconstructed through B."""
        history = _check_history(user_items, self.n_items, self.name)
        return np.asarray(history @ self.weights, dtype=np.float32)


class NeighbourhoodEASE:
    """EASE solved per item over its ``neighbours`` most co-consumed items: sparse, so it scales.

    EASE's constraint diag(B) = 0 makes each column an independent ridge
    regression of item j on every other item:
    ``B[:, j] = (X₋ⱼᵀX₋ⱼ + l2·I)⁻¹ X₋ⱼᵀXⱼ``.  Restricting the regressors to the
    set N(j) of the items most often co-consumed with j (the neighbourhood
    idea of fsSLIM, Ning & Karypis 2012) turns one dense n×n inverse into n
    solves of size |N(j)|, and B into a sparse matrix with at most
    ``neighbours`` non-zeros per column.  When N(j) holds every other item it
    is exactly EASE (tested).  Used in place of EASE above ``max_items``.
    """

    name = "NeighbourhoodEASE"

    def __init__(self, l2: float = 200.0, neighbours: int = 100) -> None:
        if l2 <= 0:
            raise ValueError(f"l2 must be positive; got {l2}.")
        if neighbours < 1:
            raise ValueError(f"neighbours must be >= 1; got {neighbours}.")
        self.l2 = l2
        self.neighbours = neighbours
        self.weights: sp.csr_matrix | None = None  # B, (n_items, n_items) float32, sparse

    @property
    def n_items(self) -> int | None:
        return None if self.weights is None else self.weights.shape[0]

    def fit(self, train: sp.csr_matrix, item_vectors: np.ndarray | None = None) -> "NeighbourhoodEASE":
        binary = _binarise(_as_csr(train, "train"))
        n_items = binary.shape[1]
        item_users = binary.T.tocsr()  # (n_items, n_users)
        columns = binary.tocsc()  # fast column slices X[:, N(j)]
        rows, cols, vals = [], [], []
        for start in range(0, n_items, _KNN_ITEM_CHUNK):
            stop = min(start + _KNN_ITEM_CHUNK, n_items)
            co = (item_users[start:stop] @ binary).tocoo()  # XⱼᵀX for the block's items j
            keep = co.row + start != co.col  # j never regresses on itself
            block = sp.csr_matrix((co.data[keep], (co.row[keep], co.col[keep])), shape=(stop - start, n_items))
            block = _top_n_per_row(block, self.neighbours)
            for r in range(stop - start):
                lo, hi = block.indptr[r], block.indptr[r + 1]
                if lo == hi:
                    continue  # an item nobody co-consumed predicts nothing and is predicted by nothing
                near = block.indices[lo:hi]
                x_near = columns[:, near]
                gram = (x_near.T @ x_near).toarray().astype(np.float64)
                gram[np.diag_indices(len(near))] += self.l2
                weights = scipy.linalg.solve(gram, block.data[lo:hi].astype(np.float64), assume_a="pos")
                rows.append(near)
                cols.append(np.full(len(near), start + r))
                vals.append(weights)
        if rows:
            data = (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols)))
            self.weights = sp.csr_matrix(data, shape=(n_items, n_items), dtype=np.float32)
        else:
            self.weights = sp.csr_matrix((n_items, n_items), dtype=np.float32)
        return self

    def score(self, user_items: sp.csr_matrix) -> np.ndarray:
        """(n_rows, n_items) float32: history reconstructed through the sparse B."""
        history = _check_history(user_items, self.n_items, self.name)
        return np.asarray((history @ self.weights).toarray(), dtype=np.float32)


class TextKNN:
    """Content baseline: cosine between a user's mean history vector and every item.

    The user vector is the weighted mean of the L2-normalised vectors of the
    items in the history row, with the row's values as weights (the caller
    passes recency weights, since CSR keeps no order).  A user with an empty
    history gets all-zero scores.
    """

    name = "TextKNN"

    def __init__(self) -> None:
        self.item_vectors: np.ndarray | None = None  # (n_items, dim) float32, unit rows

    @property
    def n_items(self) -> int | None:
        return None if self.item_vectors is None else self.item_vectors.shape[0]

    def fit(self, train: sp.csr_matrix, item_vectors: np.ndarray | None = None) -> "TextKNN":
        if item_vectors is None:
            raise ValueError("TextKNN needs item_vectors (one text embedding per item).")
        vectors = np.asarray(item_vectors, dtype=np.float32)
        n_items = _as_csr(train, "train").shape[1]
        if vectors.ndim != 2 or vectors.shape[0] != n_items:
            raise ValueError(
                f"item_vectors must have shape (n_items={n_items}, dim); got {vectors.shape}."
            )
        self.item_vectors = _l2_normalise_rows(vectors)
        return self

    def score(self, user_items: sp.csr_matrix) -> np.ndarray:
        """(n_rows, n_items) float32 cosine similarities in [-1, 1]."""
        history = _check_history(user_items, self.n_items, self.name)
        # The weighted sum and the weighted mean point the same way, and
        # cosine ignores length, so normalising the sum is enough.
        user_vectors = _l2_normalise_rows(np.asarray(history @ self.item_vectors))
        return np.asarray(user_vectors @ self.item_vectors.T, dtype=np.float32)


def default_baselines(n_items: int, max_items: int = 20000) -> list[Baseline]:
    """MostPopular, ItemKNN, EASE and TextKNN.

    Above ``max_items`` EASE's dense inverse does not fit, and NeighbourhoodEASE
    (the same regression, sparse) takes its place rather than leaving a gap.
    TextKNN needs ``item_vectors`` in ``fit``; drop it if there is no item text.
    """
    models: list[Baseline] = [MostPopular(), ItemKNN()]
    models.append(EASE(max_items=max_items) if n_items <= max_items else NeighbourhoodEASE())
    models.append(TextKNN())
    return models
