"""What a browser session keeps on the server so that a reload brings back its dataset and model.

A session that uploads data or trains a model gets a random id (``new_id``: 256 bits from
``secrets``) that the dashboard keeps in the page's URL (``?session=…``).  The id names a folder
under the sessions directory; knowing the id is the only way to reach a session's files, and a
malformed id is never turned into a path.

Layout of one session (``ROOT/<id>/``)::

    session.json            what to restore: the dataset entry and the model entry (either may be null)
    results.json            computed results (feature importance, the Explain pair, the last training…),
                            each as plain JSON with the inputs that made them (``save_result``)
    data-<pid>-<token>/     the uploaded files' bytes, exactly as uploaded (interactions, items, users)
    draft-<pid>-<token>/    an unsaved trained model, written by recsys_core.artifacts.save (safetensors)

Nothing is pickled: a dataset is rebuilt from the uploaded bytes by ``recsys_core.load_dataset`` with the
same options (the same validation as the upload); a draft is read by ``recsys_core.artifacts.load`` once its
files match their fingerprint; a model of the shared registry is kept by name and version fingerprint.

Crash safety, with the primitives of ``recsys_core.durable``: new files go into a new folder whose
name no entry points at yet (``durable.write_folder``, or ``artifacts.save`` for a draft), and only
then does ``session.json`` change (``durable.write_file``: temporary, fsync, atomic rename).
``kill -9`` at any instant therefore leaves ``session.json`` pointing at complete files, old or new.
``results.json`` is small and replaced whole the same way (``durable.write_file``); one of its entries
that cannot be read is absent, the others come back.
The session's next write removes entries no record points at and the temporaries ``durable`` names
(only those of this process or of dead ones; ``durable`` says which process wrote a leftover).

Expiry: a session is kept ``days`` after its last write or restore (``session.json``'s
modification time); expired sessions are removed lazily (``prune``, at most every few minutes).
Anything missing, expired, unreadable or inconsistent is reported as absent, never raised.

No Streamlit here (``dashboard.state`` does the wiring): testable with threads and processes.  Sessions of one
server share a store: each session's writes are serialised by its own lock; pruning skips a locked session.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from recsys_core import ColumnMap, Dataset, LoadOptions, Recommender, RecsysError, artifacts, durable, load_dataset
from recsys_core.schema import ITEM, USER
from recsys_core.settings import env_number

log = logging.getLogger(__name__)

SESSIONS_DIR_ENV = "RECSYS_SESSIONS_DIR"
SESSION_DAYS_ENV = "RECSYS_SESSION_DAYS"
SESSION_MAX_MB_ENV = "RECSYS_SESSION_MAX_MB"
DEFAULT_DAYS = 7.0
# Three uploads may each reach server.maxUploadSize (200 MB), plus a draft model: 1 GB keeps all of that.
DEFAULT_MAX_MB = 1024.0
PRUNE_EVERY_SECONDS = 600.0
MANIFEST_MAX_BYTES = 1 << 20  # session.json holds two small entries: a megabyte is far beyond any real one
RESULTS_MAX_BYTES = 64 << 20  # results.json holds computed results (feature importance, ablation, …)

FORMAT = "recsys-dashboard.session"
VERSION = 1
MANIFEST = "session.json"
RESULTS = "results.json"
RESULTS_FORMAT = "recsys-dashboard.session-results"
ROLES = ("interactions", "items", "users")
_ID = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32): 32 random bytes, base64url without padding
_ENTRY = re.compile(r"(?P<kind>data|draft)-(?P<pid>\d+)-[A-Za-z0-9_-]{16}")  # a folder a record may point at

# Test hook, like recsys_core.artifacts._pause: called with a step name so a crash test can kill a
# writing process exactly between two steps ("files written", "manifest written").
_pause: Callable[[str], None] | None = None


def _step(name: str) -> None:
    if _pause is not None:
        _pause(name)


def new_id() -> str:
    """A fresh session id: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def valid_id(value: object) -> bool:
    """True for a string shaped like ``new_id()``'s output (anything else is never used as a path)."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


# -- what is stored ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadedFile:
    """One uploaded file, as the browser sent it (the name matters: it tells CSV from Parquet or RecBole)."""

    name: str
    data: bytes


def _text(value: object) -> str:  # a string from session.json, or ValueError (the entry is then damaged)
    if not isinstance(value, str):
        raise ValueError(f"expected text, found {type(value).__name__}")
    return value


@dataclass(frozen=True)
class DatasetSource:
    """The uploaded files and the options they were loaded with: enough to load the same dataset again."""

    interactions: UploadedFile
    items: UploadedFile
    users: UploadedFile | None = None
    options: LoadOptions = LoadOptions()

    @classmethod
    def of(cls, interactions: UploadedFile, items: UploadedFile, users: UploadedFile | None = None, *,
           columns: ColumnMap = ColumnMap(), item_fields: Sequence[str] | None = None,
           user_fields: Sequence[str] | None = None, min_rating: float | None = None,
           item_id_col: str = ITEM, user_id_col: str = USER,
           rename: Mapping[str, str] | None = None) -> DatasetSource:
        """The files plus ``load_dataset``'s keyword arguments, as the Data page passes them."""
        options = LoadOptions.of(columns=columns, item_fields=item_fields, user_fields=user_fields,
                                 min_rating=min_rating, item_id_col=item_id_col, user_id_col=user_id_col,
                                 rename=rename)
        return cls(interactions, items, users, options)

    @property
    def files(self) -> dict[str, UploadedFile]:
        """Role → file, for the files that were given."""
        return {role: f for role, f in zip(ROLES, (self.interactions, self.items, self.users)) if f is not None}

    @property
    def size(self) -> int:
        return sum(len(f.data) for f in self.files.values())

    def load(self) -> Dataset:
        """``recsys_core.load_dataset`` on these files and options (raises its DataValidationError)."""
        return load_dataset(
            (self.interactions.name, self.interactions.data),
            (self.items.name, self.items.data),
            (self.users.name, self.users.data) if self.users is not None else None,
            **self.options.kwargs(),
        )


