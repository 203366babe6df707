"""Tests for recsys_core.loading: file reading, validation messages and notices."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from recsys_core.errors import DataValidationError
from recsys_core.loading import (
    DEFAULT_MAX_BYTES,
    LoadOptions,
    describe_fields,
    load_dataset,
    load_interactions,
    read_table,
)
from recsys_core.schema import ColumnMap, Dataset

INTERACTIONS = """user_id,item_id,rating,timestamp
u1,i1,5,1700000000
u1,i2,3,1700000100
u2,i1,4,1700000200
u2,i3,2,1700000300
"""

ITEMS = """item_id,title,genres,year,budget
i1,Alpha,Drama,1995,1000
i2,Beta,Comedy,2001,2000
i3,Gamma,Action,1987,3000
"""

USERS = """user_id,age,occupation
u1,34,teacher
u2,27,nurse
"""


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def load(
    tmp_path: Path, interactions: str = INTERACTIONS, items: str = ITEMS, users: str | None = None, **kwargs
) -> Dataset:
    """Write the given CSV texts to tmp_path and load them."""
    users_path = write(tmp_path, "users.csv", users) if users is not None else None
    return load_dataset(
        write(tmp_path, "ratings.csv", interactions), write(tmp_path, "items.csv", items), users_path, **kwargs
    )


def notice(dataset: Dataset, code: str):
    found = [n for n in dataset.notices if n.code == code]
    assert found, f"no notice {code!r} in {dataset.notices}"
    return found[0]


def error_of(tmp_path: Path, **kwargs) -> str:
    with pytest.raises(DataValidationError) as caught:
        load(tmp_path, **kwargs)
    return str(caught.value)


# ---- happy path ----------------------------------------------------------


def test_clean_files_load_into_canonical_dataset(tmp_path):
    ds = load(tmp_path, users=USERS)
    assert list(ds.interactions.columns) == ["user_id", "item_id", "timestamp", "rating"]
    assert ds.interactions["timestamp"].dtype == "int64"
    assert ds.interactions["rating"].dtype == "float64"
    assert ds.has_ratings and ds.has_timestamps
    assert ds.item_fields == ["title", "genres", "year"]  # budget is a plain number: not text
    assert ds.user_fields == ["age", "occupation"]
    assert ds.summary() == {"interactions": 4, "users": 2, "items": 3, "users_with_profiles": 2}
    assert ds.items["year"].tolist() == [1995, 2001, 1987]


def test_interactions_sorted_by_user_then_time(tmp_path):
    text = "user_id,item_id,timestamp\nb,i1,30\na,i2,20\nb,i3,10\na,i1,5\n"
    ds = load(tmp_path, interactions=text)
    assert ds.interactions[["user_id", "item_id"]].values.tolist() == [
        ["a", "i1"], ["a", "i2"], ["b", "i3"], ["b", "i1"]
    ]


def test_without_timestamp_row_order_is_kept(tmp_path):
    ds = load(tmp_path, interactions="user_id,item_id\nu1,i3\nu2,i1\nu1,i1\n")
    assert not ds.has_timestamps and not ds.has_ratings
    assert "rating" not in ds.interactions.columns
    u1 = ds.interactions[ds.interactions["user_id"] == "u1"]
    assert u1["item_id"].tolist() == ["i3", "i1"]
    assert u1["timestamp"].is_monotonic_increasing


def test_column_map_renames_to_canonical_names(tmp_path):
    text = "userId,movieId,score,when\n1,10,4.5,1700000000\n"
    items = "movieId,title\n10,Heat\n"
    ds = load(
        tmp_path,
        interactions=text,
        items=items,
        columns=ColumnMap(user="userId", item="movieId", rating="score", timestamp="when"),
        item_id_col="movieId",
    )
    assert ds.interactions.iloc[0].to_dict() == {"user_id": "1", "item_id": "10", "timestamp": 1700000000, "rating": 4.5}
    assert list(ds.items.columns) == ["item_id", "title"]


# ---- read_table: formats, encodings, limits ----------------------------------


def test_csv_tsv_and_txt_tsv_detected(tmp_path):
    assert read_table(write(tmp_path, "a.csv", "x,y\n1,2\n")).columns.tolist() == ["x", "y"]
    assert read_table(write(tmp_path, "a.tsv", "x\ty\n1\t2\n")).columns.tolist() == ["x", "y"]
    txt = read_table(write(tmp_path, "a.txt", "x\ty\n1,5\t2\n"))  # comma inside data, tabs in header
    assert txt.columns.tolist() == ["x", "y"]
    assert txt["x"].tolist() == ["1,5"]


def test_csv_named_file_with_tabs_is_read_as_tsv(tmp_path):
    frame = read_table(write(tmp_path, "export.csv", "x\ty\n1\t2\n"))
    assert frame.columns.tolist() == ["x", "y"]


def test_bytes_without_name_are_sniffed(tmp_path):
    assert read_table(b"a\tb\n1\t2\n").columns.tolist() == ["a", "b"]
    assert read_table(b"a,b\n1,2\n").columns.tolist() == ["a", "b"]


def test_parquet_detected_by_magic_bytes_even_with_wrong_extension(tmp_path):
    path = tmp_path / "data.bin"
    pd.DataFrame({"user_id": [1, 2], "item_id": ["a", "b"]}).to_parquet(path)
    frame = read_table(path)
    assert frame["user_id"].tolist() == [1, 2]
    assert read_table(path.read_bytes(), name="upload.parquet")["item_id"].tolist() == ["a", "b"]


def test_parquet_ids_become_strings_without_float_artefacts(tmp_path):
    inter = tmp_path / "inter.parquet"
    pd.DataFrame({"user_id": [1, 2], "item_id": [7.0, 8.0]}).to_parquet(inter)
    items = tmp_path / "items.parquet"
    pd.DataFrame({"item_id": [7, 8], "title": ["A", "B"]}).to_parquet(items)
    ds = load_dataset(inter, items)
    assert sorted(ds.interactions["item_id"]) == ["7", "8"]
    assert ds.items["item_id"].tolist() == ["7", "8"]
    assert not [n for n in ds.notices if n.code == "items_without_metadata"]


def test_file_named_parquet_that_is_not_parquet(tmp_path):
    with pytest.raises(DataValidationError, match="named like a Parquet file"):
        read_table(write(tmp_path, "x.parquet", "a,b\n1,2\n"))


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfuser_id,item_id\nu1,i1\n")
    assert read_table(path).columns.tolist() == ["user_id", "item_id"]


def test_latin1_file_gives_utf8_error_with_location(tmp_path):
    path = write(tmp_path, "items_latin1.csv", "item_id,title\ni1,Amélie\n", encoding="latin-1")
    with pytest.raises(DataValidationError) as caught:
        read_table(path)
    message = str(caught.value)
    assert "items_latin1.csv" in message
    assert "not UTF-8" in message
    assert "line 2" in message
    assert "CSV UTF-8" in message


def test_utf16_file_gets_specific_message(tmp_path):
    path = tmp_path / "u16.txt"
    path.write_bytes("a\tb\n1\t2\n".encode("utf-16"))
    with pytest.raises(DataValidationError, match="UTF-16"):
        read_table(path)


def test_excel_workbook_is_refused_with_advice():
    with pytest.raises(DataValidationError, match="Excel"):
        read_table(b"PK\x03\x04rest-of-zip", name="ratings.xlsx")


def test_empty_file_error_names_the_file(tmp_path):
    with pytest.raises(DataValidationError) as caught:
        read_table(write(tmp_path, "nothing.csv", ""))
    assert "nothing.csv" in str(caught.value) and "empty" in str(caught.value)


def test_missing_path_error(tmp_path):
    with pytest.raises(DataValidationError, match="does not exist"):
        read_table(tmp_path / "nope.csv")


def test_size_limit_names_size_limit_and_remedy(tmp_path):
    path = write(tmp_path, "big.csv", "a,b\n" + "1,2\n" * 1000)
    with pytest.raises(DataValidationError) as caught:
        read_table(path, max_bytes=1024)
    message = str(caught.value)
    assert "big.csv" in message
    assert "3.9 KB" in message and "1.0 KB limit" in message
    assert "max_bytes" in message
    assert len(read_table(path, max_bytes=10_000)) == 1000  # a higher limit works
    assert DEFAULT_MAX_BYTES == 200 * 1024 * 1024


def test_size_limit_applies_to_file_objects_and_load_dataset(tmp_path):
    data = b"user_id,item_id\n" + b"u,i\n" * 100
    with pytest.raises(DataValidationError, match="limit"):
        read_table(io.BytesIO(data), name="up.csv", max_bytes=50)
    with pytest.raises(DataValidationError, match="ratings.csv"):
        load(tmp_path, max_bytes=20)


def test_malformed_csv_is_reported(tmp_path):
    path = write(tmp_path, "bad.csv", 'a,b\n1,2\n3,4,5,6\n')
    with pytest.raises(DataValidationError) as caught:
        read_table(path)
    assert "bad.csv" in str(caught.value) and "comma-separated" in str(caught.value)


def test_leading_zero_ids_stay_strings(tmp_path):
    ds = load(
        tmp_path,
        interactions="user_id,item_id\n007,0042\n7,42\n",
        items="item_id,title\n0042,Zero-padded\n42,Plain\n",
    )
    assert set(ds.interactions["user_id"]) == {"007", "7"}
    assert ds.items["item_id"].tolist() == ["0042", "42"]
    assert not [n for n in ds.notices if n.code == "items_without_metadata"]


def test_numeric_text_columns_converted_but_codes_kept():
    frame = read_table(b"zip,year,score,name\n02134,1995,1.5,a\n10001,,2,b\n")
    assert frame["zip"].tolist() == ["02134", "10001"]  # leading zero: stays text
    assert str(frame["year"].dtype) == "Int64" and frame["year"].iloc[0] == 1995
    assert frame["score"].tolist() == [1.5, 2.0]
    assert frame["name"].tolist() == ["a", "b"]


# ---- load_dataset: validation errors -------------------------------------


def test_empty_interactions_error(tmp_path):
    message = error_of(tmp_path, interactions="user_id,item_id\n")
    assert "ratings.csv" in message and "no rows" in message


def test_missing_interaction_id_column_lists_columns_and_suggests(tmp_path):
    message = error_of(tmp_path, interactions="userId,item_id\nu1,i1\n")
    assert "no column 'user_id'" in message
    assert "'userId', 'item_id'" in message
    assert "Did you mean 'userId'?" in message


def test_missing_item_id_column_in_items(tmp_path):
    message = error_of(tmp_path, items="movie,title\ni1,A\n")
    assert "items.csv" in message and "no column 'item_id'" in message and "'movie', 'title'" in message


def test_missing_user_id_column_in_users(tmp_path):
    message = error_of(tmp_path, users="uid,age\nu1,3\n")
    assert "users.csv" in message and "no column 'user_id'" in message and "'uid', 'age'" in message


def test_explicit_rating_column_that_does_not_exist(tmp_path):
    message = error_of(tmp_path, columns=ColumnMap(rating="stars"))
    assert "no column 'stars'" in message and "'rating'" in message


def test_duplicate_item_ids_error_names_examples_and_count(tmp_path):
    message = error_of(tmp_path, items="item_id,title\ni1,A\ni1,B\ni2,C\ni2,D\ni2,E\ni3,F\n")
    assert "2 item ids" in message
    assert "'i1' (2 rows)" in message and "'i2' (3 rows)" in message


def test_duplicate_user_ids_error(tmp_path):
    message = error_of(tmp_path, users="user_id,age\nu1,3\nu1,4\n")
    assert "1 user id" in message and "'u1' (2 rows)" in message


def test_blank_ids_error_counts_rows(tmp_path):
    message = error_of(tmp_path, interactions="user_id,item_id\nu1,i1\n,i2\n  ,i3\nu2,i1\n")
    assert "2 rows have no user id" in message
    assert "rows 3, 4" in message and "row 1 is the header" in message


def test_blank_item_ids_in_items_table(tmp_path):
    message = error_of(tmp_path, items="item_id,title\ni1,A\n,B\ni3,C\n")
    assert "items.csv" in message and "1 row has no item id" in message and "row 3" in message


def test_non_numeric_ratings_error_shows_examples(tmp_path):
    text = "user_id,item_id,rating\nu1,i1,4\nu1,i2,five\nu2,i1,\nu2,i3,4.5\n"
    message = error_of(tmp_path, interactions=text)
    assert "2 values in the rating column 'rating' are not a number" in message
    assert "'five' on row 3" in message and "(empty) on row 4" in message


def test_numeric_string_ratings_accepted(tmp_path):
    ds = load(tmp_path, interactions="user_id,item_id,rating\nu1,i1,4\nu1,i2,4.5\n")
    assert sorted(ds.interactions["rating"]) == [4.0, 4.5]


def test_unparseable_timestamps_error(tmp_path):
    text = "user_id,item_id,timestamp\nu1,i1,2024-01-05\nu1,i2,yesterday\nu2,i1,31/31/2024\n"
    message = error_of(tmp_path, interactions=text)
    assert "2 values in the timestamp column" in message
    assert "'yesterday' on row 3" in message
    assert "2024-03-31" in message  # tells the accepted format


def test_iso_timestamps_parsed(tmp_path):
    text = "user_id,item_id,timestamp\nu1,i1,2024-01-01\nu1,i2,2024-01-01T00:01:00Z\nu2,i1,2024-01-01 00:00:10\n"
    ds = load(tmp_path, interactions=text)
    u1 = ds.interactions[ds.interactions["user_id"] == "u1"]["timestamp"].tolist()
    assert u1 == [1704067200, 1704067260]
    assert ds.interactions[ds.interactions["user_id"] == "u2"]["timestamp"].tolist() == [1704067210]


def test_millisecond_timestamps_converted(tmp_path):
    text = "user_id,item_id,timestamp\nu1,i1,1700000000123\nu1,i2,1700000100999\n"
    ds = load(tmp_path, interactions=text)
    assert ds.interactions["timestamp"].tolist() == [1700000000, 1700000100]
    assert notice(ds, "timestamps_converted").count == 2


def test_no_text_fields_in_items(tmp_path):
    message = error_of(tmp_path, items="item_id,budget\ni1,10\ni2,20\ni3,30\n")
    assert "No text fields selected" in message and "'budget'" in message


def test_empty_item_fields_selection(tmp_path):
    message = error_of(tmp_path, item_fields=[])
    assert "No text fields selected" in message and "'title'" in message


def test_unknown_item_fields_lists_available(tmp_path):
    message = error_of(tmp_path, item_fields=["title", "plot"])
    assert "field(s) 'plot' does not exist in the items file" in message
    assert "'title', 'genres', 'year', 'budget'" in message


def test_unknown_user_fields(tmp_path):
    message = error_of(tmp_path, users=USERS, user_fields=["gender"])
    assert "'gender'" in message and "'age', 'occupation'" in message


def test_min_rating_without_rating_column(tmp_path):
    message = error_of(tmp_path, interactions="user_id,item_id\nu1,i1\n", min_rating=4)
    assert "minimum rating of 4" in message and "no rating column" in message


def test_min_rating_that_leaves_nothing(tmp_path):
    message = error_of(tmp_path, min_rating=6)
    assert "No interactions are left" in message and "range from 2 to 5" in message


# ---- load_dataset: notices and repairs ------------------------------------


def test_min_rating_filters_and_reports(tmp_path):
    ds = load(tmp_path, min_rating=4)
    assert ds.interactions["rating"].min() >= 4
    assert len(ds.interactions) == 2
    assert notice(ds, "below_min_rating").count == 2


def test_duplicate_interactions_dropped_with_count(tmp_path):
    text = INTERACTIONS + "u1,i1,5,1700000000\nu1,i1,1,1700000000\nu1,i1,5,1700009999\n"
    ds = load(tmp_path, interactions=text)
    assert notice(ds, "duplicate_interactions").count == 2
    assert len(ds.interactions) == 5  # same user/item at another time is not a duplicate
    first = ds.interactions[(ds.interactions["item_id"] == "i1") & (ds.interactions["timestamp"] == 1700000000)]
    assert first["rating"].tolist() == [5.0]  # first occurrence kept


def test_duplicates_without_timestamp_use_user_and_item(tmp_path):
    ds = load(tmp_path, interactions="user_id,item_id\nu1,i1\nu1,i1\nu1,i2\n")
    assert notice(ds, "duplicate_interactions").count == 1
    assert len(ds.interactions) == 2


def test_items_without_metadata_added_to_catalogue(tmp_path):
    text = INTERACTIONS + "u2,i9,4,1700000400\nu1,i9,4,1700000500\n"
    ds = load(tmp_path, interactions=text)
    assert notice(ds, "items_without_metadata").count == 2  # two interactions, one item
    assert ds.items["item_id"].tolist() == ["i1", "i2", "i3", "i9"]
    added = ds.items.set_index("item_id").loc["i9"]
    assert pd.isna(added["title"]) and pd.isna(added["year"])
    assert ds.items["year"].iloc[0] == 1995 and str(ds.items["year"].dtype) == "Int64"


def test_single_interaction_users_counted(tmp_path):
    ds = load(tmp_path, interactions=INTERACTIONS + "u3,i1,4,1700000500\nu4,i2,4,1700000600\n")
    assert notice(ds, "single_interaction_users").count == 2


def test_profile_coverage_notices(tmp_path):
    users = "user_id,age\nu1,30\nu8,40\nu9,50\n"
    ds = load(tmp_path, users=users)
    assert notice(ds, "users_without_interactions").count == 2
    assert notice(ds, "interactions_without_user_profile").count == 2  # u2's two interactions
    assert len(ds.users) == 3


def test_the_core_decides_which_notices_are_warnings(tmp_path):
    # Dropped rows and entities known only by an id are warnings on every page and in the CLI;
    # what a setting did, or what is merely worth knowing, is information.
    text = INTERACTIONS + "u1,i1,5,1700000000\nu2,i9,4,1700000400\nu3,i1,4,1700000500\n"
    ds = load(tmp_path, interactions=text, users="user_id,age\nu1,30\nu8,40\n", min_rating=3)
    severities = {n.code: n.severity for n in ds.notices}
    assert severities == {
        "duplicate_interactions": "warning",
        "items_without_metadata": "warning",
        "interactions_without_user_profile": "warning",
        "single_interaction_users": "warning",
        "below_min_rating": "info",
        "items_without_interactions": "info",
        "users_without_interactions": "info",
    }
    assert all(n.is_warning == (n.severity == "warning") for n in ds.notices)


def test_load_options_are_load_datasets_choices_and_survive_json(tmp_path):
    options = LoadOptions.of(columns=ColumnMap(rating="rating"), item_fields=["title"], min_rating=3,
                             rename={"title": "name"})
    assert LoadOptions.from_dict(json.loads(json.dumps(options.to_dict()))) == options
    ds = load(tmp_path, **options.kwargs())
    assert ds.item_fields == ["name"] and ds.interactions["rating"].min() >= 3
    with pytest.raises(ValueError):
        LoadOptions.from_dict({**options.to_dict(), "min_rating": "3"})


def test_no_profile_notice_without_users_table(tmp_path):
    ds = load(tmp_path)
    codes = {n.code for n in ds.notices}
    assert "interactions_without_user_profile" not in codes and ds.users is None
    assert ds.user_fields == []


# ---- inputs: DataFrames, file objects -------------------------------------


def test_dataframe_input_works_and_is_not_modified():
    inter = pd.DataFrame({"user_id": [1, 2], "item_id": [10, 11], "rating": [4, 5]})
    items = pd.DataFrame({"item_id": [10, 11], "title": ["A", "B"]})
    ds = load_dataset(inter, items)
    assert ds.interactions["user_id"].tolist() == ["1", "2"]
    assert ds.items["item_id"].tolist() == ["10", "11"]
    assert inter["user_id"].tolist() == [1, 2]  # caller's frame untouched


def test_dataframe_error_mentions_table_role():
    with pytest.raises(DataValidationError, match="The items table"):
        load_dataset(pd.DataFrame({"user_id": ["u"], "item_id": ["i"]}), pd.DataFrame({"x": ["i"]}))


class FakeUpload(io.BytesIO):
    """Stands in for Streamlit's UploadedFile: .name, .size and .getvalue()."""

    def __init__(self, name: str, data: bytes):
        super().__init__(data)
        self.name = name
        self.size = len(data)


