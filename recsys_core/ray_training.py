"""Data-parallel training on Ray Train (``TorchTrainer``): the local training loop on N workers.

Every worker builds the same ``HybridRecommender``, wraps the training loss (``training.BatchLoss``) in
``DistributedDataParallel`` through Ray Train's ``prepare_model`` (CPU, gloo) and runs
``training.run_epochs``, the loop ``train_model`` runs locally, on its share of every batch: the batch over
all workers is ``TrainConfig.batch_size``, as locally, and the gradients are averaged before each step, so
the optimiser sees the local batch's gradient (up to each worker drawing its own negatives).  Rank 0
validates, keeps the best weights, applies the time budget and early stopping, and hands the best
weights back as a Ray Train checkpoint: a file in the run's storage (a temporary folder on one machine;
on a multi-node cluster, storage every node can write, ``storage=``).  Sending weights back as metrics
would push hundreds of MB (a 1M-item id table) through the controller; a checkpoint is a file.

The catalogue, the split and the validation cases reach the workers through the Ray object store: one
copy per node, and the text vectors are read in place from it (docs/distributed_training.md has what a
worker holds).  Progress is not streamed: the driver says the training started and replays the epoch
log when it ends, and a stop button cannot reach the workers (the dashboard trains locally).
"""
from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import torch

from .catalog import Catalog
from .errors import RecsysError
from .evaluation import ValidationNdcg
from .model import HybridRecommender, ModelConfig
from .parallel import Engine, cpus_per_worker, ray_runtime
from .progress import Progress, quiet
from .splits import EvalCase, Split
from .training import (
    BatchLoss,
    EpochLog,
    Examples,
    IdTableOptimiser,
    TrainConfig,
    TrainResult,
    Workers,
    finish,
    prepare_training,
    run_epochs,
)

STATE_FILE = "model.pt"


def _ray_train():
    try:
        import ray.train
        import ray.train.torch  # noqa: F401  (needs the train extra of Ray, not only ray[data])
    except ImportError:
        raise RecsysError(
            "Training on Ray needs Ray Train (the scale extra): run `pip install -e .[scale]` (or "
            "`pip install -r requirements/scale.txt`), or train locally (--train-engine local)."
        ) from None
    return ray.train


def check_workers(workers: int, config: TrainConfig) -> None:
    """Refuse a worker count the batch cannot be shared by (each worker needs a part of every batch)."""
    if workers > config.batch_size:
        raise RecsysError(f"A batch of {config.batch_size} examples cannot be shared by {workers} Ray workers "
                          f"(each needs at least one): use at most {config.batch_size} workers or a larger batch size.")


