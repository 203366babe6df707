"""Panels of the Explain page that draw one finished result (Streamlit; no work and no session memory here).

The page script keeps the order of the screen, the widgets that choose what to compute, and the
steps with their progress and Cancel buttons (``dashboard.explanations``); each function below
draws a result where the page calls it.  Figures come from ``explain_view``.
"""
from __future__ import annotations

import json

import streamlit as st

from recsys_core.explain import TOKEN_METHODS, Contrast, Counterfactual, Explanation, WhatIf, explanation_html

from . import explain_view as view
from .explanations import ASKED, CANCELLED, TOP_K, PairExplanation
from .page import chart
from .safe_text import plain


def score_metrics(exp: Explanation) -> None:
    # Score (a logit) and rank, no probability: sigmoid of these logits reads 0.95–1.00 for every
    # recommendation and says nothing an analyst can compare.
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Score (logit)", f"{exp.score:+.3f}", help="The model's raw score; only differences between items matter.")
    m2.metric("Rank among unseen items", f"{exp.rank:,}")
    m3.metric("Blanked-text reference", f"{exp.baseline_score:+.3f}")
    m4.metric("Item text's share", f"{exp.texts[0].attribution:+.4f}")


def history(exp: Explanation) -> None:
    if exp.history_items:
        chart(view.history_bar(exp.history_items))
        st.caption("Each bar is what removing the item from the history costs the score, through every path: "
                   "its text (green, the IG share) and its id, recency and the model's attention (grey). "
                   f"Together beyond their single removals the items add {exp.history_together:+.2f}.")
    else:
        st.info("This user has no history: the score rests on the profile and the item.")


def attention(exp: Explanation) -> None:
    """The encoder's attention over one text, with the text, layer (or rollout) and head to show."""
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
    chart(view.attention_heatmap(att, layer, head, hide))


def token_scale(exp: Explanation) -> float:
    """The largest |token attribution|: one colour scale for every text of the pair."""
    return max((abs(t.attribution) for t in exp.tokens if not t.special), default=1.0)


def tokens(exp: Explanation, index: int, scale: float, merge: bool) -> None:
    """One text's tokens coloured by attribution, or a note that it is not split yet."""
    info, texts = exp.texts[index], view.texts_of(exp)
    st.markdown(f"**{plain(info.label)}** — share {info.attribution:+.3f}")
    if index in texts:
        st.html(view.token_html(texts[index], scale, merge))
    else:
        st.caption("Not split into tokens yet.")


def convergence(exp: Explanation) -> str:
    gap = abs(exp.score - exp.baseline_score)
    return (f"Convergence delta {exp.convergence_delta:+.5f} ({abs(exp.convergence_delta) / max(gap, 1e-9):.1%} "
            "of the score change): texts add up to the score, and each split text's tokens to its share.")


def faithfulness_offer() -> str:
    """What the faithfulness step computes, said before it runs."""
    methods = ", ".join(list(TOKEN_METHODS) + [m for m in ("attention", "rollout") if m not in TOKEN_METHODS])
    return (f"Compares {methods} and a random order on deletion curves, and six orderings of the history items by "
            f"what removing them does to the item's place in the top {TOP_K}.")


def faithfulness(exp: Explanation) -> None:
    """Deletion curves, their scores per method, and how attention agrees with IG."""
    st.caption(plain(view.faithfulness_scope(exp)))
    chart(view.deletion_figure(exp.faithfulness))
    # Below the chart, the page's full width: in two fifths of the page the last column was cut off, and
    # with the random order's drop beside each method's the table has five columns.
    st.dataframe(view.faithfulness_table(exp.faithfulness), hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%.3f") for c in view.FAITHFULNESS_NUMBERS},
                 key="explain_faithfulness_table")
    t_col, a_col = st.columns([3, 2], gap="large")
    with t_col:
        st.caption(view.FAITHFULNESS_CAPTION)
        for method in TOKEN_METHODS.values():
            st.caption(f"**{method.name}**: {method.description}")
    with a_col:
        st.markdown("**Attention–IG agreement** (Spearman over tokens)")
        st.dataframe({k.replace("_", " "): round(v, 3) for k, v in exp.agreement.items()}, width="stretch")
    history_fidelity(exp)


