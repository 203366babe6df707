"""One call from a validated Dataset to a trained, evaluated Recommender.

The CLI's ``train`` command and the dashboard's Train page both call ``fit``;
progress and cancellation follow the package's one protocol (``progress.py``),
so either can draw it and stop it.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Literal, get_args

import numpy as np

from .catalog import Catalog, build_catalog
from .encoder import EncoderConfig, TextEncoder, default_cache_dir
from .encoding import encoder_for
from .errors import RecsysError
from .evaluation import (
    MODEL_NAME,
    TEXT_ONLY_NAME,
    EvaluationReport,
    TextReference,
    baseline_scorer,
    evaluate_all,
    fit_baselines,
    model_scorer,
    random_scorer,
    ValidationNdcg,
)
from .model import HybridRecommender, ModelConfig
from .parallel import Engine
from .progress import Checkpoint, Progress, quiet
from .ray_training import check_workers, train_on_ray
from .recommender import Recommender
from .ratings import RatingScale
from .schema import RATING, USER, Dataset
from .splits import EvalCase, Split, SplitConfig, make_split
from .training import EpochLog, TrainConfig, TrainingRecord, TrainingStopped, TrainResult, train_model


@dataclass(frozen=True)
class FitOptions:
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    dim: int = 64
    hidden: int = 64
    # How many of a user's latest history items the model reads; None: "auto" (``history_window``).
    max_history: int | None = None
    id_dropout: float = ModelConfig.id_dropout  # share of item ids hidden per training example (cold items fall back to text)
    center_text: bool = True  # ModelConfig.center_text: the text path reads vectors centred on the catalogue's mean
    evidence_gate: bool = False  # ModelConfig.evidence_gate: id part mixed in by training evidence, text bias for id-less items
    ablate: tuple[str, ...] = ()  # ModelConfig switches to turn off, e.g. ("use_item_ids",)
    # With explicit ratings: each history item's rating is a model input and only likes are targets
    # (ratings.py). False: every interaction is a like, as for implicit data.
    use_ratings: bool = True
    baselines: bool = True
    # With cold items or held-out users, also train the same model with item ids switched off, on the same
    # split and settings, and report it on every slice: the slices say whether text carries only next to it.
    text_reference: bool = True
    cache_dir: str | None = None  # None: default_cache_dir(); the cache never changes results
    engine: Engine = field(default_factory=Engine)  # where texts missing from the cache are encoded
    # Where the model (and its text-only reference) trains: this process, or data parallel on Ray Train workers
    # (``ray_training``).  Separate from ``engine``: encoding on Ray pays off long before training does
    # (docs/distributed_training.md), and the dashboard trains locally: on one small host Ray only adds overhead.
    train_engine: Engine = field(default_factory=Engine)
    # Ray training only: where Ray Train writes the best weights (a path or URI every node of the cluster
    # reaches); None: a temporary folder, enough on one machine.
    train_storage: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> "FitOptions":
        """The options of a ``TrainingRecord.options`` (``to_dict``'s output) back as FitOptions, to train the
        same way again (an update's retrain comparison); keys a newer or older version wrote are ignored."""
        if not isinstance(data, dict):
            return cls()
        nested = {"encoder": EncoderConfig, "split": SplitConfig, "train": TrainConfig, "engine": Engine,
                  "train_engine": Engine}
        values = dict(_BEFORE_OPTION)
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            if f.name in nested:
                value = _known(nested[f.name], value)
            elif f.name == "ablate":
                value = tuple(value)
            values[f.name] = value
        return cls(**values)


# What a record written before an option existed trained with (its default has changed since).
_BEFORE_OPTION = {"center_text": False}


def _known(kind: type, data: object):
    """``kind(**data)`` with only the fields ``kind`` has (the default instance when ``data`` is no dict)."""
    if not isinstance(data, dict):
        return kind()
    return kind(**{f.name: data[f.name] for f in fields(kind) if f.name in data})


# What ``fit`` says it is doing; each stage starts with ``progress(0.0, stage)``.
FitStage = Literal["encoding texts", "splitting", "training", "training the text-only reference", "evaluating"]
FIT_STAGES: tuple[FitStage, ...] = get_args(FitStage)


def data_fingerprint(dataset: Dataset) -> str:
    """Short hash of what was trained on (interactions, item texts, fields)."""
    h = hashlib.sha256()
    inter = dataset.interactions
    h.update(np.asarray(inter["user_id"].astype(str)).astype("U").tobytes())
    h.update(np.asarray(inter["item_id"].astype(str)).astype("U").tobytes())
    h.update(np.asarray(inter["timestamp"], dtype=np.int64).tobytes())
    h.update("|".join(dataset.item_fields + ["#"] + dataset.user_fields).encode())
    h.update(str(dataset.items.shape).encode())
    return h.hexdigest()[:16]


def rating_scale_for(dataset: Dataset, options: FitOptions) -> RatingScale | None:
    """The scale the model reads ratings on, or None when it reads none (no ratings, or ``use_ratings`` off)."""
    if not (options.use_ratings and dataset.has_ratings):
        return None
    return RatingScale.of(dataset.interactions[RATING].to_numpy())


def rating_mode(dataset: Dataset, options: FitOptions = FitOptions()) -> str:
    """One sentence for the analyst: how the ratings of ``dataset`` will be used by a fit with ``options``."""
    if not dataset.has_ratings:
        return "No ratings: every interaction counts as a like (implicit feedback)."
    scale = rating_scale_for(dataset, options)
    if scale is None:
        return "Ratings are present but switched off: every interaction counts as a like, whatever its rating."
    return (
        f"Ratings from {scale.low:g} to {scale.high:g} are used: the model reads each history item's rating, "
        f"so a low rating pushes recommendations away; an item counts as a like (a training and test target) "
        f"when it is rated at least the lower of the user's own mean and {scale.middle:g}."
    )


# The "auto" history window: long enough for this share of users' whole histories, and never longer than
# HISTORY_CAP items: training cost grows with the window (bench/history_window.py) and every explanation
# runs BERT over each history text the model reads (docs/model.md, "History window").
HISTORY_COVERAGE = 0.9
HISTORY_CAP = 50


@dataclass(frozen=True)
class HistoryWindow:
    """How many of each user's latest history items the model reads, and how much of the data that covers.

    size: the window (``ModelConfig.max_history``); auto: chosen by the rule, not set;
    covered: share of users whose whole history fits in it; capped: the rule wanted more than ``HISTORY_CAP``.
    """

    size: int
    auto: bool
    covered: float
    capped: bool = False

    def describe(self) -> str:
        """'auto: 96 — covers 90% of users fully' (or 'set: 20 — …')."""
        line = f"{'auto' if self.auto else 'set'}: {self.size} — covers {self.covered:.0%} of users fully"
        if self.capped:
            line += f" (capped at {HISTORY_CAP}: longer windows cost too much training and explanation time on 2 cores)"
        return line


def auto_history_window(lengths: np.ndarray, setting: int | None = None) -> HistoryWindow:
    """The window for users with these history lengths: ``setting`` when given, else the smallest window
    that holds the whole history of ``HISTORY_COVERAGE`` of the users, capped at ``HISTORY_CAP``."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if setting is not None:
        if setting < 1:
            raise RecsysError(f"The history window must be at least 1 item, got {setting}.")
        size, auto, capped = int(setting), False, False
    else:
        wanted = int(np.quantile(lengths, HISTORY_COVERAGE, method="inverted_cdf")) if len(lengths) else 1
        size, auto, capped = max(1, min(wanted, HISTORY_CAP)), True, wanted > HISTORY_CAP
    covered = float(np.mean(lengths <= size)) if len(lengths) else 1.0
    return HistoryWindow(size, auto, covered, capped)


def history_window(dataset: Dataset, options: FitOptions = FitOptions()) -> HistoryWindow:
    """The window a fit of ``dataset`` with ``options`` uses (shown on the Train page before training)."""
    return auto_history_window(dataset.interactions.groupby(USER).size().to_numpy(), options.max_history)


def model_config_for(catalog: Catalog, options: FitOptions, scale: RatingScale | None = None) -> ModelConfig:
    # The same rule as ``history_window``: the catalogue holds every user's history.
    window = auto_history_window(np.array([len(h) for h in catalog.histories.values()]), options.max_history)
    config = ModelConfig(
        n_items=catalog.n_items,
        text_dim=catalog.text_dim,
        dim=options.dim,
        hidden=options.hidden,
        max_history=window.size,
        id_dropout=options.id_dropout,
        evidence_gate=options.evidence_gate,
        center_text=options.center_text,
        use_profile=bool(catalog.profile_ids),
        rating_scale=None if scale is None else (scale.low, scale.high),
    )
    return replace(config, **{name: False for name in options.ablate})


def fit(
    dataset: Dataset,
    options: FitOptions = FitOptions(),
    progress: Progress | None = None,
    cancel: Checkpoint | None = None,
    on_epoch: Callable[[EpochLog], None] | None = None,
) -> Recommender:
    """Encode, split, train with early stopping, evaluate against baselines on the same split.

    progress(fraction of the current stage, message): each stage of ``FIT_STAGES`` starts with
    ``progress(0.0, stage)``; encoding then reports "encoding: 1,200 / 4,000 texts" and training
    "epoch 2 of at most 30, batch 5 / 40 — about …".  cancel() is called before every training
    batch: a ``Cancelled`` it raises stops training, and the best complete epoch is kept
    (``training.train_model``).  on_epoch(EpochLog) after each validated epoch of the model.

    When the split has cold items or held-out users (and ``options.text_reference``), the same model
    with item ids switched off is trained next, on the same split and settings ("training the
    text-only reference"; its epochs are not passed to on_epoch), and evaluated beside the model on
    every slice with paired differences (``EvaluationReport.text_reference``, ``SliceResult.paired``).
    A stop while it trains keeps the model and skips the reference.
    """
    say = progress or quiet
    started = time.perf_counter()
    if options.train_engine.kind == "ray" and options.train_engine.workers is not None:
        check_workers(options.train_engine.workers, options.train)  # before minutes of encoding, not after
    say(0.0, "encoding texts")
    encoder = TextEncoder(options.encoder, cache_dir=options.cache_dir or default_cache_dir())
    catalog = build_catalog(dataset, encoder_for(encoder, options.engine), say)
    say(0.0, "splitting")
    scale = rating_scale_for(dataset, options)
    split = make_split(dataset.interactions, catalog, options.split, scale)
    model_config = model_config_for(catalog, options, scale)
    val_cases = split.validation[: options.train.validation_users(catalog.n_items)]
    say(0.0, "training")
    result = train(catalog, split, model_config, options, val_cases, on_epoch=on_epoch, progress=say, cancel=cancel)
    reference_model, reference = None, None
    if len(split.cold_items) or split.inductive_test:
        reference_model, reference = train_text_reference(
            catalog, split, options, model_config, result.stopped, say, cancel, val_cases
        )
    say(0.0, "evaluating")
    report = evaluate(result.model, catalog, split, baselines=options.baselines, reference=reference_model)
    report.text_reference = reference
    recommender = Recommender(
        model=result.model,
        catalog=catalog,
        encoder_config=options.encoder,
        training=TrainingRecord(
            best_epoch=result.best_epoch,
            stopped=result.stopped,
            train_seconds=round(time.perf_counter() - started, 1),
            dataset=dataset.summary(),
            n_train_interactions=int(sum(len(s) for s in split.train.values())),
            options=options.to_dict(),
        ),
        report=report,
        train_log=result.log,
        fingerprint=data_fingerprint(dataset),
        _encoder=encoder,
    )
    return recommender


def train(
    catalog: Catalog,
    split: Split,
    model_config: ModelConfig,
    options: FitOptions,
    val_cases: list[EvalCase],
    on_epoch: Callable[[EpochLog], None] | None = None,
    progress: Progress | None = None,
    cancel: Checkpoint | None = None,
) -> TrainResult:
    """Train where ``options.train_engine`` says: this process (``train_model``), or Ray Train workers
    (``train_on_ray``: the same loop, as live, and ``cancel`` reaches its workers)."""
    if options.train_engine.kind == "ray":
        return train_on_ray(catalog, split, model_config, options.train, options.train_engine, val_cases,
                            storage=options.train_storage, on_epoch=on_epoch, progress=progress, cancel=cancel)
    validate = ValidationNdcg(catalog, val_cases) if val_cases else None
    return train_model(catalog, split, model_config, options.train, on_epoch=on_epoch, progress=progress,
                       cancel=cancel, validate=validate)


def reference_options(options: FitOptions) -> FitOptions:
    """The text-only reference of a fit: the same settings, item ids switched off (no id embeddings, no item bias)."""
    return replace(options, ablate=tuple(dict.fromkeys((*options.ablate, "use_item_ids"))), text_reference=False)


def train_text_reference(
    catalog: Catalog,
    split: Split,
    options: FitOptions,
    model_config: ModelConfig,
    product_stopped: str,
    say: Progress,
    cancel: Checkpoint | None,
    val_cases: list[EvalCase],
) -> tuple[HybridRecommender | None, TextReference]:
    """The text-only reference model (None when there is none) and what became of it.

    A stop of the product's training skips it; a stop while it trains drops it (a half-trained reference
    would flatter the model), and the product model is kept either way.
    """
    if not options.text_reference:
        return None, TextReference("turned off")
    if not model_config.use_item_ids:
        return None, TextReference("model is text-only")
    if product_stopped == "stopped by user":
        return None, TextReference("stopped")
    say(0.0, "training the text-only reference")
    started = time.perf_counter()
    config = replace(model_config, use_item_ids=False)  # the product's own config (ratings included), ids off
    try:
        result = train(catalog, split, config, options, val_cases, progress=say, cancel=cancel)
    except TrainingStopped:
        return None, TextReference("stopped")
    if result.stopped == "stopped by user":
        return None, TextReference("stopped")
    seconds = time.perf_counter() - started  # unrounded: a tiny reference can train in under 0.05 s
    return result.model, TextReference("trained", result.best_epoch, result.stopped, seconds)


def evaluate(
    model, catalog: Catalog, split: Split, baselines: bool = True, reference: HybridRecommender | None = None
) -> EvaluationReport:
    """The model, its text-only reference (when given) and (optionally) every baseline, on the same split and
    protocol (with ratings, the baselines learn from and read the likes)."""
    scorers = {MODEL_NAME: model_scorer(model, catalog)}
    if reference is not None:
        scorers[TEXT_ONLY_NAME] = model_scorer(reference, catalog)
    if baselines:
        scale = RatingScale(*model.config.rating_scale) if model.config.rating_scale is not None else None
        for b in fit_baselines(split, catalog):
            scorers[b.name] = baseline_scorer(b, catalog, scale=scale)
        scorers["Random"] = random_scorer(catalog.n_items)
    return evaluate_all(scorers, split, catalog, paired_with=[TEXT_ONLY_NAME], pair_best=True)
