"""Taking new data into a trained model without training it again from scratch: an incremental update.

Recommenders live on a stream of interactions, and new items arrive every week.  ``update_model`` takes a
trained :class:`Recommender` and an :class:`Increment` (new interactions, optionally new or changed items
and profiles) and returns a new Recommender:

1. the catalogue grows (``catalog_growth.grow_catalog``): only new and changed texts are encoded, known
   histories are extended and new users added, so new users are served at once, from their histories;
2. the model grows (``model.with_items``): a new item starts cold, scored from its text alone, and gets an
   id embedding once it has interactions to train on;
3. training continues from the model's weights for a bounded budget on a *replay mix*: every new
   interaction as a target, plus ``replay`` old ones per new one drawn at random, so the model learns
   the new period without forgetting the old; each user's newest interaction is held out and the update
   is validated on those (the model before the update is "epoch 0", and kept if no epoch beats it);
4. optionally (``compare_retrain``) a model is trained from scratch on all the data with the model's own
   settings and scored on the same newest interactions, for the report.

The update's report is kept with the model (``TrainingRecord.updates``); its evaluation report is the one of
its first training and is left as is (the pages say so).  Measured against full retraining on a time split
in ``bench/update.py`` (docs/benchmarks.md, "Incremental updates").
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from typing import Literal, get_args

import numpy as np
import pandas as pd

from .catalog import Catalog
from .catalog_growth import CatalogChanges, grow_catalog
from .encoder import TextEncoder, default_cache_dir
from .encoding import encoder_for
from .errors import RecsysError
from .evaluation import ValidationNdcg, evaluate_scorer, model_scorer
from .model import with_items
from .parallel import Engine
from .pipeline import FitOptions, fit
from .progress import Checkpoint, Progress, quiet
from .ratings import RatingScale, liked
from .recommender import Recommender
from .schema import Increment
from .splits import EvalCase, Split, SplitConfig
from .training import EpochLog, TrainingStopped, train_model, training_examples

UpdateStage = Literal["encoding new texts", "updating", "retraining from scratch for the comparison"]
UPDATE_STAGES: tuple[UpdateStage, ...] = get_args(UpdateStage)


@dataclass(frozen=True)
class UpdateOptions:
    """How an update trains.

    epochs: passes over the replay mix at most; patience: passes without a better validation NDCG@10 before
    stopping; replay: old training examples drawn per new one (0: new interactions only); lr: None uses
    the model's own training rate; max_minutes: the training budget (the best complete pass is kept);
    max_val_users: newest interactions held out for validation, at most (one per user);
    compare_retrain: also train from scratch on all the data, for the report (as long as a training).
    """

    epochs: int = 3
    patience: int = 1
    replay: float = 3.0
    lr: float | None = None
    max_minutes: float | None = 10.0
    max_val_users: int = 1000
    seed: int = 0
    compare_retrain: bool = False
    cache_dir: str | None = None
    engine: Engine = field(default_factory=Engine)

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.patience < 1:
            raise RecsysError(f"An update needs at least 1 epoch and a patience of 1, got {self.epochs} and {self.patience}.")
        if not 0 <= self.replay <= 100:
            raise RecsysError(f"replay must be from 0 to 100 old examples per new one, got {self.replay}.")
        if self.lr is not None and not 0 < self.lr <= 1:
            raise RecsysError(f"The update's learning rate must be above 0 and at most 1, got {self.lr}.")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise RecsysError(f"max_minutes must be positive (or None for no limit), got {self.max_minutes}.")


@dataclass(frozen=True)
class RetrainComparison:
    """A model trained from scratch on all the data, scored on the update's newest interactions."""

    ndcg10: float
    seconds: float
    best_epoch: int


