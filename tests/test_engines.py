"""The Ray engine gives the same results as the local engine (a local Ray runtime with 2 CPUs).

One Ray runtime is started for the module: starting one costs seconds, and
``engines.ray_runtime`` reuses a runtime that is already up.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_core import artifacts
from recsys_core.encoder import EncoderConfig, open_cache
from recsys_core.batch import recommend_all
from recsys_core.encoding import encode_texts, encoder_for
from recsys_core.explain.batch import explain_pairs
from recsys_core.parallel import Engine
from recsys_core.errors import RecsysError
from recsys_core.explain import ExplainConfig

ray = pytest.importorskip("ray", reason="the scale extra (requirements/scale.txt) is not installed")
RAY = Engine("ray", workers=2)


@pytest.fixture(scope="module")
def ray_runtime():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1"}})
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def saved_tiny_model(tiny_model, tmp_path_factory):
    return artifacts.save(tiny_model, tmp_path_factory.mktemp("engines") / "tiny")


def test_batch_recommendation_on_ray_equals_local(ray_runtime, saved_tiny_model):
    users = artifacts.load(saved_tiny_model).known_users()
    local = recommend_all(saved_tiny_model, users, k=5)
    # Small batches so that several workers each load the model and the rows come back out of order.
    distributed = recommend_all(saved_tiny_model, users, k=5, engine=RAY, users_per_batch=7)
    assert len(local) == 5 * len(users)
    pd.testing.assert_frame_equal(
        local.reset_index(drop=True), distributed.reset_index(drop=True), check_dtype=False, atol=1e-6
    )


def test_batch_recommendation_keeps_the_callers_user_order(ray_runtime, saved_tiny_model):
    users = artifacts.load(saved_tiny_model).known_users()[::-1][:9]
    out = recommend_all(saved_tiny_model, users, k=3, engine=RAY, users_per_batch=2)
    assert list(dict.fromkeys(out["user_id"])) == users
    assert out.groupby("user_id")["rank"].apply(list).map(lambda r: r == [1, 2, 3]).all()


def test_encoding_on_ray_equals_local_and_fills_the_drivers_cache(ray_runtime, tmp_path):
    texts = [f"title: story {i} | genres: {'Drama' if i % 2 else 'Comedy'}" for i in range(37)]
    texts += texts[:5]  # duplicates are encoded once and still returned in place
    config = EncoderConfig()
    local = encode_texts(texts, config)
    cache_dir = tmp_path / "cache"
    distributed = encode_texts(texts, config, cache_dir=cache_dir, engine=RAY, texts_per_batch=8)
    assert distributed.shape == local.shape
    np.testing.assert_allclose(distributed, local, atol=1e-5)
    cached = open_cache(config, cache_dir).get_many(texts)
    assert len(cached) == len(set(texts))


def test_batch_explanations_on_ray_equal_local(ray_runtime, saved_tiny_model):
    rec = artifacts.load(saved_tiny_model)
    pairs = [(u, rec.recommend(u, 1)[0].item_id) for u in rec.known_users()[:3]]
    config = ExplainConfig(method="ig", n_steps=8, faithfulness=False)
    local = explain_pairs(saved_tiny_model, pairs, config)
    distributed = explain_pairs(saved_tiny_model, pairs, config, engine=RAY)
    assert [(e.user_id, e.item_id) for e in distributed] == pairs
    for a, b in zip(local, distributed):
        assert a.score == pytest.approx(b.score, abs=1e-6)
        np.testing.assert_allclose([t.attribution for t in a.tokens], [t.attribution for t in b.tokens], atol=1e-6)
        assert a.fields == pytest.approx(b.fields, abs=1e-6)


def test_unknown_engine_is_a_clear_error():
    with pytest.raises(RecsysError, match="Unknown engine 'spark'"):
        Engine("spark")


def test_cli_recommend_with_the_ray_engine_writes_the_local_engines_csv(ray_runtime, saved_tiny_model, tmp_path):
    from recsys_core.cli import main
    from recsys_core.exports import read_csv

    base = ["recommend", "--model", str(saved_tiny_model), "--k", "4"]
    assert main([*base, "--out", str(tmp_path / "local.csv")]) == 0
    assert main([*base, "--engine", "ray", "--out", str(tmp_path / "ray.csv")]) == 0
    local, distributed = read_csv(tmp_path / "local.csv"), read_csv(tmp_path / "ray.csv")
    assert len(local) == 4 * len(artifacts.load(saved_tiny_model).known_users())
    pd.testing.assert_frame_equal(local, distributed)


def test_training_with_the_ray_engine_encodes_the_same_catalogue(ray_runtime, tiny_dataset, tiny_model, tmp_path):
    from recsys_core.catalog import build_catalog
    from recsys_core.encoder import TextEncoder

    encoder = TextEncoder(EncoderConfig(), cache_dir=tmp_path / "empty-cache")
    catalog = build_catalog(tiny_dataset, encoder_for(encoder, RAY))
    np.testing.assert_allclose(catalog.item_vectors, tiny_model.catalog.item_vectors, atol=1e-5)
    np.testing.assert_allclose(catalog.profile_vectors, tiny_model.catalog.profile_vectors, atol=1e-5)
    assert catalog.item_ids == tiny_model.catalog.item_ids
