"""Turning item metadata and user profiles into text, remembering where each field sits.

An item becomes ``title: Heat (1995) | genres: Action, Crime | description: …``.
Every text keeps the character span of each ``name: value`` segment so that
token attributions can later be summed per field (see ``recsys_core.explain``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

SEPARATOR = " | "


NAME_SUFFIX = ": "


@dataclass(frozen=True)
class Span:
    """Characters ``[start, end)`` of a text that belong to one field (``name: value``)."""

    field: str
    start: int
    end: int

    @property
    def value_start(self) -> int:
        """First character of the value, past ``name: ``."""
        return self.start + len(self.field) + len(NAME_SUFFIX)


@dataclass(frozen=True)
class FieldText:
    """A text built from named fields, with the span of each field."""

    text: str
    spans: tuple[Span, ...]

    def values(self) -> dict[str, str]:
        """``{"title": "Heat (1995)", ...}``: the value of every field present."""
        return {s.field: self.text[s.value_start : s.end] for s in self.spans}

    def without(self, fields) -> "FieldText":
        """The same record rebuilt without the given fields."""
        values = self.values()
        return build_field_text(values, [f for f in values if f not in set(fields)])

    def field_at(self, char_start: int, char_end: int) -> str | None:
        """Name of the field a character range falls in (None for separators)."""
        for span in self.spans:
            if span.start <= char_start and char_end <= span.end:
                return span.field
        return None


def _value_to_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # "1995" rather than "1995.0" after a CSV round-trip
    text = str(value).strip()
    return "" if text.lower() in {"nan", "none", "<na>"} else " ".join(text.split())


def build_field_text(values: dict[str, object], fields: list[str]) -> FieldText:
    """Join ``fields`` of one record as ``name: value`` segments; empty values are left out."""
    parts: list[str] = []
    spans: list[Span] = []
    cursor = 0
    for name in fields:
        value = _value_to_text(values.get(name))
        if not value:
            continue
        if parts:
            cursor += len(SEPARATOR)
        segment = f"{name}{NAME_SUFFIX}{value}"
        spans.append(Span(name, cursor, cursor + len(segment)))
        parts.append(segment)
        cursor += len(segment)
    return FieldText(SEPARATOR.join(parts), tuple(spans))


def build_texts(table: pd.DataFrame | None, id_column: str, fields: list[str]) -> dict[str, FieldText]:
    """FieldText of every row of an items or users table, keyed by id."""
    if table is None or not fields:
        return {}
    records = table[[id_column, *fields]].to_dict("records")
    return {str(r[id_column]): build_field_text(r, fields) for r in records}
