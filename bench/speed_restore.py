"""Reload restore: what a reload costs a session that keeps a 100k-interaction upload and a trained draft.

    python bench/speed_restore.py [--case 100k] [--repeats 3] [--workdir DIR]

Set up once (not timed): the case's tables written to CSV, as an analyst uploads them; a session store in
a temporary folder keeping those files and a draft model trained on them (one quick epoch: what a restore
costs does not depend on what the weights learned).  Then, each the median of ``--repeats``:

- cold load (the reference): what the same upload costs when it is first loaded: ``load_dataset`` on the
  uploaded bytes, plus ``artifacts.load`` of the draft;
- restore: ``SessionStore.restore`` (what a reload does before anything is drawn);
- reload: a whole first run of the Home page opened at ``?session=<id>`` (Streamlit's AppTest, a new browser
  session each time, in one server process as in a real reload): the restore plus whatever the first page
  computes on top.

Prints seconds and each time as a ratio to the cold load measured in the same run: on a shared machine the
seconds move with the load, the ratios much less.  ``measure(...)`` returns the same figures for a combined
benchmark.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # recsys_core and dashboard from a checkout
sys.path.insert(0, str(ROOT / "bench"))

from cases import CASES, synthetic  # noqa: E402

from recsys_core import FitOptions, TrainConfig, artifacts, data_fingerprint, fit, load_dataset  # noqa: E402


def _median_seconds(work, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(case: str = "100k", repeats: int = 3, workdir: str | None = None) -> dict[str, float]:
    """Seconds of the cold load (reference), the store's restore and a reloaded first page, and their ratios."""
    from streamlit.testing.v1 import AppTest

    from dashboard.session_store import DatasetSource, SessionStore, UploadedFile, new_id

    work = Path(workdir or tempfile.mkdtemp(prefix="speed-restore-"))
    os.environ["RECSYS_SESSIONS_DIR"] = str(work / "sessions")
    os.environ.setdefault("RECSYS_MODELS_DIR", str(work / "models"))
    inter, items = synthetic(*CASES[case])
    files = (UploadedFile("ratings.csv", inter.to_csv(index=False).encode()),
             UploadedFile("items.csv", items.to_csv(index=False).encode()))
    source = DatasetSource.of(*files, item_fields=["title", "genres"])
    data = source.load()
    trained = work / f"model-{case}"  # kept for the next run with the same --workdir: training is not what is measured
    try:
        rec = artifacts.load(trained)
    except Exception:
        rec = None
    if rec is None or rec.fingerprint != data_fingerprint(data):
        rec = fit(data, FitOptions(train=TrainConfig(epochs=1), baselines=False, text_reference=False))
        artifacts.save(rec, trained)
    store, sid = SessionStore(), new_id()
    store.save_dataset(sid, source, "ratings.csv + items.csv")
    store.save_model(sid, "trained for the benchmark", draft=rec)
    draft = next((store.root / sid).glob("draft-*"))

    def cold() -> None:
        load_dataset((files[0].name, files[0].data), (files[1].name, files[1].data), item_fields=["title", "genres"])
        artifacts.load(draft)

    def restore() -> None:
        restored = SessionStore().restore(sid)
        assert restored.status == "restored" and not restored.problems, restored

    def reload() -> None:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
        at.query_params["session"] = sid
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.session_state["model_label"].startswith("trained for the benchmark")

    out = {"cold_load_s": _median_seconds(cold, repeats), "restore_s": _median_seconds(restore, repeats),
           "reload_s": _median_seconds(reload, repeats)}
    out["restore_ratio"] = out["restore_s"] / out["cold_load_s"]
    out["reload_ratio"] = out["reload_s"] / out["cold_load_s"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", default="100k", choices=[c for c in CASES if CASES[c] is not None])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", help="a folder kept between runs (the trained model is reused from it)")
    args = parser.parse_args()
    if args.repeats < 1:
        sys.exit("--repeats must be at least 1")
    m = measure(args.case, args.repeats, args.workdir)
    print(f"case {args.case}, median of {args.repeats} (load average {os.getloadavg()[0]:.1f} at the end)")
    print(f"cold load (reference: load_dataset on the uploaded bytes + artifacts.load): {m['cold_load_s']:.2f} s")
    print(f"restore (SessionStore.restore):                   {m['restore_s']:.2f} s  = {m['restore_ratio']:.2f}× cold load")
    print(f"reload (first Home page run at ?session=…):       {m['reload_s']:.2f} s  = {m['reload_ratio']:.2f}× cold load")


if __name__ == "__main__":
    main()
