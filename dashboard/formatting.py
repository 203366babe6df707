"""Tables and labels built from recsys_core objects (pure functions, no Streamlit)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from recsys_core.evaluation import MODEL_NAME, EvaluationReport, SliceResult
from recsys_core.metrics import METRIC_NAMES, metric_table
from recsys_core.recommender import Recommendation, Recommender
from recsys_core.schema import Dataset
from recsys_core.text import FieldText

HEADLINE_METRICS = ("NDCG@10", "Recall@10", "HitRate@10")
EXTRA_METRICS = ("Coverage@10", "Diversity@10")
# Notices that mean data was dropped or will train poorly; the rest are informational.
WARNING_NOTICES = {
    "duplicate_interactions",
    "items_without_metadata",
    "single_interaction_users",
    "interactions_without_user_profile",
}
BEST_STYLE = "background-color: rgba(255, 75, 75, 0.22); font-weight: 700"


# -- items and users ---------------------------------------------------------------
def field_values(text: FieldText | None) -> dict[str, str]:
    """``{"title": "Heat", ...}`` from a text built as ``title: Heat | genres: …``."""
    return {} if text is None else text.values()


def item_values(rec: Recommender, index: int) -> dict[str, str]:
    return field_values(rec.catalog.item_texts[index])


def item_label(rec: Recommender, item_id: str) -> str:
    """The item's first text field (its title in the demo) followed by its id."""
    values = item_values(rec, rec.item_position(item_id))
    first = next(iter(values.values()), "")
    return f"{first} ({item_id})" if first else item_id


def sigmoid(x: np.ndarray | float) -> np.ndarray | float:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def items_table(rec: Recommender, indices: Sequence[int], fields: Sequence[str]) -> pd.DataFrame:
    rows = []
    for i in indices:
        values = item_values(rec, int(i))
        rows.append({"item": rec.catalog.item_ids[int(i)], **{f: values.get(f, "") for f in fields}})
    return pd.DataFrame(rows, columns=["item", *fields])


def recommendations_table(rec: Recommender, recs: Sequence[Recommendation], fields: Sequence[str]) -> pd.DataFrame:
    """Rank, item, the chosen text fields, score (logit) and probability = sigmoid(score)."""
    table = items_table(rec, [rec.item_position(r.item_id) for r in recs], fields)
    table.insert(0, "rank", [r.rank for r in recs])
    table["score"] = [r.score for r in recs]
    table["probability"] = sigmoid(table["score"].to_numpy()) if recs else []
    return table


def history_table(rec: Recommender, history: np.ndarray, fields: Sequence[str]) -> pd.DataFrame:
    """A user's history, most recent first (``#1`` is the latest)."""
    newest_first = list(history[::-1])
    table = items_table(rec, newest_first, fields)
    table.insert(0, "#", range(1, len(newest_first) + 1))
    return table


def default_display_fields(fields: Sequence[str], n: int = 2) -> list[str]:
    """Short fields first: long free text (description, about) is kept out of tables by default."""
    short = [f for f in fields if f.lower() not in {"description", "about", "plot", "summary", "overview"}]
    return (short or list(fields))[:n]


def user_search(rec: Recommender, query: str, limit: int = 1000) -> list[str]:
    """Known users whose id or profile text contains ``query`` (case-insensitive)."""
    users = rec.known_users()
    q = query.strip().lower()
    if q:
        texts = {u: t.text.lower() for u, t in zip(rec.catalog.profile_ids, rec.catalog.profile_texts)}
        users = [u for u in users if q in u.lower() or q in texts.get(u, "")]
    return users[:limit]


# -- datasets ---------------------------------------------------------------------
def dataset_line(dataset: Dataset) -> str:
    s = dataset.summary()
    line = f"{s['interactions']:,} interactions · {s['users']:,} users · {s['items']:,} items"
    return line + (f" · {s['users_with_profiles']:,} profiles" if s["users_with_profiles"] else "")


