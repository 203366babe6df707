"""One protocol for long work: how it reports progress and how a caller stops it.

Every long step of the package (training, explaining a pair, global feature
importance, field ablation; encoding reports progress only) takes the same two
optional callables:

    progress: Progress     progress(fraction done in [0, 1], what is running now)
    cancel: Checkpoint     cancel() is called between units of work and raises
                           ``Cancelled`` when the caller wants the work stopped

A step that is cancelled either raises ``Cancelled`` to its caller (nothing
half-computed is kept) or, where a partial result is worth keeping (training
keeps its best epoch so far), catches it and says so in its result.
This module is the bottom floor: it imports nothing from the package.
"""
from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[float, str], None]
Checkpoint = Callable[[], None]


class Cancelled(Exception):
    """Raised by a checkpoint when the caller asked the work to stop (not an error: nothing is wrong)."""


def quiet(_fraction: float, _message: str) -> None:
    """A progress callback that reports nowhere."""


def go_on() -> None:
    """A checkpoint that never stops the work."""


def scaled(progress: Progress, start: float, stop: float) -> Progress:
    """``progress`` for a sub-step that covers [start, stop] of the whole."""
    return lambda fraction, message: progress(start + (stop - start) * fraction, message)


def counted(progress: Progress, what: str, unit: str) -> Callable[[int, int], None]:
    """A (done, total) counter reported as ``progress(done / total, "what: done / total unit")``."""
    return lambda done, total: progress(done / total if total else 1.0, f"{what}: {done:,} / {total:,} {unit}")


# -- time left, in words ------------------------------------------------------------------
# Two readings of a number of seconds, for two kinds of estimate: a pace measured on finished units
# (explained pairs) is worth its seconds; a training run's remaining time is rounded to what a person
# plans with, since early stopping may end it sooner anyway.

def duration(seconds: float) -> str:
    """"57 s", "3 min 20 s", "1 h 35 min"."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def rough_duration(seconds: float) -> str:
    """"45 s", "3 min", "1 h 20 min": an estimate, so rounded to what a person plans with."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"
