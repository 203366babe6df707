"""Recommendations: top-K for a known user or for a new one described on the spot."""
import streamlit as st

from dashboard import explanations, formatting, page, plots, state
from dashboard.safe_text import plain
from recsys_core import to_csv_bytes

page.setup("Recommendations")
rec = state.model()
fields = rec.catalog.item_fields

mode = st.segmented_control("Who", ["Known user", "New user"], default="Known user", required=True, key="rec_mode")
a, b, c, d = st.columns([1, 1, 1, 2], vertical_alignment="bottom", gap="medium")
k = a.slider("How many (K)", 1, 50, 10, key="rec_k")
diversity = b.slider("Diversity (MMR λ)", 0.0, 1.0, 0.0, 0.05, key="rec_diversity",
                     help="0 ranks by score only; higher values trade score for items unlike those already listed.")
exclude_seen = c.checkbox("Hide seen items", True, key="rec_exclude_seen",
                          help="Leave out items already in the user's history.")
shown = d.multiselect("Item fields in the tables", fields, default=formatting.default_display_fields(fields),
                      key="rec_fields")

left, right = st.columns([2, 3], gap="large")
recs, margins, n_eligible, target, prefetched = [], None, 0, None, []
with left, page.user_errors():
    if mode == "Known user":
        s1, s2 = st.columns(2)
        query = s1.text_input("Search users", placeholder="id or words from a profile", key="rec_query")
        matches = formatting.user_search(rec, query)
        if not matches:
            st.warning(f"No known user matches {plain(repr(query))}.")
            st.stop()
        user_id = s2.selectbox("User", matches, key="rec_user", help="Users matching the search (first 1,000).")
        ctx = rec.context(user_id)
        st.subheader("Profile")
        profile = formatting.field_values(ctx.profile_text)
        # Field names and values come from the uploaded users file: shown as text, never as Markdown.
        st.markdown("\n".join(f"- **{plain(f)}:** {plain(v)}" for f, v in profile.items()) if profile
                    else "_No profile._")
        st.subheader("History")
        page.history(rec, ctx, shown)
        ranked = formatting.recommend_with_margins(rec, ctx, k, exclude_seen=exclude_seen, diversity=diversity)
        recs, margins, n_eligible = ranked.shown, ranked.margins, ranked.n_eligible
        target = state.ExplainTarget(item_id="", user_id=user_id)
        prefetched = explanations.prefetch(rec, user_id, [r.item_id for r in recs], ctx)  # Explain opens them at once
    else:
        st.subheader("Describe a new user")
        profile = {f: st.text_input(plain(f), key=f"new_user_{f}") for f in rec.catalog.user_fields}
        profile = {f: v for f, v in profile.items() if v.strip()}
        picked = "Items they interacted with" if rec.reads_ratings else "Items they liked"
        history = st.multiselect(f"{picked} (oldest first)", rec.catalog.item_ids, key="new_user_items",
                                 format_func=lambda i: formatting.item_label(rec, i), max_selections=50)
        # A model that reads ratings asks for them: a 1★ item pushes recommendations away from itself.
        ratings = page.new_user_ratings(rec, history) if rec.reads_ratings and history else None
        if not profile and not history:
            st.info("Type some profile fields or pick a few items: recommendations appear at once.")
        else:
            with st.spinner("Encoding the profile…"):
                ctx = rec.new_user_context(history, profile or None, ratings)
                ranked = formatting.recommend_with_margins(rec, ctx, k, exclude_seen=exclude_seen, diversity=diversity)
            recs, margins, n_eligible = ranked.shown, ranked.margins, ranked.n_eligible
            target = state.ExplainTarget(item_id="", history=tuple(history), profile=profile,
                                         ratings=tuple(ratings) if ratings is not None else None)

with right, page.user_errors():
    st.subheader("Recommended")
    if recs:
        how = "by the model's score" if diversity == 0 else "by score and diversity (MMR)"
        st.caption(f"Ranked from {n_eligible:,} {'unseen ' if exclude_seen else ''}items {how}.")
        table = formatting.recommendations_table(rec, recs, shown, margins)
        # Rank and scores come first and are narrow; text fields get a bounded width (full text on hover),
        # so three or more fields never push the numbers out of view.
        st.dataframe(table, hide_index=True, height="content", column_config={
            "rank": st.column_config.NumberColumn(width=50),
            "score": st.column_config.NumberColumn(
                help="The model's score (a logit): only its order matters, higher ranks first.", format="%.3f",
                width=70),
            formatting.MARGIN: st.column_config.NumberColumn(
                "margin", format="%.3f", width=70,
                help="Score minus the next-best item's score. Near 0 the two are a tie: their order says little."),
            "item": st.column_config.TextColumn(width=70),
            **{f: st.column_config.TextColumn(width="medium") for f in shown},  # headers are text, not Markdown
        })
        # Titles and ids are uploaded text: cells that a spreadsheet would run as formulas are neutralised.
        download = formatting.recommendations_download(table, target.user_id)
        st.download_button("Download as CSV", to_csv_bytes(download), "recommendations.csv",
                           "text/csv", key="rec_download", icon=":material/download:")
        if state.explain_page_available():
            explanations.prefetch_status(prefetched)
            e1, e2 = st.columns([3, 1], vertical_alignment="bottom")
            e1.selectbox("Explain a recommendation", [r.item_id for r in recs], key="rec_explain_item",
                         format_func=lambda i: formatting.item_label(rec, i))
            # The item is read when the button is pressed, so a choice made just before it counts.
            e2.button("Explain", key="rec_explain", icon=":material/psychology_alt:",
                      on_click=state.request_chosen_explanation, args=(target, "rec_explain_item"))
        # Below the Explain controls, which stay next to the table.  (Plotly's script, loaded with
        # this chart, is then ready when Explain opens: about a second of the click-to-Explain time.)
        page.chart(plots.scores_by_rank([r.score for r in recs], [formatting.item_label(rec, r.item_id) for r in recs]))
    elif target is not None:
        st.info("No items left to recommend with these settings.")
