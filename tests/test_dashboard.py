"""Streamlit-free parts of the dashboard: the training job, tables and plot builders."""
from __future__ import annotations

import numpy as np
from dashboard import formatting, plots
from dashboard.training import TrainingJob
from recsys_core import EncoderConfig, FitOptions, TrainConfig
from recsys_core.text import build_field_text


def test_field_values_read_back_the_fields_of_a_built_text():
    text = build_field_text({"title": "Heat", "genres": "Action, Crime", "year": 1995}, ["title", "genres", "year"])
    assert formatting.field_values(text) == {"title": "Heat", "genres": "Action, Crime", "year": "1995"}
    assert formatting.field_values(None) == {}


def test_recommendation_table_has_rank_score_then_fields_and_no_probability(tiny_model):
    recs = tiny_model.recommend("u00", k=4)
    table = formatting.recommendations_table(tiny_model, recs, ["title"])
    assert list(table.columns) == ["rank", "score", "item", "title"]  # a saturated sigmoid said nothing
    assert list(table["rank"]) == [1, 2, 3, 4]
    np.testing.assert_allclose(table["score"], [r.score for r in recs])
    assert table["title"].str.contains("story number").all()


def test_history_is_listed_most_recent_first(tiny_model):
    history = tiny_model.context("u01").history
    table = formatting.history_table(tiny_model, tiny_model.context("u01"), ["title"])
    assert table["item"].iloc[0] == tiny_model.catalog.item_ids[history[-1]]
    assert list(table["#"]) == list(range(1, len(history) + 1))


def test_headline_puts_the_model_next_to_its_best_baseline(tiny_model):
    table = formatting.headline(tiny_model.report)
    test = tiny_model.report.table("test")
    best = test.drop(index="HybridBERT")["NDCG@10"].idxmax()
    assert list(table.index) == ["HybridBERT", best]


def test_user_search_matches_ids_and_profile_words(tiny_model):
    assert formatting.user_search(tiny_model, "u01") == ["u01"]
    horror = formatting.user_search(tiny_model, "HORROR")
    assert horror and all(int(u[1:]) % 4 == 3 for u in horror)


def test_plots_have_titles_axis_labels_and_presentable_fonts(tiny_dataset, tiny_model):
    inter = tiny_dataset.interactions
    figures = [
        plots.long_tail(inter["user_id"], "user"),
        plots.rating_distribution(inter["rating"]),
        plots.activity_over_time(inter["timestamp"]),
        plots.text_lengths(formatting.text_lengths(tiny_dataset.items, ["title", "genres"])),
        plots.training_curve(tiny_model.train_log, 1),
        plots.metric_over_k(formatting.metric_over_k(tiny_model.report.slices[0], "NDCG", (5, 10, 20)), "NDCG", "All"),
    ]
    for fig in figures:
        assert fig.layout.title.text
        assert fig.layout.font.size >= 14
        assert fig.layout.xaxis.title.text


def test_slice_table_highlights_the_best_value_of_each_column(tiny_model):
    s = tiny_model.report.slices[0]
    table = formatting.slice_table(s, (5, 10, 20), ("NDCG",))
    assert list(table.columns)[:3] == ["NDCG@5", "NDCG@10", "NDCG@20"]
    css = formatting.highlight_best(table).to_html().split("</style>")[0]
    for j, column in enumerate(table.columns[:3]):
        assert f"_row{table[column].to_numpy().argmax()}_col{j}" in css
    assert "_col3" not in css and "_col4" not in css  # coverage and diversity: a random list maximises them


def test_guess_column_prefers_exact_names_then_substrings():
    assert formatting.guess_column(["UserId", "movie", "user_id"], "user_id", "user") == 2
    assert formatting.guess_column(["UserId", "movie"], "user_id", "user") == 0
    assert formatting.guess_column(["a", "b"], "user") is None


def test_a_training_job_reports_epochs_and_its_result(tiny_dataset, embedding_cache):
    job = TrainingJob(tiny_dataset, FitOptions(train=TrainConfig(epochs=2), cache_dir=embedding_cache)).start()
    assert job.wait(120)
    assert job.error is None and job.succeeded
    assert [e.epoch for e in job.epochs] == [e.epoch for e in job.result.train_log]
    assert job.stage == "done" and job.fraction == 1.0


def test_a_job_stopped_before_its_first_epoch_says_so_and_makes_no_model(tiny_dataset, embedding_cache):
    job = TrainingJob(tiny_dataset, FitOptions(train=TrainConfig(epochs=500, patience=500), cache_dir=embedding_cache))
    job.stop()  # asked before the first batch: training stops at once, and nothing half-trained is evaluated
    job.start().wait(120)
    assert job.result is None
    assert job.error.startswith("Training was stopped during epoch 1, before any epoch was complete")


def test_a_bad_option_becomes_a_message_not_a_crash(tiny_dataset):
    options = FitOptions(encoder=EncoderConfig(name="/no/such/encoder"))
    job = TrainingJob(tiny_dataset, options).start()
    job.wait(60)
    assert job.result is None and job.error.startswith("No encoder directory at /no/such/encoder")


