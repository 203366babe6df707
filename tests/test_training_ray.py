"""Data-parallel training on Ray Train (a local Ray runtime with 2 CPUs) gives the model local training gives.

One Ray runtime is started for the module (``parallel.ray_runtime`` reuses a runtime that is up); each
Ray Train run still costs ~15-20 s of start-up on 2 cores, so the module runs two.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from recsys_core.errors import RecsysError
from recsys_core.evaluation import model_scorer, paired_comparison
from recsys_core.loading import load_dataset
from recsys_core.model import seeded_model
from recsys_core.parallel import Engine
from recsys_core.pipeline import FitOptions, fit, rating_scale_for
from recsys_core.progress import Cancelled
from recsys_core.splits import make_split
from recsys_core.training import TrainConfig

ray = pytest.importorskip("ray.train.torch", reason="Ray Train (requirements/scale.txt) is not installed")
GENRES = ["Drama", "Comedy", "Sci-Fi", "Horror"]


@pytest.fixture(scope="module")
def ray_runtime():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1"}})
    yield
    ray.shutdown()


def genre_dataset(n_users: int = 240, n_items: int = 80, per_user: int = 10, seed: int = 0):
    """Users who mostly watch one genre, in a fixed order within it: ids and texts both carry signal.

    Larger than conftest's tiny dataset (30 users) so that the paired interval over the test users is
    narrow enough to tell a trained model from an untrained one (about ±0.05 of NDCG@10 here).
    """
    rng = np.random.default_rng(seed)
    items = pd.DataFrame({"item_id": [f"i{i:03d}" for i in range(n_items)],
                          "title": [f"{GENRES[i % 4]} story number {i}" for i in range(n_items)],
                          "genres": [GENRES[i % 4] for i in range(n_items)]})
    rows = []
    for u in range(n_users):
        liked = [i for i in range(n_items) if i % 4 == u % 4]
        picks = rng.choice(liked, size=per_user, replace=False)
        for t, i in enumerate(picks):
            rows.append((f"u{u:03d}", f"i{i:03d}", 1_700_000_000 + 3600 * t))
    interactions = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    return load_dataset(interactions, items, item_fields=["title", "genres"])


def test_two_ray_workers_train_a_model_as_good_as_local_training(ray_runtime, embedding_cache):
    data = genre_dataset()
    # The same settings both ways; the batch of 64 is 32 examples on each of the 2 workers.
    options = FitOptions(train=TrainConfig(epochs=3, batch_size=64, seed=1), max_history=10, baselines=False,
                         cache_dir=embedding_cache)
    local = fit(data, options)
    on_ray = fit(data, replace(options, train_engine=Engine("ray", workers=2)))

    assert len(on_ray.train_log) == len(local.train_log) == 3 and on_ray.training.stopped == "completed"
    assert on_ray.training.best_epoch == max(on_ray.train_log, key=lambda e: e.val_ndcg10).epoch
    assert on_ray.training.options["train_engine"]["kind"] == "ray"
    split = make_split(data.interactions, local.catalog, options.split, rating_scale_for(data, options))
    n_items = local.catalog.n_items
    # Equal within training noise.  The paired interval over users alone is too strict a yardstick: two
    # local trainings that differ only in their seed differ by more than it (seeds 1-5 here: test NDCG@10
    # 0.387-0.420, seed 3 − seed 1 = -0.033 ± 0.030, measured 2026-12-02), and the Ray run draws other
    # negatives and dropout than the local one.  So: within 0.05 of local, 1.5× that seed spread ...
    same = paired_comparison(model_scorer(on_ray.model, local.catalog), model_scorer(local.model, local.catalog),
                             split.test, n_items)
    assert same.n_cases == len(split.test) and abs(same.diff) <= 0.05, same
    # ... and that is not because neither learned: the Ray model is far ahead of the untrained model it
    # started as (the text alone gives that one 0.09; local training reaches 0.42).
    untrained = seeded_model(on_ray.model.config, 1)
    untrained.warm.copy_(on_ray.model.warm)
    learned = paired_comparison(model_scorer(on_ray.model, local.catalog), model_scorer(untrained.eval(), local.catalog),
                                split.test, n_items)
    assert learned.beyond_noise and learned.diff > 0.2, learned


def test_a_ray_run_is_live_and_a_stop_reaches_its_workers(ray_runtime, embedding_cache):
    """Epochs and batch lines arrive while the workers train, and a stop asked for after the first epoch ends
    the run at once with that epoch kept: without the live channel the run would go on to its 30 epochs."""
    data = genre_dataset(n_users=120)
    options = FitOptions(train=TrainConfig(epochs=30, patience=30, batch_size=64, seed=1), max_history=10,
                         baselines=False, text_reference=False, cache_dir=embedding_cache,
                         train_engine=Engine("ray", workers=2))
    told: list = []
    lines: list[str] = []

    def cancel() -> None:
        if told:  # the first epoch has reached this process: stop
            raise Cancelled

    rec = fit(data, options, progress=lambda _f, message: lines.append(message), cancel=cancel, on_epoch=told.append)
    assert rec.training.stopped == "stopped by user"
    # The stop is read within a second of being asked, by then at most a few more of these ~1 s epochs ended.
    assert 1 <= len(rec.train_log) <= 4, [e.epoch for e in rec.train_log]
    assert told == rec.train_log  # each epoch told once, in order, as it ended
    assert rec.training.best_epoch == max(rec.train_log, key=lambda e: e.val_ndcg10).epoch
    assert any(line.startswith("epoch 1 of at most 30, batch") for line in lines), lines


def test_a_batch_smaller_than_the_workers_is_refused_before_anything_starts(tiny_dataset, tmp_path):
    options = FitOptions(train=TrainConfig(batch_size=8), train_engine=Engine("ray", workers=16),
                         cache_dir=str(tmp_path / "never-written"))
    with pytest.raises(RecsysError, match="A batch of 8 examples cannot be shared by 16 Ray workers"):
        fit(tiny_dataset, options)
    assert not (tmp_path / "never-written").exists()  # refused before encoding


def test_the_cli_trains_on_ray_workers_with_sparse_id_tables(ray_runtime, embedding_cache, tmp_path, capsys):
    from conftest import tiny_tables
    from recsys_core import artifacts
    from recsys_core.cli import main

    interactions, items, _ = tiny_tables()
    interactions.to_csv(tmp_path / "i.csv", index=False)
    items.to_csv(tmp_path / "items.csv", index=False)
    args = ["train", "--interactions", str(tmp_path / "i.csv"), "--items", str(tmp_path / "items.csv"),
            "--epochs", "2", "--cache-dir", embedding_cache, "--sparse-ids"]
    assert main([*args, "--out", str(tmp_path / "m"), "--train-workers", "2"]) == 1  # needs --train-engine ray
    assert "--train-workers needs --train-engine ray" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "m"), "--train-engine", "ray", "--train-workers", "2"]) == 0
    err = capsys.readouterr().err
    assert "epoch 2: loss" in err
    model = artifacts.load(tmp_path / "m")
    assert model.training.options["train_engine"] == {"kind": "ray", "address": None, "workers": 2}
    assert model.training.options["train"]["sparse_ids"] and len(model.train_log) == 2