@dataclass(frozen=True)
class UpdateReport:
    """What one update added, how long it took and what it did to NDCG@10 on the newest interactions.

    ndcg10_before: the model before the update (its new items cold, scored from text) on each validation
    user's newest interaction; ndcg10_after: the updated model on the same cases; None without cases.
    best_epoch: 0 when no pass of the update beat the model before it (the weights were kept).
    """

    items_added: int = 0
    items_changed: int = 0
    users_added: int = 0
    users_extended: int = 0
    interactions_added: int = 0
    repeats_skipped: int = 0
    profiles_added: int = 0
    profiles_changed: int = 0
    validation_users: int = 0
    ndcg10_before: float | None = None
    ndcg10_after: float | None = None
    examples_new: int = 0
    examples_replay: int = 0
    epochs: int = 0
    best_epoch: int = 0
    stopped: str = ""
    seconds: float = 0.0
    retrain: RetrainComparison | None = None
    notices: tuple[str, ...] = ()
    updated_at: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> "UpdateReport":
        """The one reader of a kept report; unknown keys are ignored, a damaged retrain entry is left out."""
        if not isinstance(data, dict):
            return cls()
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        retrain = values.get("retrain")
        try:
            values["retrain"] = RetrainComparison(**retrain) if isinstance(retrain, dict) else None
        except TypeError:
            values["retrain"] = None
        values["notices"] = tuple(str(n) for n in values.get("notices") or ())
        return cls(**values)

    def lines(self) -> list[str]:
        """The report as sentences, for the CLI and the Train page."""
        out = [
            f"Added {self.interactions_added:,} interactions, {self.items_added:,} new items "
            f"({self.items_changed:,} changed texts) and {self.users_added:,} new users "
            f"({self.users_extended:,} known users extended) in {self.seconds:.1f} s.",
        ]
        if self.epochs:
            kept = ("no pass beat the model before the update, so its weights were kept" if self.best_epoch == 0
                    else f"pass {self.best_epoch} kept")
            out.append(f"Trained {self.epochs} pass{'es' if self.epochs != 1 else ''} over {self.examples_new:,} new "
                       f"and {self.examples_replay:,} replayed examples ({self.stopped}); {kept}.")
        if self.ndcg10_before is not None and self.ndcg10_after is not None:
            out.append(f"NDCG@10 on the newest interactions of {self.validation_users:,} users: "
                       f"{self.ndcg10_before:.4f} before, {self.ndcg10_after:.4f} after.")
        if self.retrain is not None:
            ratio = (f" ({self.ndcg10_after / self.retrain.ndcg10:.2f}× its NDCG"
                     f" in {self.seconds / max(self.retrain.seconds, 1e-9):.2f}× its time)"
                     if self.ndcg10_after is not None and self.retrain.ndcg10 > 0 else "")
            out.append(f"A model retrained from scratch on all the data: NDCG@10 {self.retrain.ndcg10:.4f} in "
                       f"{self.retrain.seconds:.1f} s{ratio}.")
        return out + list(self.notices)


@dataclass
class UpdateResult:
    recommender: Recommender
    report: UpdateReport
    changes: CatalogChanges