def test_file_like_with_name_works():
    ds = load_dataset(
        FakeUpload("ratings.tsv", INTERACTIONS.replace(",", "\t").encode()),
        FakeUpload("items.csv", ITEMS.encode()),
    )
    assert len(ds.interactions) == 4


def test_file_like_errors_use_its_name():
    with pytest.raises(DataValidationError, match="my_ratings.csv"):
        load_dataset(FakeUpload("my_ratings.csv", b"a,b\n1,2\n"), FakeUpload("items.csv", ITEMS.encode()))


def test_name_and_bytes_tuple_input():
    ds = load_dataset(("r.csv", INTERACTIONS.encode()), ("i.csv", ITEMS.encode()))
    assert ds.n_items == 3


# ---- describe_fields --------------------------------------------------------


def test_describe_fields_rule():
    items = pd.DataFrame(
        {
            "item_id": ["a", "b"],
            "title": ["A", "B"],
            "release_year": [1990, 1991],
            "budget": [1, 2],
            "rating_avg": [3.5, 4.0],
            "empty": [None, None],
            "genre": pd.Categorical(["x", "y"]),
        }
    )
    assert describe_fields(items) == ["title", "release_year", "genre"]


def test_na_like_text_is_an_id_not_a_blank(tmp_path):
    ds = load(tmp_path, interactions="user_id,item_id\nNA,i1\nNone,i2\n")
    assert sorted(ds.interactions["user_id"]) == ["NA", "None"]


