"""One call from a validated Dataset to a trained, evaluated Recommender.

The CLI's ``train`` command and the dashboard's Train page both call ``fit``;
progress is reported through plain callbacks so either can draw it.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

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
)
from .model import ModelConfig
from .parallel import Engine
from .recommender import Recommender
from .schema import Dataset
from .splits import Split, SplitConfig, make_split
from .training import EpochLog, TrainConfig, train_model


@dataclass(frozen=True)
class FitOptions:
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    dim: int = 64
    hidden: int = 64
    max_history: int = 20
    ablate: tuple[str, ...] = ()  # ModelConfig switches to turn off, e.g. ("use_item_ids",)
    baselines: bool = True
    cache_dir: str | None = None  # None: default_cache_dir(); the cache never changes results
    engine: Engine = field(default_factory=Engine)  # where texts missing from the cache are encoded

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Progress:
    """Callbacks a caller may set; each is optional."""

    stage: Callable[[str], None] | None = None  # "encoding texts", "training", ...
    encode: Callable[[int, int], None] | None = None
    step: Callable[[int, int], None] | None = None
    epoch: Callable[[EpochLog], None] | None = None
    should_stop: Callable[[], bool] | None = None

    def say(self, text: str) -> None:
        if self.stage:
            self.stage(text)


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
        use_profile=bool(catalog.profile_ids),
    )
    return replace(config, **{name: False for name in options.ablate})


def fit(dataset: Dataset, options: FitOptions = FitOptions(), progress: Progress | None = None) -> Recommender:
    """Encode, split, train with early stopping, evaluate against baselines on the same split."""
    progress = progress or Progress()
    started = time.perf_counter()
    progress.say("encoding texts")
    encoder = TextEncoder(options.encoder, cache_dir=options.cache_dir or default_cache_dir())
    catalog = build_catalog(dataset, encoder_for(encoder, options.engine), progress.encode)
    progress.say("splitting")
    split = make_split(dataset.interactions, catalog, options.split)
    model_config = model_config_for(catalog, options)
    val_cases = split.validation[: options.train.validation_users(catalog.n_items)]

    def validate(model) -> float:
        return evaluate_scorer(model_scorer(model, catalog), val_cases, catalog.n_items, ks=(10,)).get("NDCG@10", 0.0)

    progress.say("training")
    result = train_model(
        catalog,
        split,
        model_config,
        options.train,
        on_epoch=progress.epoch,
        on_step=progress.step,
        should_stop=progress.should_stop,
        validate=validate if val_cases else None,
    )
    progress.say("evaluating")
    report = evaluate(result.model, catalog, split, baselines=options.baselines)
    recommender = Recommender(
        model=result.model,
        catalog=catalog,
        encoder_config=options.encoder,
        settings={
            "options": options.to_dict(),
            "best_epoch": result.best_epoch,
            "stopped": result.stopped,
            "train_seconds": round(time.perf_counter() - started, 1),
            "dataset": dataset.summary(),
            "n_train_interactions": int(sum(len(s) for s in split.train.values())),
        },
        report=report,
        train_log=result.log,
        fingerprint=data_fingerprint(dataset),
        _encoder=encoder,
    )
    return recommender


def random_scorer(n_items: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return lambda cases: rng.random((len(cases), n_items), dtype=np.float32)


def evaluate(model, catalog: Catalog, split: Split, baselines: bool = True) -> EvaluationReport:
    """The model and (optionally) every baseline, all on the same split and protocol."""
    scorers = {MODEL_NAME: model_scorer(model, catalog)}
    if baselines:
        for b in fit_baselines(split, catalog):
            scorers[b.name] = baseline_scorer(b, catalog)
        scorers["Random"] = random_scorer(catalog.n_items)
    return evaluate_all(scorers, split, catalog)
