"""Evaluation: the model next to the baselines at K = 5/10/20, per slice, and its training curve.

On the cold-item and new-user slices, a sentence compares the model with its text-only reference.
"""
import streamlit as st

from dashboard import formatting, page, plots, state, update_panel
from dashboard.safe_text import plain
from recsys_core import METRIC_NAMES

page.setup("Evaluation")
rec = state.model()
report = rec.report
if report is None:
    st.info("This model was saved without an evaluation report: train one on the Train page to see metrics.")
    st.stop()

update_panel.evaluation_note(rec)  # an updated model: the report below is from its first training
# The report is read from a saved model's metrics.json, so its strings are shown as text.
st.info(f"**Protocol.** {plain(report.protocol)}", icon=":material/rule:")
a, b = st.columns([3, 1])
families = a.multiselect("Metrics", METRIC_NAMES, default=["NDCG", "Recall", "HitRate"], key="eval_metrics")
curve_family = b.selectbox("Metric over K", METRIC_NAMES, index=METRIC_NAMES.index("NDCG"), key="eval_curve")

with page.user_errors():  # a report from an older or damaged metrics.json: a message, not a traceback
    for tab, s in zip(st.tabs([plain(formatting.SLICE_TITLES.get(s.name, s.name)) for s in report.slices]),
                      report.slices):
        with tab:
            title = formatting.SLICE_TITLES.get(s.name, s.name)
            note = f" — {plain(s.note)}" if s.note else ""
            st.caption(f"{s.n_cases:,} users{note}. Best value of each ranking metric highlighted.")
            if s.name in formatting.REFERENCE_SLICES:  # does text carry where ids cannot help?
                st.info(plain(formatting.reference_sentence(s, report.text_reference)), icon=":material/compare_arrows:")
            st.dataframe(formatting.highlight_best(formatting.slice_table(s, report.ks, families)), width="stretch")
            # The highlight says which row is highest; whether the lead is more than noise is a paired question.
            st.caption(plain(formatting.lead_sentence(s)))
            intervals = formatting.interval_table(s, report.ks, families)
            if not intervals.empty:
                with st.expander("95% intervals (± over users) of each row: rows whose intervals overlap may still "
                                 "differ, which only a paired difference on the same users tells"):
                    st.dataframe(intervals.style.format("±{:.4f}", na_rep="–"), width="stretch")
            page.chart(plots.metric_over_k(formatting.metric_over_k(s, curve_family, report.ks), curve_family, title))

if len(report.slices) == 1:
    st.caption("Cold-item and new-user slices appear here for models trained with a cold-item or held-out-user "
               "fraction (Train page).")

st.header("Training")
with page.user_errors():
    if rec.train_log:
        record = rec.training
        st.caption(plain(f"Best epoch {record.best_epoch or '?'} of {len(rec.train_log)} "
                         f"({record.stopped or 'completed'}); {record.train_seconds or '?'} s in total."))
        page.chart(plots.training_curve(rec.train_log, record.best_epoch or None))
    else:
        st.caption("No training log was saved with this model.")
