"""The text-only reference (issue 17): trained with every fit that has cold-item or new-user slices, on the same
split, reported on every slice with paired differences, kept with the model, shown on the Evaluation page."""
from __future__ import annotations

import io
import json
import math
from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import formatting
from recsys_core import artifacts
from recsys_core.commands import print_report
from recsys_core.evaluation import MODEL_NAME, TEXT_ONLY_NAME, EvaluationReport, SliceResult, TextReference
from recsys_core.metrics import PairedDifference
from recsys_core.pipeline import FIT_STAGES, FitOptions, fit, model_config_for, reference_options
from recsys_core.progress import Cancelled
from recsys_core.splits import SplitConfig
from recsys_core.training import TrainConfig
from recsys_core.registry import MODELS_DIR_ENV
from test_pages import APP, TIMEOUT, open_page, texts, wait_for_training

REFERENCE_STAGE = "training the text-only reference"
SLICED = SplitConfig(cold_items=0.2, holdout_users=0.2, seed=0)


def options(cache: str, **changes) -> FitOptions:
    return replace(FitOptions(split=SLICED, train=TrainConfig(epochs=1), cache_dir=cache), **changes)


class Recorder:
    """Stages ``fit`` announced, and a Stop pressed once a chosen stage has started (after ``after_epochs``)."""

    def __init__(self, stop_in: str | None = None, after_epochs: int = 0):
        self.stages: list[str] = []
        self.epochs = 0
        self.stop_in, self.after_epochs = stop_in, after_epochs

    def progress(self, _fraction: float, message: str) -> None:
        if message in FIT_STAGES:
            self.stages.append(message)

    def on_epoch(self, _entry) -> None:
        self.epochs += 1

    def cancel(self) -> None:
        if self.stages and self.stages[-1] == self.stop_in and self.epochs >= self.after_epochs:
            raise Cancelled()


@pytest.fixture(scope="module")
def sliced(tiny_dataset, embedding_cache):
    recorder = Recorder()
    rec = fit(tiny_dataset, options(embedding_cache), recorder.progress, recorder.cancel, recorder.on_epoch)
    return rec, recorder


# -- the core: trained in the same fit, reported on every slice ------------------------------------------
def test_a_fit_with_cold_items_and_held_out_users_trains_the_reference_as_its_own_stage(sliced):
    rec, recorder = sliced
    assert recorder.stages == ["encoding texts", "splitting", "training", REFERENCE_STAGE, "evaluating"]
    reference = rec.report.text_reference
    assert reference.state == "trained" and reference.best_epoch == 1 and reference.seconds > 0
    assert recorder.epochs == 1  # the reference's epochs are not the model's training curve
    assert len(rec.train_log) == 1


def test_every_slice_has_the_reference_row_with_intervals_and_the_paired_difference(sliced):
    rec, _ = sliced
    slices = {s.name: s for s in rec.report.slices}
    assert set(slices) == {"test", "cold items", "inductive users"}
    for s in slices.values():
        assert s.n_cases > 1
        assert math.isfinite(s.metrics[TEXT_ONLY_NAME]["NDCG@10"]) and math.isfinite(s.ci95[TEXT_ONLY_NAME]["NDCG@10"])
        paired = s.paired[TEXT_ONLY_NAME]
        assert set(paired) == {m for m in s.ci95[MODEL_NAME]}  # every ranking metric
        for metric, p in paired.items():
            # The paired means are the table's own numbers for the model and the reference, on the same users.
            assert p.a == pytest.approx(s.metrics[MODEL_NAME][metric])
            assert p.b == pytest.approx(s.metrics[TEXT_ONLY_NAME][metric])
            assert p.n_cases == s.n_cases and p.diff_ci95 >= 0


def test_the_reference_is_the_same_model_with_item_ids_switched_off(tiny_model):
    settings = FitOptions(id_dropout=0.4, dim=32, ablate=("use_positions",))
    reference = reference_options(settings)
    assert reference.ablate == ("use_positions", "use_item_ids") and reference.text_reference is False
    product_config = model_config_for(tiny_model.catalog, settings)
    reference_config = model_config_for(tiny_model.catalog, reference)
    assert product_config.use_item_ids and not reference_config.use_item_ids
    assert replace(reference_config, use_item_ids=True) == product_config  # nothing else differs


def test_a_fit_without_cold_items_or_held_out_users_trains_no_reference(tiny_model):
    assert tiny_model.report.text_reference is None
    assert all(TEXT_ONLY_NAME not in s.metrics and TEXT_ONLY_NAME not in s.paired for s in tiny_model.report.slices)