def test_load_interactions_alone(tmp_path):
    path = write(tmp_path, "new.csv", "uid,iid\nb,i2\na,i1\nb,i2\n")
    frame = load_interactions(path, columns=ColumnMap(user="uid", item="iid"))
    assert frame[["user_id", "item_id"]].values.tolist() == [["a", "i1"], ["b", "i2"]]
    assert frame["timestamp"].dtype == "int64"


# -- issue 8: broken and unlucky files get messages, not tracebacks or silent garbage ------------


def test_utf16_without_a_byte_order_mark_is_named_and_the_message_has_no_nul():
    for encoding in ("utf-16-le", "utf-16-be"):
        with pytest.raises(DataValidationError, match="UTF-16") as info:
            read_table(("i.csv", INTERACTIONS.encode(encoding)))
        assert "\x00" not in str(info.value) and len(info.value.summary) < 200


def test_a_nul_byte_in_a_csv_is_reported_with_its_line():
    with pytest.raises(DataValidationError, match=r"NUL byte \(line 3\)"):
        read_table(("i.csv", INTERACTIONS.replace("u1,i2", "u1\x00,i2").encode()))


def test_nul_characters_in_ids_are_refused():
    frame = pd.read_csv(io.StringIO(INTERACTIONS))
    frame.loc[1, "user_id"] = "u1\x00"
    with pytest.raises(DataValidationError, match="NUL character"):
        load_dataset(frame, ITEMS.encode())


