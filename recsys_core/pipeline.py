"""One call from a validated Dataset to a trained, evaluated Recommender.

The CLI's ``train`` command and the dashboard's Train page both call ``fit``;
progress and cancellation follow the package's one protocol (``progress.py``),
so either can draw it and stop it.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Literal, get_args

import numpy as np

from .catalog import Catalog, build_catalog
from .encoder import EncoderConfig, TextEncoder, default_cache_dir
from .encoding import encoder_for
from .evaluation import (
    MODEL_NAME,
    EvaluationReport,
    baseline_scorer,
    evaluate_all,
    evaluate_scorer,
    fit_baselines,
    model_scorer,
    random_scorer,
)
from .model import ModelConfig
from .parallel import Engine
from .progress import Checkpoint, Progress, quiet
from .recommender import Recommender
from .schema import Dataset
from .splits import Split, SplitConfig, make_split
from .training import EpochLog, TrainConfig, TrainingRecord, train_model


@dataclass(frozen=True)
class FitOptions:
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    dim: int = 64
    hidden: int = 64
    max_history: int = 20
    id_dropout: float = ModelConfig.id_dropout  # share of item ids hidden per training example (cold items fall back to text)
    evidence_gate: bool = False  # ModelConfig.evidence_gate: id part mixed in by training evidence, text bias for id-less items
    ablate: tuple[str, ...] = ()  # ModelConfig switches to turn off, e.g. ("use_item_ids",)
    baselines: bool = True
    cache_dir: str | None = None  # None: default_cache_dir(); the cache never changes results
    engine: Engine = field(default_factory=Engine)  # where texts missing from the cache are encoded

    def to_dict(self) -> dict:
        return asdict(self)


# What ``fit`` says it is doing; each stage starts with ``progress(0.0, stage)``.
FitStage = Literal["encoding texts", "splitting", "training", "evaluating"]
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


def model_config_for(catalog: Catalog, options: FitOptions) -> ModelConfig:
    config = ModelConfig(
        n_items=catalog.n_items,
        text_dim=catalog.text_dim,
        dim=options.dim,
        hidden=options.hidden,
        max_history=options.max_history,
        id_dropout=options.id_dropout,
        evidence_gate=options.evidence_gate,
        use_profile=bool(catalog.profile_ids),
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
    (``training.train_model``).  on_epoch(EpochLog) after each validated epoch.
    """
    say = progress or quiet
    started = time.perf_counter()
    say(0.0, "encoding texts")
    encoder = TextEncoder(options.encoder, cache_dir=options.cache_dir or default_cache_dir())
    catalog = build_catalog(dataset, encoder_for(encoder, options.engine), say)
    say(0.0, "splitting")
    split = make_split(dataset.interactions, catalog, options.split)
    model_config = model_config_for(catalog, options)
    val_cases = split.validation[: options.train.validation_users(catalog.n_items)]

    def validate(model) -> float:
        return evaluate_scorer(model_scorer(model, catalog), val_cases, catalog.n_items, ks=(10,)).get("NDCG@10", 0.0)

    say(0.0, "training")
    result = train_model(
        catalog,
        split,
        model_config,
        options.train,
        on_epoch=on_epoch,
        progress=say,
        cancel=cancel,
        validate=validate if val_cases else None,
    )
    say(0.0, "evaluating")
    report = evaluate(result.model, catalog, split, baselines=options.baselines)
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


def evaluate(model, catalog: Catalog, split: Split, baselines: bool = True) -> EvaluationReport:
    """The model and (optionally) every baseline, all on the same split and protocol."""
    scorers = {MODEL_NAME: model_scorer(model, catalog)}
    if baselines:
        for b in fit_baselines(split, catalog):
            scorers[b.name] = baseline_scorer(b, catalog)
        scorers["Random"] = random_scorer(catalog.n_items)
    return evaluate_all(scorers, split, catalog)
