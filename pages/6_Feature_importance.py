"""Feature importance: which fields and words drive recommendations across many users."""
import streamlit as st

from dashboard import explain_view as view
from dashboard import importance_jobs as jobs
from dashboard import importance_view as iview
from dashboard import page, state
from dashboard.safe_text import plotly_text


def labelled(values: dict) -> dict:
    """Field names (uploaded column names) as plotly labels: plotly reads <a href>, <b>… in them as markup."""
    return {plotly_text(name): value for name, value in values.items()}


def finished(kind: str, what: str):
    """Once this session's last ``kind`` run on this model ends, its result is kept (shown, and for a reload)."""
    run = jobs.finished_run(runs, (key, kind), what, cancel_key=f"fi_cancel_{kind}")
    if run is not None:
        jobs.keep(run)


page.setup("Feature importance")
rec = state.model()
results = jobs.results()  # (model fingerprint, kind) → computed result
runs = jobs.runs()  # (model fingerprint, kind) → this session's latest run (one on another model goes on)
key = rec.model_fingerprint

st.markdown("Integrated-gradients attributions of many (user, recommended item) pairs, rolled up to fields; and "
            "the validation NDCG@10 each field is worth when it is removed from every text.")

with page.user_errors():
    busy = (key, "ig") in runs and not runs[key, "ig"].job.done
    a, b, c = st.columns([1, 1, 1], vertical_alignment="bottom")
    n_users = a.slider("Users in the sample", 3, 100, jobs.DEFAULT_USERS, key="fi_users", help="Sampled across the user-activity "
                       "buckets in proportion to their size (seeded).")
    k = b.slider("Top-K items per user", 1, 10, jobs.DEFAULT_K, key="fi_k")
    if c.button("Compute attribution shares", type="primary", key="fi_run", disabled=busy) and not busy:
        runs[key, "ig"] = jobs.start_shares(rec, n_users, k)
        st.rerun()  # redraw with the button disabled while the run goes on
    finished("ig", "shares")
    last = results.get((key, "ig"))
    if last is not None:  # an estimate only from a time measured here, never a promise
        st.caption(iview.estimate(last, n_users, k))

    ig = results.get((key, "ig"))
    if ig is None:
        st.info("Press **Compute attribution shares**. Each pair is timed as it is explained: the progress bar "
                "shows the measured seconds per pair and the time left, and Cancel stops the run.")
    else:
        st.caption(f"{ig.n_pairs} pairs; mean convergence delta {ig.mean_delta_share:.1%} of the score change; "
                   f"{ig.seconds_per_pair:.1f} s per pair measured in this run.")
        for warning in ig.warnings:
            st.warning(warning, icon=":material/warning:")
        left, right = st.columns(2, gap="large")
        page.chart(view.share_bar(labelled(ig.field_share), "Share of |attribution| per field"), where=left)
        page.chart(iview.words_bar(ig.top_words[:20], "Words of item field values that raised scores most"),
                   where=right)
        st.caption("Words are read from field values only: field names, the ':' after them, punctuation and "
                   "English stop-words are left out."
                   + (" *history: (whole text)* is the exact share of the history texts that carry little of the "
                      "score, not split into fields." if any("(whole text)" in f for f in ig.field_share) else ""))
        left, right = st.columns(2, gap="large")
        for column, buckets, title, unit, population in (
            (left, ig.by_user_activity, "By user activity (history-length terciles of all users)", "items in history",
             "users"),
            (right, ig.by_item_popularity, "By item popularity (interaction terciles of all items)", "interactions",
             "items"),
        ):
            with column:
                if any(b.enough for b in buckets):
                    page.chart(iview.bucket_bars(buckets, title, unit))
                else:
                    st.markdown(f"**{title}**: no bucket has enough sampled pairs to draw.")
                st.dataframe(iview.bucket_table(buckets, unit, population), hide_index=True, width="stretch")
        if ig.agreement:
            st.markdown("**Attention–IG agreement across the sample** (mean Spearman): " + ", ".join(
                f"{name.replace('_', ' ')} {value:+.2f}" for name, value in ig.agreement.items()))

    st.subheader("Ablation: what is each field worth?")
    st.caption("Each field is removed from every text, the texts re-encoded, and validation NDCG@10 measured on each "
               "user's second-last interaction with the same model weights. The interval is a seeded bootstrap over "
               "those users: a difference whose interval crosses zero is within noise, neither a gain nor a loss.")
    ablation_busy = (key, "ablation") in runs and not runs[key, "ablation"].job.done
    max_users = st.slider("Validation users", 50, 1000, 300, 50, key="fi_ablation_users")
    if st.button("Run ablation (re-encodes the catalogue once per field)", key="fi_ablation",
                 disabled=ablation_busy) and not ablation_busy:
        runs[key, "ablation"] = jobs.start_ablation(rec, max_users)
        st.rerun()
    finished("ablation", "NDCG@10 changes")
    ablation = results.get((key, "ablation"))
    if ablation is not None:
        page.chart(iview.ablation_bar(ablation))
        st.dataframe(iview.ablation_table(ablation), hide_index=True, width="stretch")
        st.caption(f"{ablation.n_cases} validation users; 95% intervals from {ablation.n_bootstrap} bootstrap "
                   "resamples. A field whose interval crosses zero is within noise: removing it is not a gain.")
