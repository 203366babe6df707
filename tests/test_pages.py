"""The dashboard pages, run headless with Streamlit's AppTest.

Every page opens on the bundled demo data and demo model with no action; the
Train page is exercised on the tiny dataset so that training takes seconds.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.safe_text import WORD_JOINER, plain
from recsys_core import demo
from recsys_core.registry import MODELS_DIR_ENV, ModelRegistry

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PAGES = ["pages/1_Data.py", "pages/2_Train.py", "pages/3_Recommendations.py", "pages/5_Evaluation.py"]
TIMEOUT = 120

GOOD_INTERACTIONS = b"user_id,item_id,rating,timestamp\n" + b"".join(
    f"u{u},i{(u + t) % 6},{1 + t % 5},{1700000000 + 60 * t}\n".encode() for u in range(8) for t in range(4)
) + b"u0,i0,1,1700000000\n"  # a duplicate row: loading drops it and says so
GOOD_ITEMS = b"item_id,title,genres\n" + b"".join(f"i{i},Film {i},Drama\n".encode() for i in range(6))
NO_USER_COLUMN = b"item_id,rating,timestamp\ni1,5,1700000000\ni2,3,1700000100\n"


@pytest.fixture(scope="session", autouse=True)
def demo_model_on_disk():
    """Train and save the demo model once if sample_data/demo_model is not there yet."""
    demo.load_demo_model()


@pytest.fixture(autouse=True)
def models_dir(tmp_path, monkeypatch) -> Path:
    """Each test gets its own shared-models directory."""
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "models"))
    monkeypatch.setenv("RECSYS_CACHE_DIR", str(tmp_path / "embeddings"))
    return tmp_path / "models"


def open_page(page: str | None = None, **session) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def sources(elements) -> str:
    """The Markdown the elements were given (user-supplied parts escaped by dashboard.safe_text.plain)."""
    return "\n".join(str(e.value) for e in elements)


def texts(elements) -> str:
    """What a reader sees: the Markdown sources with plain()'s escapes and invisible joiners taken out."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", sources(elements)).replace(WORD_JOINER, "")


def wait_for_training(at: AppTest, seconds: float = TIMEOUT) -> AppTest:
    deadline = time.time() + seconds
    while at.session_state["train_job"].running:
        assert time.time() < deadline, "training did not finish in time"
        time.sleep(0.5)
        at.run()
    return at.run()


# -- every page ---------------------------------------------------------------------
def test_home_opens_on_the_demo_data_and_model_with_no_action():
    at = open_page()
    assert at.title[0].value.endswith("RecSys Studio")
    assert at.session_state["model_label"] == "demo model"
    assert "demo data" in at.session_state["dataset_label"]
    headline = at.dataframe[0].value
    assert headline.index[0] == "HybridBERT" and len(headline) == 2  # the model and its best baseline
    assert list(headline.columns) == ["NDCG@10", "Recall@10", "HitRate@10"]
    assert "Protocol:" in texts(at.caption)


ALL_PAGES = [*PAGES, "pages/4_Explain.py", "pages/6_Feature_importance.py", "pages/7_Compare.py"]


@pytest.mark.parametrize("path", ALL_PAGES)
def test_every_page_heading_uses_its_icon_from_the_one_material_icon_family(path):
    from dashboard import page

    assert all(icon.startswith(":material/") and icon.endswith(":") for icon in page.ICONS.values())
    title = Path(path).stem.split("_", 1)[1].replace("_", " ")
    source = (ROOT / path).read_text(encoding="utf-8")
    assert re.search(rf'page\.setup\("{title}"\)', source), "a page passes its own icon instead of page.ICONS"
    if path in PAGES:  # the explain pages are opened by their own tests
        at = open_page(path)
        assert at.title[0].value == f"{page.ICONS[title]} {title}"


def test_uncaught_errors_show_no_traceback_in_the_browser():
    """The analyst never sees a traceback: the server config redacts uncaught errors to their type."""
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["client"]["showErrorDetails"] in {"type", "none"}


@pytest.mark.parametrize("page", PAGES)
def test_every_page_loads_on_the_demo_without_errors(page):
    at = open_page(page)
    assert not at.error, texts(at.error)
    assert at.title[0].value.endswith(Path(page).stem.split("_", 1)[1])


