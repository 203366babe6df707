"""The Compare page, run headless with Streamlit's AppTest on two tiny saved models of the same data."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from recsys_core.compare import compare_models
from recsys_core.registry import MODELS_DIR_ENV, ModelRegistry

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PAGE = "pages/7_Compare.py"
TIMEOUT = 180


@pytest.fixture
def registry(tmp_path, monkeypatch, tiny_model, short_window_model) -> ModelRegistry:
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "models"))
    registry = ModelRegistry(tmp_path / "models")
    registry.save(tiny_model, "window20")
    registry.save(short_window_model, "window3")
    return registry


def open_compare() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def text(elements) -> str:
    return "\n".join(str(e.value) for e in elements).replace("\\", "").replace("\u2060", "")


def test_two_models_of_other_data_are_refused_with_what_differs(registry):
    at = open_compare()
    at.selectbox(key="cmp_a").select("demo model (bundled)")
    at.selectbox(key="cmp_b").select("window3").run()
    assert "were trained on different catalogues (2,000 and 40 items" in text(at.error)
    assert not at.exception


def test_a_comparison_shows_the_cores_verdicts_histogram_users_lists_and_a_pair(registry, tiny_model,
                                                                                short_window_model):
    at = open_compare()
    at.selectbox(key="cmp_a").select("window20")
    at.selectbox(key="cmp_b").select("window3").run()
    assert "Press **Compare**" in text(at.info)
    at.button(key="cmp_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    expected = compare_models(tiny_model, short_window_model, "window20", "window3")
    verdict = expected.slices[0].metrics["NDCG@10"].verdict("window20", "window3")
    shown = text([*at.success, *at.warning, *at.info])
    assert f"Warm users (test) (30 users): {verdict}" in shown
    table = at.dataframe[0].value
    row = table[table["metric"] == "NDCG@10"].iloc[0]
    m = expected.slices[0].metrics["NDCG@10"]
    assert row["B − A"] == pytest.approx(m.diff) and row["95% interval"] == f"[{m.low:+.4f}, {m.high:+.4f}]"
    assert list(table["metric"][:3]) == ["NDCG@5", "NDCG@10", "NDCG@20"]
    charts = at.get("plotly_chart")
    assert len(charts) == 1 and "minus" in charts[0].proto.spec
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Overlap@10"] == f"{expected.lists.overlap:.2f}"

    at.button(key="cmp_pair_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("plotly_chart")) == 2  # the histogram and the field shares of the pair
    history = at.dataframe[-1].value
    assert list(history.columns) == ["item", "title", "A: window20", "B: window3"]
    assert history["A: window20"].notna().sum() == 7 and history["B: window3"].notna().sum() == 3  # the test case's


def test_a_user_opens_on_recommendations_with_the_chosen_model(registry):
    at = open_compare()
    at.selectbox(key="cmp_a").select("window20")
    at.selectbox(key="cmp_b").select("window3").run()
    at.button(key="cmp_run").click().run()
    users = at.selectbox(key="cmp_open_user").options
    assert users, "no user is helped or hurt by a 3-item window: the tiny models no longer differ"
    at.selectbox(key="cmp_open_user").select(users[-1])
    at.button(key="cmp_open_b").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["rec_user"] == users[-1] and at.session_state["model_label"] == "window3"
    assert at.selectbox(key="rec_user").value == users[-1]


def test_only_the_demo_model_asks_for_a_second_one(tmp_path, monkeypatch):
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "empty"))
    at = open_compare()
    assert "train a variant on the **Train** page and save it" in text(at.info)


def test_the_same_model_twice_is_not_compared(registry):
    at = open_compare()
    at.selectbox(key="cmp_a").select("window3")
    at.selectbox(key="cmp_b").select("window3").run()
    assert "Choose two different models." in text(at.info)


def test_a_model_with_another_split_is_refused(registry, tiny_model):
    options = dict(tiny_model.training.options)
    options["split"] = {**options["split"], "seed": 1}
    registry.save(dataclasses.replace(tiny_model, training=dataclasses.replace(tiny_model.training, options=options)),
                  "seed1")
    at = open_compare()
    at.selectbox(key="cmp_a").select("window20")
    at.selectbox(key="cmp_b").select("seed1").run()
    assert "window20 and seed1 were judged on different splits" in text(at.error)
