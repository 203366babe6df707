"""Crash-safe files and folders: how this project writes so that ``kill -9`` or a power cut at any
instant leaves the previous state usable, and how it cleans up after writers that died.

One home for the primitives that :mod:`recsys_core.artifacts` (a model folder, replaced whole),
:class:`recsys_core.embedding_cache.EmbeddingCache` (one shard file per write) and the dashboard's session
store (``session.json`` and the folders it points at) all rely on:

* :func:`write_file` — a file is seen whole or not at all: written to a temporary sibling, fsynced,
  renamed over the name, and the folder fsynced.
* :func:`write_folder` — a new folder whose files are all on disk before it returns; for a folder
  nothing points at yet (whoever then points at it, by a rename or a record, sees it whole).
* :func:`replace_folder` — a folder replaced whole: filled under a temporary name, then swapped in by
  an atomic exchange (Linux ``renameat2(RENAME_EXCHANGE)``), or where that is unsupported by two
  renames with the previous folder kept aside until the new one is in place; :func:`find` reads and
  :func:`recover` puts back a folder kept aside by a writer that died between those renames.
* :func:`remove_folder` — renamed away first, so the name is free at once and a half-deleted folder
  is never seen under it, then deleted.
* :func:`opened_files` — read the files of a folder that a concurrent :func:`replace_folder` may swap
  away, without mixing files of two versions; :func:`read_json` — a record read with a size bound, whose
  every failure (too large, nested too deep) is a ValueError.

Every temporary is a hidden sibling named after its target and its writer's pid:
``.NAME.KIND-PID-NS`` for folders (KIND is ``saving``, ``old`` or ``deleting``) and
``.NAME.PID-TID-NS`` for files.  :func:`parse_temporary` reads those names back, so callers ask this
module what a leftover is instead of matching names themselves; only temporaries of writers that are
gone are removed (:func:`orphans`, :func:`recover`), and never a name this module did not make.
"""
from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

SAVING = "saving"  # a folder being written by replace_folder
OLD = "old"  # the previous folder, kept aside between replace_folder's two renames
DELETING = "deleting"  # a folder being removed by remove_folder
WRITING = "writing"  # a file being written by write_file (its name carries no kind word)
_FOLDER_KINDS = (SAVING, OLD, DELETING)
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?:(?P<kind>saving|old|deleting)-)?(?P<pid>\d+)-\d+(?:-\d+)?$")


def _nothing(*_args) -> None:
    return None


# -- flushing and processes ---------------------------------------------------------------------------


