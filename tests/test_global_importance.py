"""Global feature importance and field ablation: what the Feature importance page promises an analyst.

One small sample (3 pairs of the tiny model, few integration steps) is explained once for the module and
read by several tests; the rest are unit tests of the pieces (buckets, words, bootstrap, ETA, cancel).
"""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from recsys_core.explain import ExplainConfig, field_ablation, global_importance
from dashboard.executor import ON_REQUEST, Cancelled, executor
from recsys_core.explain.field_ablation import FieldAblation, bootstrap_interval
from recsys_core.explain.global_importance import (
    MIN_BUCKET_PAIRS,
    STOP_WORDS,
    Bucket,
    GlobalImportance,
    eta_message,
    pace,
    quantile_buckets,
    sample_users,
    value_words,
)
from recsys_core.explain.types import TokenAttribution

ROOT = Path(__file__).resolve().parents[1]
FAST = ExplainConfig(method="ig", n_steps=8, faithfulness=False, token_level="carrying")
FIELD_LABELS = {"title", "genres", "about"}


class Stop(Exception):
    pass


@pytest.fixture(scope="module")
def sample(tiny_model):
    """(result, progress calls, cancel calls) of a 3-pair run."""
    calls: list[tuple[float, str]] = []
    checks: list[int] = []
    result = global_importance(tiny_model, n_users=3, k=1, config=FAST, seed=0,
                               progress=lambda f, m: calls.append((f, m)), cancel=lambda: checks.append(1))
    return result, calls, checks


# ---------------------------------------------------------------------------- 1. one progress signature
def test_progress_is_fraction_and_message_ending_at_one(sample):
    result, calls, _ = sample
    assert result.n_pairs == 3
    assert calls, "no progress reported"
    fractions = [f for f, _ in calls]
    assert all(isinstance(f, float) and 0.0 <= f <= 1.0 for f in fractions)
    assert all(isinstance(m, str) and m for _, m in calls)
    assert fractions == sorted(fractions), "progress went backwards"
    assert fractions[-1] == 1.0
    assert len(calls) > result.n_pairs, "progress only between pairs: a slow pair would look frozen"


# ---------------------------------------------------------------------------- 6. measured time, ETA
def test_progress_messages_carry_measured_time_per_pair_and_time_left(sample):
    result, calls, _ = sample
    messages = [m for _, m in calls]
    assert "timing the first pair" in messages[0]
    after_first = [m for m in messages if m.startswith("Explained 1 of 3")]
    assert after_first and "s per pair" in after_first[0] and "left" in after_first[0]
    assert messages[-1].startswith("Explained 3 of 3 pairs") and "left" not in messages[-1]
    assert result.seconds_per_pair > 0


def test_eta_is_extrapolated_from_the_pairs_done():
    assert eta_message(2, 10, 10.0) == "Explained 2 of 10 pairs · 10.0 s per pair · about 1 min 20 s left"
    assert eta_message(1, 4, 57.0).endswith("57.0 s per pair · about 2 min 51 s left")
    assert "about 1 h 35 min left" in eta_message(1, 101, 57.0)
    assert eta_message(0, 5, 0.0) == "Explaining pair 1 of 5 (timing the first pair…)"


def test_pace_leaves_out_the_first_pairs_one_off_costs_once_others_are_timed():
    assert pace([33.5]) == 33.5  # all there is
    assert pace([33.5, 2.0, 3.0]) == pytest.approx(2.5)


# ---------------------------------------------------------------------------- 2. words of values only
def _tokens(text_index: int, pieces: list[tuple[str, str | None, float]]) -> list[TokenAttribution]:
    return [TokenAttribution(text, value, "item", field, None, text_index, position)
            for position, (text, field, value) in enumerate(pieces)]


def test_value_words_drop_field_labels_punctuation_and_stop_words():
    # "title: The Heat (1995) | genres: action, crime | movie title: title fight", labels scored highest.
    pieces = [("[CLS]", None, 0.0), ("title", "title", 9.0), (":", "title", 8.0), ("the", "title", 5.0),
              ("heat", "title", 1.0), ("(", "title", 7.0), ("1995", "title", 0.5), (")", "title", 7.0),
              ("|", None, 6.0), ("genres", "genres", 9.0), (":", "genres", 8.0), ("action", "genres", 0.3),
              (",", "genres", 4.0), ("crime", "genres", 0.2), ("|", None, 6.0), ("movie", "movie title", 9.0),
              ("title", "movie title", 9.0), (":", "movie title", 9.0), ("title", "movie title", 0.7),
              ("fi", "movie title", 0.1), ("##ght", "movie title", 0.1), ("[SEP]", None, 0.0)]
    words = value_words(_tokens(0, pieces))
    assert [w for w, _ in words] == ["heat", "1995", "action", "crime", "title", "fight"]
    assert dict(words)["fight"] == pytest.approx(0.2)
    assert dict(words)["title"] == pytest.approx(0.7)  # a value word equal to a field name is data
    assert value_words(_tokens(1, pieces)) == []  # only the asked text


