"""Named models in one shared directory: save, list, load, replace (keeping versions), delete (to a trash).

Every model is a directory written by :mod:`recsys_core.artifacts` under the registry root, so a model
saved from the dashboard can be loaded by the CLI or a notebook (``artifacts.load(root / name)``) and
the other way round.  The root defaults to ``$RECSYS_MODELS_DIR`` or ``./models``.  It is shared by
everyone who runs the tool from the same place, so the registry records who did what:

    NAME/                          the current version (hard links to the files of its version folder)
    .versions/NAME/ID/             every kept version of NAME, never changed once written
    .versions/NAME/ID.json         its record: owner, content fingerprint, when it was saved
    .versions/NAME/current.json    the last change of NAME: which version, by whom, saved or restored
    .trash/NAME.STAMP-HEX/         a deleted model (``model/``, ``versions/``, ``trash.json``), restorable
                                   until its time is up (``$RECSYS_TRASH_DAYS``, default 7)

Versions: saving over a name keeps the previous version (at most ``$RECSYS_MODEL_VERSIONS`` per name,
default 5, the current one always kept); :meth:`ModelRegistry.restore_version` puts one back.  A
version's fingerprint (:func:`recsys_core.artifacts.fingerprint`) is checked before it is loaded: files
changed after saving are refused, never loaded silently.  A session that used a version asks
:meth:`ModelRegistry.status_of` whether it is still current, replaced (by whom) or deleted (by whom).

Crash safety (``kill -9`` at any instant leaves the previous state usable): a version folder is written
whole before its record (``artifacts.save``, then ``durable.write_file``), and only then is it swapped in
under NAME (``durable.replace_folder``); a delete is a few renames into a hidden trash entry, which the
next listing finishes (or undoes, when the model had not moved yet).  Writers are serialised by a lock
file in the root, so CLI processes and dashboard sessions (threads) never interleave.  Nothing is ever
removed here that this module did not create: only names it writes are pruned, purged or moved.
"""
from __future__ import annotations

import getpass
import json
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from . import artifacts, durable
from .errors import ArtifactError, RecsysError, UnknownEntityError
from .evaluation import MODEL_NAME
from .recommender import Recommender
from .settings import env_number
from .training import TrainingRecord

MODELS_DIR_ENV = "RECSYS_MODELS_DIR"
KEEP_VERSIONS_ENV = "RECSYS_MODEL_VERSIONS"
TRASH_DAYS_ENV = "RECSYS_TRASH_DAYS"
DEFAULT_KEEP_VERSIONS = 5
DEFAULT_TRASH_DAYS = 7.0
VERSIONS, TRASH, LOCK = ".versions", ".trash", ".registry.lock"
UNKNOWN_OWNER = "unknown"  # a model saved before owners were recorded
OWNER_MAX = 80
RECORD_MAX_BYTES = 64 << 10
_FORMAT = "recsys_core.registry"
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # ASCII only: no look-alike or control characters
_VERSION_ID = re.compile(r"\d{8}T\d{12}Z-[0-9a-f]{6}")  # UTC to the microsecond: ids sort as they were made
_TRASH_ENTRY = re.compile(r"(?P<name>[A-Za-z0-9_-]{1,64})\.(?P<stamp>\d{8}T\d{12}Z-[0-9a-f]{6})")
_PENDING = re.compile(r"\.pending-(?P<pid>\d+)-\d+-(?P<entry>.+)")  # a trash entry being filled
_STAMP = "%Y%m%dT%H%M%S"


def default_root() -> Path:
    """``$RECSYS_MODELS_DIR`` when set, otherwise ``./models`` (relative to the working directory)."""
    return Path(os.environ.get(MODELS_DIR_ENV) or "models")


def default_owner() -> str:
    """The operating-system user running this process (the CLI's default owner label)."""
    try:
        return getpass.getuser() or UNKNOWN_OWNER
    except Exception:  # no user name in the environment or the password database
        return UNKNOWN_OWNER


