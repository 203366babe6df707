"""Training in a background thread that a Streamlit session owns and polls (``background.ThreadJob``), and
the summary of the last training kept for a reload.

``TrainingJob.start`` runs ``recsys_core.fit`` in a daemon thread; the page redraws from the job's fields
(stage, progress, epoch log) on a timer, and Stop turns into ``Cancelled`` before the next batch.  No
Streamlit here, which keeps it testable without an app.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from recsys_core import (FIT_STAGES, Dataset, EpochLog, EvaluationReport, FitOptions, Recommender,
                         RecsysError, TrainingRecord, fit)

from .background import ThreadJob

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingSummary:
    """What the Train page shows of the last training (record, curve, metrics), kept for a reload without the
    model's weights: ``model`` is the trained model's fingerprint, so the page can tell whether it is still the
    session's model."""

    model: str
    training: TrainingRecord
    train_log: list[EpochLog]
    report: EvaluationReport | None
    max_history: int
    finished_at: float

    @classmethod
    def of(cls, rec: Recommender, finished_at: float) -> TrainingSummary:
        return cls(rec.model_fingerprint, rec.training, list(rec.train_log), rec.report, rec.max_history, finished_at)

    def to_dict(self) -> dict:
        return {"model": self.model, "training": self.training.to_dict(),
                "train_log": [e.__dict__ for e in self.train_log],  # as artifacts writes train_log.json
                "report": self.report.to_dict() if self.report else None,
                "max_history": self.max_history, "finished_at": self.finished_at}

    @classmethod
    def from_dict(cls, data: dict) -> TrainingSummary:
        """The summary ``to_dict`` wrote; KeyError/TypeError/ValueError/AttributeError when ``data`` is not one."""
        report = data["report"]
        return cls(str(data["model"]), TrainingRecord.from_dict(data["training"]),
                   [EpochLog(**e) for e in data["train_log"]], EvaluationReport.from_dict(report) if report else None,
                   int(data["max_history"]), float(data["finished_at"]))


@dataclass
class TrainingJob(ThreadJob):
    dataset: Dataset
    options: FitOptions
    stage: str = "waiting to start"
    fraction: float = 0.0  # 0..1 through the current stage
    detail: str = ""
    epochs: list[EpochLog] = field(default_factory=list)
    result: Recommender | None = None
    error: str | None = None
    started_at: float = 0.0
    finished_at: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    thread_name = "recsys-training"

    # -- the thread ----------------------------------------------------------
    def _run(self) -> None:
        try:
            self.result = fit(self.dataset, self.options, self._progress, self._checkpoint, self.epochs.append)
            self.stage, self.fraction, self.detail = "done", 1.0, self.result.training.stopped
        except RecsysError as exc:
            self.error = str(exc)
        except Exception as exc:  # shown as one line; the traceback goes to the server log only
            log.exception("training failed")
            self.error = f"Training failed unexpectedly ({type(exc).__name__}: {exc})."
        finally:
            self.finished_at = time.time()

    def _progress(self, fraction: float, message: str) -> None:
        """``fit``'s progress: a stage name when one starts, then that stage's detail."""
        if message in FIT_STAGES:
            self.stage, self.detail = message, ""
        else:
            self.detail = message
        self.fraction = 1.0 if self.stage == "evaluating" else fraction