def test_parquet_list_cells_become_comma_separated_text():
    items = pd.DataFrame({"item_id": ["i1", "i2", "i3"], "genres": [["Drama", "Crime"], ["Comedy"], []]})
    buffer = io.BytesIO()
    items.to_parquet(buffer)
    table = read_table(("items.parquet", buffer.getvalue()))
    assert table["genres"].tolist() == ["Drama, Crime", "Comedy", ""]


def test_duplicate_column_names_are_reported():
    with pytest.raises(DataValidationError, match=r"two columns named 'item_id' \(columns 2 and 3\)"):
        read_table(("i.csv", b"user_id,item_id,item_id\nu1,i1,i2\n"))
    with pytest.raises(DataValidationError, match="two columns named 'title'"):
        read_table(("i.csv", b"item_id,title, title\ni1,a,b\n"))  # equal once spaces are stripped
    assert list(read_table(("i.csv", b"item_id,x,x.1\ni1,a,b\n")).columns) == ["item_id", "x", "x.1"]


def test_iso_dates_after_2262_are_read_and_flagged():
    text = INTERACTIONS.replace("1700000300", "3000-01-01").replace("1700000000", "2020-01-01").replace(
        "1700000100", "2020-01-02").replace("1700000200", "2020-01-03")
    dataset = load_dataset(text.encode(), ITEMS.encode())
    assert dataset.interactions["timestamp"].max() == 32503680000
    [future] = [n for n in dataset.notices if n.code == "timestamps_in_future"]
    assert future.severity == "warning" and "3000-01-01" in future.message


