"""Numeric server settings read from the environment (session lifetimes, registry versions, trash days).

They are an operator's configuration, not an analyst's input: a value that is not a number of at least
0 is logged and the default used, so a typo never takes the dashboard down.  Read on every call (cheap),
so a changed setting needs no restart and tests can change it.
"""
from __future__ import annotations

import logging
import math
import os

log = logging.getLogger(__name__)


def env_number(name: str, default: float) -> float:
    """``$name`` as a finite number ≥ 0, else ``default`` (unset or empty: silently; anything else: logged)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        log.warning("%s=%r is not a number of at least 0; using %s", name, raw, default)
        return default
    return value
