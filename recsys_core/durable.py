"""Small file-system helpers for writes that must survive ``kill -9`` and power loss.

Used by the model directory (``artifacts``), the embedding cache (``encoder``) and the
dashboard's session store, which all write to temporary names, fsync, rename, and clean up
only the temporaries of writers that are gone.
"""
from __future__ import annotations

import os
from pathlib import Path


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