def history_fidelity(exp: Explanation) -> None:
    """The history orderings of this pair on the LXR metrics at the page's list length."""
    st.markdown(f"**History items: does removing the ones an ordering ranks first take the item out of the top "
                f"{TOP_K}?** (this pair)")
    if not exp.history_fidelity:
        st.caption("This user has no history items the model reads: there is nothing to remove.")
        return
    formats = {c: st.column_config.NumberColumn(format="percent") for c in view.HISTORY_FIDELITY_SHARES}
    formats.update({c: st.column_config.NumberColumn(format="%+.3f") for c in view.HISTORY_FIDELITY_SCORES})
    st.dataframe(view.history_fidelity_table(exp.history_fidelity, TOP_K), hide_index=True, width="stretch",
                 column_config=formats, key="explain_history_fidelity_table")
    st.caption(view.history_fidelity_caption(TOP_K))


def comparison(c: Contrast) -> None:
    """Why A above B: the net parts of the score difference, and the word level when computed."""
    st.markdown(plain(c.summary()))
    st.caption("Each field's share is what changes when that field takes A's value instead of B's, averaged "
               "over the order of swapping (Shapley values over the fields and the item id), so the parts add "
               "up to the difference and a field that is the same on both items gets 0. The item id part is "
               "what the learned id vectors add beyond the text — how often such items were chosen together, "
               "including how the history is weighed for each; the bias is each item's own popularity term.")
    chart(view.contrast_bar(c.parts(), "What favours A (positive) or B (negative), net"))
    if c.has_words:
        st.markdown("**Word level** (integrated gradients)")
        st.caption(view.contrast_words_caption(c))
        chart(view.contrast_bar(c.word_parts(), "Words of A's and B's texts, the user's texts whole"))


def what_if(w: WhatIf) -> None:
    st.markdown(f"**{plain(w.change)}**")
    s1, s2 = st.columns(2)
    s1.metric("Score (logit) after", f"{w.score_after:+.3f}", f"{w.score_after - w.score_before:+.3f}")
    s2.metric("Rank after", f"{w.rank_after:,}", f"{w.rank_before - w.rank_after:+,} places", delta_color="normal")


def export(exp: Explanation, title: str, item_id: str) -> None:
    """HTML and JSON downloads of the explanation as shown."""
    st.subheader("Export")
    e1, e2 = st.columns(2)
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


def smallest_change(pair: PairExplanation) -> None:
    """The counterfactual section: on request, the smallest history removal that moves the item across the top-K
    boundary, checked by re-scoring the catalogue (recsys_core.explain.counterfactual)."""
    st.subheader(f"The smallest change that would move it across the top {TOP_K}")
    change = pair.kept_counterfactual()
    if change is None:
        st.caption("Which history items would have to be missing for this item to leave the list (or, outside it, to "
                   "enter it)? Each candidate set is checked by re-scoring the whole catalogue.")
        if st.button("Find the smallest change", key="explain_counterfactual"):
            pair.ask("counterfactual")
        status = pair.status("counterfactual")
        if status == ASKED:
            with pair.running("counterfactual", "Smallest change") as step:
                change = pair.find_counterfactual(step.progress)
        if status == CANCELLED or (status == ASKED and step.cancelled):
            st.info("The search was cancelled: nothing of it was kept.", icon=":material/cancel:")
    if change is not None:
        counterfactual(change)


def counterfactual(change: Counterfactual) -> None:
    st.info(plain(change.summary()), icon=":material/difference:")
    if change.removed:
        st.dataframe(view.counterfactual_table(change), hide_index=True, key="explain_counterfactual_table")
    st.caption(f"{change.sets_checked:,} removal set{'s' if change.sets_checked != 1 else ''} re-scored in "
               f"{change.seconds:.1f} s.")
