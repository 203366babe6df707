"""Saving and loading a trained model as a directory — never pickle.

Layout (FORMAT_VERSION 1):
    config.json        format version, encoder, fields, model and training settings, data fingerprint
    weights.safetensors  the model's parameters and buffers
    vectors.safetensors  item text vectors, profile vectors, user histories (flattened + offsets)
    catalog.json       item ids, user ids, item and profile texts with their field spans
    metrics.json       the evaluation report (model and baselines, every slice)
    train_log.json     loss and validation NDCG@10 per epoch

Writes go to a temporary sibling directory that replaces the target only when
complete, so an interrupted save never destroys the previous model.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file as load_numpy
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import load_file as load_torch
from safetensors.torch import save_file as save_torch

from .catalog import Catalog
from .encoder import EncoderConfig
from .errors import ArtifactError
from .evaluation import EvaluationReport
from .model import HybridRecommender, ModelConfig
from .recommender import Recommender
from .text import FieldText, Span
from .training import EpochLog

FORMAT_VERSION = 1
FILES = ("config.json", "weights.safetensors", "vectors.safetensors", "catalog.json", "metrics.json", "train_log.json")


def _texts_to_json(texts: list[FieldText]) -> list[dict]:
    return [{"text": t.text, "spans": [[s.field, s.start, s.end] for s in t.spans]} for t in texts]


def _texts_from_json(data: list[dict]) -> list[FieldText]:
    return [FieldText(d["text"], tuple(Span(f, a, b) for f, a, b in d["spans"])) for d in data]


def save(recommender: Recommender, directory: str | Path) -> Path:
    """Write the model directory atomically; returns its path."""
    target = Path(directory).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.saving-", dir=target.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; a saved model is meant to be shared like any directory
        _write(recommender, tmp)
        if target.exists():
            old = target.parent / f".{target.name}.old-{os.getpid()}-{int(time.time())}"
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _write(rec: Recommender, out: Path) -> None:
    cat = rec.catalog
    config = {
        "format_version": FORMAT_VERSION,
        "encoder": {
            "name": rec.encoder_config.name,
            "pooling": rec.encoder_config.pooling,
            "max_length": rec.encoder_config.max_length,
            "batch_size": rec.encoder_config.batch_size,
        },
        "item_fields": cat.item_fields,
        "user_fields": cat.user_fields,
        "model": rec.model.config.to_dict(),
        "settings": rec.settings,
        "data_fingerprint": rec.fingerprint,
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (out / "config.json").write_text(json.dumps(config, indent=2))
    state = {k: v.detach().contiguous() for k, v in rec.model.state_dict().items()}
    save_torch(state, str(out / "weights.safetensors"))
    users = sorted(cat.histories)
    lengths = np.array([len(cat.histories[u]) for u in users], dtype=np.int64)
    flat = np.concatenate([cat.histories[u] for u in users]) if users else np.zeros(0, np.int64)
    save_numpy(
        {
            "item_vectors": np.ascontiguousarray(cat.item_vectors, dtype=np.float32),
            "profile_vectors": np.ascontiguousarray(cat.profile_vectors, dtype=np.float32).reshape(-1, cat.text_dim),
            "history_items": flat.astype(np.int64),
            "history_lengths": lengths,
        },
        str(out / "vectors.safetensors"),
    )
    catalog = {
        "item_ids": cat.item_ids,
        "item_texts": _texts_to_json(cat.item_texts),
        "profile_ids": cat.profile_ids,
        "profile_texts": _texts_to_json(cat.profile_texts),
        "history_users": users,
    }
    (out / "catalog.json").write_text(json.dumps(catalog))
    (out / "metrics.json").write_text(json.dumps(rec.report.to_dict() if rec.report else None, indent=2))
    (out / "train_log.json").write_text(json.dumps([e.__dict__ for e in rec.train_log], indent=2))


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path} is damaged (not valid JSON: {exc.msg}); re-train or restore the model.") from None


def load(directory: str | Path) -> Recommender:
    """Read a model directory written by ``save``; clear errors for anything missing or unknown."""
    path = Path(directory)
    if not path.is_dir():
        raise ArtifactError(f"No model directory at {path}: train one with `python -m recsys_core train … --out {path}`.")
    missing = [f for f in FILES if not (path / f).is_file()]
    if missing:
        raise ArtifactError(f"The model directory {path} is incomplete: missing {', '.join(missing)}.")
    config = _read_json(path / "config.json")
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        raise ArtifactError(
            f"{path} has model format version {version!r}; this version of recsys_core reads version "
            f"{FORMAT_VERSION}. Re-train the model with this version."
        )
    try:
        model_config = ModelConfig(**config["model"])
        model = HybridRecommender(model_config)
        model.load_state_dict(load_torch(str(path / "weights.safetensors")))
        vectors = load_numpy(str(path / "vectors.safetensors"))
    except (KeyError, TypeError, RuntimeError, OSError) as exc:
        raise ArtifactError(f"The model in {path} could not be read: {exc}") from None
    model.eval()
    catalog_data = _read_json(path / "catalog.json")
    users = catalog_data["history_users"]
    offsets = np.concatenate([[0], np.cumsum(vectors["history_lengths"])])
    histories = {u: vectors["history_items"][offsets[i] : offsets[i + 1]] for i, u in enumerate(users)}
    catalog = Catalog(
        item_ids=catalog_data["item_ids"],
        item_texts=_texts_from_json(catalog_data["item_texts"]),
        item_vectors=vectors["item_vectors"],
        item_fields=config["item_fields"],
        user_fields=config["user_fields"],
        profile_ids=catalog_data["profile_ids"],
        profile_texts=_texts_from_json(catalog_data["profile_texts"]),
        profile_vectors=vectors["profile_vectors"],
        histories=histories,
    )
    metrics = _read_json(path / "metrics.json")
    log = [EpochLog(**e) for e in _read_json(path / "train_log.json")]
    return Recommender(
        model=model,
        catalog=catalog,
        encoder_config=EncoderConfig(**config["encoder"]),
        settings=config.get("settings", {}),
        report=EvaluationReport.from_dict(metrics) if metrics else None,
        train_log=log,
        fingerprint=config.get("data_fingerprint", ""),
    )
