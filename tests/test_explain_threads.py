"""Explanations stay correct when several sessions explain at once (Streamlit runs each in a thread)."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from recsys_core.explain import ExplainConfig, clear_cache, explain_pair, state, state_cache

CONFIG = ExplainConfig(method="ig", faithfulness=False, n_steps=16)


def _numbers(exp) -> dict:
    return {
        "score": exp.score,
        "baseline": exp.baseline_score,
        "delta": exp.convergence_delta,
        "tokens": np.array([t.attribution for t in exp.tokens]),
        "texts": np.array([t.attribution for t in exp.texts]),
        "fields": exp.fields,
    }


def _same(a: dict, b: dict) -> None:
    for key in ("score", "baseline", "delta"):
        assert a[key] == pytest.approx(b[key], abs=1e-6), key
    np.testing.assert_allclose(a["tokens"], b["tokens"], atol=1e-6)
    np.testing.assert_allclose(a["texts"], b["texts"], atol=1e-6)
    assert a["fields"].keys() == b["fields"].keys()


def _run_together(fns) -> list:
    """Start every function at the same moment (barrier) in its own thread; re-raise any error."""
    barrier = threading.Barrier(len(fns))
    results: list = [None] * len(fns)
    errors: list = []

    def run(i, fn):
        try:
            barrier.wait()
            results[i] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def test_threads_explaining_same_and_different_pairs_match_lone_runs(tiny_model):
    users = tiny_model.known_users()[:3]
    pairs = [(u, tiny_model.recommend(u, 1)[0].item_id) for u in users]
    jobs = [pairs[0], pairs[0], pairs[1], pairs[2], pairs[1], pairs[0]]  # 6 threads, identical and different pairs
    clear_cache()
    alone = {p: _numbers(explain_pair(tiny_model, p[0], p[1], CONFIG)) for p in pairs}
    clear_cache()  # the threads must compute, not read the lone results
    together = _run_together([lambda p=p: explain_pair(tiny_model, p[0], p[1], CONFIG) for p in jobs])
    for p, exp in zip(jobs, together):
        _same(_numbers(exp), alone[p])
    for model in (tiny_model.encoder.model, tiny_model.encoder.eager_model):  # nothing hooked on the shared encoders
        embeddings = model.get_input_embeddings()
        assert not embeddings._forward_hooks and not embeddings._forward_pre_hooks


def test_identical_requests_compute_the_first_stage_once(tiny_model, monkeypatch):
    user = tiny_model.known_users()[3]
    item = tiny_model.recommend(user, 1)[0].item_id
    clear_cache()
    calls = []
    original = state._first_stage

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(state, "_first_stage", counting)
    states = _run_together([lambda: state.pair_state(tiny_model, user, item, CONFIG)] * 4)
    assert len(calls) == 1 and all(s is states[0] for s in states)


def test_a_flagged_split_is_returned_but_never_cached(tiny_model):
    user = tiny_model.known_users()[4]
    item = tiny_model.recommend(user, 1)[0].item_id
    clear_cache()
    strict = ExplainConfig(method="ig", faithfulness=False, n_steps=1, ig_method="riemann_right", delta_tolerance=0.0)
    first = explain_pair(tiny_model, user, item, strict)
    assert not first.delta_ok and first.warnings
    cached = state.pair_state(tiny_model, user, item, strict)
    assert not cached.tokens  # the flagged token splits stayed with their caller
    again = explain_pair(tiny_model, user, item, strict)
    assert not again.delta_ok  # served flagged again, never as a good cached result


def test_cache_survives_many_threads_inserting_and_evicting(tiny_model, monkeypatch):
    monkeypatch.setattr(state_cache.STATES, "size", 2)
    clear_cache()
    users = tiny_model.known_users()[:6]
    cfg = ExplainConfig(method="ig", faithfulness=False, token_level="none")
    items = [tiny_model.recommend(u, 1)[0].item_id for u in users]
    results = _run_together([lambda u=u, i=i: explain_pair(tiny_model, u, i, cfg) for u, i in zip(users, items)])
    assert len(state_cache.STATES) <= 2
    for exp in results:
        assert sum(t.attribution for t in exp.texts) == pytest.approx(exp.score - exp.baseline_score + exp.text_delta, abs=1e-6)
