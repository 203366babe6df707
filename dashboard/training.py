"""Training in a background thread that a Streamlit session owns and polls.

Streamlit reruns the page script on every click, so a training loop inside the
script could not be stopped by a button.  Instead ``TrainingJob.start`` runs
``recsys_core.fit`` in a daemon thread; the page redraws from the job's fields
(stage, progress, epoch log) on a timer, and the Stop button sets an event
that ``Progress.should_stop`` reads between batches.

No Streamlit here: the thread must never call ``st.*`` (it has no script
context), and keeping this plain makes it testable without an app.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from recsys_core import FitOptions, Progress, Recommender, RecsysError, fit
from recsys_core.schema import Dataset
from recsys_core.training import EpochLog, remaining_seconds

log = logging.getLogger(__name__)


@dataclass
class TrainingJob:
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

    # -- control -------------------------------------------------------------
    def start(self) -> "TrainingJob":
        self.started_at = time.time()
        self._thread = threading.Thread(target=self._run, name="recsys-training", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask training to stop after the current batch; the best epoch so far is kept and evaluated."""
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
        try:
            self.result = fit(self.dataset, self.options, self._progress())
            self.stage, self.fraction, self.detail = "done", 1.0, self.result.settings.get("stopped", "")
        except RecsysError as exc:
            self.error = str(exc)
        except Exception as exc:  # shown as one line; the traceback goes to the server log only
            log.exception("training failed")
            self.error = f"Training failed unexpectedly ({type(exc).__name__}: {exc})."
        finally:
            self.finished_at = time.time()

    def _progress(self) -> Progress:
        total_epochs = self.options.train.epochs

        def stage(name: str) -> None:
            self.stage, self.fraction, self.detail = name, 0.0, ""
            if name == "evaluating":
                self.fraction = 1.0

        def encode(done: int, total: int) -> None:
            self.fraction = done / max(total, 1)
            self.detail = f"{done:,} / {total:,} texts"

        budget = self.options.train.max_minutes
        epoch_started = [time.perf_counter()]

        def step(done: int, total: int) -> None:
            epoch = len(self.epochs) + 1
            if done == 1:
                epoch_started[0] = time.perf_counter()
            self.fraction = min((epoch - 1 + done / max(total, 1)) / total_epochs, 1.0)
            spent = sum(e.seconds for e in self.epochs)
            this_epoch, at_most = remaining_seconds(
                [e.seconds for e in self.epochs], done, total, time.perf_counter() - epoch_started[0],
                total_epochs - epoch, budget * 60 - spent if budget else None,
            )
            # One batch is too little to go on, unless finished epochs already give the pace.
            known = done > 1 or self.epochs
            eta = f" — about {_duration(this_epoch)} left in this epoch, at most {_duration(at_most)} in all" if known else ""
            self.detail = f"epoch {epoch} of at most {total_epochs}, batch {done} / {total}{eta}"

        def epoch(entry: EpochLog) -> None:
            self.epochs.append(entry)

        return Progress(stage=stage, encode=encode, step=step, epoch=epoch, should_stop=self._stop.is_set)


def _duration(seconds: float) -> str:
    """"45 s", "3 min", "1 h 20 min": an estimate, so rounded to what a person plans with."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"
