"""Item and profile texts keep the span of every field."""
import math

from recsys_core.text import build_field_text, build_texts


def test_fields_are_named_and_spans_cover_them():
    ft = build_field_text({"title": "Heat (1995)", "genres": "Action, Crime"}, ["title", "genres"])
    assert ft.text == "title: Heat (1995) | genres: Action, Crime"
    for span in ft.spans:
        assert ft.text[span.start : span.end].startswith(span.field + ": ")
    assert ft.field_at(7, 11) == "title"
    assert ft.field_at(ft.text.index("Crime"), ft.text.index("Crime") + 5) == "genres"
    assert ft.field_at(18, 21) is None  # the separator belongs to no field


def test_empty_and_missing_values_are_left_out():
    ft = build_field_text({"title": "X", "genres": math.nan, "year": 1995.0}, ["title", "genres", "year"])
    assert ft.text == "title: X | year: 1995"
    assert [s.field for s in ft.spans] == ["title", "year"]


def test_build_texts_keys_by_id():
    import pandas as pd

    table = pd.DataFrame({"item_id": ["a", "b"], "title": ["One", "Two"]})
    texts = build_texts(table, "item_id", ["title"])
    assert texts["b"].text == "title: Two"


def test_values_and_without_round_trip():
    ft = build_field_text({"title": "Heat", "genres": "Crime", "year": 1995}, ["title", "genres", "year"])
    assert ft.values() == {"title": "Heat", "genres": "Crime", "year": "1995"}
    assert ft.without(["genres"]).text == "title: Heat | year: 1995"
    assert ft.without([]).text == ft.text