def test_value_words_of_a_text_cut_inside_its_label_are_none():
    assert value_words(_tokens(0, [("[CLS]", None, 0.0), ("description", "description", 3.0)])) == []


def test_top_words_are_words_of_values(sample):
    result, _, _ = sample
    words = [w.word for w in result.top_words]
    assert words, "no words ranked"
    assert not set(words) & FIELD_LABELS
    assert not set(words) & STOP_WORDS
    assert all(any(c.isalnum() for c in w) for w in words)
    assert all(w.attribution > 0 and 1 <= w.pairs <= result.n_pairs for w in result.top_words)


# ---------------------------------------------------------------------------- 3. every bucket, with n
def test_tercile_buckets_are_defined_from_the_whole_dataset():
    buckets = quantile_buckets(np.arange(1, 10))
    assert [(b.name, b.low, b.high, b.population) for b in buckets] == [
        ("low", 1, 3, 3), ("mid", 4, 6, 3), ("high", 7, 9, 3)]
    skewed = quantile_buckets(np.array([1] * 50 + [2] * 30 + [40] * 20))
    assert [(b.low, b.high, b.population) for b in skewed] == [(1, 1, 50), (2, 2, 30), (40, 40, 20)]
    assert [b.name for b in quantile_buckets(np.full(7, 8))] == ["low"]  # no values: no mid or high bucket


def test_bucket_status_says_when_n_is_too_small():
    def bucket(n):
        return Bucket("high", 9, 40, 12, n, {"item: title": 1.0} if n else {})

    assert bucket(0).status == "no sampled pairs"
    assert bucket(MIN_BUCKET_PAIRS - 1).status.startswith("n too small")
    assert bucket(MIN_BUCKET_PAIRS).status == "ok"
    assert bucket(3).label("interactions") == "high (9–40 interactions)"


def test_every_bucket_appears_with_its_n(sample, tiny_model):
    result, _, _ = sample
    histories = tiny_model.catalog.histories
    popularity = np.bincount(np.concatenate(list(histories.values())), minlength=tiny_model.catalog.n_items)
    expected = quantile_buckets(popularity)
    assert len(expected) == 3
    assert [b.name for b in result.by_item_popularity] == [b.name for b in expected]
    assert [b.population for b in result.by_item_popularity] == [b.population for b in expected]
    assert sum(b.n_pairs for b in result.by_item_popularity) == result.n_pairs
    assert sum(b.n_pairs for b in result.by_user_activity) == result.n_pairs
    assert any(b.status != "ok" for b in result.by_item_popularity)  # 3 pairs cannot fill 3 buckets
    for b in result.by_item_popularity + result.by_user_activity:
        if b.n_pairs:
            assert sum(b.field_share.values()) == pytest.approx(1.0)
    json.dumps(result.to_dict())


def test_users_are_sampled_across_activity_buckets(tiny_model):
    from recsys_core.explain.global_importance import bucket_of

    histories = tiny_model.catalog.histories
    # Give the tiny model's users three activity levels by looking at shortened histories.
    short = {u: (h[:3] if n % 3 == 0 else h[:5] if n % 3 == 1 else h) for n, (u, h) in enumerate(sorted(histories.items()))}

    class View:
        catalog = type("C", (), {"histories": short})()

        @staticmethod
        def known_users():
            return sorted(short)

    chosen = sample_users(View(), 6, seed=3)
    assert len(chosen) == len(set(chosen)) == 6
    buckets = quantile_buckets([len(h) for h in short.values()])
    assert {bucket_of(len(short[u]), buckets) for u in chosen} == {"low", "mid", "high"}
    assert sample_users(View(), 6, seed=3) == chosen


# ---------------------------------------------------------------------------- 4. bootstrap interval
def test_bootstrap_interval_of_a_constant_is_that_constant_and_noise_crosses_zero():
    resamples = np.random.default_rng(0).integers(0, 40, size=(500, 40))
    assert bootstrap_interval(np.full(40, 0.25), resamples) == pytest.approx((0.25, 0.25))
    noise = np.random.default_rng(1).normal(0.0, 1.0, 40)
    noise -= noise.mean()
    low, high = bootstrap_interval(noise, resamples)
    assert low < 0 < high


