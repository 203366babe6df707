"""Tables and labels built from recsys_core objects (pure functions, no Streamlit)."""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsys_core.evaluation import MODEL_NAME, TEXT_ONLY_NAME, EvaluationReport, SliceResult, TextReference
from recsys_core.metrics import METRIC_NAMES, PairedDifference, metric_table
from recsys_core.ratings import RatingScale
from recsys_core.recommender import Recommendation, Recommender, UserContext
from recsys_core.schema import TIMESTAMP, Dataset
from recsys_core.text import FieldText

HEADLINE_METRICS = ("NDCG@10", "Recall@10", "HitRate@10")
EXTRA_METRICS = ("Coverage@10", "Diversity@10")
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


def rating_step(rec: Recommender) -> float:
    """The step of a rating input: 1 when every training rating is whole (1–5 stars), else 0.5."""
    rated = [r[np.isfinite(r)] for r in rec.catalog.ratings.values()]
    whole = all(np.all(r == np.round(r)) for r in rated)
    return 1.0 if whole else 0.5


def items_table(rec: Recommender, indices: Sequence[int], fields: Sequence[str]) -> pd.DataFrame:
    rows = []
    for i in indices:
        values = item_values(rec, int(i))
        rows.append({"item": rec.catalog.item_ids[int(i)], **{f: values.get(f, "") for f in fields}})
    return pd.DataFrame(rows, columns=["item", *fields])


MARGIN = "margin to next"
# Deep enough to hold every item a diversified (MMR) list can pick: MMR chooses among the top
# max(10·K, 200) by score (Recommender._mmr), so one more item gives each of them its successor.
_MMR_DEPTH = 200


@dataclass(frozen=True)
class RankedRecommendations:
    """The list shown to the analyst and, per item, how far its score is ahead of the next-best item.

    ``margins[i]`` is ``shown[i].score`` minus the highest score of any other eligible item that scores
    lower (the next item in score order, whatever the diversity setting); NaN when no eligible item
    scores lower.  Scores are logits, so a margin is a difference of logits: near 0 the two items are a
    tie and their order means nothing.  ``n_eligible`` is how many items the list was ranked from.
    Catalogues scored in two stages (``recommender.RERANK_ABOVE``) take "next" among the first stage's
    candidates, the same items the list itself was chosen from.
    """

    shown: list[Recommendation]
    margins: list[float]
    n_eligible: int


def recommend_with_margins(
    rec: Recommender, ctx: UserContext, k: int, *, exclude_seen: bool = True, diversity: float = 0.0
) -> RankedRecommendations:
    """Top-``k`` for ``ctx`` (as ``Recommender.recommend_for``) with each item's score margin to the next."""
    if diversity == 0:  # the list is in score order: one more item gives the last one its successor
        by_score = rec.recommend_for(ctx, k + 1, exclude_seen=exclude_seen)
        shown = by_score[:k]
    else:
        shown = rec.recommend_for(ctx, k, exclude_seen=exclude_seen, diversity=diversity)
        by_score = rec.recommend_for(ctx, max(10 * k, _MMR_DEPTH) + 1, exclude_seen=exclude_seen)
    seen = len(np.unique(ctx.history)) if exclude_seen else 0
    return RankedRecommendations(shown, score_margins(shown, by_score), rec.catalog.n_items - seen)


def score_margins(shown: Sequence[Recommendation], by_score: Sequence[Recommendation]) -> list[float]:
    """Each shown item's score minus the score that follows it in ``by_score`` (a list in score order).

    NaN when the item is last in ``by_score`` or missing from it (nothing known below it).
    """
    position = {r.item_id: i for i, r in enumerate(by_score)}
    margins = []
    for r in shown:
        i = position.get(r.item_id)
        nxt = by_score[i + 1] if i is not None and i + 1 < len(by_score) else None
        margins.append(float(r.score - nxt.score) if nxt is not None else float("nan"))
    return margins


def recommendations_table(
    rec: Recommender, recs: Sequence[Recommendation], fields: Sequence[str], margins: Sequence[float] | None = None
) -> pd.DataFrame:
    """Rank, score (logit), the margin to the next item when given, then the item and its chosen text fields.

    Numbers come first so that long text fields can never push them out of a narrow table.  There is no
    probability column: the model is trained to rank, and sigmoid(score) reads 0.95–1.00 for every top
    item, which says nothing.
    """
    table = items_table(rec, [rec.item_position(r.item_id) for r in recs], fields)
    table.insert(0, "rank", [r.rank for r in recs])
    table.insert(1, "score", [r.score for r in recs])
    if margins is not None:
        table.insert(2, MARGIN, list(margins))
    return table


# Column names chosen not to clash with item fields (a film's "rating" may be its age rating).
READ, RATED, DATE = "read by the model", "rated", "date (UTC)"