# -- data ---------------------------------------------------------------------------
def upload(at: AppTest, interactions: bytes, items: bytes) -> AppTest:
    at.file_uploader(key="upload_interactions").set_value(("ratings.csv", interactions, "text/csv"))
    at.file_uploader(key="upload_items").set_value(("items.csv", items, "text/csv"))
    at.run()
    load = at.button(key="load_dataset")
    return at if load.proto.disabled else load.click().run()  # a browser cannot press a disabled button


def test_a_bad_upload_shows_the_problem_and_keeps_the_previous_dataset():
    at = open_page("pages/1_Data.py")
    before = at.session_state["dataset"]
    upload(at, NO_USER_COLUMN, GOOD_ITEMS)
    assert not at.exception
    assert at.button(key="load_dataset").proto.disabled, "files that cannot load leave nothing to press"
    assert len(at.error) == 1
    assert "no column 'user_id'" in texts(at.error) and "'item_id', 'rating', 'timestamp'" in texts(at.error)
    assert at.session_state["dataset"] is before
    assert "demo data" in at.session_state["dataset_label"]


def test_a_wrong_file_in_the_interactions_slot_is_reported_as_soon_as_it_is_chosen():
    at = open_page("pages/1_Data.py")
    at.file_uploader(key="upload_interactions").set_value(("items.csv", GOOD_ITEMS, "text/csv")).run()
    assert not at.exception
    assert "no column 'user_id' for the user ids" in texts(at.error)  # before the items file or "Load dataset"
    assert at.button(key="load_dataset").proto.disabled

    at.file_uploader(key="upload_interactions").set_value(("ratings.csv", GOOD_INTERACTIONS, "text/csv")).run()
    assert not at.error, texts(at.error)  # the right file: nothing to report, still waiting for the items
    at.file_uploader(key="upload_items").set_value(("items.csv", GOOD_ITEMS, "text/csv")).run()
    assert "These files load: 32 interactions of 8 users and 6 items" in texts(at.success)
    assert not at.button(key="load_dataset").proto.disabled


def test_swapped_id_columns_are_reported_before_loading_and_the_check_is_not_repeated(monkeypatch):
    from dashboard import uploads

    at = open_page("pages/1_Data.py")
    at.file_uploader(key="upload_interactions").set_value(("ratings.csv", GOOD_INTERACTIONS, "text/csv"))
    at.file_uploader(key="upload_items").set_value(("items.csv", GOOD_ITEMS, "text/csv")).run()
    at.selectbox[1].set_value("user_id").run()  # the item column now holds user ids: no item has text
    assert "No interacted item has text" in texts(at.error)
    loads = []
    monkeypatch.setattr(uploads.DatasetSource, "load", lambda self: loads.append(1))
    at.run()  # a rerun with the same files and columns: the remembered check, no second load
    assert loads == [] and "No interacted item has text" in texts(at.error)


def test_a_good_upload_becomes_the_session_dataset_and_its_notices_are_shown():
    at = open_page("pages/1_Data.py")
    upload(at, GOOD_INTERACTIONS, GOOD_ITEMS)
    assert not at.exception and not at.error, texts(at.error)
    assert at.session_state["dataset_label"] == "ratings.csv + items.csv"
    assert at.session_state["dataset"].summary()["interactions"] == 32
    assert "Dataset loaded" in texts(at.success)
    assert "duplicate" in texts(at.warning).lower()
    assert at.header[0].value == plain("ratings.csv + items.csv")  # file names are shown as text


def test_the_uploader_names_recbole_atomic_files_next_to_csv_tsv_and_parquet():
    at = open_page("pages/1_Data.py")
    caption = texts(at.caption)
    assert "CSV, TSV, Parquet" in caption and ".inter, .item, .user" in caption and "RecBole" in caption


def test_the_interactions_preview_shows_timestamps_as_dates():
    at = open_page("pages/1_Data.py")
    preview = at.dataframe[0].value
    assert str(preview["timestamp"].dtype).startswith("datetime64")
    raw = at.session_state["dataset"].interactions["timestamp"].iloc[0]
    assert preview["timestamp"].iloc[0] == pd.Timestamp(int(raw), unit="s")  # the same instant, in UTC
    assert 2000 < preview["timestamp"].iloc[0].year < 2100


