"""Saving and loading a trained model as a directory — never pickle.

Layout (FORMAT_VERSION 1):
    config.json        format marker and version, encoder, fields, model and training settings, data fingerprint
    weights.safetensors  the model's parameters and buffers
    vectors.safetensors  item text vectors, profile vectors, user histories (flattened + offsets)
    catalog.json       item ids, user ids, item and profile texts with their field spans
    metrics.json       the evaluation report (model and baselines, every slice)
    train_log.json     loss and validation NDCG@10 per epoch

Crash safety (``kill -9`` at any instant leaves the old or the new model
loadable under its name):

1. every file is written into a temporary sibling ``.NAME.saving-PID-NS``,
   fsynced, and the directory itself fsynced;
2. the finished directory takes the place of ``NAME`` by an atomic exchange
   (Linux ``renameat2(RENAME_EXCHANGE)``), so ``NAME`` is never missing; the
   old model, now under the temporary name, is then removed;
3. where the exchange is unsupported the old model is first renamed to
   ``.NAME.old-PID-NS`` and the new one renamed into place; if a kill lands
   between those two renames, :func:`load` reads the ``.old`` copy (and puts it
   back once its writer is gone).

Temporaries of dead writers (only names of the two patterns above, for this
NAME) are removed by the next save.  Replacing is allowed only for an empty
folder or a folder that holds nothing but a model of this format, so a wrong
``--out`` can never delete an analyst's files.
"""
from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import stat
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import save_file as save_torch

from .catalog import Catalog
from .durable import fsync_dir, fsync_path, pid_alive
from .encoder import EncoderConfig
from .errors import ArtifactError, OutputPathError, shown_path
from .evaluation import EvaluationReport
from .model import HybridRecommender, ModelConfig
from .recommender import Recommender
from .text import FieldText, Span
from .training import EpochLog

FORMAT_VERSION = 1
FORMAT_MARKER = "recsys_core.model"  # config.json "format": tells our model folders from anyone else's
FILES = ("config.json", "weights.safetensors", "vectors.safetensors", "catalog.json", "metrics.json", "train_log.json")
# Temporaries: a save in progress, the previous model set aside, a registry delete in progress.
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<kind>saving|old|deleting)-(?P<pid>\d+)-(?P<ns>\d+)$")

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


# -- durable writes -------------------------------------------------------------------


