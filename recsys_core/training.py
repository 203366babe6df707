"""Training the hybrid model on frozen text vectors.

Examples are next-item predictions: for every position t of a user's training
sequence, the history is the items before t (newest first) and the target is
item t.  The loss is a sampled softmax of each target against negatives shared by
the batch (``loss="softmax"``; drawn uniformly, or a share of them by popularity: ``negatives.py``),
or BPR with one negative per positive (``loss="bpr"``); docs/model.md has the comparison.  Early stopping
watches validation NDCG@10 and keeps the best weights.
"""
from __future__ import annotations

import copy
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Literal, get_args

import numpy as np
import torch
import torch.distributed
from torch import nn
from torch.nn import functional as F

from .batching import make_user_input
from .catalog import Catalog
from .errors import RecsysError
from .model import HybridRecommender, ModelConfig, UserInput, seeded_model
from .negatives import NegativeSampler
from .optimiser import IdTableOptimiser
from .progress import Cancelled, Checkpoint, Progress, go_on, quiet, rough_duration
from .splits import Split

Loss = Literal["softmax", "bpr"]
LOSSES: tuple[Loss, ...] = get_args(Loss)
# Why training ended (TrainResult.stopped, TrainingRecord.stopped).
StopReason = Literal["completed", "early-stopping", "stopped by user", "time budget"]


