"""What every page does first (config, demo defaults, sidebar status) and how errors are shown."""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image, ImageDraw

from recsys_core import Notice, RecsysError
from recsys_core.ratings import RatingScale

from . import auth, formatting, plots, state, updates
from .safe_text import plain

log = logging.getLogger(__name__)

APP_NAME = "RecSys Studio"
# Material icons in navigation, titles, buttons and alerts are drawn with the Material Symbols font that
# Streamlit bundles (served by our own server), so they render offline.  They must never be a *page icon*:
# Streamlit turns a ":material/…:" page icon into a favicon URL on fonts.gstatic.com (see ``favicon``).
ICONS = {
    "Home": ":material/home:",
    "Data": ":material/database:",
    "Train": ":material/model_training:",
    "Recommendations": ":material/recommend:",
    "Explain": ":material/psychology_alt:",
    "Evaluation": ":material/analytics:",
    "Feature importance": ":material/bar_chart:",
    "Compare": ":material/compare_arrows:",
}


@lru_cache(maxsize=1)
def favicon() -> Image.Image:
    """The browser-tab icon, drawn here: a target in the theme's orange.

    Streamlit serves an image page icon from its own media endpoint (loopback).  A ":material/…:" page
    icon would make every browser fetch an SVG from fonts.gstatic.com, which breaks "nothing leaves the
    machine"; an emoji needs an emoji font, which analysts' machines may lack.
    """
    size = 64
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for radius, colour in ((31, "#D9480F"), (22, "#FFFFFF"), (13, "#D9480F"), (5, "#FFFFFF")):
        draw.ellipse((32 - radius, 32 - radius, 32 + radius, 32 + radius), fill=colour)
    return image


def before_navigation() -> None:
    """Page config that must reach the browser before ``st.navigation`` does (call it first in app.py).

    Until a page icon is set, the browser uses the current page's navigation icon as the favicon, and a
    ":material/…:" icon becomes a request to fonts.gstatic.com.  Setting ``favicon()`` first prevents it.
    """
    st.set_page_config(page_title=APP_NAME, page_icon=favicon(), layout="wide")


def setup(title: str, icon: str | None = None, heading: str | None = None) -> None:
    """Page config and title, the session's dataset and model (demo on first open), status in the sidebar.

    ``icon`` (shown before the title) defaults to the page's entry in ``ICONS``; the tab icon is always
    ``favicon()``.  Messages left by ``done`` before a rerun are shown under the title.
    """
    icon = icon or ICONS.get(title, ":material/article:")
    st.set_page_config(page_title=f"{title} · {APP_NAME}", page_icon=favicon(), layout="wide")
    auth.require_login()  # with RECSYS_LOGIN set, nothing below runs for someone not signed in
    state.follow_explain_request()
    state.ensure_defaults()
    updates.adopt_finished()  # a finished update's model, as ensure_defaults adopts a finished training's
    with st.sidebar:  # labels are file and model names, the encoder an id typed on the Train page
        st.caption(f"**Dataset:** {plain(state.dataset_label())}  \n{formatting.dataset_line(state.dataset())}")
        st.caption(f"**Model:** {plain(state.model_label())}  \n{plain(formatting.model_line(state.model()))}")
    st.title(heading or f"{icon} {title}")
    # A reload restored (or could not restore) the session's data and model; the Train page says itself, with
    # its choices, that the saved model was replaced.
    state.show_session_notices(model_status=title != "Train")
    for text, mark in st.session_state.pop("_done_messages", []):
        st.success(text, icon=mark)


def done(text: str, icon: str = ":material/check_circle:") -> None:
    """Rerun the page so that it shows the new state, with ``text`` as a success message under the title.

    ``text`` is Markdown: pass user-supplied parts (names, paths) through ``plain``.
    """
    st.session_state.setdefault("_done_messages", []).append((text, icon))
    st.rerun()


def error(message: str) -> None:
    """An error message as text: messages quote file names, column names and ids from uploads."""
    st.error(plain(message), icon=":material/error:")


@contextmanager
def user_errors() -> Iterator[None]:
    """Show a RecsysError as its message (never a traceback); the page goes on below it.

    Anything else that escapes recsys_core is a bug, but the analyst still gets one readable line and keeps
    the session's state (nothing was assigned before the exception); the traceback goes to the server log.
    Streamlit's rerun/stop signals are BaseExceptions and pass through untouched.
    """
    try:
        yield
    except RecsysError as exc:
        error(str(exc))
    except Exception as exc:
        log.exception("unexpected error on a dashboard page")
        error(f"Something went wrong that the dashboard did not expect ({type(exc).__name__}: {exc}). "
              "Your data and model are unchanged; the details are in the server log.")