def _umask() -> int:
    """The process umask, read without changing it (os.umask would race with other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2); False when this system cannot."""
    if not sys.platform.startswith("linux") or os.environ.get("RECSYS_NO_RENAME_EXCHANGE"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (22, 38, 95):  # EINVAL / ENOSYS / EOPNOTSUPP: file system or kernel without exchange
        return False
    raise OSError(err, os.strerror(err), str(b))


def _temporaries(target: Path) -> Iterator[tuple[Path, str, int]]:
    """(path, "saving"|"old", writer pid) of this model's temporaries, by our naming pattern only."""
    try:
        siblings = list(target.parent.iterdir())
    except OSError:
        return
    for path in siblings:
        match = _TEMP.match(path.name)
        if match and match["name"] == target.name and path.is_dir() and not path.is_symlink():
            yield path, match["kind"], int(match["pid"])


def _recover(target: Path) -> None:
    """Put back a model whose writer died between the two renames; remove other dead writers' leftovers."""
    for path, kind, pid in sorted(_temporaries(target), key=lambda t: t[0].name, reverse=True):
        if pid_alive(pid):
            continue
        if kind == "old" and not target.exists() and is_model_dir(path):
            try:
                os.replace(path, target)
                fsync_dir(target.parent)
                continue
            except OSError:
                pass  # another process restored it first
        shutil.rmtree(path, ignore_errors=True)


def recover_all(parent: str | Path) -> None:
    """:func:`_recover` every model of a shared folder (the registry calls it when listing)."""
    parent = Path(parent)
    try:
        names = {m["name"] for m in map(_TEMP.match, (p.name for p in parent.iterdir())) if m}
    except OSError:
        return
    for name in names:
        _recover(parent / name)


def save(recommender: Recommender, directory: str | Path) -> Path:
    """Write the model directory so that a crash at any instant leaves the old or the new one; returns its path.

    Raises :class:`OutputPathError` when ``directory`` holds anything but a
    model of this format (see :func:`check_output_dir`).
    """
    target = check_output_dir(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    _recover(target)
    tmp = target.parent / f".{target.name}.saving-{os.getpid()}-{time.time_ns()}"
    umask = _umask()
    tmp.mkdir()
    try:
        tmp.chmod(0o777 & ~umask)  # a saved model is shared like any folder the user creates
        _write(recommender, tmp)
        for name in FILES:  # safetensors writes 0600: give every file the same, ordinary mode
            (tmp / name).chmod(0o666 & ~umask)
            fsync_path(tmp / name)
        fsync_dir(tmp)
        _step("written")
        check_output_dir(directory)  # still safe to replace after the (possibly long) write?
        if target.is_dir() and any(target.iterdir()):
            if _exchange(tmp, target):
                fsync_dir(target.parent)
                _step("swapped")
            else:
                old = target.parent / f".{target.name}.old-{os.getpid()}-{time.time_ns()}"
                os.replace(target, old)
                _step("old moved aside")
                try:
                    os.replace(tmp, target)
                except BaseException:
                    os.replace(old, target)  # put the previous model back before giving up
                    raise
                fsync_dir(target.parent)
                _step("swapped")
                tmp = old
        else:
            os.replace(tmp, target)  # rename(2) may replace an empty folder
            fsync_dir(target.parent)
            _step("swapped")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


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
        "settings": rec.settings,
        "data_fingerprint": rec.fingerprint,
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _write_json(out / "config.json", config)
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


@contextmanager
def _opened(folder: Path) -> Iterator[dict[str, str]]:
    """Open every model file at once and yield ``{name: path}`` paths that keep reading those very files.

    A save may swap ``folder`` away and delete it while we read (Linux keeps
    an open file readable after its unlink, and ``/proc/self/fd/N`` reopens
    it).  Only the few microseconds spent opening are racy: when a file is
    missing and ``folder`` no longer names the directory we opened, a save
    raced us and :class:`FileNotFoundError` asks the caller to try again.
    Elsewhere (no ``/proc``) the plain paths are used.
    """
    try:
        dir_fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        yield _plain_paths(folder)
        return
    fds: dict[str, int] = {}
    try:
        if not os.path.isdir(f"/proc/self/fd/{dir_fd}"):
            yield _plain_paths(folder)
            return
        for name in FILES:
            try:
                fd = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(os.fstat(fd).st_mode):
                fds[name] = fd
            else:  # a folder under a model file's name counts as that file missing
                os.close(fd)
        if len(fds) < len(FILES) and not _still_named(folder, dir_fd):
            raise FileNotFoundError(f"{folder} was replaced while it was being opened")
        yield {name: f"/proc/self/fd/{fd}" for name, fd in fds.items()}
    finally:
        for fd in fds.values():
            os.close(fd)
        os.close(dir_fd)


def _plain_paths(folder: Path) -> dict[str, str]:
    return {name: str(folder / name) for name in FILES if (folder / name).is_file()}


def _still_named(folder: Path, dir_fd: int) -> bool:
    try:
        return os.path.samestat(os.stat(folder), os.fstat(dir_fd))
    except OSError:
        return False


def _find(path: Path) -> Path | None:
    """``path`` itself, or the previous model kept aside by a save that was interrupted between renames."""
    if path.is_dir():
        return path
    _recover(path)  # its writer is dead: put the old model back under its name
    if path.is_dir():
        return path
    olds = [p for p, kind, _ in _temporaries(path) if kind == "old" and is_model_dir(p)]
    return sorted(olds, key=lambda p: p.name)[-1] if olds else None


def load(directory: str | Path) -> Recommender:
    """Read a model directory written by ``save``; clear errors for anything missing or unknown."""
    path = Path(directory)
    if path.exists() and not path.is_dir():
        raise ArtifactError(f"{shown_path(path)} is a file, not a model folder: give the folder that `train --out` wrote.")
    for attempt in range(5):
        found = _find(path.absolute())
        if found is None:
            raise ArtifactError(
                f"No model directory at {shown_path(path)}: train one with `python -m recsys_core train … --out DIR`."
            )
        try:
            with _opened(found) as files:
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
        settings=config.get("settings", {}),
        report=report,
        train_log=log,
        fingerprint=config.get("data_fingerprint", ""),
    )


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
    )
