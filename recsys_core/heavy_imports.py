"""Heavy third-party imports, done once and under one process-wide lock.

``import recsys_core`` stays light (the CLI's ``--help`` must not pay for torch
and transformers), so those packages are imported on first use. First use can
happen in several Streamlit session threads at the same moment, and
``transformers`` resolves its public names lazily: two threads importing it at
once have been seen to fail with ``ImportError: cannot import name
'AutoTokenizer'``. Every lazy import of these packages goes through here.
"""
from __future__ import annotations

import importlib
import threading
from types import ModuleType

_LOCK = threading.RLock()


def module(name: str) -> ModuleType:
    """``importlib.import_module(name)``, serialised with every other heavy import."""
    with _LOCK:
        return importlib.import_module(name)


def attribute(module_name: str, name: str):
    """``from module_name import name``, resolved under the lock (lazy attributes included)."""
    with _LOCK:
        return getattr(importlib.import_module(module_name), name)