def test_the_reference_can_be_turned_off(tiny_dataset, embedding_cache):
    recorder = Recorder()
    rec = fit(tiny_dataset, options(embedding_cache, text_reference=False), recorder.progress)
    assert REFERENCE_STAGE not in recorder.stages
    assert rec.report.text_reference == TextReference("turned off")
    assert all(TEXT_ONLY_NAME not in s.metrics for s in rec.report.slices)


def test_a_stop_while_the_reference_trains_keeps_the_model_and_skips_the_reference(tiny_dataset, embedding_cache):
    recorder = Recorder(stop_in=REFERENCE_STAGE)
    rec = fit(tiny_dataset, options(embedding_cache), recorder.progress, recorder.cancel, recorder.on_epoch)
    assert recorder.stages[-2:] == [REFERENCE_STAGE, "evaluating"]
    assert rec.training.stopped == "completed" and len(rec.train_log) == 1  # the model as trained
    assert rec.report.text_reference == TextReference("stopped")
    assert all(TEXT_ONLY_NAME not in s.metrics and TEXT_ONLY_NAME not in s.paired for s in rec.report.slices)
    assert "skipped because training was stopped" in formatting.reference_note(rec.report)


def test_a_stop_while_the_model_trains_skips_the_reference(tiny_dataset, embedding_cache):
    recorder = Recorder(stop_in="training", after_epochs=1)
    settings = options(embedding_cache, train=TrainConfig(epochs=3))
    rec = fit(tiny_dataset, settings, recorder.progress, recorder.cancel, recorder.on_epoch)
    assert rec.training.stopped == "stopped by user" and REFERENCE_STAGE not in recorder.stages
    assert rec.report.text_reference == TextReference("stopped")


# -- kept with the model -----------------------------------------------------------------------------------
def test_the_reference_and_paired_differences_round_trip_through_save_and_load(sliced, tmp_path):
    rec, _ = sliced
    loaded = artifacts.load(artifacts.save(rec, tmp_path / "model")).report
    assert loaded.text_reference == rec.report.text_reference
    for before, after in zip(rec.report.slices, loaded.slices):
        assert after.paired == before.paired and after.metrics == before.metrics


def test_a_metrics_json_from_before_the_reference_still_loads(sliced, tmp_path):
    rec, _ = sliced
    path = artifacts.save(rec, tmp_path / "old")
    old = json.loads((path / "metrics.json").read_text())
    del old["text_reference"]
    for s in old["slices"]:
        del s["paired"]
        s["metrics"].pop(TEXT_ONLY_NAME)
        s["ci95"].pop(TEXT_ONLY_NAME)
    (path / "metrics.json").write_text(json.dumps(old))
    report = artifacts.load(path).report
    assert report.text_reference is None and all(s.paired == {} for s in report.slices)
    assert report.slices[1].metrics[MODEL_NAME] == rec.report.slices[1].metrics[MODEL_NAME]


# -- what the analyst reads --------------------------------------------------------------------------------
def cold_slice(model: float, reference: float, diff_ci95: float, random: float = 0.04) -> SliceResult:
    return SliceResult(
        "cold items", 719,
        {MODEL_NAME: {"NDCG@10": model}, TEXT_ONLY_NAME: {"NDCG@10": reference}, "Random": {"NDCG@10": random}},
        "ranked among the 168 cold items only",
        {MODEL_NAME: {"NDCG@10": 0.014}, TEXT_ONLY_NAME: {"NDCG@10": 0.015}, "Random": {"NDCG@10": 0.006}},
        paired={TEXT_ONLY_NAME: {"NDCG@10": PairedDifference(model, reference, 719, diff_ci95)}},
    )


def test_the_sentence_states_the_reports_numbers_and_says_within_noise_when_the_interval_holds_zero():
    sentence = formatting.reference_sentence(cold_slice(0.139, 0.144, 0.009), TextReference("trained", 7, "early-stopping"))
    assert sentence.startswith("On cold items the model's NDCG@10 is 0.139 ± 0.014 against 0.144 ± 0.015 for the "
                               "text-only reference: paired difference \u22120.005 ± 0.009 over 719 users, within noise")
    assert "3.5× Random" in sentence
    assert "ranked among the cold items only" in sentence and "Random (0.040) is the floor" in sentence


@pytest.mark.parametrize("model, reference, says", [
    (0.160, 0.144, "beyond noise — the id part adds to what text carries here"),
    (0.120, 0.144, "beyond noise — the text-only reference is better here"),
])
def test_the_sentence_says_beyond_noise_only_when_the_paired_interval_excludes_zero(model, reference, says):
    sentence = formatting.reference_sentence(cold_slice(model, reference, 0.009), None)
    assert says in sentence and "within noise" not in sentence


