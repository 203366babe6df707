"""Turning histories and profiles into the model's tensors."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
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
