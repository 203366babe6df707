"""What every page does first (config, demo defaults, sidebar status) and how errors are shown."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from recsys_core import RecsysError
from recsys_core.schema import Notice

from . import formatting, plots, state


APP_NAME = "RecSys Studio"
# Material icons ship with Streamlit's font, so they render in every browser (emoji need an emoji font).
ICONS = {
    "Home": ":material/home:",
    "Data": ":material/database:",
    "Train": ":material/model_training:",
    "Recommendations": ":material/recommend:",
    "Explain": ":material/psychology_alt:",
    "Evaluation": ":material/analytics:",
    "Feature importance": ":material/bar_chart:",
}


def setup(title: str, icon: str | None = None, heading: str | None = None) -> None:
    """Page config and title, the session's dataset and model (demo on first open), status in the sidebar.

    ``icon`` defaults to the page's entry in ``ICONS``.  Messages left by ``done`` before a rerun are
    shown under the title.
    """
    icon = icon or ICONS.get(title, ":material/article:")
    st.set_page_config(page_title=f"{title} · {APP_NAME}", page_icon=icon, layout="wide")
    state.ensure_defaults()
    with st.sidebar:
        st.caption(f"**Dataset:** {state.dataset_label()}  \n{formatting.dataset_line(state.dataset())}")
        st.caption(f"**Model:** {state.model_label()}  \n{formatting.model_line(state.model())}")
    st.title(heading or f"{icon} {title}")
    for text, mark in st.session_state.pop("_done_messages", []):
        st.success(text, icon=mark)


def done(text: str, icon: str = ":material/check_circle:") -> None:
    """Rerun the page so that it shows the new state, with ``text`` as a success message under the title."""
    st.session_state.setdefault("_done_messages", []).append((text, icon))
    st.rerun()


@contextmanager
def user_errors() -> Iterator[None]:
    """Show a RecsysError as its message (never a traceback); the page goes on below it."""
    try:
        yield
    except RecsysError as exc:
        st.error(str(exc), icon=":material/error:")


def show_notices(notices: list[Notice]) -> None:
    for n in notices:
        if n.code in formatting.WARNING_NOTICES:
            st.warning(n.message, icon=":material/warning:")
        else:
            st.info(n.message, icon=":material/info:")


def chart(fig) -> None:
    """A plotly figure in the Streamlit theme, full width."""
    st.plotly_chart(fig, width="stretch", theme="streamlit", config={"displaylogo": False})


__all__ = ["chart", "plots", "setup", "show_notices", "user_errors"]