def check_owner(owner: str) -> str:
    """``owner`` trimmed, if it can label a saved model; a RecsysError saying why not otherwise."""
    text = owner.strip() if isinstance(owner, str) else ""
    if not text or len(text) > OWNER_MAX or not text.isprintable():
        raise RecsysError(f"{repr(owner)[:60]} cannot be used as an owner label: use 1 to {OWNER_MAX} printable "
                          "characters (a name or an e-mail address, no control characters).")
    return text


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _new_stamp() -> str:
    now = time.time_ns()
    return f"{time.strftime(_STAMP, time.gmtime(now // 10**9))}{now // 1000 % 10**6:06d}Z-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about a saved model without loading its weights.

    ndcg10: the model's NDCG@10 on the test slice (None when the model was saved without an evaluation
    report).  n_users: users in the data it was trained on.  saved_at: UTC, ISO 8601.  owner: who saved
    the current version (UNKNOWN_OWNER for a model saved before owners were recorded); version: its id
    ("" for such a model); fingerprint: the content fingerprint of its files.
    """

    name: str
    path: Path
    saved_at: str
    n_items: int | None
    n_users: int | None
    ndcg10: float | None
    encoder: str
    owner: str = UNKNOWN_OWNER
    version: str = ""
    fingerprint: str = ""


@dataclass(frozen=True)
class ModelVersion:
    """One kept version of a named model; ``path`` is its own folder (never changed once written)."""

    name: str
    id: str
    path: Path
    owner: str
    fingerprint: str
    saved_at: str
    current: bool = False


@dataclass(frozen=True)
class Change:
    """The last change of a name: ``action`` "saved" or "restored" (an older version put back), by whom, when."""

    version: str
    by: str
    at: str
    action: str


@dataclass(frozen=True)
class TrashEntry:
    """A deleted model, restorable until ``expires_at`` (UTC, ISO 8601) by :meth:`ModelRegistry.untrash`."""

    id: str
    name: str
    path: Path
    deleted_by: str
    deleted_at: str
    expires_at: str
    fingerprints: tuple[str, ...]  # of every version it holds: tells a session that its model is in here


@dataclass(frozen=True)
class ModelStatus:
    """What became of the version a session used (:meth:`ModelRegistry.status_of`).

    state: "current" (still the model under its name), "replaced" (another version is current: ``current``,
    ``change`` says by whom), "deleted" (``trash`` says by whom) or "missing" (gone without a record).
    ``own``: the session's version when it is still kept (loadable), else None.
    """

    state: str
    name: str
    own: ModelVersion | None = None
    current: ModelVersion | None = None
    change: Change | None = None
    trash: TrashEntry | None = None

    def message(self) -> str:
        """One plain sentence for the analyst (names and owners quoted as given; show it as text)."""
        if self.state == "current":
            return f"The saved model '{self.name}' is the version you used."
        if self.state == "replaced":
            by = self.change.by if self.change else (self.current.owner if self.current else UNKNOWN_OWNER)
            at = _when(self.change.at if self.change else (self.current.saved_at if self.current else ""))
            how = "went back to an older version of it" if self.change and self.change.action == "restored" \
                else "replaced it"
            keep = ("your version is still kept, and this session uses it" if self.own
                    else "your version is no longer kept (only the newest versions are)")
            return f"The saved model '{self.name}' you used was changed: {by} {how} at {at}; {keep}."
        if self.state == "deleted":
            return (f"The saved model '{self.name}' you used was deleted by {self.trash.deleted_by} at "
                    f"{_when(self.trash.deleted_at)}; it is in the trash until {_when(self.trash.expires_at)} and can "
                    "be restored on the Train page.")
        return f"The saved model '{self.name}' you used is no longer in the models folder."


class ModelRegistry:
    def __init__(self, root: str | Path | None = None, *, keep_versions: int | None = None,
                 trash_days: float | None = None):
        self.root = Path(root) if root is not None else default_root()
        self.keep_versions = max(1, int(env_number(KEEP_VERSIONS_ENV, DEFAULT_KEEP_VERSIONS)
                                        if keep_versions is None else keep_versions))
        self.trash_days = env_number(TRASH_DAYS_ENV, DEFAULT_TRASH_DAYS) if trash_days is None else float(trash_days)

    def __repr__(self) -> str:
        return f"ModelRegistry({str(self.root)!r})"

    # -- names ---------------------------------------------------------------
    @staticmethod
    def check_name(name: str) -> str:
        """Return ``name`` if it can name a model directory, else raise a RecsysError saying why."""
        # fullmatch, not match: "$" also matches before a trailing newline, which let 'ok\n' through.
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            shown = repr(name)[:80]
            raise RecsysError(
                f"{shown} cannot be used as a model name: use 1 to 64 letters, digits, '-' or '_' "
                "(no spaces, dots, slashes or control characters), e.g. 'movies-bpr_v2'."
            )
        return name

    def path_of(self, name: str) -> Path:
        return self.root / self.check_name(name)

    def exists(self, name: str) -> bool:
        return (self.path_of(name) / "config.json").is_file()

    def _versions_dir(self, name: str) -> Path:
        return self.root / VERSIONS / self.check_name(name)

    def _lock(self) -> FileLock:
        """One writer at a time in this root (processes and threads alike: each acquire opens its own file)."""
        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / LOCK), thread_local=False, is_singleton=False)

    # -- reading -------------------------------------------------------------
    def list(self) -> list[ModelInfo]:
        """Saved models, newest first.  Unreadable directories are listed with empty fields."""
        if not self.root.is_dir():
            return []
        artifacts.recover_all(self.root)  # put back models whose save was killed mid-swap; drop dead leftovers
        infos = [
            self._info(path)
            for path in self.root.iterdir()
            if path.is_dir() and _NAME.fullmatch(path.name) and (path / "config.json").is_file()
        ]
        return sorted(infos, key=lambda i: (i.saved_at, i.name), reverse=True)

    def versions(self, name: str) -> list[ModelVersion]:
        """The kept versions of ``name``, newest first; the one under the name now has ``current=True``."""
        folder = self._versions_dir(name)
        try:
            records = [p for p in folder.iterdir() if p.suffix == ".json" and _VERSION_ID.fullmatch(p.stem)]
        except OSError:
            return []
        found = [v for v in (self._version(name, p) for p in records) if v is not None]
        found.sort(key=lambda v: v.id, reverse=True)
        # The current one holds the files under the name; of identical versions, the one the last change installed.
        same = [v for v in found if v.fingerprint == self._current_fingerprint(name)]
        change = self.last_change(name)
        chosen = next((v for v in same if change and v.id == change.version), same[0] if same else None)
        return [_with_current(v) if v is chosen else v for v in found]

    def current_version(self, name: str) -> ModelVersion | None:
        """The version under ``name`` now; None for a model saved before versions were kept (or none at all)."""
        return next((v for v in self.versions(name) if v.current), None)

    def last_change(self, name: str) -> Change | None:
        try:
            data = durable.read_json(self._versions_dir(name) / "current.json", RECORD_MAX_BYTES)
            return Change(str(data["version"]), str(data["by"]), str(data["at"]), str(data["action"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def status_of(self, name: str, fingerprint: str) -> ModelStatus:
        """What became of the version of ``name`` whose content fingerprint is ``fingerprint``."""
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            return ModelStatus("missing", str(name)[:64])
        versions = self.versions(name)
        own = next((v for v in versions if v.fingerprint == fingerprint), None)
        if (self.root / name).is_dir():
            if self._current_fingerprint(name) == fingerprint:
                return ModelStatus("current", name, own=own, current=own)
            current = next((v for v in versions if v.current), None)
            return ModelStatus("replaced", name, own=own, current=current, change=self.last_change(name))
        trashed = [t for t in self.trash() if t.name == name]
        holding = [t for t in trashed if fingerprint in t.fingerprints] or trashed
        if holding:
            return ModelStatus("deleted", name, trash=holding[0])
        return ModelStatus("missing", name)

    def load(self, name: str) -> Recommender:
        """The model under ``name`` now, read from its version folder after its fingerprint is checked."""
        path = self.path_of(name)
        current = self.current_version(name)
        if current is not None:
            return self.load_version(current)
        if self._has_versions(name) and path.is_dir():  # versions are kept, yet the files match none of them
            raise self._tampered(name, "the files under its name")
        try:
            return artifacts.load(path)  # a model saved before versions were kept; also finds one left aside
        except ArtifactError:
            if not path.exists() and not self.exists(name):
                raise UnknownEntityError(self.unknown(name)) from None
            raise

    def load_version(self, version: ModelVersion) -> Recommender:
        """``version``'s model, refused with a clear message when its files changed since it was saved."""
        if artifacts.fingerprint(version.path, fresh=True) != version.fingerprint:
            raise self._tampered(version.name, f"version {version.id}'s files", version.owner)
        return artifacts.load(version.path)

    # -- writing -------------------------------------------------------------
    def save(self, recommender: Recommender, name: str, *, overwrite: bool = False,
             owner: str | None = None) -> ModelInfo:
        """Write the model under ``name`` as a new version saved by ``owner`` (default: the OS user).

        Replacing (``overwrite``) keeps the previous version; a failed save leaves the previous one intact.
        """
        target = self.path_of(name)
        who = check_owner(owner if owner is not None else default_owner())
        with self._lock():
            if not overwrite and target.exists():
                raise RecsysError(
                    f"A model named {name!r} already exists in {self.root}: choose another name, "
                    "or replace it (its current version is kept, and can be put back)."
                )
            if target.exists():
                artifacts.check_output_dir(target)  # never replace a folder that is not a model
                self._adopt(name)
            version = self._write_version(name, lambda folder: artifacts.save(recommender, folder), who)
            self._install(version, who, "saved")
        return self._info(target)

    def restore_version(self, name: str, version_id: str, *, by: str | None = None) -> ModelInfo:
        """Make the kept version ``version_id`` of ``name`` current again (the one it replaces is kept too)."""
        who = check_owner(by if by is not None else default_owner())
        with self._lock():
            version = next((v for v in self.versions(name) if v.id == version_id), None)
            if version is None:
                kept = ", ".join(v.id for v in self.versions(name)) or "none"
                raise UnknownEntityError(f"No kept version {version_id!r} of the model {name!r} (kept versions: {kept}).")
            if artifacts.fingerprint(version.path, fresh=True) != version.fingerprint:
                raise self._tampered(name, f"version {version.id}'s files", version.owner)
            if self.path_of(name).exists():
                artifacts.check_output_dir(self.path_of(name))
                self._adopt(name)
            self._install(version, who, "restored")
        return self._info(self.path_of(name))

    def delete(self, name: str, *, confirm: str, by: str | None = None) -> TrashEntry:
        """Move ``name`` (its current files and kept versions) to the trash; ``confirm`` must be the name, typed.

        The name is free at once; :meth:`untrash` brings it back until the trash's time is up.
        """
        path = self.path_of(name)
        if confirm != name:
            raise RecsysError(f"To delete the model {name!r}, type its name exactly: {repr(confirm)[:70]} is not it. "
                              "Nothing was deleted.")
        who = check_owner(by if by is not None else default_owner())
        with self._lock():
            if not path.is_dir():
                raise UnknownEntityError(self.unknown(name))
            if not _only_model_files(path):  # a damaged model may be deleted; a folder of anything else not
                raise RecsysError(f"{path} holds files that are not a saved model: it was not made by the registry, "
                                  "so it is not deleted here. Nothing was changed.")
            entry = f"{name}.{_new_stamp()}"
            trash = self.root / TRASH
            pending = trash / f".pending-{os.getpid()}-{time.time_ns()}-{entry}"
            pending.mkdir(parents=True)
            expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + self.trash_days * 86400))
            record = {"format": _FORMAT, "name": name, "deleted_by": who, "deleted_at": _now(), "expires_at": expires}
            durable.write_file(pending / "trash.json", json.dumps(record).encode())
            if self._versions_dir(name).is_dir():  # versions first: a model found in a pending entry means "finish"
                os.replace(self._versions_dir(name), pending / "versions")
            os.replace(path, pending / "model")
            os.replace(pending, trash / entry)
            durable.fsync_dir(trash)
        return self._trash_entry(trash / entry)

    def trash(self) -> list[TrashEntry]:
        """Deleted models still restorable, newest first (expired ones are removed, unfinished deletes finished)."""
        folder = self.root / TRASH
        if not folder.is_dir():
            return []
        self._tidy_trash(folder)
        entries = [self._trash_entry(p) for p in folder.iterdir() if _TRASH_ENTRY.fullmatch(p.name)]
        return sorted([e for e in entries if e is not None], key=lambda e: (e.deleted_at, e.id), reverse=True)

    def untrash(self, entry_id: str, *, by: str | None = None) -> ModelInfo:
        """Put a deleted model back under its name (refused when a model of that name was saved since)."""
        check_owner(by if by is not None else default_owner())
        with self._lock():
            entry = next((t for t in self.trash() if t.id == entry_id), None)
            if entry is None:
                raise UnknownEntityError(f"Nothing in the trash is called {repr(entry_id)[:80]}: it may have expired.")
            target = self.path_of(entry.name)
            if target.exists():
                raise RecsysError(f"A model named {entry.name!r} was saved after this one was deleted: delete or "
                                  "rename that one first, then restore this one. Nothing was changed.")
            versions = self._versions_dir(entry.name)
            if (entry.path / "versions").is_dir():  # merged: a folder left by a save killed since is kept too
                versions.mkdir(parents=True, exist_ok=True)
                for item in (entry.path / "versions").iterdir():
                    if not (versions / item.name).exists():
                        os.replace(item, versions / item.name)
            os.replace(entry.path / "model", target)
            durable.fsync_dir(self.root)
            durable.discard(entry.path)
        return self._info(target)

    # -- helpers -------------------------------------------------------------
    def _write_version(self, name: str, fill, owner: str) -> ModelVersion:
        """A new version folder filled by ``fill(folder)``, then its record (so a record always has its files)."""
        version_id = _new_stamp()
        folder = self._versions_dir(name) / version_id
        fill(folder)
        version = ModelVersion(name, version_id, folder, owner, artifacts.fingerprint(folder, fresh=True), _now())
        record = {"format": _FORMAT, "id": version_id, "owner": owner, "fingerprint": version.fingerprint,
                  "saved_at": version.saved_at}
        durable.write_file(folder.with_suffix(".json"), json.dumps(record).encode())
        return version

    def _install(self, version: ModelVersion, by: str, action: str) -> None:
        """Swap ``version``'s files in under its name (hard links: no copy), record the change, prune old versions."""
        target = self.path_of(version.name)
        durable.replace_folder(target, lambda folder: _link_files(version.path, folder),
                               is_whole=artifacts.is_model_dir, check=lambda: artifacts.check_output_dir(target))
        change = {"version": version.id, "by": by, "at": _now(), "action": action}
        durable.write_file(self._versions_dir(version.name) / "current.json", json.dumps(change).encode())
        self._prune(version.name)

    def _adopt(self, name: str) -> None:
        """Keep the files under ``name`` as a version when they are none yet (a model saved before versions were
        kept, or changed by hand): replacing it must never lose it."""
        path = self.path_of(name)
        if artifacts.is_model_dir(path) and self.current_version(name) is None:
            self._write_version(name, lambda folder: durable.replace_folder(
                folder, lambda tmp: _link_files(path, tmp), is_whole=artifacts.is_model_dir), UNKNOWN_OWNER)

    def _prune(self, name: str) -> None:
        """Remove the oldest versions beyond ``keep_versions`` (never the current one), and what writers killed
        in this name's versions folder left (only names ``durable`` gives its temporaries, of dead processes)."""
        for leftover in durable.orphans(self._versions_dir(name)):
            durable.discard(leftover.path)
        kept = self.versions(name)
        old = [v for v in kept if not v.current][max(0, self.keep_versions - 1):]
        for v in old:
            durable.discard(v.path.with_suffix(".json"))  # the record first: a version without one is never listed
            if v.path.is_dir():
                durable.remove_folder(v.path)

    def _has_versions(self, name: str) -> bool:
        folder = self._versions_dir(name)
        return folder.is_dir() and any(_VERSION_ID.fullmatch(p.stem) for p in folder.glob("*.json"))

    def _current_fingerprint(self, name: str) -> str:
        path = self.root / name
        return artifacts.fingerprint(path) if artifacts.is_model_dir(path) else ""

    def _version(self, name: str, record: Path) -> ModelVersion | None:
        try:
            data = durable.read_json(record, RECORD_MAX_BYTES)
            folder = record.with_suffix("")
            if data.get("format") != _FORMAT or data.get("id") != folder.name or not folder.is_dir():
                return None
            return ModelVersion(name, folder.name, folder, str(data["owner"]), str(data["fingerprint"]),
                                str(data["saved_at"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def _trash_entry(self, folder: Path) -> TrashEntry | None:
        try:
            data = durable.read_json(folder / "trash.json", RECORD_MAX_BYTES)
            if data.get("format") != _FORMAT or not (folder / "model").is_dir():
                return None
            versions = folder / "versions"
            prints = [artifacts.fingerprint(folder / "model")]
            if versions.is_dir():
                prints += [str(durable.read_json(p, RECORD_MAX_BYTES).get("fingerprint"))
                           for p in versions.glob("*.json") if _VERSION_ID.fullmatch(p.stem)]
            return TrashEntry(folder.name, str(data["name"]), folder, str(data["deleted_by"]), str(data["deleted_at"]),
                              str(data["expires_at"]), tuple(prints))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def _tidy_trash(self, folder: Path) -> None:
        """Finish deletes whose process died once the model had moved (undo them before); remove expired entries."""
        for path in list(folder.iterdir()):
            pending = _PENDING.fullmatch(path.name)
            if pending and _TRASH_ENTRY.fullmatch(pending["entry"]) and not durable.pid_alive(int(pending["pid"])):
                name = _TRASH_ENTRY.fullmatch(pending["entry"])["name"]
                if (path / "model").is_dir():
                    os.replace(path, folder / pending["entry"])
                else:  # killed before the model moved: the delete never happened
                    if (path / "versions").is_dir() and not self._versions_dir(name).exists():
                        os.replace(path / "versions", self._versions_dir(name))
                    durable.discard(path)
            temporary = durable.parse_temporary(path)
            if temporary is not None and temporary.kind == durable.DELETING and temporary.orphaned:
                durable.discard(path)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for entry in [self._trash_entry(p) for p in folder.iterdir() if _TRASH_ENTRY.fullmatch(p.name)]:
            if entry is not None and entry.expires_at < now:
                durable.remove_folder(entry.path)

    @staticmethod
    def _tampered(name: str, what: str, owner: str = "") -> ArtifactError:
        by = f" (saved by {owner})" if owner else ""
        return ArtifactError(f"Saved model {name!r} is damaged: {what} changed after saving (fingerprint mismatch); "
                             "not loaded.", f"Its files no longer match the fingerprint recorded when it was saved{by}: "
                             "go back to another version, or save it again.")

    def unknown(self, name: str) -> str:
        """The message for a name no model has: which names exist."""
        names = [i.name for i in self.list()]
        known = f"saved models: {', '.join(names)}" if names else "no model is saved there yet"
        return f"No saved model named {name!r} in {self.root} ({known})."

    def _info(self, path: Path) -> ModelInfo:
        try:
            config = json.loads((path / "config.json").read_text())
            metrics = json.loads((path / "metrics.json").read_text()) if (path / "metrics.json").is_file() else None
        except (OSError, json.JSONDecodeError):
            return ModelInfo(path.name, path, "", None, None, None, "unreadable")
        current = self.current_version(path.name)
        return ModelInfo(
            name=path.name,
            path=path,
            saved_at=config.get("saved_at", ""),
            n_items=config.get("model", {}).get("n_items"),
            n_users=TrainingRecord.from_dict(config.get("settings")).n_users,
            ndcg10=_test_ndcg10(metrics),
            encoder=config.get("encoder", {}).get("name", ""),
            owner=current.owner if current else UNKNOWN_OWNER,
            version=current.id if current else "",
            fingerprint=current.fingerprint if current else self._current_fingerprint(path.name),
        )


def _when(iso: str) -> str:
    """'2026-12-02T10:59:43Z' as '2026-12-02 10:59 UTC' (a sentence's time); anything else as it is."""
    return f"{iso[:10]} {iso[11:16]} UTC" if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", iso) else iso


def _with_current(v: ModelVersion) -> ModelVersion:
    return ModelVersion(v.name, v.id, v.path, v.owner, v.fingerprint, v.saved_at, current=True)


def _only_model_files(path: Path) -> bool:
    """True for a folder holding nothing but files named like a model's (damaged or not)."""
    try:
        return all(p.name in artifacts.FILES and p.is_file() and not p.is_symlink() for p in path.iterdir())
    except OSError:
        return False


def _link_files(source: Path, folder: Path) -> None:
    """Fill ``folder`` with ``source``'s model files: hard links (the files are never changed in place), copies
    where the file system has none."""
    for name in artifacts.FILES:
        if (source / name).is_file():
            try:
                os.link(source / name, folder / name)
            except OSError:
                shutil.copy2(source / name, folder / name)


def _test_ndcg10(metrics: dict | None) -> float | None:
    for s in (metrics or {}).get("slices", []):
        if s.get("name") == "test":
            value = s.get("metrics", {}).get(MODEL_NAME, {}).get("NDCG@10")
            return None if value is None else float(value)
    return None


__all__ = ["KEEP_VERSIONS_ENV", "MODELS_DIR_ENV", "TRASH_DAYS_ENV", "UNKNOWN_OWNER", "Change", "ModelInfo",
           "ModelRegistry", "ModelStatus", "ModelVersion", "TrashEntry", "check_owner", "default_owner",
           "default_root"]