def test_a_gain_within_noise_is_not_a_gain():
    a = FieldAblation(0.20, {"item: title": 0.23, "item: genres": 0.10, "profile: about": 0.25}, 30,
                      {"item: title": (-0.07, 0.01), "item: genres": (0.05, 0.15), "profile: about": (-0.08, -0.02)})
    assert a.within_noise("item: title") and a.verdict("item: title") == "within noise"
    assert a.verdict("item: genres") == "the field helps"
    assert a.verdict("profile: about") == "removing it helps"
    assert a.to_dict()["verdict"]["item: title"] == "within noise"


def test_field_ablation_has_a_seeded_bootstrap_interval_per_field(tiny_model):
    calls = []
    a = field_ablation(tiny_model, max_users=30, n_bootstrap=200, progress=lambda f, m: calls.append((f, m)))
    assert set(a.intervals) == set(a.ablated_ndcg10) == {"item: title", "item: genres", "profile: about"}
    for name, (low, high) in a.intervals.items():
        assert low <= a.drop[name] + 1e-12 and a.drop[name] <= high + 1e-12
        assert low < high or low == pytest.approx(high)
    assert calls[-1][0] == 1.0 and all(0.0 <= f <= 1.0 for f, _ in calls)
    again = field_ablation(tiny_model, fields=["item: genres"], max_users=30, n_bootstrap=200)
    assert again.intervals["item: genres"] == a.intervals["item: genres"]  # seeded: the same interval every time


# ---------------------------------------------------------------------------- 5. convergence warning
def _importance(delta: float) -> GlobalImportance:
    return GlobalImportance(4, {"item: title": 1.0}, {"item: title": 0.3}, [], [], [], {}, delta, 0.05, 2.0)


def test_a_mean_delta_over_the_flag_warns():
    assert _importance(0.056).delta_flagged
    assert "5.6%" in _importance(0.056).warnings[0]
    assert _importance(0.049).warnings == []
    assert _importance(float("nan")).delta_flagged


def test_the_sample_reports_its_delta_against_the_configured_flag(sample):
    result, _, _ = sample
    assert result.delta_tolerance == FAST.delta_tolerance
    assert result.delta_flagged == (result.mean_delta_share > FAST.delta_tolerance)
    assert bool(result.warnings) == result.delta_flagged


# ---------------------------------------------------------------------------- 7. cancel
def test_cancel_is_checked_inside_pairs_and_stops_the_run(sample, tiny_model):
    _, _, checks = sample
    assert len(checks) > 3, "cancel only checked between pairs"
    seen = []

    def cancel_in_second_pair():
        seen.append(1)
        if len(seen) > len(checks) // 3 + 1:
            raise Stop()

    with pytest.raises(Stop):
        global_importance(tiny_model, n_users=3, k=1, config=replace_steps(FAST, 9), cancel=cancel_in_second_pair)


def replace_steps(config: ExplainConfig, n: int) -> ExplainConfig:
    from dataclasses import replace

    return replace(config, n_steps=n)  # other steps: not served from the explanation cache


def test_an_executor_job_of_global_importance_is_cancelled_at_its_next_checkpoint(tiny_model):
    started = threading.Event()

    def work(job):
        def progress(f, m):
            started.set()
            job.progress(f, m)

        return global_importance(tiny_model, n_users=3, k=1, config=replace_steps(FAST, 10), progress=progress,
                                 cancel=job.checkpoint)

    job = executor().submit(work, ON_REQUEST, ("test-importance-cancel",), "test-owner")
    assert started.wait(120)
    job.cancel()
    with pytest.raises(Cancelled):
        job.wait(120)
    assert job.result is None


# ---------------------------------------------------------------------------- the page (AppTest)
def _page(tiny_model, tiny_dataset, session: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "6_Feature_importance.py"), default_timeout=300)
    at.session_state["dataset"] = tiny_dataset
    at.session_state["dataset_label"] = "tiny"
    at.session_state["model"] = tiny_model
    at.session_state["model_label"] = "tiny model"
    at.session_state["_explain_session"] = session
    return at


def test_page_computes_shares_shows_every_bucket_and_no_static_promise(tiny_model, tiny_dataset):
    at = _page(tiny_model, tiny_dataset, "apptest-fi-compute")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    prompt = at.info[0].value
    assert "measured seconds per pair" in prompt and "one to two seconds" not in prompt  # no static promise
    at.slider(key="fi_users").set_value(3)
    at.slider(key="fi_k").set_value(1)
    at.button(key="fi_run").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    captions = " ".join(c.value for c in at.caption)
    assert "3 pairs; mean convergence delta" in captions and "s per pair measured in this run" in captions
    tables = [d.value for d in at.dataframe]
    buckets = [t for t in tables if "sampled pairs" in t.columns]
    assert len(buckets) == 2
    popularity = buckets[1]
    assert len(popularity) == 3 and popularity["sampled pairs"].sum() == 3
    assert (popularity["status"] != "ok").any()
    assert len(at.get("plotly_chart")) >= 2
    assert "would take about" in captions  # the next run's estimate comes from this run's measured pace