def train_on_ray(
    catalog: Catalog,
    split: Split,
    model_config: ModelConfig,
    config: TrainConfig,
    engine: Engine,
    val_cases: Sequence[EvalCase] = (),
    storage: str | None = None,
    on_epoch: Callable[[EpochLog], None] | None = None,
    progress: Progress | None = None,
    start: HybridRecommender | None = None,
    examples: Examples | None = None,
) -> TrainResult:
    """``training.train_model`` on ``engine.workers`` Ray Train workers (None: one per CPU of the cluster).

    Validation NDCG@10 over ``val_cases`` drives early stopping (none: every epoch is kept, as locally).
    ``storage``: where Ray Train writes the checkpoint (a path or URI every node reaches; None: a
    temporary folder, removed after, which is enough on one machine).  ``on_epoch`` is called for each
    epoch once the training has ended.  ``start``/``examples`` as in ``train_model``; ``start`` is updated
    in place and returned.  A worker's ``TrainingDiverged`` (or other ``RecsysError``) is raised here as is.
    """
    say = progress or quiet
    train = _ray_train()
    from ray.train.torch import TorchConfig, TorchTrainer

    if engine.workers is not None:
        check_workers(engine.workers, config)
    folder = None if storage else tempfile.mkdtemp(prefix="recsys-ray-train-")
    try:
        with ray_runtime(engine) as ray:
            workers = engine.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
            check_workers(workers, config)
            say(0.0, f"training on {workers} Ray workers (the epochs are shown when training ends)")
            job = {
                "catalog": ray.put(catalog),
                "split": ray.put(split),
                "val_cases": ray.put(list(val_cases)),
                "examples": None if examples is None else ray.put(examples),
                "start": None if start is None else ray.put(start.state_dict()),
                "model_config": model_config,
                "config": config,
            }
            trainer = TorchTrainer(
                _train_worker,
                train_loop_config=job,
                torch_config=TorchConfig(backend="gloo"),
                scaling_config=train.ScalingConfig(num_workers=workers, use_gpu=False),
                run_config=train.RunConfig(name=f"recsys-{uuid.uuid4().hex[:12]}", storage_path=storage or folder),
            )
            try:
                outcome = trainer.fit()
            except train.WorkerGroupError as exc:
                raise _worker_error(exc) from None
            except train.TrainingFailedError as exc:
                raise RecsysError(f"Training on Ray failed: {(str(exc).splitlines() or [''])[-1][:300]}") from None
            with outcome.checkpoint.as_directory() as directory:
                state = torch.load(Path(directory) / STATE_FILE, weights_only=True)
    finally:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
    model = start if start is not None else HybridRecommender(model_config)
    model.load_state_dict(state)
    model.eval()
    metrics = outcome.metrics
    result = TrainResult(model=model, log=[EpochLog(**e) for e in metrics["log"]], best_epoch=metrics["best_epoch"],
                         stopped=metrics["stopped"], start_score=metrics["start_score"])
    for entry in result.log:
        if on_epoch:
            on_epoch(entry)
    return result


def _worker_error(exc) -> RecsysError:
    """The error a worker raised, when it is one of ours (its message is the one local training gives)."""
    failures = list(exc.worker_failures.values())
    for failure in failures:
        if isinstance(failure, RecsysError):
            return failure
    first = failures[0] if failures else exc
    return RecsysError(f"Training on Ray failed on a worker: {type(first).__name__}: "
                       f"{(str(first).splitlines() or [''])[0][:300]}")


def _train_worker(job: dict) -> None:
    """One Ray Train worker: the local loop (``run_epochs``) on this worker's share of every batch."""
    import ray
    import ray.train
    from ray.train.torch import prepare_model

    context = ray.train.get_context()
    workers = Workers(context.get_world_rank(), context.get_world_size())
    torch.set_num_threads(cpus_per_worker(ray))  # the CPUs Ray reserved for this worker: no oversubscription
    catalog, split = ray.get(job["catalog"]), ray.get(job["split"])
    config: TrainConfig = job["config"]
    start = None
    if job["start"] is not None:
        start = HybridRecommender(job["model_config"])
        start.load_state_dict(ray.get(job["start"]))
    examples = ray.get(job["examples"]) if job["examples"] is not None else None
    data = prepare_training(catalog, split, job["model_config"], config, start, examples)
    # Before DDP wraps the model: the optimiser makes the id tables sparse, and DDP reads that when it
    # is built (gloo all-reduces sparse gradients, so sparse id tables work with several workers).
    optimiser = IdTableOptimiser(data.model, config)
    # Unused parameters: ablations (no ids, no profile, ...) leave some weights out of every step.
    net = prepare_model(BatchLoss(data.model, config), parallel_strategy_kwargs={"find_unused_parameters": True})
    val_cases = ray.get(job["val_cases"])
    validate = ValidationNdcg(catalog, val_cases) if workers.rank == 0 and val_cases else None
    result = run_epochs(data, net, optimiser, catalog, split, config, workers, validate=validate,
                        from_start=start is not None)
    metrics = {"log": [asdict(e) for e in result.log], "best_epoch": result.best_epoch,
               "stopped": result.stopped, "start_score": result.start_score}
    if workers.rank != 0:
        ray.train.report(metrics)
        return
    finish(result, optimiser)
    with tempfile.TemporaryDirectory() as folder:
        torch.save(result.model.state_dict(), Path(folder) / STATE_FILE)
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(folder))