def update_model(
    recommender: Recommender,
    increment: Increment,
    options: UpdateOptions = UpdateOptions(),
    progress: Progress | None = None,
    cancel: Checkpoint | None = None,
    on_epoch: Callable[[EpochLog], None] | None = None,
) -> UpdateResult:
    """``recommender`` updated with ``increment``; ``recommender`` itself is not changed.

    progress(fraction of the stage, message): each stage of ``UPDATE_STAGES`` starts with
    ``progress(0.0, stage)``.  cancel() is checked before every batch: a stop keeps the best complete pass
    (the model before the update counts as one), and a stop before the first pass ends raises
    ``TrainingStopped`` with nothing changed.
    """
    say = progress or quiet
    started = time.perf_counter()
    say(0.0, "encoding new texts")
    encoder = TextEncoder(recommender.encoder_config, cache_dir=options.cache_dir or default_cache_dir())
    catalog, changes = grow_catalog(recommender.catalog, increment, encoder_for(encoder, options.engine), say)
    scale = RatingScale(*recommender.model.config.rating_scale) if recommender.reads_ratings else None
    rng = np.random.default_rng(options.seed)
    cases = newest_cases(catalog, changes, scale, options.max_val_users, rng)
    split = update_split(catalog, cases, scale)
    users, positions = training_examples(split, catalog)
    is_new = np.array([bool(changes.new_positions[u][t]) if u in changes.new_positions else False
                       for u, t in zip(users, positions)], dtype=bool)
    new_rows, old_rows = np.flatnonzero(is_new), np.flatnonzero(~is_new)
    replayed = rng.choice(old_rows, size=min(len(old_rows), int(round(options.replay * len(new_rows)))), replace=False)
    chosen = np.sort(np.concatenate([new_rows, replayed]))

    validate = ValidationNdcg(catalog, cases)
    start = with_items(recommender.model, catalog.n_items)
    base = FitOptions.from_dict(recommender.training.options).train
    config = replace(base, epochs=options.epochs, patience=options.patience, max_minutes=options.max_minutes,
                     lr=options.lr or base.lr, seed=options.seed)
    say(0.0, "updating")
    before = after = None
    epochs, best_epoch, stopped = 0, 0, "no new interactions to train on"
    model = start
    if len(new_rows):
        try:
            result = train_model(catalog, split, start.config, config, on_epoch=on_epoch, progress=say, cancel=cancel,
                                 validate=validate if cases else None, start=start,
                                 examples=([users[i] for i in chosen], positions[chosen]))
        except TrainingStopped:
            raise TrainingStopped("The update was stopped before its first pass ended: nothing was changed "
                                  "(the model is as it was). Run the update again and let one pass finish.") from None
        model, epochs, best_epoch, stopped = result.model, len(result.log), result.best_epoch, result.stopped
        before = result.start_score
        after = max([before or 0.0] + [e.val_ndcg10 for e in result.log]) if cases else None
    elif cases:
        before = after = validate(start)
    seconds = time.perf_counter() - started
    retrain, notices = None, [n.message for n in changes.notices]
    if options.compare_retrain and cases:
        retrain = _retrain(catalog, recommender, cases, options, say, cancel)
        if retrain is None:
            notices.append("The retrain comparison was stopped: the update is kept, without a retrain figure.")
    report = UpdateReport(
        items_added=len(changes.added_items), items_changed=len(changes.changed_items),
        users_added=len(changes.added_users), users_extended=len(changes.extended_users),
        interactions_added=changes.added_interactions, repeats_skipped=changes.repeats_skipped,
        profiles_added=changes.added_profiles, profiles_changed=changes.changed_profiles,
        validation_users=len(cases), ndcg10_before=before, ndcg10_after=after,
        examples_new=len(new_rows), examples_replay=len(replayed), epochs=epochs, best_epoch=best_epoch,
        stopped=stopped, seconds=round(seconds, 2), retrain=retrain,
        notices=tuple(notices),
        updated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    record = recommender.training
    updated = Recommender(
        model=model,
        catalog=catalog,
        encoder_config=recommender.encoder_config,
        training=replace(record, dataset=catalog_summary(catalog), updates=[*record.updates, report.to_dict()]),
        report=recommender.report,
        train_log=list(recommender.train_log),
        fingerprint=_fingerprint(recommender.fingerprint, increment),
        _encoder=encoder,
    )
    return UpdateResult(updated, report, changes)


def newest_cases(catalog: Catalog, changes: CatalogChanges, scale: RatingScale | None, max_users: int,
                 rng: np.random.Generator) -> list[EvalCase]:
    """Each updated user's newest interaction, when it is new (and, with ratings, a like), to find given
    everything before it; at most ``max_users`` users, drawn at random."""
    cases = []
    for user, is_new in changes.new_positions.items():
        seq = catalog.histories[user]
        if len(seq) < 2 or not is_new[-1]:
            continue
        ratings = catalog.ratings.get(user) if scale is not None else None
        if ratings is not None and not liked(ratings, scale)[-1]:
            continue
        cases.append(EvalCase(user, seq[:-1], seq[-1:], None if ratings is None else ratings[:-1]))
    if len(cases) > max_users:
        keep = np.sort(rng.choice(len(cases), size=max_users, replace=False))
        cases = [cases[i] for i in keep]
    return cases


def update_split(catalog: Catalog, cases: list[EvalCase], scale: RatingScale | None) -> Split:
    """Every known history, less each validation user's newest interaction (held out)."""
    held = {case.user_id for case in cases}
    train = {u: (seq[:-1] if u in held else seq) for u, seq in catalog.histories.items()}
    ratings = {u: catalog.ratings[u][: len(train[u])] for u in train if u in catalog.ratings} if scale is not None else {}
    targets = {u: liked(r, scale) for u, r in ratings.items()} if scale is not None else {}
    return Split(SplitConfig(), train, cases, [], train_ratings=ratings, train_targets=targets)


def catalog_summary(catalog: Catalog) -> dict[str, int]:
    """``Dataset.summary()`` of the data a catalogue holds."""
    return {"interactions": int(sum(len(h) for h in catalog.histories.values())), "users": len(catalog.histories),
            "items": catalog.n_items, "users_with_profiles": len(catalog.profile_ids)}


def _retrain(catalog: Catalog, recommender: Recommender, cases: list[EvalCase], options: UpdateOptions,
             say: Progress, cancel: Checkpoint | None) -> RetrainComparison | None:
    """Train from scratch on everything the grown catalogue holds, with the model's own settings; None when
    a stop cut it short (the update itself is finished and kept; a half-trained retrain is no comparison).

    The split is leave-last-out with no cold items or held-out users, so each user's newest interaction
    (every validation case's target) is a test item of the retrain too: neither model trained on it.
    """
    say(0.0, "retraining from scratch for the comparison")
    started = time.perf_counter()
    settings = FitOptions.from_dict(recommender.training.options)
    settings = replace(settings, split=SplitConfig(seed=settings.split.seed), baselines=False, text_reference=False,
                       cache_dir=options.cache_dir, engine=options.engine)
    try:
        retrained = fit(catalog.to_dataset(), settings, progress=say, cancel=cancel)
    except TrainingStopped:
        return None
    if retrained.training.stopped == "stopped by user":
        return None
    seconds = time.perf_counter() - started
    ndcg = evaluate_scorer(model_scorer(retrained.model, retrained.catalog), _reindexed(cases, catalog, retrained.catalog),
                           retrained.catalog.n_items, ks=(10,)).get("NDCG@10", 0.0)
    return RetrainComparison(ndcg, round(seconds, 2), retrained.training.best_epoch)


def _reindexed(cases: list[EvalCase], old: Catalog, new: Catalog) -> list[EvalCase]:
    """The same cases in another catalogue's item order (a retrain's catalogue is built afresh)."""
    if old.item_ids == new.item_ids:
        return cases
    position = np.array([new.item_index[i] for i in old.item_ids], dtype=np.int64)
    return [replace(c, history=position[c.history], targets=position[c.targets]) for c in cases]


def _fingerprint(previous: str, increment: Increment) -> str:
    """The data fingerprint of an updated model: the old one and the new interactions, items and profiles."""
    h = hashlib.sha256(previous.encode())
    for table in (increment.interactions, increment.items, increment.users):
        if table is not None:
            h.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]