def history_table(rec: Recommender, ctx: UserContext, fields: Sequence[str]) -> pd.DataFrame:
    """A user's history, most recent first (``#1`` is the latest): whether the model reads each item (its
    ``max_history`` latest), the item's rating (when the data had ratings) and date (when the model kept
    times), then the item and its fields.

    A rating reads "4★" on the scale of a model that reads ratings, else as the plain number; dates are UTC.
    """
    newest_first = list(ctx.history[::-1])
    table = items_table(rec, newest_first, fields)
    table.insert(0, "#", range(1, len(newest_first) + 1))
    table.insert(1, READ, [n < rec.max_history for n in range(len(newest_first))])
    column = 2
    if ctx.ratings is not None and len(ctx.ratings) == len(ctx.history):
        scale = RatingScale(*rec.model.config.rating_scale) if rec.reads_ratings else None
        shown = [("" if not np.isfinite(r) else scale.stars(r) if scale else f"{r:g}") for r in ctx.ratings[::-1]]
        table.insert(column, RATED, shown)
        column += 1
    times = rec.catalog.times.get(ctx.user_id) if ctx.user_id is not None else None
    if times is not None and len(times) == len(ctx.history):
        table.insert(column, DATE, pd.to_datetime(times[::-1], unit="s", utc=True).strftime("%Y-%m-%d"))
    return table


def history_caption(rec: Recommender, ctx: UserContext) -> str:
    """'The model reads the latest 20 of this user's 33 history items' (plain text, no user strings)."""
    n, window = len(ctx.history), rec.max_history
    if n == 0:
        return "No history items."
    if n <= window:
        return f"The model reads all {n:,} of this user's history items (it reads up to the latest {window:,})."
    return f"The model reads the latest {window:,} of this user's {n:,} history items; older ones never reach a score."


# Fields that hold an item's labels: genres, categories, and RecBole's MovieLens "class" (its genres).
LABEL_FIELD = re.compile(r"genre|categor|^class(es)?$", re.IGNORECASE)


def default_display_fields(fields: Sequence[str], n: int = 2) -> list[str]:
    """The first ``n`` short fields, plus every genre-like field, in the catalogue's order.

    Long free text (description, about) is kept out of tables by default.  Genres are what tells two
    recommended titles apart at a glance: a RecBole MovieLens catalogue (title, year, class) showed title and
    year only.
    """
    short = [f for f in fields if f.lower() not in {"description", "about", "plot", "summary", "overview"}]
    pool = short or list(fields)
    shown = set(pool[:n]) | {f for f in pool if LABEL_FIELD.search(str(f))}
    return [f for f in pool if f in shown]


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


def ready_to_load(summary: dict[str, int]) -> str:
    """The Data page's line for files that passed the check but are not the session's dataset yet."""
    profiles = f", {summary['users_with_profiles']:,} with profiles" if summary.get("users_with_profiles") else ""
    return (f"These files load: {summary['interactions']:,} interactions of {summary['users']:,} users{profiles} "
            f"and {summary['items']:,} items. Press Load dataset to use them.")


def model_line(rec: Recommender) -> str:
    n_users = len(rec.catalog.histories)
    return f"{rec.catalog.n_items:,} items · {n_users:,} users · encoder {rec.encoder_config.name}"


NEW_USER = "(new user)"  # the user_id of a new user's recommendations in a download


def recommendations_download(table: pd.DataFrame, user_id: str | None) -> pd.DataFrame:
    """The recommendations table as downloaded: the user's id first, so that files of several users can be
    put together (a new user described on the page has no id: ``NEW_USER``)."""
    column = "user_id" if "user_id" not in table.columns else "for user_id"  # an item field may be called so
    return table.assign(**{column: NEW_USER if user_id is None else user_id})[[column, *table.columns]]


def interactions_preview(dataset: Dataset, n: int = 200) -> pd.DataFrame:
    """The first ``n`` interactions as an analyst reads them: timestamps as UTC dates, not unix seconds.

    Without a timestamp column the loader keeps the file's row order in ``timestamp``; it is shown as
    ``file order`` so that nobody reads it as a date in 1970.
    """
    head = dataset.interactions.head(n).copy()
    if TIMESTAMP not in head.columns:
        return head
    if dataset.has_timestamps:
        head[TIMESTAMP] = pd.to_datetime(head[TIMESTAMP], unit="s", utc=True).dt.tz_localize(None)
        return head
    return head.rename(columns={TIMESTAMP: "file order"})


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


def noise_verdict(paired: PairedDifference, within: str, ahead: str, behind: str) -> str:
    """The words for a paired difference of the model minus another scorer: ``within`` when its 95% interval
    holds 0, ``ahead``/``behind`` when it excludes 0 on either side, and a plain "too few users" when the
    interval is unknown.  One ladder for every sentence that judges a gap, so they never disagree."""
    if not np.isfinite(paired.diff_ci95):
        return "too few users to tell whether that is more than noise"
    if not paired.beyond_noise:
        return within
    return ahead if paired.diff > 0 else behind