def show_notices(notices: list[Notice]) -> None:
    """Each notice as the core rated it: ``Notice.severity`` alone decides warning or info."""
    for n in notices:  # messages quote values from the uploaded files
        if n.is_warning:
            st.warning(plain(n.message), icon=":material/warning:")
        else:
            st.info(plain(n.message), icon=":material/info:")


def chart(fig, key: str | None = None, where=None) -> None:
    """A plotly figure in the Streamlit theme, full width, with the dashboard's toolbar settings.

    Every chart goes through here (tests/test_pages.py checks it), so the toolbar is set in one place.
    ``where`` is a container or placeholder (``st.empty()``) to draw in; ``key`` keeps a chart apart from
    another drawn from the same figure.
    """
    (where or st).plotly_chart(fig, width="stretch", theme="streamlit", config=plots.CHART_CONFIG, key=key)


HISTORY_ROWS = 15  # history rows in view before the table scrolls (at 300 px it showed 8)
ROW_PX = 35  # Streamlit's dataframe row (and header) height at the default font size


def table_height(rows: int, in_view: int) -> int:
    """Pixels for a dataframe that shows ``rows`` rows and its header, scrolling past ``in_view`` rows."""
    return ROW_PX * (min(max(rows, 1), in_view) + 1) + 3  # + the table's borders


def history(rec, ctx, fields) -> None:
    """A user's history as the Recommendations and Explain pages list it: which items the model reads (a
    caption and a column), each item's rating and date, then the chosen item fields."""
    st.caption(formatting.history_caption(rec, ctx) + " Most recent first.")
    table = formatting.history_table(rec, ctx, fields)
    st.dataframe(table, hide_index=True, height=table_height(len(table), HISTORY_ROWS), column_config={
        "#": st.column_config.NumberColumn(width=40),
        formatting.READ: st.column_config.CheckboxColumn(
            "read by the model", width=115, help=f"The model reads each user's latest {rec.max_history} history "
            "items (its history window, set when training); older ones never reach a score."),
        formatting.RATED: st.column_config.TextColumn(width=60, help="The user's rating of the item."),
        formatting.DATE: st.column_config.TextColumn(width=90, help="When the user interacted with the item."),
        "item": st.column_config.TextColumn(width=70),
        **{f: st.column_config.TextColumn(width="medium") for f in fields},  # headers are text, not Markdown
    })


def new_user_ratings(rec, history: list[str]) -> list[float]:
    """Ratings for a new user's picked items (aligned with ``history``), edited in a table.

    A model that reads ratings scores "watched and rated 1★" very differently from "watched and rated 5★",
    so the form asks.  Each item starts at the top of the scale (the items were picked as liked) and
    keeps its rating while other items are added or removed: the ratings live in the session by item id,
    and the table is rebuilt (a key per history) whenever the history changes.
    """
    scale = RatingScale(*rec.model.config.rating_scale)
    kept = st.session_state.setdefault("new_user_ratings", {})
    frame = pd.DataFrame({"item": [formatting.item_label(rec, i) for i in history],
                          # clipped: a rating typed for another model may lie outside this model's scale
                          "rating": [float(np.clip(kept.get(i, scale.high), scale.low, scale.high)) for i in history]})
    key = "new_user_ratings_" + hashlib.sha1("\x1f".join(history).encode()).hexdigest()[:16]
    edited = st.data_editor(frame, key=key, hide_index=True, disabled=["item"], width="stretch", column_config={
        # The form sits in the page's narrow left column: a "large" item column pushed the rating out of view.
        "item": st.column_config.TextColumn("item", width="medium"),  # uploaded titles: text, not Markdown
        "rating": st.column_config.NumberColumn(
            "rating", width=80, min_value=scale.low, max_value=scale.high, step=formatting.rating_step(rec), required=True,
            help=f"The user's rating, from {scale.low:g} to {scale.high:g}. The model reads it with the item: a low "
                 "rating says the user did not like it."),
    })
    ratings = [float(r) if pd.notna(r) else scale.high for r in edited["rating"]]
    kept.update(zip(history, ratings))
    return ratings


__all__ = ["before_navigation", "chart", "error", "favicon", "history", "new_user_ratings", "plain", "plots", "setup",
           "show_notices", "user_errors"]