def test_without_timestamps_the_preview_calls_the_column_file_order_not_a_1970_date():
    at = open_page("pages/1_Data.py")
    no_time = b"user_id,item_id\n" + b"".join(f"u{u},i{(u + t) % 6}\n".encode() for u in range(8) for t in range(4))
    upload(at, no_time, GOOD_ITEMS)
    assert not at.error, texts(at.error)
    preview = at.dataframe[0].value
    assert "timestamp" not in preview.columns and list(preview["file order"][:3]) == [0, 1, 2]
    assert "No timestamps" in texts(at.info)


RENAMABLE_ITEMS = b"item_id,movie_title,genres\n" + b"".join(f"i{i},Film {i},Drama\n".encode() for i in range(6))


def test_fields_that_become_bert_text_can_be_renamed_before_loading():
    at = open_page("pages/1_Data.py")
    at.file_uploader(key="upload_interactions").set_value(("ratings.csv", GOOD_INTERACTIONS, "text/csv"))
    at.file_uploader(key="upload_items").set_value(("items.csv", RENAMABLE_ITEMS, "text/csv"))
    at.run()
    assert at.code[0].value == "movie_title: Film 0 | genres: Drama"  # what BERT reads, before
    at.text_input(key="rename_movie_title").set_value("title").run()
    assert at.code[0].value == "title: Film 0 | genres: Drama"
    at.button(key="load_dataset").click().run()
    assert not at.exception and not at.error, texts(at.error)
    data = at.session_state["dataset"]
    assert data.item_fields == ["title", "genres"] and "movie_title" not in data.items.columns


@pytest.mark.parametrize("new_name, problem", [
    ("ti|tle", "contains '|'"), ("  ", "is empty"), ("genres", "already has a column of that name"),
])
def test_a_bad_new_field_name_is_a_clear_error_and_the_previous_dataset_stays(new_name, problem):
    at = open_page("pages/1_Data.py")
    before = at.session_state["dataset"]
    at.file_uploader(key="upload_interactions").set_value(("ratings.csv", GOOD_INTERACTIONS, "text/csv"))
    at.file_uploader(key="upload_items").set_value(("items.csv", RENAMABLE_ITEMS, "text/csv"))
    at.run()
    at.text_input(key="rename_movie_title").set_value(new_name).run()  # reported before any "Load dataset"
    assert not at.exception and at.button(key="load_dataset").proto.disabled
    assert len(at.error) == 1 and problem in texts(at.error) and "movie_title" in texts(at.error)
    assert at.session_state["dataset"] is before