def best_baseline(report: EvaluationReport, slice_name: str = "test", metric: str = "NDCG@10") -> str | None:
    found = report.slice(slice_name)
    return found.best_baseline(metric) if found is not None else None


def lead_sentence(s: SliceResult, metric: str = "NDCG@10") -> str:
    """Whether the model is ahead of the slice's best baseline beyond noise, from the paired difference on the
    same users (the rows' own intervals overlap far more often than the paired one includes 0)."""
    best = s.best_baseline(metric)
    if best is None:
        return f"No baseline was evaluated here: there is nothing to compare {MODEL_NAME} with."
    paired = s.paired.get(best, {}).get(metric)
    if paired is None:
        return (f"{best} is the best baseline here. This model's metrics predate paired differences, so whether "
                f"{MODEL_NAME} is ahead of it beyond noise is not known: train it again to see.")
    verdict = noise_verdict(paired, within=f"within noise: on these users {MODEL_NAME} and {best} are not told apart",
                            ahead="ahead beyond noise", behind=f"behind beyond noise: {best} ranks better here")
    return (f"{MODEL_NAME} against {best}, the best baseline here: {metric} {paired.a:.3f} against {paired.b:.3f}, "
            f"paired difference {_signed(paired.diff)} ± {paired.diff_ci95:.3f} (95% interval) over the same "
            f"{paired.n_cases:,} users — {verdict}.")


def headline(report: EvaluationReport, metrics: Sequence[str] = HEADLINE_METRICS) -> pd.DataFrame:
    """The model next to its best baseline on the test slice (rows: the two models)."""
    test = report.slice("test")
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


SLICE_TITLES = {"test": "All test users", "cold items": "Cold items", "inductive users": "New users (inductive)"}
# Slices that exist to show what text carries where ids cannot help: they get the text-only reference sentence.
REFERENCE_SLICES = {"cold items": "On cold items", "inductive users": "For new users"}
RANDOM_NAME = "Random"


def _signed(value: float) -> str:
    return f"{value:+.3f}".replace("-", "\u2212")  # a real minus sign: a hyphen reads as a dash


def _with_interval(value: float, half: float | None) -> str:
    return f"{value:.3f} ± {half:.3f}" if half is not None and np.isfinite(half) else f"{value:.3f}"


def reference_note(report: EvaluationReport | None) -> str | None:
    """What became of the text-only reference of a fit with cold-item or held-out-user slices; None otherwise."""
    if report is None or report.text_reference is None:
        return None
    return report.text_reference.describe()


def reference_sentence(s: SliceResult, reference: TextReference | None, metric: str = "NDCG@10") -> str:
    """What the slice says about text, in plain words computed from the report's numbers.

    The model against the text-only reference (means with their 95% intervals, then the paired difference
    on the same users and whether its interval excludes 0), the model's multiple of Random, and for cold
    items that they are ranked among the cold items only.  Without a reference, why there is none.
    """
    opening = REFERENCE_SLICES.get(s.name, f"On the {s.name} slice")
    paired = s.paired.get(TEXT_ONLY_NAME, {}).get(metric)
    if paired is None:
        if reference is None:
            return (f"{opening} there is no text-only reference to compare with: this model was trained before "
                    "fits kept one. Train it again to see whether text carries here.")
        return f"{opening} there is no text-only reference to compare with. {reference.describe()}"
    verdict = noise_verdict(
        paired, within="within noise — the id part adds nothing measurable here",
        ahead="beyond noise — the id part adds to what text carries here",
        behind="beyond noise — the text-only reference is better here, so the id part costs on this slice")
    model_half = s.ci95.get(MODEL_NAME, {}).get(metric)
    reference_half = s.ci95.get(TEXT_ONLY_NAME, {}).get(metric)
    text = (f"{opening} the model's {metric} is {_with_interval(paired.a, model_half)} against "
            f"{_with_interval(paired.b, reference_half)} for the text-only reference: paired difference "
            f"{_signed(paired.diff)} ± {paired.diff_ci95:.3f} over {paired.n_cases:,} users, {verdict}")
    floor = s.metrics.get(RANDOM_NAME, {}).get(metric)
    if floor is not None and floor > 0:
        text += f"; {paired.a / floor:.1f}× Random"
    text += "."
    if s.name == "cold items":
        floor_text = f" ({floor:.3f})" if floor is not None else ""
        text += (" Cold items are ranked among the cold items only, so these numbers do not compare with the "
                 f"other tabs: Random{floor_text} is the floor.")
    if reference is not None and reference.stopped == "time budget":
        text += f" {reference.describe()}"
    return text


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
