"""The history window: how many of a user's latest items the model reads, its "auto" rule, and the tables
that say which items those are."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard import formatting
from recsys_core.errors import RecsysError
from recsys_core.loading import load_dataset
from recsys_core.ratings import RatingScale
from recsys_core.pipeline import (
    HISTORY_CAP,
    HISTORY_COVERAGE,
    FitOptions,
    auto_history_window,
    fit,
    history_window,
)
from recsys_core.training import TrainConfig


# -- the rule ------------------------------------------------------------------------------------
@pytest.mark.parametrize("lengths", [np.arange(1, 11), np.array([5] * 50 + [40] * 50), np.array([3, 3, 3, 45])])
def test_auto_is_the_smallest_window_that_holds_90_percent_of_whole_histories(lengths):
    window = auto_history_window(lengths)
    assert window.auto and not window.capped
    assert window.covered == np.mean(lengths <= window.size) >= HISTORY_COVERAGE
    assert np.mean(lengths <= window.size - 1) < HISTORY_COVERAGE  # one less would not do


def test_auto_is_capped_where_training_gets_too_slow():
    window = auto_history_window(np.array([10] * 5 + [1000] * 95))
    assert (window.size, window.capped) == (HISTORY_CAP, True)
    assert window.covered == 0.05
    assert f"capped at {HISTORY_CAP}" in window.describe()


def test_a_set_window_is_kept_whatever_the_data_and_a_window_below_one_is_refused():
    window = auto_history_window(np.array([1000] * 10), setting=7)
    assert (window.size, window.auto, window.covered) == (7, False, 0.0)
    assert window.describe().startswith("set: 7")
    with pytest.raises(RecsysError, match="at least 1"):
        auto_history_window(np.array([5]), setting=0)


def test_the_description_says_what_auto_resolves_to_and_how_many_users_it_covers():
    assert auto_history_window(np.arange(1, 51)).describe() == "auto: 45 — covers 90% of users fully"


# -- what the model stores -------------------------------------------------------------------------
def test_the_model_stores_the_resolved_window_of_its_training_data(tiny_dataset, embedding_cache):
    rec = fit(tiny_dataset, FitOptions(train=TrainConfig(epochs=1), baselines=False, cache_dir=embedding_cache))
    lengths = tiny_dataset.interactions.groupby("user_id").size()
    assert history_window(tiny_dataset).size == rec.max_history == int(np.quantile(lengths, 0.9, method="inverted_cdf"))
    assert rec.model.config.max_history == rec.max_history  # saved in config.json with the model


def test_a_set_window_reaches_the_model(short_window_model):
    assert short_window_model.max_history == short_window_model.model.config.max_history == 3


# -- the history tables -------------------------------------------------------------------------------
def test_the_history_table_marks_the_latest_items_the_model_reads(short_window_model):
    rec = short_window_model
    ctx = rec.context("u01")
    table = formatting.history_table(rec, ctx, ["title"])
    assert len(table) == len(ctx.history) == 8
    assert list(table[formatting.READ]) == [True] * 3 + [False] * 5  # newest first
    assert formatting.history_caption(rec, ctx).startswith("The model reads the latest 3 of this user's 8 history")


def test_the_history_table_shows_each_items_rating_on_the_models_scale_and_its_date(short_window_model, tiny_dataset):
    rec, ctx = short_window_model, short_window_model.context("u01")
    assert rec.reads_ratings
    table = formatting.history_table(rec, ctx, ["title"])
    rows = tiny_dataset.interactions.query("user_id == 'u01'").sort_values("timestamp", ascending=False)
    assert list(table["item"]) == list(rows["item_id"])
    scale = RatingScale(*rec.model.config.rating_scale)  # the tiny data rates 3 to 5: "5 (of 3–5)"
    assert list(table[formatting.RATED]) == [scale.stars(r) for r in rows["rating"]]
    assert list(table[formatting.DATE]) == list(pd.to_datetime(rows["timestamp"], unit="s").dt.strftime("%Y-%m-%d"))
    assert list(table.columns[:4]) == ["#", formatting.READ, formatting.RATED, formatting.DATE]


def test_ratings_read_as_plain_numbers_when_the_model_ignores_them(tiny_dataset, embedding_cache):
    rec = fit(tiny_dataset, FitOptions(use_ratings=False, train=TrainConfig(epochs=1), baselines=False,
                                       cache_dir=embedding_cache))
    assert not rec.reads_ratings
    table = formatting.history_table(rec, rec.context("u01"), [])
    assert all(not value.endswith("★") and float(value) in (3.0, 4.0, 5.0) for value in table[formatting.RATED])


def test_without_ratings_or_times_those_columns_are_left_out(tiny_dataset, embedding_cache):
    inter = tiny_dataset.interactions.drop(columns=["rating", "timestamp"])
    data = load_dataset(inter, tiny_dataset.items, item_fields=["title"])
    rec = fit(data, FitOptions(train=TrainConfig(epochs=1), baselines=False, cache_dir=embedding_cache))
    table = formatting.history_table(rec, rec.context("u01"), ["title"])
    assert list(table.columns) == ["#", formatting.READ, "item", "title"]


def test_a_new_users_history_is_marked_too(short_window_model):
    rec = short_window_model
    ctx = rec.new_user_context(rec.catalog.item_ids[:5], ratings=[5, 3, 4, 3, 4.5])
    table = formatting.history_table(rec, ctx, [])
    assert list(table[formatting.READ]) == [True, True, True, False, False]
    assert list(table[formatting.RATED]) == ["4.5 (of 3–5)", "3 (of 3–5)", "4 (of 3–5)", "3 (of 3–5)", "5 (of 3–5)"]
    assert formatting.DATE not in table.columns  # a new user's history has no dates
