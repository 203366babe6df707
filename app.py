"""The app: navigation over pages/ (in file-name order) and the Home page.

Run with ``streamlit run app.py``.  Every ``pages/N_Name.py`` file is a page titled "Name",
reachable at ``/Name``; ``st.switch_page("pages/N_Name.py")`` works as usual.
"""
from pathlib import Path

import streamlit as st

from dashboard import auth, explanations, formatting, page, state
from dashboard.safe_text import plain
from dashboard.resources import registry

PAGES_DIR = Path(__file__).resolve().parent / "pages"


def home() -> None:
    page.setup("Home", heading=f":material/target: {page.APP_NAME}")
    st.markdown(
        "Train a recommender that reads item descriptions and user profiles with a BERT encoder, "
        "and compare it with classic baselines on the same held-out data.  \n"
        "Then look at what it recommends to any user, old or new, and why."
    )
    open_note = auth.open_server_note()
    if open_note:
        st.warning(open_note, icon=":material/lock_open:")
    data, rec = state.dataset(), state.model()
    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("Dataset")
        st.markdown(f"**{plain(state.dataset_label())}**")
        summary = data.summary()
        a, b, c = st.columns(3)
        a.metric("Interactions", f"{summary['interactions']:,}")
        b.metric("Users", f"{summary['users']:,}")
        c.metric("Items", f"{summary['items']:,}")
        st.caption(f"Item text fields: {plain(', '.join(data.item_fields)) or 'none'} · "
                   f"user fields: {plain(', '.join(data.user_fields)) or 'none'}")
    with right:
        st.subheader("Model")
        st.markdown(f"**{plain(state.model_label())}** — {plain(formatting.model_line(rec))}")
        if rec.report is None:
            st.info("This model was saved without an evaluation report.")
        else:
            st.dataframe(formatting.highlight_best(formatting.headline(rec.report)), width="stretch")
            st.caption(plain(formatting.lead_sentence(rec.report.slice("test"))))
            st.caption(f"Test slice, next to the best baseline. Protocol: {plain(rec.report.protocol)}")

    st.subheader("Next step")
    if state.model_trained_on_other_data():
        st.info("The current model was trained on other data than the current dataset: "
                "train one on this dataset to compare them fairly.", icon=":material/info:")
        st.page_link("pages/2_Train.py", label="Train a model on this dataset", icon=page.ICONS["Train"])
    else:
        st.page_link("pages/3_Recommendations.py", label="See what the model recommends",
                     icon=page.ICONS["Recommendations"])
        st.page_link("pages/5_Evaluation.py", label="Compare it with the baselines", icon=page.ICONS["Evaluation"])
        st.page_link("pages/1_Data.py", label="Or load your own data", icon=page.ICONS["Data"])

    if state.model_label() == state.DEMO_MODEL_LABEL:
        featured_users(rec)

    with st.expander("Where things are kept", icon=":material/help:"):
        st.markdown(
            f"- Your uploads and the models you train belong to **this session**: other analysts using the "
            f"dashboard at the same time never see them unless you give them this page's address.\n"
            f"- Models you **save** on the Train page go to the shared models directory "
            f"{plain(registry().root.resolve())} (set `RECSYS_MODELS_DIR` to change it); everyone using this "
            f"server can list, load, replace and delete them (each shows who saved it; a replaced version is kept "
            f"and a deleted model stays in a trash for a while, both restorable there), and the CLI reads them too "
            f"(python -m recsys_core recommend --model {plain(registry().root)}/NAME …).\n"
            f"- The demo data and demo model come from `sample_data/` and are loaded once per server.\n"
            f"- {state.session_note()}"
        )


def featured_users(rec) -> None:
    """Demo users whose explanations are prepared in the background, so a presenter opens them at once."""
    st.subheader("Featured users")
    featured = explanations.featured(rec)
    ready = sum(1 for f in featured if f.job.done and f.job.error is None)
    st.caption(f"Users whose top recommendation leads their second clearly. Their explanations are prepared in "
               f"the background: {ready} of {len(featured)} ready as this page was drawn.")
    for f in featured:
        who, what, go = st.columns([2, 6, 2], vertical_alignment="center")
        who.markdown(f"**{plain(f.user_id)}**")
        what.markdown(f"{plain(formatting.item_label(rec, f.item_id))}  \n"
                      f"leads the next item by {f.margin:.2f} (logit)")
        go.button("Explain", key=f"featured_{f.user_id}", icon=page.ICONS["Explain"],
                  on_click=state.request_explanation, args=(state.ExplainTarget(f.item_id, f.user_id),))


def file_page(path: Path) -> st.Page:
    title = path.stem.split("_", 1)[1].replace("_", " ")
    return st.Page(path, title=title, icon=page.ICONS.get(title), url_path=title.replace(" ", "_"))


page.before_navigation()  # the favicon, before the navigation icons could become one (see the function)
st.navigation([st.Page(home, title="Home", icon=page.ICONS["Home"], default=True)]
              + [file_page(p) for p in sorted(PAGES_DIR.glob("[0-9]*_*.py"))]).run()