def test_interval_table_lists_each_models_half_widths():
    from recsys_core.evaluation import SliceResult

    s = SliceResult("test", 50, {"A": {"NDCG@10": 0.2}}, ci95={"A": {"NDCG@10": 0.03}, "B": {"NDCG@10": 0.01}})
    table = formatting.interval_table(s, (10,), ["NDCG"])
    assert table.loc["A", "NDCG@10"] == 0.03 and table.loc["B", "NDCG@10"] == 0.01
    assert formatting.interval_table(SliceResult("test", 5, {"A": {}}), (10,), ["NDCG"]).empty


def test_training_estimates_read_as_a_person_plans():
    from recsys_core.progress import rough_duration as _duration

    assert [_duration(s) for s in (0.2, 45, 200, 3 * 3600 + 20 * 60)] == ["1 s", "45 s", "3 min", "3 h 20 min"]


def test_the_training_progress_line_gives_an_estimate_once_the_pace_is_known():
    from recsys_core.training import batch_message

    detail = batch_message(1, 10, 1, 1, [], 2.0, 300.0)
    assert "left" not in detail  # first batch of the first epoch: no pace yet
    detail = batch_message(2, 10, 1, 1, [30.0], 2.0, 270.0)
    assert "epoch 2 of at most 10" in detail and "left in this epoch" in detail and "in all" in detail


def test_training_curve_ndcg_axis_starts_at_zero_even_for_one_epoch():
    from dashboard.plots import training_curve
    from recsys_core.training import EpochLog

    fig = training_curve([EpochLog(1, 4.5, 0.09, 20.0)], best_epoch=1)
    low, high = fig.layout.yaxis2.range  # set from round ticks (not plotly's rangemode): 0 … at least the best
    assert low == 0 and high >= 0.09


def test_pages_give_alerts_material_icons_not_emoji():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for path in [root / "app.py", *sorted((root / "pages").glob("*.py")), *sorted((root / "dashboard").glob("*.py"))]:
        icons = re.findall(r'icon="([^"]*)"', path.read_text(encoding="utf-8"))
        assert all(i.startswith(":material/") for i in icons), (path.name, icons)


def test_fitted_margins_hold_the_longest_label_without_browser_measurement():
    import plotly.graph_objects as go

    short, long = ["a", "b"], ["a", "<b>a much longer label</b>", "two<br>lines"]
    figs = []
    for labels in (short, long):
        fig = plots.style(go.Figure(go.Bar(x=[1] * len(labels), y=labels, orientation="h")), "t", "x title", "")
        figs.append(plots.fit_margins(fig, labels))
    assert figs[1].layout.margin.l - figs[0].layout.margin.l == plots.label_width(long, plots.FONT_SIZE - 1) - plots.label_width(short, plots.FONT_SIZE - 1)
    # the escaped markup counts as the characters shown, and a <br> starts a new line
    assert plots.label_width(["&lt;b&gt;"], 10) == plots.label_width(["<b>"], 10) < plots.label_width(["<b>x"], 10)
    assert plots.label_width(["ab<br>abc"], 10) == plots.label_width(["abc"], 10)
    for fig in figs:  # no second drawing pass and no per-label measurement in the browser
        for axis in (fig.layout.xaxis, fig.layout.yaxis):
            assert axis.automargin is False and axis.ticklabeloverflow == "allow"
        assert fig.layout.margin.b >= plots.FONT_SIZE + plots.AXIS_TITLE  # the x axis title has room


def test_the_startup_heap_freeze_leaves_later_garbage_collectable():
    import gc
    import weakref

    from dashboard.resources import freeze_startup_heap

    try:
        freeze_startup_heap()
        walked = len(gc.get_objects())  # what a full collection still walks

        class Node:
            pass

        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle made after the freeze: only the collector can free it
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is None
        assert walked < 50_000  # the modules and the test session's objects are no longer walked
    finally:
        gc.unfreeze()


def test_the_lead_over_the_best_baseline_is_judged_by_its_paired_interval():
    from recsys_core.evaluation import MODEL_NAME, SliceResult
    from recsys_core.metrics import PairedDifference

    def slice_with(diff_ci95, a=0.14, b=0.10, paired=True):
        metrics = {MODEL_NAME: {"NDCG@10": a}, "EASE": {"NDCG@10": b}, "Random": {"NDCG@10": 0.001}}
        pairs = {"EASE": {"NDCG@10": PairedDifference(a, b, 800, diff_ci95)}} if paired else {}
        return SliceResult("test", 800, metrics, paired=pairs)

    ahead = formatting.lead_sentence(slice_with(0.012))
    assert "against EASE, the best baseline here" in ahead and "+0.040 ± 0.012" in ahead
    assert ahead.endswith("over the same 800 users — ahead beyond noise.")
    assert "within noise" in formatting.lead_sentence(slice_with(0.05))
    assert "behind beyond noise: EASE ranks better here" in formatting.lead_sentence(slice_with(0.01, a=0.08))
    assert "predate paired differences" in formatting.lead_sentence(slice_with(0.01, paired=False))
