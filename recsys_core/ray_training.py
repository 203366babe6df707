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
worker holds).  The run is live, as local training is: rank 0 sends its progress lines (at most one a
second) and each validated epoch up a Ray queue that a thread of the driver relays to ``progress`` and
``on_epoch`` while the workers train, and the same thread calls ``cancel``: a stop goes down a second queue,
rank 0 reads it (at most once a second) and every worker leaves at the same batch (``Workers.first_says``),
so a stop keeps the best complete epoch, as locally.
"""
from __future__ import annotations

import shutil
import tempfile
import threading
import time
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
from .progress import Cancelled, Checkpoint, Progress, go_on, quiet
from .splits import EvalCase, Split
from .training import (
    BatchLoss,
    EpochLog,
    Examples,
    TrainConfig,
    TrainResult,
    Workers,
    finish,
    make_optimiser,
    prepare_training,
    run_epochs,
)

STATE_FILE = "model.pt"
# Rank 0 sends at most one progress line, and reads the stop queue at most once, per this many seconds: each
# is a call to a queue actor (milliseconds), where a step takes ~0.1 s.
LIVE_EVERY = 1.0


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
    cancel: Checkpoint | None = None,
) -> TrainResult:
    """``training.train_model`` on ``engine.workers`` Ray Train workers (None: one per CPU of the cluster).

    Validation NDCG@10 over ``val_cases`` drives early stopping (none: every epoch is kept, as locally).
    ``storage``: where Ray Train writes the checkpoint (a path or URI every node reaches; None: a
    temporary folder, removed after, which is enough on one machine).  ``progress`` (rank 0's batch lines,
    at most one a second) and ``on_epoch`` (each validated epoch) are called while the workers train, from a
    thread of this process; so is ``cancel``: its ``Cancelled`` stops every worker within about a second, the
    best complete epoch is kept, and a stop before the first epoch ends raises ``TrainingStopped``, as locally.
    ``start``/``examples`` as in ``train_model``; ``start`` is updated in place and returned.  A worker's
    ``TrainingDiverged`` (or other ``RecsysError``) is raised here as is.
    """
    say = progress or quiet
    train = _ray_train()
    from ray.train.torch import TorchConfig, TorchTrainer
    from ray.util.queue import Queue

    if engine.workers is not None:
        check_workers(engine.workers, config)
    folder = None if storage else tempfile.mkdtemp(prefix="recsys-ray-train-")
    try:
        with ray_runtime(engine) as ray:
            workers = engine.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
            check_workers(workers, config)
            say(0.0, f"training on {workers} Ray workers")
            # Created before the workers: an actor needs a free CPU to be placed, and the workers take them all.
            events, stop = (Queue(actor_options={"num_cpus": 0}) for _ in range(2))
            job = {
                "catalog": ray.put(catalog),
                "split": ray.put(split),
                "val_cases": ray.put(list(val_cases)),
                "examples": None if examples is None else ray.put(examples),
                "start": None if start is None else ray.put(start.state_dict()),
                "model_config": model_config,
                "config": config,
                "events": events,
                "stop": stop,
            }
            trainer = TorchTrainer(
                _train_worker,
                train_loop_config=job,
                torch_config=TorchConfig(backend="gloo"),
                scaling_config=train.ScalingConfig(num_workers=workers, use_gpu=False),
                run_config=train.RunConfig(name=f"recsys-{uuid.uuid4().hex[:12]}", storage_path=storage or folder),
            )
            relay = _Relay(events, stop, say, on_epoch, cancel or go_on)
            relay.start()
            try:
                outcome = trainer.fit()
            except train.WorkerGroupError as exc:
                raise _worker_error(exc) from None
            except train.TrainingFailedError as exc:
                raise RecsysError(f"Training on Ray failed: {(str(exc).splitlines() or [''])[-1][:300]}") from None
            finally:
                relay.finish()  # the events sent before the end are relayed, in order, before this returns
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
        if on_epoch and entry.epoch not in relay.epochs:  # only if its event was lost: each epoch is told once
            on_epoch(entry)
    return result


class _Relay(threading.Thread):
    """The driver's side of a live run: relays rank 0's events to ``say``/``on_epoch`` and a stop to rank 0.

    A thread, because ``TorchTrainer.fit`` holds the calling thread until the workers end.  An error in a
    callback is kept and raised by ``finish`` (in the calling thread), as local training would raise it.
    """

    def __init__(self, events, stop, say: Progress, on_epoch: Callable[[EpochLog], None] | None,
                 cancel: Checkpoint):
        super().__init__(name="recsys-ray-relay", daemon=True)
        self.queues, self.say, self.on_epoch, self.cancel = (events, stop), say, on_epoch, cancel
        self.epochs: set[int] = set()
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.stop_sent = False

    def run(self) -> None:
        from ray.util.queue import Empty

        events = self.queues[0]
        while True:
            try:
                event = events.get(timeout=0.2)
            except Empty:
                if self.done.is_set():
                    return  # ended, and nothing is left to relay
                event = None
            try:
                if event is not None and self.error is None:
                    self._tell(event)
                if not self.stop_sent and not self.done.is_set():
                    self.cancel()
            except Cancelled:
                self._ask_stop()
            except Exception as exc:  # noqa: BLE001 - raised again by finish(), in the caller's thread
                self.error = self.error or exc
                self._ask_stop()  # a failing callback ends the run, as it would end local training

    def _ask_stop(self) -> None:
        if not self.stop_sent:
            self.queues[1].put(True)
            self.stop_sent = True

    def _tell(self, event: tuple) -> None:
        if event[0] == "epoch":
            entry = EpochLog(**event[1])
            self.epochs.add(entry.epoch)
            if self.on_epoch:
                self.on_epoch(entry)
        else:
            self.say(event[1], event[2])

    def finish(self) -> None:
        self.done.set()
        self.join()
        for queue in self.queues:
            queue.shutdown()
        if self.error is not None:
            raise self.error


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
    optimiser = make_optimiser(data.model, config)
    # Unused parameters: ablations (no ids, no profile, ...) leave some weights out of every step.
    net = prepare_model(BatchLoss(data.model, config), parallel_strategy_kwargs={"find_unused_parameters": True})
    val_cases = ray.get(job["val_cases"])
    main = workers.rank == 0
    validate = ValidationNdcg(catalog, val_cases) if main and val_cases else None
    result = run_epochs(data, net, optimiser, catalog, split, config, workers, validate=validate,
                        from_start=start is not None, cancel=_stop_check(job["stop"], workers),
                        on_epoch=(lambda entry: job["events"].put(("epoch", asdict(entry)))) if main else None,
                        progress=_progress_sender(job["events"]) if main else None)
    metrics = {"log": [asdict(e) for e in result.log], "best_epoch": result.best_epoch,
               "stopped": result.stopped, "start_score": result.start_score}
    if not main:
        ray.train.report(metrics)
        return
    finish(result, optimiser)
    with tempfile.TemporaryDirectory() as folder:
        torch.save(result.model.state_dict(), Path(folder) / STATE_FILE)
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(folder))


class _Every:
    """``due()`` is true at most once per ``seconds``: rank 0's pace for calls to a queue actor."""

    def __init__(self, seconds: float, first_now: bool):
        self.seconds = seconds
        self.last = float("-inf") if first_now else time.monotonic()

    def due(self) -> bool:
        now = time.monotonic()
        if now - self.last < self.seconds:
            return False
        self.last = now
        return True


def _progress_sender(events) -> Progress:
    """Rank 0's ``progress``: a batch line up the events queue, at most one per ``LIVE_EVERY`` seconds."""
    pace = _Every(LIVE_EVERY, first_now=True)

    def send(fraction: float, message: str) -> None:
        if pace.due():
            events.put(("progress", fraction, message))

    return send


def _stop_check(stop, workers: Workers) -> Checkpoint:
    """Every worker's ``cancel``: rank 0 reads the stop queue (at most once per ``LIVE_EVERY`` seconds) and
    all workers raise ``Cancelled`` at the same batch, since each step's all-reduce needs every one of them."""
    pace = _Every(LIVE_EVERY, first_now=False)

    def check() -> None:
        asked = workers.rank == 0 and pace.due() and not stop.empty()
        if workers.first_says(asked):
            raise Cancelled

    return check
