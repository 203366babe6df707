"""Long steps of the Explain page: a progress bar with a Cancel button that stops the work, and results
that stay in the session until the analyst replaces them.

How a cancel works in Streamlit: clicking Cancel reruns the script, which interrupts the run that
was waiting for the job (the job itself runs in the explanation executor's thread, not in the
script).  The new run sees the button's click before it reaches the step, withdraws this
session from the job (``explain_jobs.cancel``: the executor cancels it when no other session waits
for the same work, so it stops at its next checkpoint and nothing partial is cached), and remembers
which inputs were cancelled so the step is not started again on its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from . import explain_jobs as jobs
from .safe_text import plain

CANCELLED = "_explain_cancelled"  # session key: {step name: the inputs it was cancelled for}
RESULTS = "_explain_results"  # session key: {result name: Kept}


def cancel_key(step: str, part: str = "") -> str:
    return f"explain_cancel_{step}" + (f"_{part}" if part else "")


class CancellableStep:
    """Progress of one long step, with a Cancel button drawn as soon as there is something to wait for.

    ``part`` tells apart two waits of one step in the same run (each needs its own button).
    """

    def __init__(self, step: str, what: str, part: str = ""):
        self.step, self.what, self.part = step, what, part
        self._bar = st.empty()
        self._button = st.empty()
        self._drawn = False

    def progress(self, fraction: float, message: str) -> None:
        if not self._drawn:  # drawn once per run: a second button with the same key is an error
            self._button.button(f"Cancel {self.what.lower()}", key=cancel_key(self.step, self.part), icon=":material/close:")
            self._drawn = True
        self._bar.progress(min(max(float(fraction), 0.0), 1.0), text=f"{self.what}: {plain(message)}…")

    def close(self) -> None:
        self._bar.empty()
        self._button.empty()


def cancel_requested(step: str, inputs: Any, kinds: set[str], parts: tuple[str, ...] = ("",)) -> bool:
    """True when the analyst clicked one of this step's Cancel buttons (this run), or cancelled these
    inputs before.  On a fresh click the session's executor work of ``kinds`` (see
    ``explain_jobs.cancel``) is withdrawn and the inputs remembered.
    """
    cancelled = st.session_state.setdefault(CANCELLED, {})
    if any(st.session_state.get(cancel_key(step, part)) for part in parts):
        jobs.cancel(kinds)
        cancelled[step] = inputs
    return step in cancelled and cancelled[step] == inputs


def forget_cancel(step: str) -> None:
    """The analyst asked for the step again: it may run."""
    st.session_state.setdefault(CANCELLED, {}).pop(step, None)


def mark_cancelled(step: str, inputs: Any) -> None:
    """The work of a step ended cancelled (e.g. another session's cancel, or server shutdown)."""
    st.session_state.setdefault(CANCELLED, {})[step] = inputs


@dataclass
class Kept:
    """A result kept in the session with the inputs that produced it (shown until replaced)."""

    inputs: tuple
    described: str  # the inputs in words, for "this result is for …"
    value: Any


def keep(name: str, inputs: tuple, described: str, value: Any) -> None:
    st.session_state.setdefault(RESULTS, {})[name] = Kept(inputs, described, value)


def kept(name: str) -> Kept | None:
    return st.session_state.get(RESULTS, {}).get(name)


def show_inputs(result: Kept, current: tuple, action: str) -> None:
    """Say which inputs a shown result belongs to, and warn when the widgets now say something else."""
    if result.inputs == current:
        st.caption(f"Result for {plain(result.described)}.")
    else:
        st.warning(f"This result is for the earlier choice: {plain(result.described)}. The inputs above have changed "
                   f"since; press **{action}** to compute it for them.", icon=":material/history:")