@dataclass(frozen=True)
class RestoredModel:
    """The session's model: ``saved_name`` (a model of the shared registry, loaded by the caller: the version
    whose content ``fingerprint`` this is) or ``draft`` (an unsaved model, loaded after its fingerprint matched)."""

    label: str
    saved_name: str | None = None
    draft: Recommender | None = None
    fingerprint: str = ""


@dataclass(frozen=True)
class KeptResult:
    """A computed result kept for a reload: ``value`` (its type's ``to_dict``) and the ``inputs`` that made it
    (model fingerprint, settings…), both plain JSON objects; the reader decides whether they still match."""

    inputs: dict
    value: dict


@dataclass
class Restored:
    """What ``SessionStore.restore`` found.

    status: "restored" (something came back; ``problems`` lists parts that could not),
        "empty" (the session exists but keeps nothing: demo data and model),
        "missing" (no session under this id), "expired", or "damaged" (its record cannot be read).
    """

    status: str
    dataset: Dataset | None = None
    dataset_label: str = ""
    model: RestoredModel | None = None
    problems: list[str] = field(default_factory=list)
    results: dict[str, KeptResult] = field(default_factory=dict)  # kind → kept result (unreadable ones left out)


class SessionTooLarge(RecsysError):
    """A session's files would exceed the per-session size limit (nothing was kept for a reload)."""


# -- the store -------------------------------------------------------------------------------------


