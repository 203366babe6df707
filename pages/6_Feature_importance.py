"""Feature importance: which fields and words drive recommendations across many users."""
import streamlit as st

from dashboard import explain_view as view
from dashboard import page, state
from dashboard.safe_text import plotly_text
from recsys_core.explain import ExplainConfig, field_ablation, global_importance



def labelled(values: dict) -> dict:
    """Field names (uploaded column names) as plotly labels: plotly reads <a href>, <b>… in them as markup."""
    return {plotly_text(name): value for name, value in values.items()}


page.setup("Feature importance")
rec = state.model()
results = st.session_state.setdefault("importance", {})  # model fingerprint → computed results
key = rec.model_fingerprint

st.markdown("Integrated-gradients attributions of many (user, recommended item) pairs, rolled up to fields; and "
            "the validation NDCG@10 each field is worth when it is removed from every text.")

with page.user_errors():
    a, b, c = st.columns([1, 1, 1], vertical_alignment="bottom")
    n_users = a.slider("Users in the sample", 3, 100, 12, key="fi_users")
    k = b.slider("Top-K items per user", 1, 10, 3, key="fi_k")
    if c.button("Compute attribution shares", type="primary", key="fi_run"):
        bar = st.progress(0.0, text="Explaining pairs…")
        results[(key, "ig")] = global_importance(
            rec, n_users=n_users, k=k, config=ExplainConfig(n_steps=16, faithfulness=False),
            progress=lambda done, total: bar.progress(done / total, text=f"Explained {done} of {total} pairs"),
        )
        bar.empty()

    ig = results.get((key, "ig"))
    if ig is None:
        st.info("Press **Compute attribution shares** (about one to two seconds per pair on a CPU).")
    else:
        st.caption(f"{ig.n_pairs} pairs; mean convergence delta {ig.mean_delta_share:.1%} of the score change.")
        left, right = st.columns(2, gap="large")
        left.plotly_chart(view.share_bar(labelled(ig.field_share), "Share of |attribution| per field"),
                          width="stretch", theme="streamlit")
        words = list(labelled(dict(ig.top_words[:20])).items())
        right.plotly_chart(view.words_bar(words, "Words of recommended items that raised scores most"),
                           width="stretch", theme="streamlit")
        left, right = st.columns(2, gap="large")
        by_activity = {bucket: labelled(shares) for bucket, shares in ig.by_user_activity.items()}
        left.plotly_chart(view.bucket_bars(by_activity, "By user activity (history length terciles)", "users"),
                          width="stretch", theme="streamlit")
        by_popularity = {bucket: labelled(shares) for bucket, shares in ig.by_item_popularity.items()}
        right.plotly_chart(view.bucket_bars(by_popularity, "By item popularity (interaction terciles)", "items"),
                           width="stretch", theme="streamlit")
        if ig.agreement:
            st.markdown("**Attention–IG agreement across the sample** (mean Spearman): " + ", ".join(
                f"{name.replace('_', ' ')} {value:+.2f}" for name, value in ig.agreement.items()))

    st.subheader("Ablation: what is each field worth?")
    st.caption("Each field is removed from every text, the texts re-encoded, and validation NDCG@10 measured on each "
               "user's second-last interaction with the same model weights.")
    max_users = st.slider("Validation users", 50, 1000, 300, 50, key="fi_ablation_users")
    if st.button("Run ablation (re-encodes the catalogue once per field)", key="fi_ablation"):
        bar = st.progress(0.0, text="Re-encoding without each field…")
        results[(key, "ablation")] = field_ablation(
            rec, max_users=max_users,
            progress=lambda done, total: bar.progress(done / total, text=f"{done} of {total} fields done"),
        )
        bar.empty()
    ablation = results.get((key, "ablation"))
    if ablation is not None:
        page.chart(view.ablation_bar(labelled(ablation.drop), ablation.base_ndcg10))
