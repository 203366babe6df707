"""RecBole atomic files (.inter/.item/.user) load like any table, with clean column names."""
from __future__ import annotations

import pandas as pd
import pytest

from recbole_files import ML_INTER, ML_ITEM, ML_USER
from recsys_core.errors import DataValidationError
from recsys_core.loading import load_dataset, load_interactions, read_table
from recsys_core.text import build_texts


def ml_dataset(**kwargs):
    return load_dataset(("ml-100k.inter", ML_INTER), ("ml-100k.item", ML_ITEM), ("ml-100k.user", ML_USER), **kwargs)


def test_atomic_files_load_with_clean_column_names_and_types():
    data = ml_dataset()
    assert list(data.interactions.columns) == ["user_id", "item_id", "timestamp", "rating"]
    assert data.has_ratings and data.has_timestamps
    assert data.interactions["timestamp"].min() > 881_000_000  # unix seconds, read as a number
    assert list(data.items.columns) == ["item_id", "movie_title", "release_year", "class"]
    assert list(data.users.columns) == ["user_id", "age", "gender", "occupation", "zip_code"]
    assert data.item_fields == ["movie_title", "release_year", "class"]
    assert data.user_fields == ["age", "gender", "occupation", "zip_code"]


def test_tokens_stay_text_and_zip_codes_keep_their_zero():
    data = ml_dataset()
    assert data.users.set_index("user_id").loc["6", "zip_code"] == "02138"
    assert data.users["age"].map(type).eq(str).all()  # a token is a category, not a quantity
    assert data.items.set_index("item_id").loc["1", "release_year"] == "1995"


def test_label_lists_become_comma_lists_and_tokenised_titles_stay_words():
    items = ml_dataset().items.set_index("item_id")
    assert items.loc["1", "class"] == "Animation, Children's, Comedy"
    assert items.loc["1", "movie_title"] == "Toy Story"
    text = build_texts(items.reset_index(), "item_id", ["movie_title", "class"])["4"].text
    assert text == "movie_title: Get Shorty | class: Action, Comedy, Drama"


def test_a_notice_says_the_file_was_read_as_recbole():
    messages = [n.message for n in ml_dataset().notices if n.code == "recbole_format"]
    assert len(messages) == 3
    assert "user_id:token → user_id" in messages[0]
    assert "'class' holds label lists" in messages[1]


@pytest.mark.parametrize("name", ["ml-100k.inter", "ratings.tsv", "ratings.txt", "ratings.csv", None])
def test_typed_headers_are_recognised_by_content_whatever_the_name(name):
    frame = read_table(ML_INTER, name=name)
    assert list(frame.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert pd.api.types.is_integer_dtype(frame["timestamp"])


def test_atomic_extension_means_tabs_and_strips_typed_names_even_when_some_are_untyped():
    frame = read_table(("x.item", b"item_id:token\ttitle\tprice:float\ni1\tHeat, the film\t9.5\n"))
    assert list(frame.columns) == ["item_id", "title", "price"]
    assert frame.loc[0, "title"] == "Heat, the film" and frame.loc[0, "price"] == 9.5


def test_a_typed_looking_name_in_an_ordinary_csv_is_kept():
    frame = read_table(("stats.csv", b"item_id,ratio:float\ni1,0.5\n"))
    assert list(frame.columns) == ["item_id", "ratio:float"]


def test_float_seq_cells_become_number_lists():
    frame = read_table(("x.item", b"item_id:token\tvec:float_seq\ni1\t0.5 1.25\n"))
    assert frame.loc[0, "vec"] == "0.5, 1.25"


def test_a_dataframe_read_with_pandas_from_an_atomic_file_is_cleaned_too():
    raw = pd.read_csv(__import__("io").BytesIO(ML_INTER), sep="\t", dtype=str)
    data = load_dataset(raw, ("ml-100k.item", ML_ITEM))
    assert data.interactions["user_id"].nunique() == 6 and data.has_ratings
    assert list(raw.columns)[0] == "user_id:token"  # the caller's frame is not modified


def test_load_interactions_reads_atomic_files():
    frame = load_interactions(("new.inter", ML_INTER))
    assert list(frame.columns)[:3] == ["user_id", "item_id", "timestamp"]


def test_names_that_collide_once_typed_suffixes_go_are_refused():
    with pytest.raises(DataValidationError, match="two columns named 'rating' once the RecBole types are removed"):
        read_table(("x.inter", b"user_id:token\titem_id:token\trating:float\trating:token\n1\t2\t3\t4\n"))


def test_an_atomic_interactions_file_without_a_user_column_names_the_option():
    inter = b"item_id:token\trating:float\n1\t4\n2\t5\n"
    with pytest.raises(DataValidationError) as caught:
        load_dataset(("ml.inter", inter), ("ml.item", ML_ITEM))
    assert "no column 'user_id'" in caught.value.summary and "--user-col" in caught.value.summary
    assert "'item_id', 'rating'" in caught.value.details  # clean names are listed


def test_a_bad_rating_in_an_atomic_file_is_named_with_its_row():
    inter = b"user_id:token\titem_id:token\trating:float\n1\t1\t4\n1\t2\tfive\n"
    with pytest.raises(DataValidationError, match="not a number.*'five' on row 3"):
        load_dataset(("ml.inter", inter), ("ml.item", ML_ITEM))


def test_label_lists_are_told_from_words_by_how_often_tokens_recur():
    from recsys_core.loading.recbole import _is_label_list

    genres = pd.Series(["Drama Crime", "Comedy", "Drama", "Comedy Drama", "Crime Thriller", "Thriller Drama", "Comedy"])
    titles = pd.Series(["The Deep Blue Sea", "Heat", "The Usual Suspects", "Blue Velvet", "Sea of Love", "Alien", "Jaws"])
    assert _is_label_list(genres)
    assert not _is_label_list(titles)  # "The", "Blue" and "Sea" recur, most words do not
    assert not _is_label_list(pd.Series(["Drama Crime"]))  # one row cannot tell: words, nothing lost