def test_page_warns_when_the_mean_delta_is_over_the_flag(tiny_model, tiny_dataset):
    at = _page(tiny_model, tiny_dataset, "apptest-fi-delta")
    at.session_state["importance"] = {(tiny_model.model_fingerprint, "ig"): _importance(0.056)}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("5.6%" in w.value and "above the 5% flag" in w.value for w in at.warning)


def test_page_ablation_shows_intervals_and_within_noise(tiny_model, tiny_dataset):
    at = _page(tiny_model, tiny_dataset, "apptest-fi-ablation")
    ablation = FieldAblation(0.2, {"item: title": 0.23, "item: genres": 0.1}, 30,
                             {"item: title": (-0.07, 0.01), "item: genres": (0.05, 0.15)})
    at.session_state["importance"] = {(tiny_model.model_fingerprint, "ablation"): ablation}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(d.value for d in at.dataframe if "verdict" in d.value.columns)
    assert dict(zip(table["field"], table["verdict"])) == {"item: title": "within noise", "item: genres": "the field helps"}
    assert any("within noise" in c.value for c in at.caption)


def test_page_cancel_shows_no_partial_result(tiny_model, tiny_dataset):
    session = "apptest-fi-cancel"
    at = _page(tiny_model, tiny_dataset, session)
    at.run()
    at.slider(key="fi_users").set_value(8)
    at.slider(key="fi_k").set_value(2)
    at.button(key="fi_run").click()

    def cancel_soon():  # what the Cancel button's callback does, from outside the blocked script run
        deadline = time.time() + 60
        while time.time() < deadline and not executor().cancel_owner(session, ON_REQUEST):
            time.sleep(0.2)

    canceller = threading.Thread(target=cancel_soon)
    canceller.start()
    at.run()
    canceller.join()
    assert not at.exception, [e.value for e in at.exception]
    warnings = [w.value for w in at.warning]
    assert any(w.startswith("Cancelled after") and "not the result you asked for" in w for w in warnings), warnings
    assert not any("pairs; mean convergence delta" in c.value for c in at.caption)
    assert at.info, "the prompt to compute should still be shown"


# ---------------------------------------------------------------------------- 8. the Ray engine
def test_global_importance_on_ray_equals_local(tiny_model):
    ray = pytest.importorskip("ray", reason="the scale extra (requirements/scale.txt) is not installed")
    from recsys_core.parallel import Engine

    users = tiny_model.known_users()[:2]
    config = replace_steps(FAST, 7)
    local = global_importance(tiny_model, users=users, k=1, config=config)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1"}})
    try:
        distributed = global_importance(tiny_model, users=users, k=1, config=config, engine=Engine("ray", workers=2))
    finally:
        ray.shutdown()
    assert (local.engine, distributed.engine) == ("local", "ray")
    assert distributed.pairs == local.pairs and len(local.pairs) == 2
    assert distributed.field_share == pytest.approx(local.field_share, abs=1e-6)
    assert distributed.field_signed == pytest.approx(local.field_signed, abs=1e-6)
    assert [w.word for w in distributed.top_words] == [w.word for w in local.top_words]
    assert [w.attribution for w in distributed.top_words] == pytest.approx([w.attribution for w in local.top_words], abs=1e-6)
    assert [b.n_pairs for b in distributed.by_item_popularity] == [b.n_pairs for b in local.by_item_popularity]
    assert distributed.mean_delta_share == pytest.approx(local.mean_delta_share, abs=1e-6)


def test_a_run_on_another_model_neither_blocks_the_page_nor_is_thrown_away(tiny_model, tiny_dataset):
    from dashboard.importance_jobs import ImportanceRun

    release = threading.Event()
    job = executor().submit(lambda j: release.wait(60) and "done", ON_REQUEST, ("test-other-model",), "apptest-fi-other")
    at = _page(tiny_model, tiny_dataset, "apptest-fi-other")
    at.session_state["importance_runs"] = {("another model", "ig"): ImportanceRun("ig", "another model", job)}
    try:
        at.run(timeout=60)
        assert not at.exception, [e.value for e in at.exception]
        assert not at.button(key="fi_run").disabled  # this model has no run going
        assert not job.cancelled and not job.done  # the other model's run goes on
        assert ("another model", "ig") in at.session_state["importance_runs"]
    finally:
        release.set()
    assert job.wait(60) == "done"
