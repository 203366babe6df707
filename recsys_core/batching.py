"""Turning histories and profiles into the model's tensors and the baselines' sparse rows."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch

from .model import UserInput


def pad_histories(histories: Sequence[np.ndarray], max_history: int) -> np.ndarray:
    """(B, H) item indices, newest first, -1 padded; only the latest ``max_history`` are kept."""
    out = np.full((len(histories), max_history), -1, dtype=np.int64)
    for row, items in enumerate(histories):
        recent = np.asarray(items, dtype=np.int64)[-max_history:][::-1]
        out[row, : len(recent)] = recent
    return out


def make_user_input(
    histories: Sequence[np.ndarray],
    profiles: Sequence[np.ndarray | None],
    item_vectors: torch.Tensor,
    max_history: int,
) -> UserInput:
    """UserInput for B users from their histories (oldest first) and profile vectors (or None)."""
    idx = torch.from_numpy(pad_histories(histories, max_history))
    hist_vecs = item_vectors[idx.clamp(min=0)] * (idx >= 0).unsqueeze(-1)
    dim = item_vectors.shape[1]
    prof = np.zeros((len(profiles), dim), dtype=np.float32)
    has = np.zeros(len(profiles), dtype=np.float32)
    for row, vec in enumerate(profiles):
        if vec is not None:
            prof[row] = vec
            has[row] = 1.0
    return UserInput(hist_vecs, idx, torch.from_numpy(prof), torch.from_numpy(has))


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
