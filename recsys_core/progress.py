"""One protocol for long work: how it reports progress and how a caller stops it.

Every long step of the package (encoding, training, explaining a pair, global
feature importance, field ablation) takes the same two optional callables:

    progress(fraction, message)  fraction done in [0, 1] and what is running now
    checkpoint()                 called between units of work; raises ``Cancelled``
                                 when the caller wants the work stopped

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
