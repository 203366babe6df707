"""The embarrassingly parallel jobs, run in this process or on a Ray cluster.

Three jobs outgrow one machine first: encoding a large catalogue, recommending
for every user of a saved model, and explaining many (user, item) pairs (the
input of global feature importance).  Each has one function here taking an
``Engine``; ``Engine("local")`` runs it in this process and ``Engine("ray")``
runs the same per-batch code on Ray workers, so the two engines give the same
results by construction (and ``tests/test_engines.py`` checks they do).

Ray is an optional extra (``pip install -e .[scale]``): the dashboard never
imports it.  ``Engine.address`` (or ``RAY_ADDRESS``) points at an existing
cluster; without one a local Ray runtime is started for the call and shut down
after it.  Ray workers load the saved model directory themselves, so on a
cluster the directory must be on storage every node can read.
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .encoder import EmbeddingCache, EncoderConfig, TextEncoder
from .errors import RecsysError

ENGINES = ("local", "ray")
RECOMMENDATION_COLUMNS = ["user_id", "item_id", "rank", "score"]


@dataclass(frozen=True)
class Engine:
    """Where a batch job runs.

    kind: "local" (this process) or "ray".
    address: a Ray cluster address; None reads ``RAY_ADDRESS`` and, when that is
        unset too, starts a local Ray runtime for the duration of the call.
    workers: Ray actors to use; None = one per CPU the cluster offers.
    """

    kind: str = "local"
    address: str | None = None
    workers: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ENGINES:
            raise RecsysError(f"Unknown engine {self.kind!r}: choose one of {', '.join(ENGINES)}.")
        if self.workers is not None and self.workers < 1:
            raise RecsysError(f"workers must be 1 or more, got {self.workers}.")


# -- Ray runtime -------------------------------------------------------------------
def _ray():
    try:
        import ray
        import ray.data  # noqa: F401  (fails early when only ray-core is installed)
    except ImportError:
        raise RecsysError(
            "The Ray engine needs the scale extra: run `pip install -e .[scale]` (or "
            "`pip install -r requirements/scale.txt`), or use --engine local."
        ) from None
    return ray


@contextmanager
def ray_runtime(engine: Engine) -> Iterator[object]:
    """The ``ray`` module with a runtime attached: an existing one, the given cluster, or a local one.

    Only a runtime this function started is shut down on exit, so a notebook or
    test that called ``ray.init`` itself keeps it.
    """
    ray = _ray()
    if ray.is_initialized():
        yield ray
        return
    address = engine.address or os.environ.get("RAY_ADDRESS") or None
    # Workers must never reach for a model hub either; the variable travels with the job.
    runtime_env = {"env_vars": {"HF_HUB_OFFLINE": "1"}}
    try:
        if address:
            ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
        else:
            ray.init(include_dashboard=False, runtime_env=runtime_env, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or "a local runtime"
        raise RecsysError(f"Could not start Ray on {where}: {str(exc).splitlines()[0]}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _cpus_per_worker(ray) -> int:
    assigned = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    return max(1, int(assigned))


def _blocks(frame: pd.DataFrame, rows_per_block: int) -> list[pd.DataFrame]:
    """The frame cut into blocks of one batch each, so that every worker gets work.

    (Ray Data's own ``override_num_blocks`` split fails on pandas 3 frames.)
    """
    return [frame.iloc[start : start + rows_per_block] for start in range(0, len(frame), rows_per_block)]


def _worker_count(ray, engine: Engine, n_batches: int) -> int:
    available = int(ray.cluster_resources().get("CPU", 1))
    return max(1, min(engine.workers or available, n_batches))


def _map_on_ray(engine: Engine, frame: pd.DataFrame, actor: type, args: tuple, rows_per_batch: int) -> pd.DataFrame:
    """``actor(*args)`` applied by Ray Data workers to ``frame`` in batches of ``rows_per_batch`` rows.

    One block per batch so every worker gets work; the result's row order is not the input's.
    """
    with ray_runtime(engine) as ray:
        n_batches = -(-len(frame) // rows_per_batch)
        return (
            ray.data.from_pandas(_blocks(frame, rows_per_batch))
            .map_batches(
                actor,
                fn_constructor_args=args,
                batch_size=rows_per_batch,
                batch_format="numpy",
                concurrency=_worker_count(ray, engine, n_batches),
            )
            .to_pandas()
        )


# -- recommendation for many users ----------------------------------------------------
def recommendation_rows(recommender, users: Sequence[str], k: int | None, exclude_seen: bool) -> pd.DataFrame:
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

        from . import artifacts

        torch.set_num_threads(_cpus_per_worker(ray))  # one thread per reserved CPU: no oversubscription
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
    from . import artifacts

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
    frame = _map_on_ray(
        engine, pd.DataFrame({"user_id": users}), _RecommendBatch, (model_dir, k, exclude_seen), users_per_batch
    )
    if frame.empty:
        return pd.DataFrame(columns=RECOMMENDATION_COLUMNS)
    # Ray Data does not keep row order across workers: restore the caller's user order, rank within user.
    frame = frame.assign(_order=frame["user_id"].map(order)).sort_values(["_order", "rank"], kind="stable")
    return frame.drop(columns="_order").reset_index(drop=True)[RECOMMENDATION_COLUMNS]


# -- catalogue encoding ------------------------------------------------------------------
class _EncodeBatch:
    """Ray Data actor: one frozen encoder per worker, pooled vectors for batches of texts."""

    def __init__(self, config: EncoderConfig):
        import ray
        import torch

        torch.set_num_threads(_cpus_per_worker(ray))
        self.encoder = TextEncoder(config)  # no cache on workers: the driver owns the cache

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.encoder.encode(batch["text"].tolist())
        return {"row": batch["row"], "vector": vectors}


def encode_texts(
    texts: Sequence[str],
    config: EncoderConfig = EncoderConfig(),
    *,
    cache_dir: str | Path | None = None,
    engine: Engine = Engine(),
    texts_per_batch: int = 512,
) -> np.ndarray:
    """Pooled vectors ``(len(texts), dim)`` float32, like ``TextEncoder.encode``, locally or on Ray.

    Texts are de-duplicated by the embedding cache's text hash before any work
    is sent out, texts already in the cache are read from it, and new vectors
    are written back to it by this process only (workers never touch the
    cache directory, which a cluster's nodes may not share).
    """
    texts = list(texts)
    if engine.kind == "local":
        return TextEncoder(config, cache_dir=cache_dir).encode(texts)
    cache = EmbeddingCache(cache_dir, config.cache_key) if cache_dir else None
    cached = cache.get_many(texts) if cache else {}
    by_hash: dict[str, str] = {}
    for t in texts:
        if t not in cached:
            by_hash.setdefault(EmbeddingCache.text_hash(t), t)
    todo = sorted(by_hash.values(), key=len)  # length-sorted batches pad less
    fresh: dict[str, np.ndarray] = {}
    if todo:
        rows = pd.DataFrame({"row": np.arange(len(todo)), "text": todo})
        out = _map_on_ray(engine, rows, _EncodeBatch, (config,), texts_per_batch)
        vectors = np.stack(out.sort_values("row")["vector"].to_list()).astype(np.float32)
        fresh = dict(zip(todo, vectors))
        if cache:
            cache.put_many(todo, vectors)
    lookup = {**cached, **fresh}
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([lookup[t] for t in texts]).astype(np.float32)


# -- explanations of many pairs ----------------------------------------------------------
def explanation_batch(recommender, pairs: Sequence[tuple[str, str]], config) -> list:
    """``explain_pair`` for each (user, item), in order (the per-batch work of both engines)."""
    from .explain import explain_pair

    return [explain_pair(recommender, str(user), str(item), config) for user, item in pairs]


class _ExplainBatch:
    """Ray Data actor: loads the saved model (and, on first use, the encoder) once, explains batches of pairs."""

    def __init__(self, model_dir: str, config):
        import ray
        import torch

        from . import artifacts

        torch.set_num_threads(_cpus_per_worker(ray))
        self.recommender = artifacts.load(model_dir)
        self.config = config

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        pairs = list(zip(batch["user_id"].tolist(), batch["item_id"].tolist()))
        explanations = explanation_batch(self.recommender, pairs, self.config)
        return {"row": batch["row"], "explanation": np.array(explanations, dtype=object)}


def explain_pairs(
    model_dir: str | Path,
    pairs: Sequence[tuple[str, str]],
    config=None,
    *,
    engine: Engine = Engine(),
    pairs_per_batch: int = 4,
) -> list:
    """One ``Explanation`` per (user id, item id) of a saved model, in the given order.

    The input of global feature importance over many users
    (``explain.global_importance(..., engine=Engine("ray"))`` calls it); on Ray
    each worker loads ``model_dir`` and its own copy of the encoder.
    """
    from . import artifacts
    from .explain import ExplainConfig

    config = config or ExplainConfig()
    pairs = [(str(u), str(i)) for u, i in pairs]
    if engine.kind == "local" or not pairs:
        return explanation_batch(artifacts.load(model_dir), pairs, config)
    users, items = zip(*pairs)
    rows = pd.DataFrame({"row": np.arange(len(pairs)), "user_id": users, "item_id": items})
    out = _map_on_ray(engine, rows, _ExplainBatch, (str(Path(model_dir)), config), pairs_per_batch)
    return out.sort_values("row")["explanation"].tolist()