def test_without_a_reference_the_sentence_says_why():
    bare = replace(cold_slice(0.139, 0.144, 0.009), paired={})
    assert "trained before fits kept one" in formatting.reference_sentence(bare, None)
    assert "turned off for this fit" in formatting.reference_sentence(bare, TextReference("turned off"))
    assert "skipped because training was stopped" in formatting.reference_sentence(bare, TextReference("stopped"))


def test_a_reference_cut_short_by_the_time_budget_is_said_to_understate_text():
    sentence = formatting.reference_sentence(cold_slice(0.139, 0.144, 0.009), TextReference("trained", 3, "time budget"))
    assert "may understate what text alone does" in sentence


def test_the_home_page_headline_compares_with_a_baseline_never_with_the_reference(sliced):
    report = EvaluationReport.from_dict(sliced[0].report.to_dict())  # a copy: the fixture is shared
    report.slices[0].metrics[TEXT_ONLY_NAME]["NDCG@10"] = 2.0  # even when it is ahead of every baseline
    names = list(formatting.headline(report).index)
    assert names[0] == MODEL_NAME and len(names) == 2 and TEXT_ONLY_NAME not in names


def test_the_cli_report_prints_the_reference_row_and_the_paired_difference(sliced):
    rec, _ = sliced
    out = io.StringIO()
    print_report(rec.report, out)
    printed = out.getvalue()
    assert printed.count(f"\n{TEXT_ONLY_NAME} ") == 3  # a row in each slice's table
    p = rec.report.slices[1].paired[TEXT_ONLY_NAME]["NDCG@10"]
    assert f"{MODEL_NAME} − {TEXT_ONLY_NAME}, NDCG@10 on the same {p.n_cases} users: {p.diff:+.4f} ± {p.diff_ci95:.4f}" in printed
    assert "\nThe text-only reference (the same model with item ids switched off" in printed


def _evaluation_page(rec, dataset, label: str) -> AppTest:
    """The Evaluation page as a session with ``rec`` loaded shows it."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in {"dataset": dataset, "dataset_label": "tiny", "model": rec, "model_label": label,
                       "model_is_draft": False}.items():
        at.session_state[key] = value
    at.run()
    at.switch_page("pages/5_Evaluation.py").run()
    return at


def test_the_evaluation_page_shows_the_reference_row_and_sentence_on_the_cold_and_new_user_tabs(sliced, tiny_dataset):
    rec, _ = sliced
    at = _evaluation_page(rec, tiny_dataset, "sliced")
    assert not at.exception and not at.error, [e.value for e in at.exception] + [e.value for e in at.error]
    assert len(at.tabs) == 3
    tables = [t.value for t in at.dataframe if MODEL_NAME in t.value.index]  # metrics and their intervals
    assert len(tables) == 6 and all(TEXT_ONLY_NAME in t.index for t in tables)
    shown = texts(at.info)
    for s in rec.report.slices[1:]:
        p = s.paired[TEXT_ONLY_NAME]["NDCG@10"]
        opening = "On cold items" if s.name == "cold items" else "For new users"
        assert f"{opening} the model's NDCG@10 is {p.a:.3f}" in shown
        assert f"over {p.n_cases:,} users" in shown
    assert "ranked among the cold items only" in shown


def test_the_evaluation_page_says_plainly_when_a_sliced_model_has_no_reference(sliced, tiny_dataset):
    rec, _ = sliced
    old = replace(rec, report=EvaluationReport(rec.report.protocol, rec.report.ks,
                                               [replace(s, paired={}) for s in rec.report.slices]))
    at = _evaluation_page(old, tiny_dataset, "old")
    assert not at.exception and not at.error
    assert texts(at.info).count("there is no text-only reference to compare with") == 2



def test_the_train_page_sets_the_slice_fractions_and_the_reference_switch(tiny_dataset, embedding_cache, tmp_path,
                                                                           monkeypatch):
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "models"))
    monkeypatch.setenv("RECSYS_CACHE_DIR", embedding_cache)
    at = open_page("pages/2_Train.py", dataset=tiny_dataset, dataset_label="tiny")
    sliders = {s.label: s for s in at.slider}
    sliders["Cold-item fraction"].set_value(0.2)
    sliders["Held-out user fraction"].set_value(0.2)
    at.number_input(key="epochs").set_value(1)
    at.checkbox(key="text_reference").uncheck()
    at.button(key="train").click().run()
    job = at.session_state["train_job"]
    assert job.options.split.cold_items == 0.2 and job.options.split.holdout_users == 0.2
    assert job.options.text_reference is False
    wait_for_training(at)
    assert not at.exception and not at.error
    assert job.result.report.text_reference == TextReference("turned off")
    assert "The text-only reference was turned off for this fit" in texts(at.info)
