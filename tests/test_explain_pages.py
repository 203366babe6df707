"""The Explain and Feature importance pages on the demo model (Streamlit AppTest)."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


def test_explain_page_shows_heatmap_attributions_and_reason():
    at = AppTest.from_file(str(ROOT / "pages" / "4_Explain.py"), default_timeout=600)
    at.session_state["explain_steps"] = 8  # fewer steps keep the test fast; the page default is 64
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    subheaders = [s.value for s in at.subheader]
    assert "Attention: where the encoder looks" in subheaders
    assert "Integrated gradients: what moved the score" in subheaders
    assert len(at.get("plotly_chart")) >= 5  # text shares, history, heatmap, top tokens, fields
    assert at.info, "the plain-language reason is missing"
    reason = at.info[0].value
    shown = reason.replace("\\", "")  # safe_text.plain escapes markdown
    assert shown.startswith(("Recommended (rank 1 of the top 10) mainly because of", "Ranks 1, in the top 10")), shown
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Rank among unseen items"] == "1"
    # the user's whole history, marked with what the model reads (the demo model reads the latest 20)
    rec, user = at.session_state["model"], at.selectbox(key="explain_user").value
    n = len(rec.context(user).history)
    history = next(d.value for d in at.dataframe if "read by the model" in d.value.columns)
    assert len(history) == n and history["read by the model"].sum() == min(n, rec.max_history)
    assert any(f"the model reads {min(n, rec.max_history)} of {n} items" in e.label for e in at.expander)
    # deletion curves only on request
    assert "Faithfulness: does removing the top tokens lower the score?" in subheaders
    charts = len(at.get("plotly_chart"))
    at.button(key="explain_faithfulness").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]  # a rerun of a cached pair draws every chart once
    assert len(at.get("plotly_chart")) == charts + 1
    methods = set(next(d.value for d in at.dataframe if "method" in d.value.columns)["method"])
    assert {"integrated gradients", "GradientSHAP", "field ablation", "random"} <= methods
    assert "Over the tokens of the" in "\n".join(c.value for c in at.caption)  # the texts the curves judge
    # ... with the history orderings of this pair judged as the core judges them (LXR metrics at the top 10)
    from dashboard.explanations import page_config
    from recsys_core.explain import pair_state
    from recsys_core.explain.core import pair_history_fidelity

    item = at.selectbox(key="explain_item").value
    expected = pair_history_fidelity(pair_state(rec, user, item, page_config(8, "pad")))
    table = next(d.value for d in at.dataframe if "ordering" in d.value.columns)
    assert list(table["ordering"]) == [f.method for f in expected] and len(expected) == 6
    for (_, row), f in zip(table.iterrows(), expected):
        assert list(row.iloc[1:]) == [f.pos[10], f.neg[10], f.deletion, f.insertion]

    # the smallest change, on request: the page shows what the core computes for this pair
    from recsys_core.explain import counterfactual

    at.button(key="explain_counterfactual").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    expected = counterfactual(rec, rec.context(user), rec.item_position(item), 10).summary()
    shown = [i.value.replace("\\", "").replace("\u2060", "") for i in at.info]  # plain() escapes and joins
    assert expected in shown, (shown, expected)


def _markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_explain_page_shows_score_and_rank_not_a_probability():
    at = AppTest.from_file(str(ROOT / "pages" / "4_Explain.py"), default_timeout=600)
    at.session_state["explain_steps"] = 8
    at.run()
    labels = [m.label for m in at.metric]
    assert "Score (logit)" in labels and "Rank among unseen items" in labels
    assert not any("P(" in label or "probab" in label.lower() for label in labels)


def test_compare_and_what_if_results_stay_until_replaced():
    at = AppTest.from_file(str(ROOT / "pages" / "4_Explain.py"), default_timeout=600)
    at.session_state["explain_steps"] = 8
    at.run()
    at.multiselect(key="whatif_fields").set_value(["description"])
    at.button(key="whatif_run").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(m.label == "Rank after" for m in at.metric)
    at.button(key="explain_compare").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert "a difference of" in _markdown(at)
    first_summary = next(m.value for m in at.markdown if "a difference of" in m.value)

    # another widget changes: both results are still on the page, for unchanged inputs (no warning)
    at.checkbox(key="explain_merge").uncheck()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(m.label == "Rank after" for m in at.metric)
    assert first_summary in _markdown(at)
    assert not [w.value for w in at.warning if "earlier choice" in w.value]
    assert any("Result for" in c.value for c in at.caption)

    # the inputs of both change: the results stay, each said to be for the earlier choice
    other = at.selectbox(key="explain_b")
    other.select_index(len(other.options) - 1)
    at.multiselect(key="whatif_fields").set_value([])
    at.run()
    assert first_summary in _markdown(at)
    assert any(m.label == "Rank after" for m in at.metric)
    stale = [w.value for w in at.warning if "earlier choice" in w.value]
    assert len(stale) == 2, stale

    # a new Compare replaces the result
    at.button(key="explain_compare").click()
    at.run()
    assert first_summary not in _markdown(at)
    assert len([w.value for w in at.warning if "earlier choice" in w.value]) == 1  # only the what-if's


def test_feature_importance_page_computes_shares():
    at = AppTest.from_file(str(ROOT / "pages" / "6_Feature_importance.py"), default_timeout=600)
    at.run()
    assert not at.exception
    at.slider(key="fi_users").set_value(3)
    at.slider(key="fi_k").set_value(1)
    at.button(key="fi_run").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("plotly_chart")) >= 2  # shares and words; buckets with under 5 pairs are listed, not drawn
    assert sum("sampled pairs" in d.value.columns for d in at.dataframe) == 2


# -- figures of the page, on hand-made results (no model needed) ------------------------------------
def _explanation_with_repeated_words():
    from recsys_core.explain import Explanation, TextContribution, TokenAttribution

    words = ["[CLS]", "the", "sea", "and", "the", "storm", "the", "end", "[SEP]"]
    tokens = [TokenAttribution(w, 0.0 if w.startswith("[") else 0.1 * (i + 1), "item", None if w.startswith("[") else "title",
                               None, 0, i, w.startswith("[")) for i, w in enumerate(words)]
    texts = [TextContribution(0, "item", 1.0, True, 0.0, 8)]
    return Explanation("u", "i", 1.0, 0.0, 0.0, True, tokens, {}, [], [], [], {}, "", 1, texts=texts)


def test_top_words_draw_each_occurrence_as_its_own_bar():
    from dashboard.explain_view import top_tokens_bar

    fig = top_tokens_bar(_explanation_with_repeated_words(), n=15)
    labels = list(fig.data[0].y)
    assert len(labels) == 7 == len(set(labels))  # "the" three times: three bars
    assert {"the (item, 1)", "the (item, 4)", "the (item, 6)"} <= set(labels)
    assert fig.layout.yaxis.type == "category"


def test_heatmap_labels_every_token():
    import numpy as np

    from dashboard.explain_view import attention_heatmap
    from recsys_core.explain import TextAttention

    tokens = ["[CLS]"] + [f"w{i}" for i in range(60)] + ["[SEP]"]
    n = len(tokens)
    maps = np.full((2, 1, n, n), 1.0 / n, dtype=np.float32)
    att = TextAttention("item", 0, tokens, maps, True, maps[0, 0], np.ones(n), np.ones(n))
    fig = attention_heatmap(att, 1, None, hide_special=True)
    from dashboard.plots import label_width

    for axis in (fig.layout.xaxis, fig.layout.yaxis):
        assert axis.tickmode == "array" and len(axis.tickvals) == len(axis.ticktext) == 60
    room = label_width(fig.layout.yaxis.ticktext, fig.layout.yaxis.tickfont.size)
    assert fig.layout.margin.l >= room and fig.layout.margin.b >= room  # rows' labels left, columns' (rotated) under
    assert fig.layout.height >= 60 * 14  # room for every row's label