def fsync_path(path: Path) -> None:
    """Flush a file (or a directory's entries) to disk; errors are the caller's."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries (a rename is durable only then), where the file system can."""
    try:
        fsync_path(path)
    except OSError:  # some file systems (and Windows) cannot fsync a directory; the data files were synced
        pass


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` may still be writing (this process, or any live one, even another user's)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def current_umask() -> int:
    """The process umask, read without changing it (os.umask would race with other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


# -- temporaries: their names, and who wrote them -----------------------------------------------------


@dataclass(frozen=True)
class Temporary:
    """A leftover this module named: which sibling it belongs to, what it was for, and who wrote it."""

    path: Path
    name: str  # the file or folder it is a temporary of (a sibling's name)
    kind: str  # SAVING, OLD, DELETING (folders) or WRITING (a file)
    pid: int  # the process that wrote it

    @property
    def orphaned(self) -> bool:
        """True when its writer is gone, so nobody will finish or remove it."""
        return not pid_alive(self.pid)


def temporary_path(target: Path, kind: str) -> Path:
    """A fresh name for a temporary of ``target`` (a hidden sibling) written by this process."""
    pid, now = os.getpid(), time.time_ns()
    if kind == WRITING:
        return target.with_name(f".{target.name}.{pid}-{threading.get_ident()}-{now}")
    if kind not in _FOLDER_KINDS:
        raise ValueError(f"unknown kind of temporary {kind!r}")
    return target.with_name(f".{target.name}.{kind}-{pid}-{now}")


def parse_temporary(path: Path) -> Temporary | None:
    """The :class:`Temporary` that ``path`` is, or None: not one of our names, or not of the type that
    name promises (a real folder for the folder kinds, anything but a folder for a file)."""
    match = _TEMPORARY.match(path.name)
    if match is None:
        return None
    kind = match["kind"] or WRITING
    try:
        is_folder = stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return None
    if is_folder != (kind != WRITING):
        return None
    return Temporary(path, match["name"], kind, int(match["pid"]))


def temporaries(parent: Path, name: str | None = None) -> list[Temporary]:
    """Our temporaries in folder ``parent`` (of sibling ``name`` only, when given); [] if unreadable."""
    try:
        paths = list(parent.iterdir())
    except OSError:
        return []
    found = (parse_temporary(p) for p in paths)
    return [t for t in found if t is not None and (name is None or t.name == name)]


def orphans(parent: Path, name: str | None = None) -> list[Temporary]:
    """:func:`temporaries` whose writer is gone (a live writer's are never returned)."""
    return [t for t in temporaries(parent, name) if t.orphaned]


def discard(path: Path) -> None:
    """Delete a file or a whole folder (a symlink itself, never what it points at); errors ignored."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass


# -- files ---------------------------------------------------------------------------------------------


def write_file(path: Path, data: bytes | Callable[[BinaryIO], None]) -> None:
    """Make ``path`` hold ``data`` (bytes, or a function writing into a binary file) so that a reader
    sees the old or the new whole file, never a part.

    The data goes to a temporary sibling, is fsynced and renamed over ``path``; the folder is then
    fsynced.  On any error the temporary is removed and the error raised; ``path`` is unchanged.
    """
    tmp = temporary_path(path, WRITING)
    try:
        with open(tmp, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        discard(tmp)
        raise
    fsync_dir(path.parent)


# -- folders -------------------------------------------------------------------------------------------


def write_folder(folder: Path, files: Mapping[str, bytes], *, mode: int = 0o777) -> None:
    """Create ``folder`` (it must not exist yet) holding ``files`` (name → bytes), all of it on disk
    when this returns.  No rename: meant for a folder nothing points at yet."""
    folder.mkdir(mode=mode)
    for name, data in files.items():
        with open(folder / name, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    fsync_dir(folder)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2); False when this system cannot.

    ``$RECSYS_NO_RENAME_EXCHANGE`` turns it off, so tests can take the two-renames path.
    """
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


def replace_folder(target: Path, fill: Callable[[Path], None], *, is_whole: Callable[[Path], bool],
                   check: Callable[[], object] = _nothing, step: Callable[[str], None] = _nothing) -> Path:
    """Put a folder written by ``fill`` in ``target``'s place so that a crash at any instant leaves
    the old or the new folder; returns ``target``.

    fill(folder): writes the files into an empty temporary folder.  Those files (not sub-folders)
        then get ordinary modes under the umask, as any folder the user creates, and are fsynced.
    is_whole(folder): whether a folder kept aside by a writer that died is complete enough to be put
        back under ``target`` (see :func:`recover`).
    check(): called just before the swap (after a possibly long write); raise to give up, leaving
        ``target`` as it was.
    step(name): called after "written", "old moved aside" (two-renames path only) and "swapped", so
        a crash test can kill the writer exactly between two steps.

    Leftovers of dead writers of ``target`` are recovered or removed first.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    recover(target, is_whole)
    tmp = temporary_path(target, SAVING)
    umask = current_umask()
    tmp.mkdir()
    try:
        tmp.chmod(0o777 & ~umask)
        fill(tmp)
        for path in sorted(tmp.iterdir()):
            if path.is_file() and not path.is_symlink():  # e.g. safetensors writes 0600
                path.chmod(0o666 & ~umask)
                fsync_path(path)
        fsync_dir(tmp)
        step("written")
        check()
        if target.is_dir() and any(target.iterdir()):
            if exchange(tmp, target):
                fsync_dir(target.parent)
                step("swapped")
            else:
                old = temporary_path(target, OLD)
                os.replace(target, old)
                step("old moved aside")
                try:
                    os.replace(tmp, target)
                except BaseException:
                    os.replace(old, target)  # put the previous folder back before giving up
                    raise
                fsync_dir(target.parent)
                step("swapped")
                tmp = old
        else:
            os.replace(tmp, target)  # rename(2) may replace an empty folder
            fsync_dir(target.parent)
            step("swapped")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def recover(target: Path, is_whole: Callable[[Path], bool]) -> None:
    """Put back a folder whose writer died between the two renames (when ``target`` is missing and
    ``is_whole`` approves it); remove every other temporary of ``target`` left by dead writers."""
    left = [t for t in orphans(target.parent, target.name) if t.kind in _FOLDER_KINDS]
    for temp in sorted(left, key=lambda t: t.path.name, reverse=True):
        if temp.kind == OLD and not target.exists() and is_whole(temp.path):
            try:
                os.replace(temp.path, target)
                fsync_dir(target.parent)
                continue
            except OSError:
                pass  # another process restored it first
        discard(temp.path)


def recover_all(parent: Path, is_whole: Callable[[Path], bool],
                accept: Callable[[str], bool] = lambda name: True) -> None:
    """:func:`recover` every folder of ``parent`` that has temporaries (of names ``accept`` allows)."""
    names = {t.name for t in temporaries(parent) if t.kind in _FOLDER_KINDS and accept(t.name)}
    for name in sorted(names):
        recover(parent / name, is_whole)


def find(target: Path, is_whole: Callable[[Path], bool]) -> Path | None:
    """``target`` itself, or the previous folder kept aside by a writer stopped between the renames
    (put back under its name once that writer is gone); None when there is neither."""
    if target.is_dir():
        return target
    recover(target, is_whole)
    if target.is_dir():
        return target
    kept = [t.path for t in temporaries(target.parent, target.name) if t.kind == OLD and is_whole(t.path)]
    return sorted(kept, key=lambda p: p.name)[-1] if kept else None


def remove_folder(folder: Path) -> None:
    """Take ``folder``'s name out of use at once (a rename), then delete its files.

    Raises OSError when the rename fails (nothing was deleted then); a kill during the deletion
    leaves a ``deleting`` temporary that :func:`recover` and :func:`orphans` find.
    """
    doomed = temporary_path(folder, DELETING)
    os.replace(folder, doomed)
    shutil.rmtree(doomed, ignore_errors=True)


def read_json(path: Path, limit: int):
    """A JSON file of at most ``limit`` bytes; ValueError for anything else (too large, not UTF-8, not JSON,
    nested too deep for the parser: a planted ``[[[…]]]`` 100,000 deep is a RecursionError in ``json``)."""
    with open(path, "rb") as f:
        raw = f.read(limit + 1)
    if len(raw) > limit:
        raise ValueError(f"{path.name} is larger than {limit:,} bytes")
    try:
        return json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise ValueError(f"{path.name} is nested too deep") from None


# -- reading a folder that may be swapped ---------------------------------------------------------------


@contextmanager
def opened_files(folder: Path, names: Iterable[str]) -> Iterator[dict[str, str]]:
    """Open the files ``names`` of ``folder`` at once and yield ``{name: path}`` for those that exist,
    paths that keep reading those very files.

    A :func:`replace_folder` may swap ``folder`` away and delete it while we read (Linux keeps an open
    file readable after its unlink, and ``/proc/self/fd/N`` reopens it).  Only the few microseconds
    spent opening are racy: when a file is missing and ``folder`` no longer names the directory we
    opened, a writer raced us and :class:`FileNotFoundError` asks the caller to try again.
    Elsewhere (no ``/proc``) the plain paths are used.
    """
    names = tuple(names)
    try:
        dir_fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        yield _plain_paths(folder, names)
        return
    fds: dict[str, int] = {}
    try:
        if not os.path.isdir(f"/proc/self/fd/{dir_fd}"):
            yield _plain_paths(folder, names)
            return
        for name in names:
            try:
                fd = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(os.fstat(fd).st_mode):
                fds[name] = fd
            else:  # a folder under a file's name counts as that file missing
                os.close(fd)
        if len(fds) < len(names) and not _still_named(folder, dir_fd):
            raise FileNotFoundError(f"{folder} was replaced while it was being opened")
        yield {name: f"/proc/self/fd/{fd}" for name, fd in fds.items()}
    finally:
        for fd in fds.values():
            os.close(fd)
        os.close(dir_fd)


def _plain_paths(folder: Path, names: tuple[str, ...]) -> dict[str, str]:
    return {name: str(folder / name) for name in names if (folder / name).is_file()}


def _still_named(folder: Path, dir_fd: int) -> bool:
    try:
        return os.path.samestat(os.stat(folder), os.fstat(dir_fd))
    except OSError:
        return False


__all__ = [
    "DELETING", "OLD", "SAVING", "WRITING", "Temporary", "current_umask", "discard", "exchange", "find",
    "fsync_dir", "fsync_path", "opened_files", "orphans", "parse_temporary", "pid_alive", "read_json", "recover",
    "recover_all", "remove_folder", "replace_folder", "temporaries", "temporary_path", "write_file",
    "write_folder",
]
