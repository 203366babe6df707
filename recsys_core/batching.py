"""Turning histories and profiles into the model's tensors and the baselines' sparse rows."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch

from .model import UserInput
from .ratings import N_FEATURES, RatingScale, rating_features


def pad_histories(histories: Sequence[np.ndarray], max_history: int) -> np.ndarray:
    """(B, H) item indices, newest first, -1 padded; only the latest ``max_history`` are kept."""
    out = np.full((len(histories), max_history), -1, dtype=np.int64)
    for row, items in enumerate(histories):
        recent = np.asarray(items, dtype=np.int64)[-max_history:][::-1]
        out[row, : len(recent)] = recent
    return out


def pad_rating_features(
    ratings: Sequence[np.ndarray | None], max_history: int, scale: tuple[float, float]
) -> torch.Tensor:
    """(B, H, 2) ``ratings.rating_features`` of each user's latest ``max_history`` items, newest first,
    zero for padding and for users given without ratings (the mean is over all the ratings given)."""
    out = np.zeros((len(ratings), max_history, N_FEATURES), dtype=np.float32)
    rating_scale = RatingScale(*scale)
    for row, values in enumerate(ratings):
        if values is not None and len(values):
            recent = rating_features(values, rating_scale)[-max_history:][::-1]
            out[row, : len(recent)] = recent
    return torch.from_numpy(out)


def make_user_input(
    histories: Sequence[np.ndarray],
    profiles: Sequence[np.ndarray | None],
    item_vectors: torch.Tensor,
    max_history: int,
    ratings: Sequence[np.ndarray | None] | None = None,
    rating_scale: tuple[float, float] | None = None,
) -> UserInput:
    """UserInput for B users from their histories (oldest first) and profile vectors (or None).

    ``ratings`` (aligned with each history, or None per user) reach the model only when it reads
    ratings (``rating_scale``, its ``ModelConfig.rating_scale``); otherwise they are ignored."""
    idx = torch.from_numpy(pad_histories(histories, max_history))
    hist_vecs = item_vectors[idx.clamp(min=0)] * (idx >= 0).unsqueeze(-1)
    hist_ratings = None
    if rating_scale is not None and ratings is not None:
        hist_ratings = pad_rating_features(ratings, max_history, rating_scale)
    dim = item_vectors.shape[1]
    prof = np.zeros((len(profiles), dim), dtype=np.float32)
    has = np.zeros(len(profiles), dtype=np.float32)
    for row, vec in enumerate(profiles):
        if vec is not None:
            prof[row] = vec
            has[row] = 1.0
    return UserInput(hist_vecs, idx, torch.from_numpy(prof), torch.from_numpy(has), hist_ratings)


def history_matrix(histories: Sequence[np.ndarray], n_items: int, recency_decay: float = 0.9) -> sp.csr_matrix:
    """Users × items matrix of histories; values weight recent items higher (newest = 1)."""
    rows, cols, vals = [], [], []
    for r, items in enumerate(histories):
        n = len(items)
        weights = recency_decay ** np.arange(n - 1, -1, -1, dtype=np.float32)
        rows.append(np.full(n, r))
        cols.append(np.asarray(items))
        vals.append(weights)
    if not rows:
        return sp.csr_matrix((0, n_items), dtype=np.float32)
    m = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(histories), n_items)
    )
    m.sum_duplicates()
    return m.astype(np.float32)