def default_root() -> Path:
    """``$RECSYS_SESSIONS_DIR``, else ``~/.cache/recsys-dashboard/sessions`` (``$XDG_CACHE_HOME`` respected)."""
    if os.environ.get(SESSIONS_DIR_ENV):
        return Path(os.environ[SESSIONS_DIR_ENV]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "recsys-dashboard" / "sessions"


# Per-session locks shared by every SessionStore of the process (a store object is cheap and may be
# made on every page run); the dict itself is guarded by _GUARD.
_GUARD = threading.Lock()
_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_LAST_PRUNE: dict[str, float] = {}


def _lock_for(root: Path, sid: str) -> threading.Lock:
    with _GUARD:
        return _LOCKS.setdefault((str(root), sid), threading.Lock())


class SessionStore:
    """Per-session folders under ``root``, kept ``days`` after their last use, at most ``max_mb`` each.

    Defaults come from ``$RECSYS_SESSIONS_DIR``, ``$RECSYS_SESSION_DAYS`` (0 turns keeping sessions
    off) and ``$RECSYS_SESSION_MAX_MB``.
    """

    def __init__(self, root: str | Path | None = None, days: float | None = None, max_mb: float | None = None):
        self.root = Path(root) if root is not None else default_root()
        self.days = env_number(SESSION_DAYS_ENV, DEFAULT_DAYS) if days is None else float(days)
        self.max_bytes = int((env_number(SESSION_MAX_MB_ENV, DEFAULT_MAX_MB) if max_mb is None else max_mb) * 2**20)

    @property
    def enabled(self) -> bool:
        return self.days > 0

    @property
    def ttl_seconds(self) -> float:
        return self.days * 86400

    def _dir(self, sid: str) -> Path:
        if not valid_id(sid):  # the only way from an id to a path
            raise ValueError("not a session id")
        return self.root / sid

    # -- reading ----------------------------------------------------------------------------------
    def _manifest(self, folder: Path) -> dict | None:
        """The session's record, or None when there is none; ValueError/OSError when it cannot be read."""
        try:
            data = durable.read_json(folder / MANIFEST, MANIFEST_MAX_BYTES)
        except FileNotFoundError:
            return None
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
            raise ValueError("not a session record of this version")
        return data

    def _expired(self, folder: Path, now: float | None = None) -> bool:
        try:
            modified = (folder / MANIFEST).stat().st_mtime
        except FileNotFoundError:
            try:
                modified = folder.stat().st_mtime  # a session whose first write never finished
            except FileNotFoundError:
                return False
        return (now if now is not None else time.time()) - modified > self.ttl_seconds

    def restore(self, sid: str) -> Restored:
        """Everything session ``sid`` keeps, loaded; every failure is a status or a problem, never raised."""
        if not self.enabled or not valid_id(sid):
            return Restored("missing")
        try:
            return self._restore(sid)
        finally:
            self.prune_now_and_then()  # after: this session's own expiry is reported as such, not as missing

    def _restore(self, sid: str) -> Restored:
        folder = self._dir(sid)
        with _lock_for(self.root, sid):
            if folder.is_symlink():  # never followed: the store makes real folders only, a link was planted
                log.warning("session %s… is a symbolic link: ignored", sid[:6])
                return Restored("missing")
            if not folder.is_dir():
                return Restored("missing")
            if self._expired(folder):
                self._remove(folder)
                return Restored("expired")
            try:
                manifest = self._manifest(folder)
            except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
                log.warning("session %s… has an unreadable record: %s", sid[:6], exc)
                return Restored("damaged", problems=["its record cannot be read"])
            if manifest is None:
                return Restored("missing")
            restored = Restored("restored")
            self._restore_dataset(folder, manifest.get("dataset"), restored)
            self._restore_model(folder, manifest.get("model"), restored)
            restored.results = {kind: KeptResult(e["inputs"], e["value"]) for kind, e in self._results(folder).items()}
            if restored.dataset is None and restored.model is None:
                restored.status = "damaged" if restored.problems else "empty"
            self._touch(folder)
            return restored

    def _restore_dataset(self, folder: Path, entry: object, restored: Restored) -> None:
        if entry is None:
            return
        try:
            source, label = self._read_source(folder, entry)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("session dataset unreadable: %s", exc)
            restored.problems.append("the uploaded files it kept are missing or damaged")
            return
        try:
            restored.dataset = source.load()
        except RecsysError as exc:  # e.g. a newer version of the loader rejects what it once accepted
            restored.problems.append(f"its dataset no longer loads ({exc.summary})")
            return
        except Exception:  # a loader bug must cost the restore, not the page
            log.exception("a kept dataset failed to load")
            restored.problems.append("its dataset no longer loads")
            return
        restored.dataset_label = label

    def _read_source(self, folder: Path, entry: object) -> tuple[DatasetSource, str]:
        if not isinstance(entry, dict):
            raise ValueError("dataset entry is not an object")
        directory = _text(entry["dir"])
        if not _ENTRY.fullmatch(directory) or not directory.startswith("data-"):
            raise ValueError("dataset folder name is not one of ours")
        files: dict[str, UploadedFile] = {}
        described = entry["files"]
        if not isinstance(described, dict) or not set(described) <= set(ROLES):
            raise ValueError("unexpected dataset files")
        for role, meta in described.items():
            data = (folder / directory / role).read_bytes()  # file names inside are fixed, never from the record
            if len(data) != meta["size"] or hashlib.sha256(data).hexdigest() != meta["sha256"]:
                raise ValueError(f"{role} file does not match its checksum")
            files[role] = UploadedFile(_text(meta["name"]), data)
        source = DatasetSource(files["interactions"], files["items"], files.get("users"),
                               LoadOptions.from_dict(entry["options"]))
        return source, _text(entry["label"])

    def _restore_model(self, folder: Path, entry: object, restored: Restored) -> None:
        if entry is None:
            return
        try:
            if not isinstance(entry, dict):
                raise ValueError("model entry is not an object")
            label, kind = _text(entry["label"]), entry["kind"]
            if kind == "saved":  # the fingerprint is absent in sessions kept before issue 19: any version then
                restored.model = RestoredModel(label, saved_name=_text(entry["name"]),
                                               fingerprint=_text(entry.get("fingerprint", "")))
            elif kind == "draft":
                directory = _text(entry["dir"])
                if not _ENTRY.fullmatch(directory) or not directory.startswith("draft-"):
                    raise ValueError("draft folder name is not one of ours")
                expected = entry.get("fingerprint")  # absent in drafts kept before issue 19: loaded unchecked
                if expected is not None and artifacts.fingerprint(folder / directory, fresh=True) != _text(expected):
                    restored.problems.append("its unsaved model's files were changed after they were kept (they no "
                                             "longer match their fingerprint), so it was not loaded")
                    return
                restored.model = RestoredModel(label, draft=artifacts.load(folder / directory))
            else:
                raise ValueError(f"unknown model kind {kind!r}")
        except (OSError, ValueError, KeyError, TypeError, RecsysError) as exc:
            log.warning("session model unreadable: %s", exc)
            restored.problems.append("its unsaved model is missing or damaged")
        except Exception:  # e.g. a torch error on weights that passed the format checks: still just absent
            log.exception("a kept draft model failed to load")
            restored.problems.append("its unsaved model is missing or damaged")

    def _results(self, folder: Path) -> dict[str, dict]:
        """results.json's well-formed entries (kind → {"inputs", "value"}); a damaged file or entry is absent."""
        try:
            data = durable.read_json(folder / RESULTS, RESULTS_MAX_BYTES)
            if not isinstance(data, dict) or data.get("format") != RESULTS_FORMAT or data.get("version") != VERSION:
                raise ValueError("not a results record of this version")
            entries = data["results"]
            if not isinstance(entries, dict):
                raise ValueError("results is not an object")
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError) as exc:
            log.warning("session results unreadable: %s", exc)
            return {}
        return {kind: e for kind, e in entries.items()
                if isinstance(e, dict) and isinstance(e.get("inputs"), dict) and isinstance(e.get("value"), dict)}

    # -- writing ----------------------------------------------------------------------------------
    def save_result(self, sid: str, kind: str, inputs: Mapping | None = None, value: Mapping | None = None) -> None:
        """Keep ``value`` (plain JSON: a result's ``to_dict``) as the session's ``kind`` result, made from ``inputs``;
        ``value=None`` forgets it.  The other kinds are left as they are.

        Raises SessionTooLarge (this kind is then forgotten, so a reload never shows an older one), ValueError
        (not JSON: nothing changes) and OSError (the previous results stay as they were).
        """
        self.prune_now_and_then()
        with _lock_for(self.root, sid):
            expired = self._expired(self._dir(sid))
            folder, manifest = self._open_for_write(sid)
            if expired or not (folder / MANIFEST).is_file():
                self._commit(folder, manifest)  # a session that keeps only results is a session too
            results = {} if expired else self._results(folder)
            if value is None:
                results.pop(kind, None)
            else:
                results[kind] = {"inputs": dict(inputs or {}), "value": dict(value)}
            data = self._results_bytes(results)
            kept = [folder / e["dir"] for e in (manifest.get("dataset"), manifest.get("model")) if e and "dir" in e]
            too_large = value is not None and len(data) + sum(_size(p) for p in kept) > self.max_bytes
            if too_large:
                del results[kind]
                data = self._results_bytes(results)
            durable.write_file(folder / RESULTS, data)
            _step("results written")
            self._collect(folder, manifest)  # dead writers' temporaries
            if too_large:
                raise SessionTooLarge(f"This result is more than a session keeps ({self.max_bytes / 2**20:,.0f} MB "
                                      "with the data and model): it is lost when you close or reload the page.")

    @staticmethod
    def _results_bytes(results: dict) -> bytes:
        # NaN is allowed: a result may hold one (e.g. an undefined mean), and only this module reads the file.
        return json.dumps({"format": RESULTS_FORMAT, "version": VERSION, "results": results}).encode("utf-8")

    def save_dataset(self, sid: str, source: DatasetSource | None, label: str = "") -> None:
        """Keep ``source`` as the session's dataset (None: the demo data, nothing to keep).

        Raises SessionTooLarge (the previous entry is dropped, so a reload never brings back an older
        upload) and OSError (disk full, no permission: the previous state stays as it was).
        """
        self.prune_now_and_then()  # most sessions are never restored: writes prune too
        with _lock_for(self.root, sid):
            folder, manifest = self._open_for_write(sid)
            if source is None:
                manifest["dataset"] = None
            else:
                if source.size > self.max_bytes:
                    manifest["dataset"] = None
                    self._commit(folder, manifest)
                    raise SessionTooLarge(
                        f"These files ({source.size / 2**20:,.0f} MB) are more than a session keeps "
                        f"({self.max_bytes / 2**20:,.0f} MB): they work until you close or reload the page, "
                        "but a reload starts on the demo data.")
                directory = self._new_entry("data")
                # file names inside are the fixed roles, never the uploaded names
                durable.write_folder(folder / directory, {role: f.data for role, f in source.files.items()},
                                     mode=0o700)
                described = {role: {"name": f.name, "size": len(f.data), "sha256": hashlib.sha256(f.data).hexdigest()}
                             for role, f in source.files.items()}
                _step("files written")
                manifest["dataset"] = {"dir": directory, "label": label, "files": described,
                                       "options": source.options.to_dict()}
            self._commit(folder, manifest)

    def save_model(self, sid: str, label: str, *, saved_name: str | None = None, fingerprint: str = "",
                   draft: Recommender | None = None) -> None:
        """Keep the session's model: a registry model by ``saved_name`` and its version's ``fingerprint``, an
        unsaved one as a ``draft`` (artifacts.save, with its fingerprint), or neither (the demo model).

        Raises SessionTooLarge when the draft would push the session over its limit (the model entry
        is then dropped: a reload gives the demo model, never an older one) and OSError.
        """
        self.prune_now_and_then()  # most sessions are never restored: writes prune too
        with _lock_for(self.root, sid):
            folder, manifest = self._open_for_write(sid)
            if saved_name is not None:
                manifest["model"] = {"kind": "saved", "name": saved_name, "label": label, "fingerprint": fingerprint}
            elif draft is not None:
                directory = self._new_entry("draft")
                artifacts.save(draft, folder / directory)
                _step("files written")
                kept = {folder / manifest["dataset"]["dir"]} if manifest.get("dataset") else set()
                if _size(folder / directory) + sum(_size(p) for p in kept) > self.max_bytes:
                    durable.discard(folder / directory)
                    manifest["model"] = None
                    self._commit(folder, manifest)
                    raise SessionTooLarge(
                        f"This model is more than a session keeps ({self.max_bytes / 2**20:,.0f} MB with the "
                        "data): save it on the Train page, or it is lost when you close or reload the page.")
                manifest["model"] = {"kind": "draft", "dir": directory, "label": label,
                                     "fingerprint": artifacts.fingerprint(folder / directory, fresh=True)}
            else:
                manifest["model"] = None
            self._commit(folder, manifest)

    def touch(self, sid: str) -> None:
        """Start the session's ``days`` again (called now and then while it is in use)."""
        if valid_id(sid):
            with _lock_for(self.root, sid):
                self._touch(self._dir(sid))

    def _touch(self, folder: Path) -> None:
        try:
            os.utime(folder / MANIFEST)
        except OSError:
            pass

    def _open_for_write(self, sid: str) -> tuple[Path, dict]:
        folder = self._dir(sid)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)  # uploads are private to their session
        if folder.is_symlink():  # a planted link would send this session's uploads wherever it points
            raise OSError(f"session folder {folder.name[:6]}… is a symbolic link")
        folder.mkdir(exist_ok=True, mode=0o700)
        try:
            manifest = self._manifest(folder) if not self._expired(folder) else None
        except (OSError, ValueError):
            manifest = None  # damaged: start a new record (what it pointed at could not be restored anyway)
        return folder, manifest or {"format": FORMAT, "version": VERSION, "dataset": None, "model": None}

    @staticmethod
    def _new_entry(kind: str) -> str:
        return f"{kind}-{os.getpid()}-{secrets.token_urlsafe(12)}"

    def _commit(self, folder: Path, manifest: dict) -> None:
        """Replace session.json atomically, then remove what it no longer points at."""
        durable.write_file(folder / MANIFEST, json.dumps(manifest, allow_nan=False).encode("utf-8"))
        _step("manifest written")
        self._collect(folder, manifest)

    @staticmethod
    def _collect(folder: Path, manifest: dict) -> None:
        """Remove entries and temporaries no record points at whose writer is this process or a dead one
        (a caller holds the session's lock, so this process is not writing any of them now)."""
        keep = {e["dir"] for e in (manifest.get("dataset"), manifest.get("model")) if e and "dir" in e}
        for path in folder.iterdir():
            if path.name == MANIFEST or path.name in keep:
                continue
            entry, temporary = _ENTRY.fullmatch(path.name), durable.parse_temporary(path)
            if temporary is not None:  # session.json's, or artifacts.save's for a draft
                pid = temporary.pid
            elif entry is not None:
                pid = int(entry["pid"])
            else:
                continue  # not ours: never delete what we did not write
            if pid == os.getpid() or not durable.pid_alive(pid):
                durable.discard(path)

    # -- expiry -----------------------------------------------------------------------------------
    def prune_now_and_then(self) -> None:
        """``prune`` at most every PRUNE_EVERY_SECONDS per root and process (it lists the whole folder)."""
        now = time.time()
        with _GUARD:
            if now - _LAST_PRUNE.get(str(self.root), 0.0) < PRUNE_EVERY_SECONDS:
                return
            _LAST_PRUNE[str(self.root)] = now
        self.prune(now)

    def prune(self, now: float | None = None) -> int:
        """Remove expired sessions (skipping any this process is using right now); returns how many.

        Only real folders: a symbolic link with a session's name was not made here, so it is neither followed
        nor removed."""
        try:
            entries = [p for p in self.root.iterdir() if valid_id(p.name) and not p.is_symlink()]
        except OSError:
            return 0
        removed = 0
        self._collect_removals()
        for folder in entries:
            lock = _lock_for(self.root, folder.name)
            if not lock.acquire(blocking=False):
                continue
            try:
                if self._expired(folder, now):
                    self._remove(folder)
                    removed += 1
            finally:
                lock.release()
        return removed

    def _collect_removals(self) -> None:
        """Finish removals of sessions that were begun and not ended: a killed process's, and this or another live
        process's whose deletion failed part-way.  A ``deleting`` folder is doomed by its name, so whoever sees
        it may finish it (two deleters at once only skip what the other removed)."""
        for temp in durable.temporaries(self.root):
            if temp.kind == durable.DELETING and valid_id(temp.name):
                durable.discard(temp.path)

    def _remove(self, folder: Path) -> None:
        """Take the session's id out of use at once (rename), then delete its files."""
        try:
            durable.remove_folder(folder)
        except OSError:
            pass


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