def model_line(rec: Recommender) -> str:
    n_users = len(rec.catalog.histories)
    return f"{rec.catalog.n_items:,} items · {n_users:,} users · encoder {rec.encoder_config.name}"


def text_lengths(items: pd.DataFrame, fields: Sequence[str]) -> pd.DataFrame:
    """Long table (field, characters) of each item field's text length; empty values left out."""
    parts = []
    for f in fields:
        values = items[f].dropna().astype(str).str.strip()
        values = values[values != ""]
        parts.append(pd.DataFrame({"field": f, "characters": values.str.len().to_numpy()}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["field", "characters"])


# -- evaluation --------------------------------------------------------------------
def slice_table(s: SliceResult, ks: Sequence[int], families: Sequence[str] = METRIC_NAMES) -> pd.DataFrame:
    """Models × ``metric@K`` for the chosen metric families, plus coverage and diversity when reported."""
    table = metric_table(s.metrics, ks)
    table = table[[f"{name}@{k}" for name in families for k in ks]]
    for extra in EXTRA_METRICS:
        if any(extra in m for m in s.metrics.values()):
            table[extra] = [s.metrics[m].get(extra, np.nan) for m in table.index]
    return table


def interval_table(s: SliceResult, ks: Sequence[int], families: Sequence[str] = METRIC_NAMES) -> pd.DataFrame:
    """Models × ``metric@K``: half-width of each metric's 95% interval over the evaluated users (NaN if unknown).

    Reports saved before intervals were recorded have none: the table is then empty.
    """
    columns = [f"{name}@{k}" for name in families for k in ks]
    rows = {model: [s.ci95.get(model, {}).get(c, np.nan) for c in columns] for model in s.ci95}
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns)


def highlight_best(table: pd.DataFrame):
    """A Styler with the best (highest) value of each ranking-metric column highlighted, 4 decimals.

    Coverage and diversity are not highlighted: a random list maximises both.
    """
    ranking = [c for c in table.columns if c not in EXTRA_METRICS]
    return table.style.highlight_max(axis=0, subset=ranking, props=BEST_STYLE).format("{:.4f}", na_rep="–")


def best_baseline(report: EvaluationReport, slice_name: str = "test", metric: str = "NDCG@10") -> str | None:
    metrics = next((s.metrics for s in report.slices if s.name == slice_name), {})
    baselines = {name: m.get(metric, -1.0) for name, m in metrics.items() if name != MODEL_NAME}
    return max(baselines, key=baselines.get) if baselines else None


def headline(report: EvaluationReport, metrics: Sequence[str] = HEADLINE_METRICS) -> pd.DataFrame:
    """The model next to its best baseline on the test slice (rows: the two models)."""
    test = next(s for s in report.slices if s.name == "test")
    names = [MODEL_NAME] + [b for b in [best_baseline(report)] if b]
    table = pd.DataFrame({m: [test.metrics.get(n, {}).get(m, np.nan) for n in names] for m in metrics}, index=names)
    table.index.name = "model"
    return table


def metric_over_k(s: SliceResult, family: str, ks: Sequence[int]) -> pd.DataFrame:
    """Long table (model, K, value) of one metric family for plotting."""
    rows = [
        {"model": model, "K": k, "value": values.get(f"{family}@{k}", np.nan)}
        for model, values in s.metrics.items()
        for k in ks
    ]
    return pd.DataFrame(rows)


SLICE_TITLES = {"test": "All test users", "cold items": "Cold items", "inductive users": "Inductive users"}


def guess_column(columns: Sequence[str], *hints: str) -> int | None:
    """Index of the first column equal to, then containing, one of the hints (case-insensitive)."""
    lowered = [str(c).lower() for c in columns]
    for hint in hints:
        if hint in lowered:
            return lowered.index(hint)
    for hint in hints:
        for i, c in enumerate(lowered):
            if hint in c:
                return i
    return None
