"""Saving and loading a trained model as a directory — never pickle.

Layout (FORMAT_VERSION 1):
    config.json        format marker and version, encoder, fields, model and training settings, data fingerprint
    weights.safetensors  the model's parameters and buffers
    vectors.safetensors  item text vectors, profile vectors, user histories (flattened + offsets) and,
                       when the data had them, their ratings and times (flattened the same way)
    catalog.json       item ids, user ids, item and profile texts with their field spans
    metrics.json       the evaluation report (model and baselines, every slice)
    train_log.json     loss and validation NDCG@10 per epoch

Crash safety (``kill -9`` at any instant leaves the old or the new model
loadable under its name) comes from :func:`recsys_core.durable.replace_folder`:
the files are written into a temporary sibling ``.NAME.saving-PID-NS``, fsynced,
and the folder takes the place of ``NAME`` by an atomic exchange, or by two
renames with the old model kept aside as ``.NAME.old-PID-NS``, which :func:`load`
reads (and puts back once its writer is gone).  This module only decides what a
model folder is (:func:`is_model_dir`): replacing is allowed only for an empty
folder or a folder that holds nothing but a model of this format, so a wrong
``--out`` can never delete an analyst's files, and only such a folder kept aside
is ever put back.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import save_file as save_torch

from . import durable
from .catalog import Catalog
from .encoder import EncoderConfig
from .errors import ArtifactError, OutputPathError, shown_path
from .evaluation import EvaluationReport
from .model import HybridRecommender, ModelConfig
from .recommender import Recommender
from .text import FieldText, Span
from .training import EpochLog, TrainingRecord

FORMAT_VERSION = 1
FORMAT_MARKER = "recsys_core.model"  # config.json "format": tells our model folders from anyone else's
FILES = ("config.json", "weights.safetensors", "vectors.safetensors", "catalog.json", "metrics.json", "train_log.json")

# Test hook: called with a step name ("written", "old moved aside", "swapped") so a crash test can
# pause a saving child process exactly between two steps before killing it.
_pause: Callable[[str], None] | None = None


def _step(name: str) -> None:
    if _pause is not None:
        _pause(name)


def _texts_to_json(texts: list[FieldText]) -> list[dict]:
    return [{"text": t.text, "spans": [[s.field, s.start, s.end] for s in t.spans]} for t in texts]


def _texts_from_json(data: list[dict]) -> list[FieldText]:
    return [FieldText(d["text"], tuple(Span(f, a, b) for f, a, b in d["spans"])) for d in data]


# -- where a model may be written ---------------------------------------------------


def is_model_dir(path: str | Path) -> bool:
    """True when ``path`` is a folder holding only files of a model of this format (safe to replace)."""
    path = Path(path)
    if path.is_symlink() or not path.is_dir():
        return False
    try:
        names = {p.name for p in path.iterdir()}
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    ours = isinstance(config, dict) and (
        config.get("format") == FORMAT_MARKER or ("format_version" in config and "model" in config)
    )
    return ours and names <= set(FILES) and "weights.safetensors" in names


def check_output_dir(directory: str | Path) -> Path:
    """Refuse a model destination whose replacement would delete something this code did not write.

    Allowed: a path that does not exist yet, an empty folder, or a folder that
    holds a model of this format (it is replaced atomically).  Returns the
    absolute path; raises :class:`OutputPathError` otherwise.
    """
    target = Path(directory).expanduser().absolute()
    shown = shown_path(directory)
    fix = "give a new folder name, or a model folder to replace"
    if target.is_symlink():
        raise OutputPathError(f"{shown} is a symbolic link: {fix}. Nothing was changed.")
    if not target.exists():
        return target
    if not target.is_dir():
        raise OutputPathError(f"{shown} is a file, not a model folder: {fix}. Nothing was changed.")
    try:
        entries = sorted(p.name for p in target.iterdir())
    except OSError as exc:
        raise OutputPathError(f"{shown} cannot be read ({exc.strerror}): {fix}.") from None
    if entries and not is_model_dir(target):
        found = ", ".join(entries[:3]) + (f" and {len(entries) - 3} more" if len(entries) > 3 else "")
        raise OutputPathError(
            f"{shown} holds files that are not a recsys_core model: {fix}. Nothing was changed.",
            f"Found: {found}. Only an empty folder or one holding just a saved model is ever replaced.",
        )
    return target


# -- what a model's files are: their fingerprint ---------------------------------------

_FILE_HASHES: dict[tuple, str] = {}  # (device, inode, size, mtime, ctime) → sha256: a file seen again is not re-read
_FILE_HASHES_LOCK = threading.Lock()


def fingerprint(directory: str | Path, *, fresh: bool = False) -> str:
    """The content fingerprint of a model folder: SHA-256 over each model file's name and SHA-256.

    Two folders have the same fingerprint exactly when they hold the same model files, byte for byte.
    Listing many models reuses the hash of a file whose identity and times are unchanged; ``fresh=True``
    re-reads every byte (for the check before a load: a file changed in place with its times reset is caught).
    """
    total = hashlib.sha256()
    for name in FILES:
        path = Path(directory) / name
        if path.is_file():
            total.update(f"{name}\0{_file_sha256(path, fresh)}\n".encode())
    return total.hexdigest()


def _file_sha256(path: Path, fresh: bool) -> str:
    st = path.stat()
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    with _FILE_HASHES_LOCK:
        known = None if fresh else _FILE_HASHES.get(key)
    if known is not None:
        return known
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    with _FILE_HASHES_LOCK:
        if len(_FILE_HASHES) > 4096:  # a bound, not a policy: the next listing hashes again
            _FILE_HASHES.clear()
        _FILE_HASHES[key] = digest.hexdigest()
    return digest.hexdigest()


# -- durable writes (the folder swap itself lives in recsys_core.durable) ----------------


def recover_all(parent: str | Path) -> None:
    """Put back models of a shared folder whose save was killed mid-swap; drop dead writers' leftovers
    (the registry calls it when listing)."""
    durable.recover_all(Path(parent), is_model_dir)


def save(recommender: Recommender, directory: str | Path) -> Path:
    """Write the model directory so that a crash at any instant leaves the old or the new one; returns its path.

    Raises :class:`OutputPathError` when ``directory`` holds anything but a
    model of this format (see :func:`check_output_dir`).
    """
    target = check_output_dir(directory)
    return durable.replace_folder(
        target,
        lambda folder: _write(recommender, folder),
        is_whole=is_model_dir,
        check=lambda: check_output_dir(directory),  # still safe to replace after the (possibly long) write?
        step=_step,
    )


def _write_json(path: Path, value) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2)


def _write(rec: Recommender, out: Path) -> None:
    cat = rec.catalog
    config = {
        "format": FORMAT_MARKER,
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
        "settings": rec.training.to_dict(),
        "data_fingerprint": rec.fingerprint,
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _write_json(out / "config.json", config)
    state = {k: v.detach().contiguous() for k, v in rec.model.state_dict().items()}
    save_torch(state, str(out / "weights.safetensors"))
    users = sorted(cat.histories)
    lengths = np.array([len(cat.histories[u]) for u in users], dtype=np.int64)
    flat = np.concatenate([cat.histories[u] for u in users]) if users else np.zeros(0, np.int64)
    tensors = {
        "item_vectors": np.ascontiguousarray(cat.item_vectors, dtype=np.float32),
        "profile_vectors": np.ascontiguousarray(cat.profile_vectors, dtype=np.float32).reshape(-1, cat.text_dim),
        "history_items": flat.astype(np.int64),
        "history_lengths": lengths,
    }
    # Aligned with the histories; a user without an entry gets NaN ratings / time 0 (never happens for a
    # catalogue built by build_catalog, which gives every user both or nobody either).
    if cat.ratings and users:
        tensors["history_ratings"] = np.concatenate(
            [cat.ratings.get(u, np.full(len(cat.histories[u]), np.nan)) for u in users]).astype(np.float32)
    if cat.times and users:
        tensors["history_times"] = np.concatenate(
            [cat.times.get(u, np.zeros(len(cat.histories[u]))) for u in users]).astype(np.int64)
    save_numpy(tensors, str(out / "vectors.safetensors"))
    catalog = {
        "item_ids": cat.item_ids,
        "item_texts": _texts_to_json(cat.item_texts),
        "profile_ids": cat.profile_ids,
        "profile_texts": _texts_to_json(cat.profile_texts),
        "history_users": users,
    }
    with open(out / "catalog.json", "w", encoding="utf-8") as f:
        json.dump(catalog, f)
    _write_json(out / "metrics.json", rec.report.to_dict() if rec.report else None)
    _write_json(out / "train_log.json", [e.__dict__ for e in rec.train_log])


# -- loading ---------------------------------------------------------------------------

_RETRAIN = "re-train it or restore a backup"


def _damaged(path: Path, what: str, details: str | None = None) -> ArtifactError:
    return ArtifactError(f"The model in {shown_path(path)} is damaged: {what}; {_RETRAIN}.", details)


def _read_json(files: dict[str, str], name: str, shown: Path):
    try:
        with open(files[name], encoding="utf-8") as f:
            return json.load(f)
    except UnicodeDecodeError:
        raise _damaged(shown, f"{name} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise _damaged(shown, f"{name} is not valid JSON ({exc.msg}, line {exc.lineno})") from None


def _read_tensors(files: dict[str, str], name: str, shown: Path, framework: str) -> dict:
    try:
        with safe_open(files[name], framework=framework) as f:
            return {key: f.get_tensor(key) for key in f.keys()}
    except (SafetensorError, ValueError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        size = os.path.getsize(files[name])
        what = "is empty" if size == 0 else "is truncated or not a safetensors file"
        raise _damaged(shown, f"{name} {what} ({size} bytes)", str(exc).splitlines()[0][:300]) from None


def _check_shapes(files: dict[str, str], model_config: ModelConfig, path: Path) -> None:
    """Refuse a config.json whose sizes the weights do not have, without allocating either.

    A config claiming ten million items would otherwise build a 3 GB model before the weights are found
    not to fit.  The model is built on PyTorch's "meta" device (shapes, no storage), and the saved
    shapes come from the safetensors header, which is read without reading the tensors.
    """
    try:
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in HybridRecommender(model_config).state_dict().items()}
    except (RuntimeError, ValueError, TypeError, OverflowError) as exc:  # e.g. a negative or absurd size
        raise _damaged(path, "config.json has model sizes no model can have", str(exc).splitlines()[0][:300]) from None
    try:
        with safe_open(files["weights.safetensors"], framework="pt") as f:
            saved = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, ValueError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        size = os.path.getsize(files["weights.safetensors"])
        what = "is empty" if size == 0 else "is truncated or not a safetensors file"
        raise _damaged(path, f"weights.safetensors {what} ({size} bytes)", str(exc).splitlines()[0][:300]) from None
    for name, shape in expected.items():
        if name in saved and saved[name] != shape:
            raise _damaged(path, f"weights.safetensors does not match config.json ({name}: saved {saved[name]}, "
                                 f"config {shape})"[:160])
    # Names missing or left over are reported by load_state_dict, once the (small) real model is built.


def load(directory: str | Path) -> Recommender:
    """Read a model directory written by ``save``; clear errors for anything missing or unknown."""
    path = Path(directory)
    if path.exists() and not path.is_dir():
        raise ArtifactError(f"{shown_path(path)} is a file, not a model folder: give the folder that `train --out` wrote.")
    for attempt in range(5):
        # the model itself, or the previous one kept aside by a save killed between its two renames
        found = durable.find(path.absolute(), is_model_dir)
        if found is None:
            raise ArtifactError(
                f"No model directory at {shown_path(path)}: train one with `python -m recsys_core train … --out DIR`."
            )
        try:
            with durable.opened_files(found, FILES) as files:
                return _load_from(files, path)
        except FileNotFoundError:
            if attempt == 4:  # a save swapped the folder while we opened it: open the new one
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


def _load_from(files: dict[str, str], path: Path) -> Recommender:
    missing = [f for f in FILES if f not in files]
    if missing:
        raise ArtifactError(
            f"The model directory {shown_path(path)} is incomplete: missing {', '.join(missing)}; {_RETRAIN}."
        )
    config = _read_json(files, "config.json", path)
    if not isinstance(config, dict):
        raise _damaged(path, f"config.json holds a JSON {type(config).__name__}, not an object")
    version = config.get("format_version")
    if isinstance(version, str) and version.strip() == str(FORMAT_VERSION):
        raise _damaged(path, f'config.json has "format_version": "{version}" (text); it must be the number {FORMAT_VERSION}')
    if version != FORMAT_VERSION:
        raise ArtifactError(
            f"{shown_path(path)} has model format version {repr(version)[:30]}; this recsys_core reads version "
            f"{FORMAT_VERSION}: re-train the model with this version."
        )
    try:
        model_config = ModelConfig(**config["model"])
        encoder_config = EncoderConfig(**config["encoder"])
        item_fields, user_fields = list(config["item_fields"]), list(config["user_fields"])
    except KeyError as exc:
        raise _damaged(path, f"config.json has no {exc.args[0]!r} entry") from None
    except (TypeError, ValueError) as exc:
        raise _damaged(path, "config.json has unexpected model or encoder settings", str(exc)) from None
    _check_shapes(files, model_config, path)  # before anything the size of the config is allocated
    weights = _read_tensors(files, "weights.safetensors", path, "pt")
    model = HybridRecommender(model_config)
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        mismatched = [
            f"{k}: saved {tuple(v.shape)}, config {tuple(model.state_dict()[k].shape)}"
            for k, v in weights.items()
            if k in model.state_dict() and tuple(v.shape) != tuple(model.state_dict()[k].shape)
        ]
        what = "weights.safetensors does not match config.json"
        if mismatched:
            what += f" ({mismatched[0][:70]})"
        raise _damaged(path, what, str(exc)) from None
    model.eval()
    vectors = _read_tensors(files, "vectors.safetensors", path, "numpy")
    _check_finite(weights, vectors, path)
    catalog_data = _read_json(files, "catalog.json", path)
    try:
        catalog = _catalog_from(config, catalog_data, vectors, model_config, item_fields, user_fields, path)
    except KeyError as exc:
        raise _damaged(path, f"catalog.json or vectors.safetensors has no {exc.args[0]!r} entry") from None
    except (TypeError, ValueError, IndexError) as exc:
        raise _damaged(path, "catalog.json has an unexpected layout", str(exc)) from None
    metrics = _read_json(files, "metrics.json", path)
    try:
        log = [EpochLog(**e) for e in _read_json(files, "train_log.json", path)]
        report = EvaluationReport.from_dict(metrics) if metrics else None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _damaged(path, "metrics.json or train_log.json has an unexpected layout", str(exc)) from None
    return Recommender(
        model=model,
        catalog=catalog,
        encoder_config=encoder_config,
        training=TrainingRecord.from_dict(config.get("settings")),
        report=report,
        train_log=log,
        fingerprint=config.get("data_fingerprint", ""),
    )


def _check_finite(weights: dict, vectors: dict, path: Path) -> None:
    """A model whose weights or text vectors hold NaN or infinity would score everything NaN: refuse it."""
    for name, tensor in weights.items():
        if tensor.is_floating_point() and not bool(tensor.isfinite().all()):
            raise _damaged(path, f"weights.safetensors holds non-finite values (NaN or infinite) in {name[:60]}")
    for name in ("item_vectors", "profile_vectors"):  # history_ratings hold NaN by design (no rating)
        values = vectors.get(name)
        if values is not None and not np.isfinite(values).all():
            raise _damaged(path, f"vectors.safetensors holds non-finite values (NaN or infinite) in {name}")


def _catalog_from(config, data, vectors, model_config, item_fields, user_fields, path: Path) -> Catalog:
    if not isinstance(data, dict):
        raise _damaged(path, f"catalog.json holds a JSON {type(data).__name__}, not an object")
    item_ids = [str(i) for i in data["item_ids"]]
    users = [str(u) for u in data["history_users"]]
    lengths = np.asarray(vectors["history_lengths"], dtype=np.int64)
    flat = np.asarray(vectors["history_items"], dtype=np.int64)
    item_vectors = vectors["item_vectors"]
    n_items = len(item_ids)
    if n_items != model_config.n_items or len(item_vectors) != n_items or len(data["item_texts"]) != n_items:
        raise _damaged(
            path,
            f"catalog.json lists {n_items} items, the model {model_config.n_items}, the vectors {len(item_vectors)}",
        )
    if len(lengths) != len(users) or (lengths < 0).any() or int(lengths.sum()) != len(flat):
        raise _damaged(path, "the user histories in vectors.safetensors do not match catalog.json")
    if len(flat) and (flat.min() < 0 or flat.max() >= n_items):
        bad = int(flat[(flat < 0) | (flat >= n_items)][0])
        raise _damaged(path, f"a user history refers to item position {bad}, outside the {n_items} items")
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    histories = {u: flat[offsets[i] : offsets[i + 1]] for i, u in enumerate(users)}
    aligned = {}
    for name, dtype in (("history_ratings", np.float32), ("history_times", np.int64)):  # absent in older models
        values = np.asarray(vectors.get(name, np.zeros(0)), dtype=dtype)
        if name in vectors and len(values) != len(flat):
            raise _damaged(path, f"{name} in vectors.safetensors does not match the user histories")
        aligned[name] = {u: values[offsets[i] : offsets[i + 1]] for i, u in enumerate(users)} if name in vectors else {}
    return Catalog(
        item_ids=item_ids,
        item_texts=_texts_from_json(data["item_texts"]),
        item_vectors=item_vectors,
        item_fields=item_fields,
        user_fields=user_fields,
        profile_ids=[str(u) for u in data["profile_ids"]],
        profile_texts=_texts_from_json(data["profile_texts"]),
        profile_vectors=vectors["profile_vectors"],
        histories=histories,
        ratings=aligned["history_ratings"],
        times=aligned["history_times"],
    )
