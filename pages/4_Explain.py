"""Explain: why does the model recommend this item to this user?

Rendered in stages so something useful is on screen within about a second: each text's exact
share of the score and the attention maps first, then the token split of the texts that carry
the score; the other history texts and the faithfulness panel on request.  The work, and what the
session remembers of it (cancels, requests, kept results), belong to ``dashboard.explanations``.
"""
import streamlit as st

from dashboard import explain_panels as panels
from dashboard import explain_view as view
from dashboard import formatting, page, state
from dashboard.explanations import ASKED, CANCELLED, ON_REQUEST, TOP_K, BusyLine, PairExplanation
from dashboard.safe_text import plain
from recsys_core.progress import scaled

page.setup("Explain")
rec = state.model()
target = state.explain_target()
busy = BusyLine()  # what this session's explanation work is doing, above everything


def first_view_cancelled(pair: PairExplanation) -> None:
    st.warning("Explanation of this pair cancelled: nothing half-computed was kept. Pick another pair, "
               "or explain this one again.", icon=":material/cancel:")
    if st.button("Explain this pair", key="explain_restart"):
        pair.ask("first")
        st.rerun()
    busy.done()
    st.stop()


# -- which pair -----------------------------------------------------------------------------
with page.user_errors():
    left, right = st.columns(2)
    if target is not None and target.user_id is None:
        rated = ", rated" if target.ratings is not None else ""
        left.markdown(f"**New user** from the Recommendations page ({len(target.history)} items{rated}, "
                      f"{len(target.profile)} profile fields).")
        user_id, ctx = None, rec.new_user_context(list(target.history), target.profile or None, target.ratings)
    else:
        users = rec.known_users()
        default = users.index(target.user_id) if target and target.user_id in users else 0
        user_id = left.selectbox("User", users, index=default, key="explain_user")
        ctx = rec.context(user_id)
    top = [r.item_id for r in rec.recommend_for(ctx, TOP_K)]
    any_item = right.toggle("Any item of the catalogue", key="explain_any_item")
    choices = rec.catalog.item_ids if any_item else top
    wanted = target.item_id if target and target.item_id in choices else choices[0]
    item_id = right.selectbox("Item" if any_item else f"One of the user's top-{TOP_K} recommendations", choices,
                              index=choices.index(wanted), format_func=lambda i: formatting.item_label(rec, i),
                              key="explain_item")
    with st.expander("Method settings"):
        a, b, c = st.columns(3)
        steps = a.slider("Most integration steps per text", 4, 128, 64, key="explain_steps",
                         help="Each text uses 8, 16, 32… steps until its convergence delta is within the flag.")
        baseline = b.selectbox("Baseline", ["pad", "mask", "empty"], key="explain_baseline",
                               help="pad/mask: every token replaced; empty: field values blanked, field names kept.")
        merge = c.checkbox("Merge WordPieces into words", True, key="explain_merge")
    pair = PairExplanation(rec, user_id, item_id, ctx, steps, baseline, busy)
    state.keep_explain_pair(rec, user_id, item_id, any_item, steps, baseline, merge)  # a reload comes back here

    with pair.results():  # a fresh area when the last run showed another pair or settings: nothing old stays
        if pair.status("first") == CANCELLED:
            first_view_cancelled(pair)
        with pair.running("first", "Explaining", "view") as step:
            pair.open(step.progress)
        if step.cancelled:
            first_view_cancelled(pair)
        exp = pair.explanation()

        # -- first view: the score, each text's share, attention -----------------------------------
        panels.score_metrics(exp)
        reason_box = st.empty()
        reason_box.info(plain(exp.reason), icon=":material/chat:")
        delta_box = st.empty()

        s_col, h_col = st.columns(2, gap="large")
        share_box = s_col.empty()
        carrying = pair.carrying()
        if not pair.is_split(carrying):  # else the final chart below is drawn at once
            page.chart(view.text_share_bar(exp.texts), key="explain_shares_first", where=share_box)
        with h_col:
            panels.history(exp)
            with st.expander(f"The user's history: the model reads {min(len(ctx.history), rec.max_history):,} of "
                             f"{len(ctx.history):,} items", icon=":material/history:"):
                page.history(rec, ctx, formatting.default_display_fields(rec.catalog.item_fields))

        # One above the other, each the full width: in half a page a 50-token heatmap had no room for its labels.
        heat, attr = st.container(), st.container()
        with heat:
            panels.attention(exp)

        # -- token level of the texts that carry the score -------------------------------------------
        with attr:
            st.subheader("Integrated gradients: what moved the score")
            st.html(view.legend_html())
            with pair.running("first", "Splitting into tokens", "split") as step:
                exp = pair.split(carrying, progress=step.progress)
            if step.cancelled:
                first_view_cancelled(pair)
            scale = panels.token_scale(exp)
            for index in carrying:
                panels.tokens(exp, index, scale, merge)
            page.chart(view.top_tokens_bar(exp, merge=merge))
        reason_box.info(plain(exp.reason), icon=":material/chat:")
        if exp.delta_ok:
            delta_box.caption(panels.convergence(exp))
        for warning in exp.warnings:
            st.warning(warning, icon=":material/warning:")
        page.chart(view.text_share_bar(exp.texts), key="explain_shares", where=share_box)
        page.chart(view.field_bar(exp.fields))

        # -- the other history texts, on request ----------------------------------------------------
        remaining = [t.text_index for t in exp.texts if not t.split]
        if remaining:
            st.subheader("The other history texts")
            st.caption(f"{len(remaining)} history texts carry little of the score (their shares are in the chart above).")
            if st.button(f"Split the other {len(remaining)} texts into tokens", key="explain_split_rest"):
                pair.ask("rest")
            rest = pair.status("rest")
            if rest == CANCELLED:
                st.info("Splitting the other texts was cancelled: the texts finished before the cancel are kept, the "
                        "one in progress is not.", icon=":material/cancel:")
            elif rest == ASKED:
                with pair.running("rest", "Splitting history texts") as step:
                    for i, n in enumerate(remaining):  # each text drawn as soon as it is split
                        exp = pair.split([n], ON_REQUEST, scaled(step.progress, i / len(remaining), (i + 1) / len(remaining)))
                        panels.tokens(exp, n, scale, merge)
                if step.cancelled:
                    st.info("Splitting the other texts was cancelled.", icon=":material/cancel:")

        # -- can it be trusted? (on request: costs seconds) -------------------------------------------
        st.subheader("Faithfulness: does removing the top tokens lower the score?")
        if not pair.has_curves():
            st.caption(panels.faithfulness_offer())
            if st.button("Compute deletion curves", key="explain_faithfulness"):
                pair.ask("faithfulness")
            curves = pair.status("faithfulness")
            if curves == CANCELLED:
                st.info("Deletion curves cancelled: nothing of them was kept. Press **Compute deletion curves** to "
                        "start again.", icon=":material/cancel:")
            elif curves == ASKED:
                with pair.running("faithfulness", "Deletion curves") as step:
                    pair.add_faithfulness(step.progress)
                if step.cancelled:
                    st.info("Deletion curves cancelled: nothing of them was kept.", icon=":material/cancel:")
        if pair.has_curves():
            exp = pair.explanation()
            panels.faithfulness(exp)
        panels.smallest_change(pair)  # on request: re-scores the catalogue for each candidate removal

        # -- why A above B -------------------------------------------------------------------------
        st.subheader("Why this item above another?")
        others = [i for i in top if i != item_id] or [i for i in rec.catalog.item_ids if i != item_id]
        other = st.selectbox("Compare with", others, format_func=lambda i: formatting.item_label(rec, i), key="explain_b")
        words = st.checkbox("Also attribute the difference to the words of both item texts (integrated gradients)",
                            False, key="explain_compare_words",
                            help="A few seconds more. A's and B's item texts are split into words; the user's profile "
                                 "and history texts, which both scores share, keep one exact share per text.")
        if st.button("Compare", key="explain_compare"):
            pair.compare(other, words)
        comparison = pair.status("contrast")
        if comparison == CANCELLED:  # the message stays until the next Compare
            st.info("Comparison cancelled; the result below (if any) is the earlier one.", icon=":material/cancel:")
        elif comparison == ASKED:  # a comparison running (maybe started in an earlier run): wait for it here
            with pair.running("contrast", "Comparing") as step:
                pair.finish_comparison(step.progress)
            if step.cancelled:
                st.info("Comparison cancelled.", icon=":material/cancel:")
        c = pair.kept_comparison(other, words)  # after a line naming the inputs it is for
        if c is not None:
            panels.comparison(c)

        # -- what if -----------------------------------------------------------------------------
        st.subheader("What if…")
        w1, w2 = st.columns(2)
        drop_items = w1.multiselect("Remove history items", pair.history_window(),
                                    format_func=lambda i: formatting.item_label(rec, i), key="whatif_items")
        drop_fields = w2.multiselect("Remove item fields", rec.catalog.item_fields, key="whatif_fields")
        edited = st.text_area("…or edit the item text", pair.item_text(), key=f"whatif_text_{item_id}")
        if st.button("Re-score", key="whatif_run"):
            with st.spinner("Re-scoring…"):
                pair.what_if(drop_items, drop_fields, edited)
        w = pair.kept_what_if(drop_items, drop_fields, edited)  # after a line naming the inputs it is for
        if w is not None:
            panels.what_if(w)

        # -- export ---------------------------------------------------------------------------------
        panels.export(exp, formatting.item_label(rec, item_id), item_id)
busy.done()
