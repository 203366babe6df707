"""Explanations of many (user, item) pairs of a saved model, in this process or on Ray workers.

The input of global feature importance over many users; on Ray each worker
loads the model directory and its own copy of the encoder.
"""
from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import load as load_model
from ..artifacts import save as save_model
from ..parallel import Engine, cpus_per_worker, map_on_ray
from ..recommender import Recommender
from .core import explain_pair
from .shares import PairShares, pair_shares, shares_only
from .types import ExplainConfig, Explanation


def explanation_batch(
    recommender: Recommender, pairs: Sequence[tuple[str, str]], config: ExplainConfig
) -> list[Explanation | PairShares]:
    """``explain_pair`` for each (user, item), in order (the per-batch work of both engines); when the
    config asks only for what sample roll-ups read (``shares.shares_only``), ``pair_shares`` instead,
    with the batch's baseline vectors kept across its pairs."""
    if not shares_only(config):
        return [explain_pair(recommender, str(user), str(item), config) for user, item in pairs]
    memo: dict = {}
    contexts = {str(u): recommender.context(str(u)) for u, _ in pairs}
    return [pair_shares(recommender, contexts[str(user)], str(item), config, memo) for user, item in pairs]


class _ExplainBatch:
    """Ray Data actor: loads the saved model (and, on first use, the encoder) once, explains batches of pairs."""

    def __init__(self, model_dir: str, config: ExplainConfig):
        import ray
        import torch

        torch.set_num_threads(cpus_per_worker(ray))
        self.recommender = load_model(model_dir)
        self.config = config

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        pairs = list(zip(batch["user_id"].tolist(), batch["item_id"].tolist()))
        explanations = explanation_batch(self.recommender, pairs, self.config)
        return {"row": batch["row"], "explanation": np.array(explanations, dtype=object)}


def explain_pairs(
    model_dir: str | Path,
    pairs: Sequence[tuple[str, str]],
    config: ExplainConfig | None = None,
    *,
    engine: Engine = Engine(),
    pairs_per_batch: int = 4,
) -> list[Explanation | PairShares]:
    """One ``Explanation`` (or ``PairShares``, see ``explanation_batch``) per (user id, item id) of a
    saved model, in the given order."""
    config = config or ExplainConfig()
    pairs = [(str(u), str(i)) for u, i in pairs]
    if engine.kind == "local" or not pairs:
        return explanation_batch(load_model(model_dir), pairs, config)
    users, items = zip(*pairs)
    rows = pd.DataFrame({"row": np.arange(len(pairs)), "user_id": users, "item_id": items})
    out = map_on_ray(engine, rows, _ExplainBatch, (str(Path(model_dir)), config), pairs_per_batch)
    return out.sort_values("row")["explanation"].tolist()


def explain_recommender_pairs(
    recommender: Recommender,
    pairs: Sequence[tuple[str, str]],
    config: ExplainConfig | None = None,
    *,
    engine: Engine = Engine(),
    model_dir: str | Path | None = None,
) -> list[Explanation | PairShares]:
    """``explain_pairs`` for a recommender in memory: Ray workers load ``model_dir`` when given (a
    cluster needs it on shared storage), else a copy saved to a temporary folder for the call, which
    only works where the workers share this machine's disk (a local runtime)."""
    config = config or ExplainConfig()
    if engine.kind == "local":
        return explanation_batch(recommender, pairs, config)
    if model_dir is not None:
        return explain_pairs(model_dir, pairs, config, engine=engine)
    with tempfile.TemporaryDirectory(prefix="recsys-importance-") as tmp:
        return explain_pairs(save_model(recommender, Path(tmp) / "model"), pairs, config, engine=engine)
