"""Where a batch job runs: this process, or Ray workers (the runtime, with no domain code).

Three jobs outgrow one machine first, and each lives beside its domain:
encoding a large catalogue (``encoding.encode_texts``), recommending for every
user of a saved model (``batch.recommend_all``) and explaining many pairs
(``explain.batch.explain_pairs``).  Each takes an ``Engine``: ``Engine("local")``
runs it in this process and ``Engine("ray")`` runs the same per-batch code on
Ray workers through ``map_on_ray``, so the two engines give the same results by
construction (``tests/test_engines.py`` checks they do).

Ray is an optional extra (``pip install -e .[scale]``): the dashboard never
imports it.  ``Engine.address`` (or ``RAY_ADDRESS``) points at an existing
cluster; without one a local Ray runtime is started for the call and shut down
after it.  Ray workers load the saved model directory themselves, so on a
cluster the directory must be on storage every node can read.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, get_args

import pandas as pd

from .errors import RecsysError

EngineKind = Literal["local", "ray"]
ENGINES: tuple[EngineKind, ...] = get_args(EngineKind)


@dataclass(frozen=True)
class Engine:
    """Where a batch job runs.

    kind: "local" (this process) or "ray".
    address: a Ray cluster address; None reads ``RAY_ADDRESS`` and, when that is
        unset too, starts a local Ray runtime for the duration of the call.
    workers: Ray actors to use; None = one per CPU the cluster offers.
    """

    kind: EngineKind = "local"
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


def cpus_per_worker(ray) -> int:
    """CPUs Ray reserved for the calling worker (actors set torch's thread count to it: no oversubscription)."""
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


def map_on_ray(engine: Engine, frame: pd.DataFrame, actor: type, args: tuple, rows_per_batch: int) -> pd.DataFrame:
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
