"""Work a session runs in a background thread and polls: a training (``training.TrainingJob``) and an
incremental update (``update_job.UpdateJob``).

Streamlit reruns the page script on every click, so a loop inside the script could not be stopped by a
button.  A job runs its work in a daemon thread; the page redraws from the job's fields on a timer, and the
Stop button sets an event that the job's checkpoint turns into ``Cancelled`` before the next batch.  No
Streamlit here: the thread must never call ``st.*`` (it has no script context).
"""
from __future__ import annotations

import threading
import time

from recsys_core import Cancelled


class ThreadJob:
    """Start, stop, wait and status of a job whose work is ``_run``.

    A subclass is a dataclass with the fields read here: ``stage``, ``detail``, ``result`` (None until the
    work succeeds), ``started_at``, ``_stop`` (a ``threading.Event``) and ``_thread``.
    """

    thread_name = "recsys-job"

    # -- control -------------------------------------------------------------
    def start(self):
        self.started_at = time.time()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the work to stop after the current batch (what is kept is the work's own rule)."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    # -- status --------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def succeeded(self) -> bool:
        return self.result is not None

    @property
    def label(self) -> str:
        return f"{self.stage} — {self.detail}" if self.detail else self.stage

    # -- the thread ----------------------------------------------------------
    def _run(self) -> None:
        raise NotImplementedError

    def _checkpoint(self) -> None:
        if self._stop.is_set():
            raise Cancelled()