def test_interactions_whose_items_have_no_text_are_an_error():
    other_items = ITEMS.replace("i1,", "x1,").replace("i2,", "x2,").replace("i3,", "x3,")
    with pytest.raises(DataValidationError, match="No interacted item has text") as info:
        load_dataset(INTERACTIONS.encode(), other_items.encode())
    assert len(info.value.summary) < 200


def test_mostly_text_less_items_are_a_warning_with_the_share():
    items = ITEMS.replace("i2,", "x2,").replace("i3,", "x3,")  # only i1 of i1..i3 keeps its text
    dataset = load_dataset(INTERACTIONS.encode(), items.encode(), item_fields=["title"])
    [warning] = [n for n in dataset.notices if n.code == "items_mostly_without_text"]
    assert warning.severity == "warning" and "67%" in warning.message and warning.count == 2


# ---- renaming the fields that become text -------------------------------------------


def test_rename_changes_the_field_name_bert_reads(tmp_path):
    from recsys_core.text import build_texts

    data = load(tmp_path, users=USERS, rename={"title": "name", "occupation": "job"})
    assert list(data.items.columns) == ["item_id", "name", "genres", "year", "budget"]
    assert data.item_fields == ["name", "genres", "year"] and data.user_fields == ["age", "job"]
    assert build_texts(data.items, "item_id", data.item_fields)["i1"].text == "name: Alpha | genres: Drama | year: 1995"


