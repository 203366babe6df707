"""An incremental update (``recsys_core.update.update_model``) in a background thread a session owns and polls.

Like ``dashboard.training`` (both are ``background.ThreadJob``s): the page redraws from the job's fields
(stage, progress, pass log) on a timer, and Stop turns into ``Cancelled`` before the next batch: the best
complete pass is kept (the model before the update counts as one); before the first pass ends, nothing is
changed.
The model the update starts from is never changed (``update_model`` returns a new one), so other sessions
serving it, and this session's pages, keep working on it while the update runs.

No Streamlit here: the thread must never call ``st.*`` (it has no script context); ``dashboard.updates``
does the session wiring.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from recsys_core import EpochLog, Recommender, RecsysError
from recsys_core.schema import Increment
from recsys_core.training import TrainingStopped
from recsys_core.update import UPDATE_STAGES, UpdateOptions, UpdateReport, update_model

from .background import ThreadJob

log = logging.getLogger(__name__)


@dataclass
class UpdateJob(ThreadJob):
    """``base`` updated with ``increment``; ``saved_name``: the registry name ``base`` was a version of, if any
    (the page then offers to save the result as its next version)."""

    base: Recommender
    increment: Increment
    options: UpdateOptions
    saved_name: str | None = None
    base_label: str = ""  # the session's label of ``base``, for the updated model's
    stage: str = "waiting to start"
    fraction: float = 0.0  # 0..1 through the current stage
    detail: str = ""
    stages_seen: list[str] = field(default_factory=list)
    epochs: list[EpochLog] = field(default_factory=list)
    result: Recommender | None = None
    report: UpdateReport | None = None
    error: str | None = None
    stopped_early: bool = False  # a stop before the first pass ended: nothing was changed
    started_at: float = 0.0
    finished_at: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    thread_name = "recsys-update"

    @property
    def stages(self) -> tuple[str, ...]:
        """The stages this update goes through (the retrain only when asked)."""
        return tuple(s for s in UPDATE_STAGES if self.options.compare_retrain or not s.startswith("retraining"))

    # -- the thread ----------------------------------------------------------
    def _run(self) -> None:
        try:
            outcome = update_model(self.base, self.increment, self.options, self._progress, self._checkpoint,
                                   self.epochs.append)
            self.result, self.report = outcome.recommender, outcome.report
            self.stage, self.fraction, self.detail = "done", 1.0, ""
        except TrainingStopped as exc:
            self.stopped_early, self.error = True, str(exc)
        except RecsysError as exc:  # a file this model cannot take: the core's message, the model unchanged
            self.error = str(exc)
        except Exception as exc:  # shown as one line; the traceback goes to the server log only
            log.exception("update failed")
            self.error = f"The update failed unexpectedly ({type(exc).__name__}: {exc}). The model is unchanged."
        finally:
            self.increment = None  # the new rows live on in the updated catalogue; the tables are not needed
            self.finished_at = time.time()

    def _progress(self, fraction: float, message: str) -> None:
        """``update_model``'s progress: a stage of UPDATE_STAGES when one starts, then that stage's detail."""
        if message in UPDATE_STAGES:
            self.stage, self.detail = message, ""
            self.stages_seen.append(message)
        else:
            self.detail = message
        self.fraction = min(max(float(fraction), 0.0), 1.0)
