"""Top-k for every user of a saved model, in this process or on Ray workers (the CLI's ``recommend``)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from . import artifacts
from .parallel import Engine, cpus_per_worker, map_on_ray
from .recommender import Recommender

RECOMMENDATION_COLUMNS = ["user_id", "item_id", "rank", "score"]


def recommendation_rows(recommender: Recommender, users: Sequence[str], k: int | None, exclude_seen: bool) -> pd.DataFrame:
    """``user_id, item_id, rank, score`` for each user, in the given order (the per-batch work of both engines)."""
    users = [str(u) for u in users]
    lists = recommender.recommend_many(users, k, exclude_seen=exclude_seen)  # scored in user batches
    rows = [(u, r.item_id, r.rank, r.score) for u in users for r in lists[u]]
    return pd.DataFrame(rows, columns=RECOMMENDATION_COLUMNS)


class _RecommendBatch:
    """Ray Data actor: loads the saved model once, then recommends for batches of user ids."""

    def __init__(self, model_dir: str, k: int | None, exclude_seen: bool):
        import ray
        import torch

        torch.set_num_threads(cpus_per_worker(ray))  # one thread per reserved CPU: no oversubscription
        self.recommender = artifacts.load(model_dir)
        self.k, self.exclude_seen = k, exclude_seen

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = recommendation_rows(self.recommender, batch["user_id"].tolist(), self.k, self.exclude_seen)
        return {c: rows[c].to_numpy() for c in RECOMMENDATION_COLUMNS}


def recommend_all(
    model_dir: str | Path,
    users: Sequence[str] | None = None,
    k: int | None = 10,
    *,
    exclude_seen: bool = True,
    engine: Engine = Engine(),
    users_per_batch: int = 256,
) -> pd.DataFrame:
    """Top-k for many users of a saved model: ``user_id, item_id, rank, score``, users in the given order.

    users: ids known to the model (default: every user with a training history).
    With ``Engine("ray")`` each worker loads ``model_dir`` itself and handles
    ``users_per_batch`` users at a time.
    """
    model_dir = str(Path(model_dir))
    if engine.kind == "local":
        recommender = artifacts.load(model_dir)
        users = list(users) if users is not None else recommender.known_users()
        return recommendation_rows(recommender, users, k, exclude_seen)
    if users is None:
        users = artifacts.load(model_dir).known_users()
    users = [str(u) for u in users]
    if not users:
        return pd.DataFrame(columns=RECOMMENDATION_COLUMNS)
    order = {u: n for n, u in enumerate(users)}
    frame = map_on_ray(
        engine, pd.DataFrame({"user_id": users}), _RecommendBatch, (model_dir, k, exclude_seen), users_per_batch
    )
    if frame.empty:
        return pd.DataFrame(columns=RECOMMENDATION_COLUMNS)
    # Ray Data does not keep row order across workers: restore the caller's user order, rank within user.
    frame = frame.assign(_order=frame["user_id"].map(order)).sort_values(["_order", "rank"], kind="stable")
    return frame.drop(columns="_order").reset_index(drop=True)[RECOMMENDATION_COLUMNS]