def test_selected_fields_may_use_the_old_or_the_new_name(tmp_path):
    old = load(tmp_path, rename={"title": "name"}, item_fields=["title", "genres"])
    new = load(tmp_path, rename={"title": "name"}, item_fields=["name", "genres"])
    assert old.item_fields == new.item_fields == ["name", "genres"]


@pytest.mark.parametrize(
    "rename, expected",
    [
        ({"titel": "name"}, "Cannot rename 'titel': the items file has no such column. Did you mean 'title'?"),
        ({"title": "genres"}, "Cannot rename 'title' to 'genres': the items file already has a column of that name"),
        ({"title": "item_id"}, "already has a column of that name"),
        ({"item_id": "id"}, "it is an id column"),
        ({"title": ""}, "new name for 'title' is empty"),
        ({"title": "a: b"}, "contains ':'"),
        ({"title": "a | b"}, "contains '|'"),
        ({"title": "x", "genres": "x"}, "'title' and 'genres' would both be renamed to 'x'"),
    ],
)
def test_bad_renames_are_clear_errors(tmp_path, rename, expected):
    with pytest.raises(DataValidationError) as caught:
        load(tmp_path, rename=rename)
    assert expected in caught.value.summary
    assert len(caught.value.summary) < 200


def test_rename_of_a_column_missing_everywhere_lists_what_can_be_renamed(tmp_path):
    with pytest.raises(DataValidationError) as caught:
        load(tmp_path, users=USERS, rename={"plot": "story"})
    assert "the items or users file has no such column" in caught.value.summary
    assert "'occupation'" in caught.value.details and "'title'" in caught.value.details


def test_a_chosen_items_id_column_that_is_missing_names_the_items_option(tmp_path):
    message = error_of(tmp_path, item_id_col="movie_id")
    assert "no column 'movie_id'" in message and "--items-item-col" in message