# From this many items on, "auto" updates the id tables row-wise.  One training step
# (bench/sparse_ids.py, alone, 2026-12-02): 2k items 113 ms dense, 114 ms row-wise (level); 100k items 157 ms
# against 88 ms (0.56x); 1M items 745 ms against 109 ms (0.15x).  Below ~20k items the dense update costs
# under ~10% of a step, and the models trained so far (the demo's) keep their dense optimiser.
SPARSE_IDS_FROM = 20_000


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    negatives: int = 128
    loss: Loss = "softmax"
    patience: int = 3
    seed: int = 0
    max_val_users: int = 1000  # validation subsample that drives early stopping
    # ... and at most this many ranked (user, item) pairs per validation: 1,000 users of a
    # 2k-item catalogue, 200 of a 100k one (each epoch's validation stays ~1-2 min on 2 cores).
    max_val_pairs: int = 20_000_000
    # Stop before an epoch that would end past this many minutes of training (None: no limit).
    # A budget makes any setting finish on a small CPU; the best complete epoch is kept.
    max_minutes: float | None = None
    # Weight of a second softmax in which the same targets and negatives are scored with no item ids
    # (as cold items are): it trains the text path to rank on its own, not only as the ids' residual.
    text_loss: float = 0.0
    # Update the item id embedding and bias tables row-wise (sparse gradients, torch's lazy SparseAdam):
    # a step then costs the rows the batch touched, not the catalogue.  With dense AdamW, a 1M-item
    # catalogue spends most of every step reading and writing 1M rows the batch never saw.
    # None ("auto"): row-wise from SPARSE_IDS_FROM items on (``uses_sparse_ids``).
    sparse_ids: bool | None = None
    # Share of the softmax's negatives drawn by training popularity rather than uniformly, with the sampled-softmax
    # correction (negatives.py): popular items then compete with the targets, as they do at ranking time.
    popular_negatives: float = 0.0

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise RecsysError(f"Unknown loss {self.loss!r}: choose one of {', '.join(LOSSES)}.")
        if self.epochs < 1:
            raise RecsysError(f"epochs must be at least 1, got {self.epochs}.")
        if not 0.0 <= self.popular_negatives <= 1.0:
            raise RecsysError(f"popular_negatives is a share of the negatives, from 0 to 1; got {self.popular_negatives}.")
        if self.loss == "bpr" and self.popular_negatives > 0:
            # BPR draws one uniform negative per positive: a popular share would be silently ignored.
            raise RecsysError(f"Popular negatives ({self.popular_negatives:g}) apply to the softmax loss only: BPR "
                              "draws one uniform negative per positive. Set popular negatives to 0, or choose the "
                              "softmax loss.")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise RecsysError(f"max_minutes must be positive (or None for no limit), got {self.max_minutes}.")

    def to_dict(self) -> dict:
        return asdict(self)

    def uses_sparse_ids(self, n_items: int) -> bool:
        """Whether the id tables of a ``n_items`` catalogue are updated row-wise: as set, or by size when "auto"."""
        return self.sparse_ids if self.sparse_ids is not None else n_items >= SPARSE_IDS_FROM

    def validation_users(self, n_items: int) -> int:
        """How many validation users drive early stopping for a catalogue of ``n_items``."""
        return max(1, min(self.max_val_users, self.max_val_pairs // max(n_items, 1)))


@dataclass(frozen=True)
class EpochLog:
    epoch: int
    loss: float
    val_ndcg10: float
    seconds: float


@dataclass(frozen=True)
class TrainingRecord:
    """How a model came to be, kept with it (``config.json``'s ``"settings"``) and shown on its pages.

    best_epoch: the epoch whose weights were kept (1-based; 0 when unknown).
    stopped: why training ended: "completed" | "early-stopping" | "stopped by user" | "time budget".
    train_seconds: wall time of the whole fit (encoding, training, evaluation).
    dataset: ``Dataset.summary()`` of what it was trained on (interactions, users, items, users_with_profiles).
    updates: what each incremental update since added and measured (``update.UpdateReport.to_dict()``, oldest
        first; read by ``UpdateReport.from_dict``); empty for a model as trained.
    n_train_interactions: interactions in the training part of the split.
    options: ``FitOptions.to_dict()`` as written (an archive of every setting, read by people, not code).
    """

    best_epoch: int = 0
    stopped: StopReason | Literal[""] = ""  # "" in records saved before it was kept
    train_seconds: float = 0.0
    dataset: dict[str, int] = field(default_factory=dict)
    n_train_interactions: int = 0
    options: dict = field(default_factory=dict)
    updates: list[dict] = field(default_factory=list)

    @property
    def n_users(self) -> int | None:
        return self.dataset.get("users")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> "TrainingRecord":
        """The one reader of saved records; models saved before a key existed (or with none) get its default."""
        if not isinstance(data, dict):
            return cls()
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def budget_advice(record: TrainingRecord, log: Sequence[EpochLog]) -> str | None:
    """A sentence when training stopped on its time budget while validation was still rising, else None.

    "Still rising" means the last epoch trained is the best one: the budget, not the data, ended the
    training, so a larger budget would likely give a better model.  The CLI prints it and the Train page
    shows it next to the training summary.
    """
    if record.stopped != "time budget" or not log or record.best_epoch != log[-1].epoch:
        return None
    budget = (record.options.get("train") or {}).get("max_minutes")
    within = f"the {budget:g}-minute time budget" if isinstance(budget, (int, float)) else "its time budget"
    rise = f" (from {log[-2].val_ndcg10:.4f} to {log[-1].val_ndcg10:.4f})" if len(log) > 1 else ""
    return (f"Training stopped on {within} after {len(log)} epoch{'s' if len(log) != 1 else ''} while validation "
            f"NDCG@10 was still rising{rise}: its last epoch was its best. A larger budget would likely give a "
            "better model: raise the time budget and train again.")


class TrainingStopped(RecsysError):
    """Training was stopped before any epoch was complete and validated: there is no model to keep."""


class TrainingDiverged(RecsysError):
    """A non-finite loss, input vector or weight: training stops and no model is made (nor saved)."""


def _check_finite_vectors(catalog: Catalog) -> None:
    """Refuse text vectors holding NaN or infinity before training on them (every loss would be NaN)."""
    for what, vectors in (("item", catalog.item_vectors), ("user profile", catalog.profile_vectors)):
        bad = int((~np.isfinite(np.asarray(vectors))).reshape(len(vectors), -1).any(axis=1).sum()) if len(vectors) else 0
        if bad:
            raise TrainingDiverged(
                f"{bad} of the {len(vectors)} {what} text vectors are not finite (NaN or infinite): no model was made. "
                "The encoder's output is damaged: check the encoder folder and the embedding cache, then train again."
            )


def _check_finite_model(model: HybridRecommender) -> None:
    """Never hand back (so never save) a model with a non-finite weight."""
    bad = [name for name, tensor in model.state_dict().items() if not torch.isfinite(tensor).all()]
    if bad:
        raise TrainingDiverged(
            f"Training produced non-finite weights ({bad[0]}{' and more' if len(bad) > 1 else ''}): no model was made. "
            "Lower the learning rate and train again.",
        )


@dataclass
class TrainResult:
    model: HybridRecommender
    log: list[EpochLog] = field(default_factory=list)
    best_epoch: int = 0  # 0: no epoch beat the starting weights (an update kept them)
    stopped: StopReason = "completed"
    start_score: float | None = None  # validation NDCG@10 of the starting weights (``train_model(start=...)``)


# (user ids, target positions in their ``split.train`` sequence): the training examples of one fit
Examples = tuple[list[str], np.ndarray]


def training_examples(split: Split, catalog: Catalog) -> Examples:
    """(user, target position) pairs: every position with some context (history or a profile) whose item
    may be a target (with ratings, a like: a disliked item is only ever history)."""
    users, positions = [], []
    for user, seq in split.train.items():
        start = 0 if user in catalog.profile_index else 1
        targets = split.is_target(user)
        for t in range(start, len(seq)):
            if targets[t]:
                users.append(user)
                positions.append(t)
    return users, np.asarray(positions, dtype=np.int64)


@dataclass(frozen=True)
class Workers:
    """The processes training one model together (data parallel), and which of them this one is.

    Local training is one worker and every method below is then the identity.  With several (Ray Train
    workers, ``recsys_core.ray_training``), ``torch.distributed`` is initialised by the caller; every worker
    runs the same loop on its share of each batch, rank 0 alone validates and decides when to stop, and
    the decisions reach the others through these collectives (called in the same order on every worker).
    """

    rank: int = 0
    count: int = 1

    def all_finite(self, loss: torch.Tensor) -> bool:
        """Whether every worker's loss is finite: a stop must be taken by all, or the others would wait
        forever in the next gradient all-reduce."""
        finite = bool(torch.isfinite(loss))
        if self.count == 1:
            return finite
        flag = torch.tensor([0.0 if finite else 1.0])
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return flag.item() == 0.0

    def first_says(self, decision: bool) -> bool:
        """Rank 0's ``decision`` (early stopping, time budget), on every worker."""
        if self.count == 1:
            return decision
        flag = torch.tensor([1.0 if decision else 0.0])
        torch.distributed.broadcast(flag, src=0)
        return flag.item() == 1.0


class BatchLoss(nn.Module):
    """The model with the training loss as its ``forward``: a batch's user inputs, targets and sampled
    negatives → the loss.  Data-parallel training wraps this module (``DistributedDataParallel`` runs its
    gradient all-reduce around ``forward``), local training calls it as it is: the same maths either way."""

    def __init__(self, model: HybridRecommender, config: TrainConfig):
        super().__init__()
        self.model = model
        self.loss, self.text_loss = config.loss, config.text_loss

    def forward(self, user: UserInput, target_idx: torch.Tensor, negatives: torch.Tensor,
                item_vectors: torch.Tensor, target_log_q: torch.Tensor | None = None,
                negative_log_q: torch.Tensor | None = None) -> torch.Tensor:
        """The batch's loss; ``*_log_q``: what the softmax lowers each target's and negative's logit by
        (``negatives.NegativeSampler.correction``), None for none."""
        model = self.model
        if self.loss == "bpr":
            cand_idx = torch.stack([target_idx, negatives], dim=1)  # (B, 2): one negative per target
            scores = model.score(user, item_vectors[cand_idx], cand_idx)
            return -F.logsigmoid(scores[:, 0] - scores[:, 1]).mean()
        # Sampled softmax: each user's own target against negatives shared by the whole batch
        # (sharing keeps the cost at B × (1 + N) pairs instead of B × B).
        ctx = model.context(user)  # one user side (and one dropout draw) for the target and the negatives
        log_q = (target_log_q, negative_log_q)
        loss = _softmax_loss(model, ctx, item_vectors, target_idx, negatives, target_idx, negatives, *log_q)
        if self.text_loss > 0:
            # The same ranking with every candidate's id hidden (index -1 = no id), as a cold item is scored.
            no_id = torch.full_like(target_idx, -1)
            loss = loss + self.text_loss * _softmax_loss(
                model, ctx, item_vectors, target_idx, negatives, no_id, torch.full_like(negatives, -1), *log_q)
        return loss


@dataclass
class TrainingData:
    """What every worker trains on: the model (fresh or ``start``, its ``warm`` mask and evidence set from
    the split), the text vectors as a tensor, how negatives are drawn (``NegativeSampler``, from the warm
    items), and the examples."""

    model: HybridRecommender
    item_vectors: torch.Tensor
    negatives: NegativeSampler  # also holds the warm items every negative is drawn from
    users: list[str]
    positions: np.ndarray


def prepare_training(
    catalog: Catalog, split: Split, model_config: ModelConfig, config: TrainConfig,
    start: HybridRecommender | None = None, examples: Examples | None = None,
) -> TrainingData:
    """The model and tensors of a training run (the same on every worker of a data-parallel one)."""
    model = start if start is not None else seeded_model(model_config, config.seed)
    model.generator = torch.Generator().manual_seed(config.seed)  # dropout draws of this training alone
    warm_mask = split.warm_mask(catalog.n_items)
    warm = torch.ones(catalog.n_items + 1)
    warm[1:] = torch.from_numpy(warm_mask.astype(np.float32))
    model.warm.copy_(warm)
    # Each training interaction's item, for the evidence gate and popular negatives only (~8 MB at 1M interactions).
    needs_items = model_config.evidence_gate or config.popular_negatives > 0
    interactions = np.concatenate([np.zeros(0, np.int64), *(split.train.values() if needs_items else ())])
    if model_config.evidence_gate:
        counts = np.bincount(interactions, minlength=catalog.n_items)
        model.evidence[1:] = torch.from_numpy(np.log1p(counts[: catalog.n_items]).astype(np.float32))
    _check_finite_vectors(catalog)
    if start is None:
        model.set_text_center(catalog.item_vectors)
    with warnings.catch_warnings():
        # On a Ray worker the vectors are a read-only view of the object store (shared by the workers of a
        # node); training only ever reads them, so no copy is made.
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        item_vectors = torch.from_numpy(catalog.item_vectors)
    users, positions = examples if examples is not None else training_examples(split, catalog)
    if not len(positions):
        raise RecsysError("There is nothing to train on: every user has fewer than 2 training interactions.")
    negatives = NegativeSampler.build(np.flatnonzero(warm_mask), interactions, catalog.n_items, config.negatives,
                                      config.popular_negatives)
    return TrainingData(model, item_vectors, negatives, users, positions)


def train_step(
    net: nn.Module, optimiser: IdTableOptimiser, data: TrainingData, catalog: Catalog, split: Split,
    rows: np.ndarray, config: TrainConfig, rng: np.random.Generator, workers: Workers, where: str,
) -> float:
    """One optimiser step on the examples ``rows`` of ``data``: their inputs, the sampled negatives, the loss
    (``net``: a ``BatchLoss``, wrapped for data-parallel training), backward and the step; the loss value.
    ``where`` ("epoch 2, batch 5") names the step in the message of a non-finite loss."""
    batch_users = [data.users[r] for r in rows]
    batch_pos = data.positions[rows]
    histories = [split.train[u][:t] for u, t in zip(batch_users, batch_pos)]
    ratings = [split.train_ratings[u][:t] if u in split.train_ratings else None
               for u, t in zip(batch_users, batch_pos)]
    targets = np.array([split.train[u][t] for u, t in zip(batch_users, batch_pos)])
    model_config = data.model.config
    user = make_user_input(
        histories, [catalog.profile_vector(u) for u in batch_users], data.item_vectors, model_config.max_history,
        ratings, model_config.rating_scale,
    )
    target_idx = torch.from_numpy(targets)
    if config.loss == "bpr":
        negatives = data.negatives.one_each(rng, len(targets))
        loss = net(user, target_idx, negatives, data.item_vectors)
    else:
        negatives = data.negatives.draw(rng)
        loss = net(user, target_idx, negatives, data.item_vectors,
                   data.negatives.correction(target_idx), data.negatives.correction(negatives))
    if not workers.all_finite(loss):  # every later step would spread it to the weights: stop at once
        value = loss.item() if not torch.isfinite(loss) else "not finite on another worker"
        raise TrainingDiverged(
            f"Training stopped at {where}: the loss is {value} (not finite), so no model was made. Lower the "
            "learning rate, or check the encoder and its embedding cache, and train again.")
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    return loss.item()


def train_model(
    catalog: Catalog,
    split: Split,
    model_config: ModelConfig,
    config: TrainConfig = TrainConfig(),
    on_epoch: Callable[[EpochLog], None] | None = None,
    progress: Progress | None = None,
    cancel: Checkpoint | None = None,
    validate: Callable[[HybridRecommender], float] | None = None,
    start: HybridRecommender | None = None,
    examples: Examples | None = None,
) -> TrainResult:
    """Train with early stopping on ``validate(model)`` (validation NDCG@10), in this process.

    ``start``: continue from these weights (an incremental update, ``recsys_core.update``) instead of a
    fresh model; its ``warm`` mask (and evidence) are set from ``split`` like a fresh model's, it is
    validated before the first epoch ("epoch 0", ``TrainResult.start_score``), and it is kept unchanged
    when no epoch does better.  ``examples``: the (user, target position) pairs to train on, instead of
    every position of ``split.train`` (an update trains on the new positions and a replay sample).

    ``progress(fraction of all epochs, "epoch 2 of at most 30, batch 5 / 40 — about …")``
    is called after every batch; ``cancel()`` is called before every batch,
    and a ``Cancelled`` it raises stops training at once (a dashboard's Stop
    button).  An epoch cut short by a stop is neither validated nor logged (its
    weights are a partial pass); the best complete epoch is kept, and a stop
    before the first complete epoch raises ``TrainingStopped``.  Non-finite text vectors, a non-finite
    loss or non-finite final weights raise ``TrainingDiverged``: no model is returned, so none is saved.
    ``recsys_core.ray_training`` runs the same loop (``run_epochs``) on Ray Train workers.
    """
    data = prepare_training(catalog, split, model_config, config, start, examples)
    optimiser = make_optimiser(data.model, config)
    result = run_epochs(data, BatchLoss(data.model, config), optimiser, catalog, split, config,
                        on_epoch=on_epoch, progress=progress, cancel=cancel, validate=validate,
                        from_start=start is not None)
    return finish(result, optimiser)


def run_epochs(
    data: TrainingData,
    net: nn.Module,
    optimiser: IdTableOptimiser,
    catalog: Catalog,
    split: Split,
    config: TrainConfig,
    workers: Workers = Workers(),
    on_epoch: Callable[[EpochLog], None] | None = None,
    progress: Progress | None = None,
    cancel: Checkpoint | None = None,
    validate: Callable[[HybridRecommender], float] | None = None,
    from_start: bool = False,
) -> TrainResult:
    """The epochs of ``train_model`` (its docstring has the rules), on this worker's share of every batch.

    Every worker walks the same shuffled order of the examples and takes every ``workers.count``-th row of
    each batch, so the batch over all workers is the local one (``config.batch_size``).  Rank 0 validates,
    keeps the best weights and decides the time budget and early stopping; the other ranks' results are
    not used.  Returns with the best weights loaded (on rank 0).
    """
    say, check = progress or quiet, cancel or go_on
    model, positions = data.model, data.positions
    main = workers.rank == 0
    rng = np.random.default_rng(config.seed)
    # One generator for the order (the same on every worker) and, with several workers, one per worker
    # for the negatives and dropout (a shared draw would repeat the same negatives on every worker).
    sampling = rng
    if workers.count > 1:
        sampling = np.random.default_rng([config.seed, workers.rank])
        model.generator = torch.Generator().manual_seed(config.seed * 1000 + workers.rank)
    result = TrainResult(model=model)
    best, best_state, bad_epochs = -1.0, None, 0
    if from_start and validate is not None and main:
        model.eval()
        best = result.start_score = validate(model)
        best_state = copy.deepcopy(model.state_dict())
    n_batches = (len(positions) + config.batch_size - 1) // config.batch_size
    if len(positions) - (n_batches - 1) * config.batch_size < workers.count:
        n_batches -= 1  # a last batch smaller than the workers would leave one with nothing: it is skipped
    if n_batches < 1:
        raise RecsysError(f"{len(positions)} training examples cannot be shared by {workers.count} workers: "
                          "train with fewer workers (or locally).")
    budget = config.max_minutes * 60 if config.max_minutes else None
    training_started = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        spent = time.perf_counter() - training_started
        # the next epoch, at the mean pace, would end past the budget
        if workers.first_says(bool(budget and result.log and spent + spent / len(result.log) > budget)):
            result.stopped = "time budget"
            break
        started = time.perf_counter()
        net.train()
        order = rng.permutation(len(positions))
        losses = []
        for b in range(n_batches):
            try:
                check()
            except Cancelled:
                result.stopped = "stopped by user"
                break
            rows = order[b * config.batch_size : (b + 1) * config.batch_size][workers.rank :: workers.count]
            losses.append(train_step(net, optimiser, data, catalog, split, rows, config, sampling, workers,
                                     f"epoch {epoch}, batch {b + 1}"))
            say(min((epoch - 1 + (b + 1) / n_batches) / config.epochs, 1.0),
                batch_message(epoch, config.epochs, b + 1, n_batches, [e.seconds for e in result.log],
                              time.perf_counter() - started, budget - (time.perf_counter() - training_started) if budget else None))
        model.eval()
        if result.stopped == "stopped by user":
            break  # a partial epoch: not validated, not logged
        stop = False
        if main:
            score = validate(model) if validate else float("nan")
            entry = EpochLog(epoch, float(np.mean(losses)) if losses else float("nan"), score, time.perf_counter() - started)
            result.log.append(entry)
            if on_epoch:
                on_epoch(entry)
            if validate is None or score > best:
                best, bad_epochs, result.best_epoch = score, 0, epoch
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad_epochs += 1
            stop = bad_epochs >= config.patience
        if workers.first_says(stop):
            result.stopped = "early-stopping"
            break
    if main and not result.log:
        raise TrainingStopped(
            "Training was stopped during epoch 1, before any epoch was complete: no model was made "
            "(the previous one is kept). Train again and stop after the first epoch."
        )
    if best_state is not None:
        model.load_state_dict(best_state)
    return result


def make_optimiser(model: HybridRecommender, config: TrainConfig) -> IdTableOptimiser:
    """The optimiser ``config`` asks for: row-wise id tables when set, or by catalogue size when "auto"."""
    return IdTableOptimiser(model, config.lr, config.weight_decay, config.uses_sparse_ids(model.config.n_items))


def finish(result: TrainResult, optimiser: IdTableOptimiser) -> TrainResult:
    """The trained model handed back dense, in evaluation mode, and refused when a weight is not finite."""
    optimiser.done()
    result.model.generator = None
    result.model.eval()
    _check_finite_model(result.model)
    return result


def remaining_seconds(
    epoch_seconds: list[float], batches_done: int, batches_total: int, epoch_elapsed: float, epochs_left: int,
    budget_left: float | None = None,
) -> tuple[float | None, float | None]:
    """(this epoch, the whole run at most) seconds still to go, from the pace so far; None before any batch.

    The whole-run figure assumes every remaining epoch runs (early stopping
    often ends sooner) and is capped by what is left of a time budget.
    """
    if batches_done == 0:
        return None, None
    this_epoch = epoch_elapsed / batches_done * (batches_total - batches_done)
    per_epoch = sum(epoch_seconds) / len(epoch_seconds) if epoch_seconds else epoch_elapsed / batches_done * batches_total
    total = this_epoch + per_epoch * epochs_left
    if budget_left is not None:
        total = min(total, max(budget_left, this_epoch))
    return this_epoch, total


def batch_message(
    epoch: int, epochs: int, done: int, total: int, epoch_seconds: list[float], epoch_elapsed: float,
    budget_left: float | None,
) -> str:
    """"epoch 2 of at most 10, batch 5 / 40 — about 3 s left in this epoch, at most 2 min in all"."""
    this_epoch, at_most = remaining_seconds(epoch_seconds, done, total, epoch_elapsed, epochs - epoch, budget_left)
    # One batch is too little to go on, unless finished epochs already give the pace.
    known = done > 1 or bool(epoch_seconds)
    eta = f" — about {rough_duration(this_epoch)} left in this epoch, at most {rough_duration(at_most)} in all" if known else ""
    return f"epoch {epoch} of at most {epochs}, batch {done} / {total}{eta}"


def _softmax_loss(model, ctx, item_vectors, target_idx, negs, target_ids, neg_ids,
                  target_log_q=None, neg_log_q=None) -> torch.Tensor:
    """Sampled softmax of each target against the shared negatives; ``*_ids`` are the indices the model
    sees (the real ones, or -1 to hide the ids), ``target_idx``/``negs`` the items whose text is used,
    ``*_log_q`` the sampling correction subtracted from their logits (None: none)."""
    pos = model.score_in_context(ctx, item_vectors[target_idx].unsqueeze(1), target_ids.unsqueeze(1))[0]  # (B, 1)
    neg = model.score_in_context(ctx, item_vectors[negs], neg_ids)[0]  # (B, N)
    if target_log_q is not None:
        pos, neg = pos - target_log_q.unsqueeze(1), neg - neg_log_q.unsqueeze(0)
    neg = neg.masked_fill(negs.unsqueeze(0) == target_idx.unsqueeze(1), float("-inf"))  # a target is no negative
    logits = torch.cat([pos, neg], dim=1)
    return F.cross_entropy(logits, torch.zeros(len(target_idx), dtype=torch.long))