@pytest.mark.parametrize("span_seconds, axis, bars", [
    (0, "hour (UTC)", 1),  # every interaction at one instant: one bar, an axis of hours around it
    (10 * 3600, "hour (UTC)", 11),  # one day
    (6 * 86400, "day (UTC)", 7),  # one week
    (400 * 86400, "week (UTC)", 58),  # weeks start on Monday: 13 Nov 2023 to 16 Dec 2024
    (5 * 366 * 86400, "month (UTC)", 61),
])
def test_the_activity_chart_bins_by_the_span_of_the_data(span_seconds, axis, bars):
    from dashboard import plots

    start = 1_700_006_400  # 2023-11-15 00:00 UTC, a Wednesday
    steps = [0] if span_seconds == 0 else range(0, span_seconds + 1, max(span_seconds // 400, 1))
    fig = plots.activity_over_time(pd.Series([start + s for s in steps]))
    assert fig.layout.xaxis.title.text == axis and len(fig.data[0].x) == bars
    low, high = (pd.Timestamp(v) for v in fig.layout.xaxis.range)
    first, last = pd.Timestamp(start, unit="s"), pd.Timestamp(start + span_seconds, unit="s")
    assert low < first and last < high  # padded: no bar sits on the edge of the axis
    assert (high - low) <= (last - first) + pd.Timedelta(days=4 * 31)  # and not padded into emptiness


# -- train --------------------------------------------------------------------------
def test_training_from_the_train_page_makes_the_new_model_current(tiny_dataset):
    at = open_page("pages/2_Train.py", dataset=tiny_dataset, dataset_label="tiny")
    at.number_input(key="epochs").set_value(2)
    at.button(key="train").click().run()
    assert not at.exception and not at.error, texts(at.error)
    wait_for_training(at)
    assert not at.exception and not at.error, texts(at.error)
    assert "Training finished" in texts(at.success)
    assert at.session_state["model_label"].startswith("trained at")
    model = at.session_state["model"]
    assert model.catalog.n_items == 40 and 1 <= len(model.train_log) <= 2
    metrics = at.dataframe[0].value
    assert "HybridBERT" in metrics.index and "NDCG@10" in metrics.columns


def test_popular_negatives_with_the_bpr_loss_is_an_error_that_trains_nothing(tiny_dataset):
    at = open_page("pages/2_Train.py", dataset=tiny_dataset, dataset_label="tiny")
    at.selectbox(key="loss").set_value("bpr")
    at.number_input(key="popular_negatives").set_value(0.5)
    at.button(key="train").click().run()
    assert not at.exception
    assert "apply to the softmax loss only" in texts(at.error)  # BPR would have ignored the share
    label = at.session_state["model_label"] if "model_label" in at.session_state else ""
    assert not label.startswith("trained at") and "Training finished" not in texts(at.success)


def test_the_stop_button_ends_training_early_and_keeps_the_best_epoch(tiny_dataset):
    at = open_page("pages/2_Train.py", dataset=tiny_dataset, dataset_label="tiny")
    at.number_input(key="epochs").set_value(400)
    at.button(key="train").click().run()
    job = at.session_state["train_job"]
    deadline = time.time() + TIMEOUT
    while not job.epochs:  # stop once training (not encoding) is under way
        assert job.running and time.time() < deadline, job.error
        time.sleep(0.2)
    at.run()
    at.button(key="stop_training").click().run()
    wait_for_training(at)
    assert job.result.training.stopped == "stopped by user"
    assert len(job.result.train_log) < 400
    assert at.session_state["model"] is job.result


def test_saved_models_can_be_saved_listed_loaded_and_deleted(tiny_model, tiny_dataset, models_dir):
    ModelRegistry(models_dir).save(tiny_model, "tiny-one")
    at = open_page("pages/2_Train.py")
    assert list(at.dataframe[0].value["name"]) == ["tiny-one"]
    at.button(key="load_saved").click().run()
    assert at.session_state["model_label"] == "tiny-one"
    assert "Loaded **tiny-one**" in texts(at.success)
    at.text_input(key="delete_confirm").set_value("tiny-on").run()  # a name typed wrong deletes nothing
    at.button(key="delete_saved").click().run()
    assert "type its name exactly" in texts(at.error) and len(ModelRegistry(models_dir).list()) == 1
    at.text_input(key="delete_confirm").set_value("tiny-one").run()
    at.button(key="delete_saved").click().run()
    assert not at.exception
    assert ModelRegistry(models_dir).list() == []
    assert "No saved models yet" in texts(at.caption)
    assert [t.name for t in ModelRegistry(models_dir).trash()] == ["tiny-one"]  # restorable


def test_saving_under_a_bad_name_says_what_names_are_allowed(tiny_dataset, models_dir):
    at = open_page("pages/2_Train.py", dataset=tiny_dataset, dataset_label="tiny")
    at.number_input(key="epochs").set_value(1)
    at.button(key="train").click().run()
    wait_for_training(at)
    at.text_input(key="save_name").set_value("my model!")
    at.button(key="save").click().run()
    assert "letters, digits" in texts(at.error)
    at.text_input(key="save_name").set_value("tiny_v1")
    at.button(key="save").click().run()
    assert [i.name for i in ModelRegistry(models_dir).list()] == ["tiny_v1"]
    assert at.session_state["model_label"] == "tiny_v1"


# -- recommendations and evaluation --------------------------------------------------
def test_recommendations_for_a_demo_user_show_a_top_k_table():
    at = open_page("pages/3_Recommendations.py")
    user = at.selectbox(key="rec_user").value
    table = at.dataframe[1].value
    assert len(table) == 10
    # numbers first (never pushed out of view by text), and no saturated sigmoid "probability"
    assert list(table.columns) == ["rank", "score", "margin to next", "item", "title", "genres"]
    widths = {name: c.get("width") for name, c in json.loads(at.dataframe[1].proto.columns).items()}
    assert widths["rank"] + widths["score"] + widths["margin to next"] <= 200  # in view in any table width
    assert widths["title"] == widths["genres"] == "medium"  # text is bounded (full value on hover)
    seen = set(at.session_state["model"].catalog.item_ids[i] for i in at.session_state["model"].context(user).history)
    assert not seen & set(table["item"])  # seen items are hidden by default
    at.slider(key="rec_k").set_value(5).run()
    assert len(at.dataframe[1].value) == 5


def test_each_recommendation_shows_its_score_margin_to_the_next_best_unseen_item():
    at = open_page("pages/3_Recommendations.py")
    rec = at.session_state["model"]
    user = at.selectbox(key="rec_user").value
    table = at.dataframe[1].value
    everything = rec.recommend(user, None)  # every unseen item, best first
    assert list(table["item"]) == [r.item_id for r in everything[:10]]
    expected = [everything[i].score - everything[i + 1].score for i in range(10)]
    assert table["margin to next"].round(6).tolist() == [round(m, 6) for m in expected]
    assert f"Ranked from {len(everything):,} unseen items" in texts(at.caption)
    assert "probability" not in " ".join(map(str, table.columns)).lower()

    at.slider(key="rec_diversity").set_value(0.6).run()  # a diversified list is not in score order...
    table = at.dataframe[1].value
    assert not table["score"].is_monotonic_decreasing
    by_score = {r.item_id: i for i, r in enumerate(everything)}
    for item, margin in zip(table["item"], table["margin to next"]):  # ...but margins still are to the next score
        i = by_score[item]
        assert margin == pytest.approx(everything[i].score - everything[i + 1].score, abs=1e-6)
    assert "by score and diversity" in texts(at.caption)


def test_the_scores_of_the_list_are_charted_by_rank():
    at = open_page("pages/3_Recommendations.py")
    table = at.dataframe[1].value
    (chart,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    bars = chart["data"][0]
    assert bars["x"] == list(range(1, len(table) + 1))
    assert bars["y"] == pytest.approx(table["score"].tolist(), abs=1e-6)
    assert all(label.endswith(f"({item})") for label, item in zip(bars["customdata"], table["item"]))


def test_explain_opens_the_recommendation_chosen_just_before_the_click():
    """The button is a callback: it reads the choice when pressed, and the next run goes straight to Explain."""
    at = open_page("pages/3_Recommendations.py")
    user = at.selectbox(key="rec_user").value
    third = at.dataframe[1].value["item"].iloc[2]  # the list's third item
    at.selectbox(key="rec_explain_item").set_value(third)
    at.button(key="rec_explain").click().run()
    assert not at.exception, [e.value for e in at.exception]
    target = at.session_state["explain_target"]
    assert (target.user_id, target.item_id) == (user, third)
    assert "Score (logit)" in [m.label for m in at.metric]  # the Explain page ran
    assert at.selectbox(key="explain_item").value == third


def test_the_last_eligible_item_has_no_margin_rather_than_a_made_up_one(tiny_model):
    from dashboard import formatting

    ctx = tiny_model.context("u00")
    ranked = formatting.recommend_with_margins(tiny_model, ctx, 100)  # more than there are unseen items
    assert len(ranked.shown) == ranked.n_eligible == tiny_model.catalog.n_items - len(set(ctx.history))
    assert all(m >= 0 for m in ranked.margins[:-1]) and ranked.margins[-1] != ranked.margins[-1]  # NaN


def test_searching_users_by_profile_words_narrows_the_list():
    at = open_page("pages/3_Recommendations.py")
    at.text_input(key="rec_query").set_value("u0002").run()
    assert at.selectbox(key="rec_user").options == ["u0002"]
    at.text_input(key="rec_query").set_value("no such user anywhere").run()
    assert "No known user matches" in texts(at.warning)


def test_a_new_user_gets_recommendations_from_a_few_picked_items():
    at = open_page("pages/3_Recommendations.py")
    at.segmented_control(key="rec_mode").set_value("New user").run()
    assert "recommendations appear at once" in texts(at.info)
    items = at.session_state["model"].catalog.item_ids[:3]
    at.multiselect(key="new_user_items").set_value(items).run()
    assert not at.exception and not at.error
    table = at.dataframe[-1].value  # after the ratings table (the demo model reads ratings)
    assert len(table) == 10 and not set(items) & set(table["item"])


def test_a_new_user_of_a_model_that_reads_ratings_is_asked_for_them_and_they_count(tiny_model):
    assert tiny_model.reads_ratings
    items = tiny_model.catalog.item_ids[:3]
    at = open_page("pages/3_Recommendations.py", model=tiny_model, model_label="rated",
                   new_user_ratings={items[1]: 3.0})  # a rating typed earlier for the second item
    at.segmented_control(key="rec_mode").set_value("New user").run()
    at.multiselect(key="new_user_items").set_value(items).run()
    assert not at.exception and not at.error
    assert "Items they interacted with (oldest first)" == at.multiselect(key="new_user_items").label
    editor = at.dataframe[0].value  # the ratings table (st.data_editor) comes before the recommendations
    assert list(editor["rating"]) == [5.0, 3.0, 5.0]  # the top of the 3–5 scale unless typed
    table = at.dataframe[1].value
    expected = tiny_model.recommend_from_history(items, 10, ratings=[5.0, 3.0, 5.0])
    assert list(table["item"]) == [r.item_id for r in expected]
    unrated = tiny_model.recommend_from_history(items, 10, ratings=[5.0, 5.0, 5.0])
    assert [r.score for r in expected] != [r.score for r in unrated]  # the 3 changed the scores


def test_evaluation_charts_colour_models_with_the_shared_colour_blind_safe_palette():
    from dashboard import plots

    at = open_page("pages/5_Evaluation.py")
    assert not at.error, texts(at.error)
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    over_k = [c for c in charts if "@K" in c["layout"]["title"]["text"]]
    assert over_k and len(over_k) == len(at.session_state["model"].report.slices)
    for chart in over_k:
        colours = [t["line"]["color"] for t in chart["data"]]
        assert len(colours) >= 3 and len(set(colours)) == len(colours)  # every model its own colour
        assert colours == list(plots.PALETTE[: len(colours)])
        assert len({t["marker"]["symbol"] for t in chart["data"]}) == len(colours)  # and its own marker shape
    curve = next(c for c in charts if c["layout"]["title"]["text"] == "Training curve")
    assert [t["line"]["color"] for t in curve["data"]] == list(plots.PALETTE[:2])


def test_every_chart_that_colours_categories_takes_the_colours_from_one_palette(tiny_model):
    """The Explain and Feature-importance charts (dashboard.explain_view, importance_view) use plots.PALETTE too."""
    from dashboard import importance_view, plots
    from recsys_core.explain.global_importance import Bucket

    shares = {"low": {"title": 0.6, "genres": 0.4}, "mid": {"title": 0.5, "genres": 0.5}, "high": {"title": 0.3}}
    buckets = [Bucket(name, 1, 9, 100, 50, field_share) for name, field_share in shares.items()]
    fig = importance_view.bucket_bars(buckets, "By activity", "users")
    assert [t.marker.color for t in fig.data] == list(plots.PALETTE[:3])
    assert list(fig.layout.colorway) == list(plots.PALETTE)  # graph_objects traces without a colour of their own


@pytest.mark.parametrize("path, builder", [
    ("pages/5_Evaluation.py", "metric_over_k"), ("pages/1_Data.py", "activity_over_time"),
])
def test_an_unexpected_error_while_drawing_a_page_is_one_clear_message_not_a_traceback(monkeypatch, path, builder):
    from dashboard import plots

    def broken(*_args, **_kwargs):
        raise ValueError("a chart the dashboard could not draw")

    monkeypatch.setattr(plots, builder, broken)
    at = open_page(path)  # asserts that no exception (traceback) reached the page
    assert len(at.error) == 1
    assert "did not expect (ValueError: a chart the dashboard could not draw)" in texts(at.error)
    assert "details are in the server log" in texts(at.error)


def test_evaluation_states_the_protocol_next_to_the_numbers():
    at = open_page("pages/5_Evaluation.py")
    assert "Protocol." in texts(at.info)
    table = at.dataframe[0].value
    assert "HybridBERT" in table.index
    assert {"NDCG@5", "NDCG@10", "NDCG@20", "Recall@10", "HitRate@20"} <= set(table.columns)


# -- bad files and hostile text: a message, the previous state kept, text shown as text ---------------------
def adopt(tiny_model, tiny_dataset) -> dict:
    """Session values for a Train page whose last training finished with ``tiny_model``."""
    from dashboard.training import TrainingJob
    from recsys_core import FitOptions

    job = TrainingJob(tiny_dataset, FitOptions())
    job.result, job.started_at, job.finished_at = tiny_model, 1.0, time.time()  # a finished job, no thread
    return {"dataset": tiny_dataset, "dataset_label": "tiny", "train_job": job}


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_loading_a_damaged_saved_model_shows_an_error_and_keeps_the_current_model(tiny_model, models_dir, damage):
    info = ModelRegistry(models_dir).save(tiny_model, "damaged")
    weights = info.path / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[: 100 if damage == "truncated" else 0])
    at = open_page("pages/2_Train.py")
    before = at.session_state["model"]
    at.button(key="load_saved").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1 and "damaged" in at.error[0].value
    assert at.session_state["model"] is before and at.session_state["model_label"] == "demo model"
    at.switch_page("pages/3_Recommendations.py").run()  # the other pages go on with the previous model
    assert not at.exception and len(at.dataframe[1].value) == 10


@pytest.mark.parametrize("name", ["ok\n", "ok\t", "o\x00k"])
def test_a_model_name_with_a_control_character_is_refused_with_a_message(tiny_model, tiny_dataset, models_dir, name):
    at = open_page("pages/2_Train.py", **adopt(tiny_model, tiny_dataset))
    at.text_input(key="save_name").set_value(name)
    at.button(key="save").click().run()
    assert not at.exception
    assert "cannot be used as a model name" in texts(at.error)
    assert not models_dir.exists() or not any(models_dir.iterdir())
    assert at.session_state["model_label"].startswith("trained at")


def test_an_unexpected_error_in_a_page_action_is_one_message_not_a_traceback(monkeypatch):
    from dashboard import resources

    def broken(*_args, **_kwargs):
        raise KeyError("slices")  # a bug or a file recsys_core did not anticipate

    at = open_page("pages/1_Data.py")
    before = at.session_state["dataset"]
    monkeypatch.setattr(resources, "read_upload", broken)  # the page imported the name: patch both
    monkeypatch.setattr("recsys_core.loading.tables.read_table", broken)
    upload(at, GOOD_INTERACTIONS, GOOD_ITEMS)
    assert not at.exception, [e.value for e in at.exception]
    assert "did not expect (KeyError: 'slices')" in texts(at.error)
    assert at.session_state["dataset"] is before


HOSTILE_NAME = "![b](http://203.0.113.7/x.png) <img src=x onerror=alert(1)> $x^2$ [l](javascript:alert(1))"


def test_column_and_file_names_in_messages_and_headers_are_escaped_markdown():
    at = open_page("pages/1_Data.py")
    bad = f"{HOSTILE_NAME},item_id\nu1,i1\n".encode()  # no user column: the message lists this one
    upload(at, bad, GOOD_ITEMS)
    assert len(at.error) == 1
    message = at.error[0].value
    assert HOSTILE_NAME not in message and plain(HOSTILE_NAME) in message

    at.file_uploader(key="upload_interactions").set_value((f"{HOSTILE_NAME}.csv", GOOD_INTERACTIONS, "text/csv"))
    at.run()
    at.button(key="load_dataset").click().run()
    assert not at.error, texts(at.error)
    assert at.header[0].value == plain(f"{HOSTILE_NAME}.csv + items.csv")
    assert plain(f"{HOSTILE_NAME}.csv") in sources(at.sidebar.caption)


def test_the_recommendations_csv_neutralises_formula_cells_and_reads_back(tiny_model, monkeypatch):
    import dataclasses
    import io

    import pandas as pd
    import streamlit as st

    from recsys_core.exports import read_csv
    from recsys_core.text import build_field_text

    titles = [f'=HYPERLINK("http://203.0.113.7/{i}","{i}")' for i in range(tiny_model.catalog.n_items)]
    texts = [build_field_text({"title": t, "genres": "@SUM(A1:A9)"}, ["title", "genres"]) for t in titles]
    rec = dataclasses.replace(tiny_model, catalog=dataclasses.replace(tiny_model.catalog, item_texts=texts))
    served = []
    real = st.download_button

    def spy(label, data, *args, **kwargs):
        served.append(data)
        return real(label, data, *args, **kwargs)

    monkeypatch.setattr(st, "download_button", spy)
    at = open_page("pages/3_Recommendations.py", model=rec, model_label="formulas")
    shown = at.dataframe[1].value
    raw = pd.read_csv(io.BytesIO(served[-1]), dtype=str)  # what a spreadsheet would load
    assert raw["title"].str.startswith("'=").all() and raw["genres"].str.startswith("'@").all()
    back = read_csv(served[-1])
    assert list(back.columns[:1]) == ["user_id"] and set(back["user_id"]) == {at.selectbox(key="rec_user").value}
    assert list(back["item"]) == list(shown["item"]) and list(back["title"]) == list(shown["title"])
    assert back["score"].astype(float).round(6).tolist() == shown["score"].round(6).tolist()


# -- history window and ratings -------------------------------------------------------------
def test_the_data_page_says_which_ratings_mode_applies(tiny_dataset):
    at = open_page("pages/1_Data.py")  # the demo data rates 1 to 5
    assert "Ratings from 1 to 5 are used: the model reads each history item's rating" in texts(at.info)
    unrated = replace(tiny_dataset, interactions=tiny_dataset.interactions.drop(columns="rating"), has_ratings=False)
    at = open_page("pages/1_Data.py", dataset=unrated, dataset_label="unrated")
    assert "No ratings: every interaction counts as a like" in texts(at.info)


def test_the_train_page_shows_what_auto_resolves_to_and_trains_with_a_set_window_and_ratings_off(tiny_dataset):
    at = open_page("pages/2_Train.py", dataset=tiny_dataset, dataset_label="tiny")
    assert "Empty = auto: 8 — covers 100% of users fully." in texts(at.caption)  # every tiny user has 8 items
    assert at.number_input(key="max_history").value is None  # auto
    assert at.toggle(key="use_ratings").value is True
    assert "On: Ratings from 3 to 5 are used" in texts(at.caption)
    at.number_input(key="epochs").set_value(1)
    at.number_input(key="max_history").set_value(3)
    at.toggle(key="use_ratings").set_value(False)
    at.button(key="train").click().run()
    wait_for_training(at)
    assert not at.exception and not at.error, texts(at.error)
    model = at.session_state["model"]
    assert model.max_history == 3 and not model.reads_ratings
    assert "reads each user's latest 3 history items" in texts(at.success)


def test_the_train_page_trains_with_the_auto_window_and_offers_no_ratings_switch_without_ratings(tiny_dataset):
    unrated = replace(tiny_dataset, interactions=tiny_dataset.interactions.drop(columns="rating"), has_ratings=False)
    at = open_page("pages/2_Train.py", dataset=unrated, dataset_label="unrated")
    assert not [t for t in at.toggle if t.key == "use_ratings"]
    at.number_input(key="epochs").set_value(1)
    at.button(key="train").click().run()
    wait_for_training(at)
    assert at.session_state["model"].max_history == 8  # what "auto" said


def test_the_recommendations_history_marks_what_the_model_reads_with_ratings_and_dates(short_window_model):
    at = open_page("pages/3_Recommendations.py", model=short_window_model, model_label="window 3")
    user = at.selectbox(key="rec_user").value
    history = at.dataframe[0].value
    assert list(history["read by the model"]) == [True] * 3 + [False] * 5
    assert history["rated"].str.endswith("(of 3–5)").all()  # on the scale the model reads ratings on
    assert history["date (UTC)"].str.match(r"^2023-11-\d\d$").all()
    assert "The model reads the latest 3 of this user's 8 history items" in texts(at.caption), user


def test_the_demo_history_marks_the_model_window():
    at = open_page("pages/3_Recommendations.py")
    rec = at.session_state["model"]
    n = len(rec.context(at.selectbox(key="rec_user").value).history)
    history = at.dataframe[0].value
    assert history["read by the model"].sum() == min(n, rec.max_history) and len(history) == n


def test_mostly_textless_items_are_a_warning_on_the_data_and_train_pages():
    at = open_page("pages/1_Data.py")
    few_items = b"item_id,title,genres\ni0,Film 0,Drama\ni1,Film 1,Drama\n"  # 2 of the 6 interacted items
    upload(at, GOOD_INTERACTIONS, few_items)
    assert not at.exception and not at.error, texts(at.error)
    assert "67% of the interacted items" in texts(at.warning)
    at.switch_page("pages/2_Train.py").run()
    assert "67% of the interacted items" in texts(at.warning)


def test_home_and_evaluation_judge_the_lead_over_the_best_baseline_by_the_paired_interval():
    rec_report = open_page().session_state["model"].report
    test = rec_report.slices[0]
    expected = f"against {test.best_baseline()}, the best baseline here"
    home = open_page()
    assert any(expected in c and "paired difference" in c for c in texts(home.caption).splitlines())
    evaluation = open_page("pages/5_Evaluation.py")
    assert sum("the best baseline here" in c for c in texts(evaluation.caption).splitlines()) == len(rec_report.slices)
