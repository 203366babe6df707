"""Explain: why does the model recommend this item to this user?

Rendered in stages so something useful is on screen within about a second: each text's exact
share of the score and the attention maps first, then the token split of the texts that carry
the score; the other history texts and the faithfulness panel on request.
"""
import json

import streamlit as st

from dashboard import explain_actions as actions
from dashboard import explain_jobs as jobs
from dashboard import explain_view as view
from dashboard import formatting, page, state
from dashboard.safe_text import plain
from recsys_core.explain import (
    TOKEN_METHODS,
    ExplainConfig,
    compose,
    explanation_html,
    what_if,
)
from recsys_core.explain.core import carrying_texts
from recsys_core.explain.executor import ON_REQUEST, Cancelled

page.setup("Explain")
rec = state.model()
target = state.explain_target()


def show_tokens(exp, texts, index, scale, merge):
    """One text's tokens coloured by attribution, or a note that it is not split yet."""
    info = exp.texts[index]
    st.markdown(f"**{plain(info.label)}** — share {info.attribution:+.3f}")
    if index in texts:
        st.html(view.token_html(texts[index], scale, merge))
    else:
        st.caption("Not split into tokens yet.")


# -- which pair -----------------------------------------------------------------------------
with page.user_errors():
    left, right = st.columns(2)
    if target is not None and target.user_id is None:
        left.markdown(f"**New user** from the Recommendations page ({len(target.history)} items, "
                      f"{len(target.profile)} profile fields).")
        ctx = rec.new_user_context(list(target.history), target.profile or None)
        user_id = None
    else:
        users = rec.known_users()
        default = users.index(target.user_id) if target and target.user_id in users else 0
        user_id = left.selectbox("User", users, index=default, key="explain_user")
        ctx = rec.context(user_id)
    top = [r.item_id for r in rec.recommend_for(ctx, 10)]
    any_item = right.toggle("Any item of the catalogue", key="explain_any_item")
    choices = rec.catalog.item_ids if any_item else top
    wanted = target.item_id if target and target.item_id in choices else choices[0]
    item_id = right.selectbox("Item" if any_item else "One of the user's top-10 recommendations", choices,
                              index=choices.index(wanted), format_func=lambda i: formatting.item_label(rec, i),
                              key="explain_item")
    with st.expander("Method settings"):
        a, b, c = st.columns(3)
        steps = a.slider("Most integration steps per text", 4, 128, 64, key="explain_steps",
                         help="Each text uses 8, 16, 32… steps until its convergence delta is within the flag.")
        baseline = b.selectbox("Baseline", ["pad", "mask", "empty"], key="explain_baseline",
                               help="pad/mask: every token replaced; empty: field values blanked, field names kept.")
        merge = c.checkbox("Merge WordPieces into words", True, key="explain_merge")
    config = jobs.page_config(steps, baseline)
    who = user_id if user_id is not None else f"the new user ({len(ctx.history)} history items)"
    pair_inputs = (who, item_id, steps, baseline)
    FIRST = {"state", "split"}  # executor work of the first view and its token split

    def first_view_cancelled() -> None:
        st.warning("Explanation of this pair cancelled: nothing half-computed was kept. Pick another pair, "
                   "or explain this one again.", icon=":material/cancel:")
        if st.button("Explain this pair", key="explain_restart"):
            actions.forget_cancel("first")
            st.rerun()
        st.stop()

    if actions.cancel_requested("first", pair_inputs, FIRST, parts=("view", "split")):
        first_view_cancelled()
    step = actions.CancellableStep("first", "Explaining", "view")
    try:
        pair_state = jobs.first_view(rec, user_id, item_id, config, ctx, progress=step.progress)
    except Cancelled:
        actions.mark_cancelled("first", pair_inputs)
        first_view_cancelled()
    step.close()
    exp = compose(pair_state, config=config)

    # -- first view: the score, each text's share, attention -----------------------------------
    # Score (a logit) and rank, no probability: sigmoid of these logits reads 0.95–1.00 for every
    # recommendation and says nothing an analyst can compare.
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Score (logit)", f"{exp.score:+.3f}", help="The model's raw score; only differences between items matter.")
    m2.metric("Rank among unseen items", f"{exp.rank:,}")
    m3.metric("Blanked-text reference", f"{exp.baseline_score:+.3f}")
    m4.metric("Item text's share", f"{exp.texts[0].attribution:+.4f}")
    reason_box = st.empty()
    reason_box.info(plain(exp.reason), icon=":material/chat:")
    delta_box = st.empty()

    s_col, h_col = st.columns(2, gap="large")
    share_box = s_col.empty()
    carrying = carrying_texts(pair_state)
    if not all(n in pair_state.tokens for n in carrying):  # else the final chart below is drawn at once
        share_box.plotly_chart(view.text_share_bar(exp.texts), width="stretch", theme="streamlit",
                               key="explain_shares_first")
    if exp.history_items:
        h_col.plotly_chart(view.history_bar(exp.history_items), width="stretch", theme="streamlit")
        h_col.caption("Each bar is what removing the item from the history costs the score, through every path: "
                      "its text (green, the IG share) and its id, recency and the model's attention (grey). "
                      f"Together beyond their single removals the items add {exp.history_together:+.2f}.")
    else:
        h_col.info("This user has no history: the score rests on the profile and the item.")

    # One above the other, each the full width: in half a page a 50-token heatmap had no room for its labels.
    heat, attr = st.container(), st.container()
    with heat:
        st.subheader("Attention: where the encoder looks")
        labels = {a.text_index: a.label for a in exp.attention}
        which = st.selectbox("Text", list(labels), format_func=labels.get, key="explain_text")
        att = next(a for a in exp.attention if a.text_index == which)
        layer_names = ["rollout"] + [f"layer {i + 1}" for i in range(len(att.layers))]
        l1, l2 = st.columns(2)
        layer_name = l1.selectbox("Layer", layer_names, index=len(layer_names) - 1, key="explain_layer")
        head_names = ["average of heads"] + ([] if att.heads_averaged else [f"head {h + 1}" for h in range(att.layers.shape[1])])
        head_name = l2.selectbox("Head", head_names, key="explain_head", disabled=layer_name == "rollout",
                                 help="History texts keep only the head average.")
        layer = None if layer_name == "rollout" else layer_names.index(layer_name) - 1
        head = None if head_name == head_names[0] else head_names.index(head_name) - 1
        hide = st.checkbox("Hide [CLS] and [SEP]", True, key="explain_hide_special",
                           help="They soak up much of the attention; hiding them makes the rest readable.")
        page.chart(view.attention_heatmap(att, layer, head, hide))

    # -- token level of the texts that carry the score -------------------------------------------
    with attr:
        st.subheader("Integrated gradients: what moved the score")
        st.html(view.legend_html())
        step = actions.CancellableStep("first", "Splitting into tokens", "split")
        try:
            flagged = jobs.split(pair_state, carrying, progress=step.progress)
        except Cancelled:
            actions.mark_cancelled("first", pair_inputs)
            first_view_cancelled()
        step.close()
        exp = compose(pair_state, flagged, config)
        texts = view.texts_of(exp)
        scale = max((abs(t.attribution) for t in exp.tokens if not t.special), default=1.0)
        for index in carrying:
            show_tokens(exp, texts, index, scale, merge)
        page.chart(view.top_tokens_bar(exp, merge=merge))
    reason_box.info(plain(exp.reason), icon=":material/chat:")
    gap = abs(exp.score - exp.baseline_score)
    if exp.delta_ok:
        delta_box.caption(f"Convergence delta {exp.convergence_delta:+.5f} ({abs(exp.convergence_delta) / max(gap, 1e-9):.1%} "
                          "of the score change): texts add up to the score, and each split text's tokens to its share.")
    for warning in exp.warnings:
        st.warning(warning, icon=":material/warning:")
    share_box.plotly_chart(view.text_share_bar(exp.texts), width="stretch", theme="streamlit", key="explain_shares")
    page.chart(view.field_bar(exp.fields))

    # -- the other history texts, on request ----------------------------------------------------
    remaining = [t.text_index for t in exp.texts if not t.split]
    if remaining:
        st.subheader("The other history texts")
        st.caption(f"{len(remaining)} history texts carry little of the score (their shares are in the chart above).")
        if st.button(f"Split the other {len(remaining)} texts into tokens", key="explain_split_rest"):
            st.session_state["explain_split_rest_for"] = pair_inputs
            actions.forget_cancel("rest")
        if actions.cancel_requested("rest", pair_inputs, {"split"}):
            st.session_state.pop("explain_split_rest_for", None)
            st.info("Splitting the other texts was cancelled: the texts finished before the cancel are kept, the "
                    "one in progress is not.", icon=":material/cancel:")
        if st.session_state.get("explain_split_rest_for") == pair_inputs:
            step = actions.CancellableStep("rest", "Splitting history texts")
            try:
                for i, n in enumerate(remaining):
                    more = jobs.split(pair_state, [n], ON_REQUEST,
                                      progress=lambda f, m, i=i: step.progress((i + f) / len(remaining), m))
                    flagged.update(more)
                    exp = compose(pair_state, flagged, config)
                    show_tokens(exp, view.texts_of(exp), n, scale, merge)
            except Cancelled:
                actions.mark_cancelled("rest", pair_inputs)
                st.session_state.pop("explain_split_rest_for", None)
                st.info("Splitting the other texts was cancelled.", icon=":material/cancel:")
            step.close()

    # -- can it be trusted? (on request: costs seconds) -------------------------------------------
    st.subheader("Faithfulness: does removing the top tokens lower the score?")
    methods = ", ".join(list(TOKEN_METHODS) + [m for m in ("attention", "rollout") if m not in TOKEN_METHODS])
    if not pair_state.curves:
        st.caption(f"Compares {methods} and a random order on deletion curves.")
        if st.button("Compute deletion curves", key="explain_faithfulness"):
            st.session_state["explain_faithfulness_for"] = pair_inputs
            actions.forget_cancel("faithfulness")
        if actions.cancel_requested("faithfulness", pair_inputs, {"faithfulness", "split"}):
            st.session_state.pop("explain_faithfulness_for", None)
            st.info("Deletion curves cancelled: nothing of them was kept. Press **Compute deletion curves** to "
                    "start again.", icon=":material/cancel:")
        elif st.session_state.get("explain_faithfulness_for") == pair_inputs:
            step = actions.CancellableStep("faithfulness", "Deletion curves")
            try:
                jobs.faithfulness(pair_state, progress=step.progress)
            except Cancelled:
                actions.mark_cancelled("faithfulness", pair_inputs)
                st.info("Deletion curves cancelled: nothing of them was kept.", icon=":material/cancel:")
            step.close()
    if pair_state.curves:
        exp = compose(pair_state, flagged, config)
        page.chart(view.deletion_figure(exp.faithfulness))
        # Below the chart, not beside it: in two fifths of the page the last column was cut off.
        t_col, a_col = st.columns([3, 2], gap="large")
        with t_col:
            st.dataframe(view.faithfulness_table(exp.faithfulness), hide_index=True, width="stretch",
                         column_config={c: st.column_config.NumberColumn(format="%.3f")
                                        for c in ("deletion area ↑", "comprehensiveness ↑", "sufficiency ↓")},
                         key="explain_faithfulness_table")
            for method in TOKEN_METHODS.values():
                st.caption(f"**{method.name}**: {method.description}")
        with a_col:
            st.markdown("**Attention–IG agreement** (Spearman over tokens)")
            st.dataframe({k.replace("_", " "): round(v, 3) for k, v in exp.agreement.items()}, width="stretch")

    # -- why A above B -------------------------------------------------------------------------
    st.subheader("Why this item above another?")
    others = [i for i in top if i != item_id] or [i for i in rec.catalog.item_ids if i != item_id]
    other = st.selectbox("Compare with", others, format_func=lambda i: formatting.item_label(rec, i), key="explain_b")
    words = st.checkbox("Also attribute the difference to words (integrated gradients, slow)", False,
                        key="explain_compare_words",
                        help="The net shares need a few seconds; the word level runs both texts and the whole "
                             "history through BERT at every step (about a minute on a small CPU).")
    contrast_inputs = (rec.model_fingerprint, who, item_id, other, words) + ((steps, baseline) if words else ())
    pending = st.session_state.get("explain_contrast_job")
    if st.button("Compare", key="explain_compare"):
        pending = (contrast_inputs, jobs.submit_contrast(rec, user_id, item_id, other,
                                                         ExplainConfig(n_steps=min(steps, 20), baseline=baseline), ctx, words))
        st.session_state["explain_contrast_job"] = pending
        actions.forget_cancel("contrast")
    if actions.cancel_requested("contrast", "any", {"contrast"}):  # the message stays until the next Compare
        st.session_state.pop("explain_contrast_job", None)
        st.info("Comparison cancelled; the result below (if any) is the earlier one.", icon=":material/cancel:")
    elif pending is not None:  # a comparison running (maybe started in an earlier run): wait for it here
        step = actions.CancellableStep("contrast", "Comparing")
        try:
            c = jobs.wait(pending[1], step.progress)
            a_label, b_label = formatting.item_label(rec, c.item_a), formatting.item_label(rec, c.item_b)
            actions.keep("contrast", pending[0], f"{pending[0][1]}: {a_label} (A) vs {b_label} (B)"
                         f"{' with words' if pending[0][4] else ''} (model {state.model_label()})", c)
        except Cancelled:
            st.info("Comparison cancelled.", icon=":material/cancel:")
        st.session_state.pop("explain_contrast_job", None)
        step.close()
    shown = actions.kept("contrast")
    if shown is not None:
        c = shown.value
        actions.show_inputs(shown, contrast_inputs, "Compare")
        st.markdown(plain(c.summary()))
        st.caption("Each field's share is what changes when that field takes A's value instead of B's, averaged "
                   "over the order of swapping (Shapley values over the fields and the item id), so the parts add "
                   "up to the difference and a field that is the same on both items gets 0. The item id part is "
                   "what the learned id vectors add beyond the text — how often such items were chosen together, "
                   "including how the history is weighed for each; the bias is each item's own popularity term.")
        page.chart(view.contrast_bar(c.parts(), "What favours A (positive) or B (negative), net"))
        if c.tokens_a:
            st.markdown(f"**Word level** (integrated gradients, with every text blanked the difference would be "
                        f"{c.baseline_difference:+.3f}; convergence delta {c.convergence_delta:+.4f})")
            page.chart(view.field_bar(c.word_fields, "Words per field and text: favours A (positive) or B (negative)"))

    # -- what if -----------------------------------------------------------------------------
    st.subheader("What if…")
    history_ids = [rec.catalog.item_ids[i] for i in ctx.history[-20:][::-1]]
    w1, w2 = st.columns(2)
    drop_items = w1.multiselect("Remove history items", history_ids, format_func=lambda i: formatting.item_label(rec, i),
                                key="whatif_items")
    drop_fields = w2.multiselect("Remove item fields", rec.catalog.item_fields, key="whatif_fields")
    original = rec.catalog.item_texts[rec.item_position(item_id)].text
    edited = st.text_area("…or edit the item text", original, key=f"whatif_text_{item_id}")
    whatif_inputs = (rec.model_fingerprint, who, item_id, tuple(drop_items), tuple(drop_fields),
                     edited if edited != original else None)
    if st.button("Re-score", key="whatif_run"):
        with st.spinner("Re-scoring…"):
            w = what_if(rec, user_id, item_id, remove_history=drop_items, remove_fields=drop_fields,
                        item_text=whatif_inputs[-1], ctx=ctx)
        actions.keep("whatif", whatif_inputs,
                     f"{who}, {formatting.item_label(rec, item_id)}, {w.change} (model {state.model_label()})", w)
    shown = actions.kept("whatif")
    if shown is not None:
        w = shown.value
        actions.show_inputs(shown, whatif_inputs, "Re-score")
        st.markdown(f"**{plain(w.change)}**")
        s1, s2 = st.columns(2)
        s1.metric("Score (logit) after", f"{w.score_after:+.3f}", f"{w.score_after - w.score_before:+.3f}")
        s2.metric("Rank after", f"{w.rank_after:,}", f"{w.rank_before - w.rank_after:+,} places", delta_color="normal")

    # -- export ---------------------------------------------------------------------------------
    st.subheader("Export")
    e1, e2 = st.columns(2)
    title = formatting.item_label(rec, item_id)
    # The files are built when clicked (in Streamlit's own thread), not on every run of this page:
    # the JSON alone cost 0.6 s per run before attention was summarised; a click needs no rerun either.
    e1.download_button("Explanation as HTML", lambda: explanation_html(exp, title), f"explanation-{item_id}.html",
                       "text/html", key="explain_html", on_click="ignore", icon=":material/download:")
    full = e2.checkbox("JSON with every attention layer and head", False, key="explain_json_full",
                       help="By default the JSON keeps, per text, the last layer's head-averaged attention and the "
                            "rollout; every layer × head makes it many times larger.")
    attention = "full" if full else "summary"
    e2.download_button(f"Explanation as JSON ({'every layer and head' if full else 'attention summary'})",
                       lambda: json.dumps(exp.to_dict(attention=attention)), f"explanation-{item_id}.json",
                       "application/json", key="explain_json", on_click="ignore", icon=":material/download:")
