"""Compare: two models trained on the same data, judged on the same test users, side by side."""
import streamlit as st

from dashboard import compare_jobs as jobs
from dashboard import compare_view as view
from dashboard import formatting, page
from dashboard.safe_text import plain
from recsys_core.compare import check_comparable

page.setup("Compare")
st.markdown("Pick a reference model **A** and a variant **B** trained on the same data. Both rank the same test "
            "users as saved (nothing is retrained); every difference is **B minus A** per user, with a paired 95% "
            "interval: a difference whose interval crosses zero is within noise.")

with page.user_errors():
    options = jobs.choices()
    left, right, button = st.columns([2, 2, 1], vertical_alignment="bottom")
    a_name = left.selectbox("Model A (reference)", list(options), key="cmp_a")
    b_name = right.selectbox("Model B (variant)", list(options), index=min(1, len(options) - 1), key="cmp_b")
    if len(options) < 2:
        st.info("Only the demo model is here: train a variant on the **Train** page and save it, then compare.")
        st.stop()
    if a_name == b_name:
        st.info("Choose two different models.")
        st.stop()
    choice_a, choice_b = options[a_name], options[b_name]
    a, b = choice_a.load(), choice_b.load()
    check_comparable(a, b, a_name, b_name)  # other items, interactions or split: said before any work
    key = jobs.pair_key(a, b)
    busy = jobs.busy(key, "comparison")
    if button.button("Compare", type="primary", key="cmp_run", disabled=busy) and not busy:
        jobs.start_comparison(a, b, a_name, b_name)
        st.rerun()  # redraw with the button disabled while the run goes on
    jobs.wait(key, "comparison", "metrics")
    result = jobs.comparison(key)
    if result is None:
        st.info("Press **Compare**: both models rank every test user (about half a minute on the demo); the "
                "progress bar shows how far it is, and Cancel stops it.")
        st.stop()

    st.subheader("Verdict")
    for s in result.slices:
        m = s.metrics["NDCG@10"]
        box = st.success if m.beyond_noise and m.diff > 0 else st.warning if m.beyond_noise else st.info
        box(plain(f"{view.slice_label(s.name)} ({s.n_cases:,} users): {m.verdict(a_name, b_name)}"))
    names = [s.name for s in result.slices]
    shown = st.segmented_control("Slice", names, default=names[0], format_func=view.slice_label,
                                 key="cmp_slice") if len(names) > 1 else names[0]
    s = result.slice(shown or names[0]) or result.slices[0]
    table = view.metric_table(s, a_name, b_name)
    st.dataframe(table, hide_index=True, width="stretch", height=page.table_height(len(table), len(table)),
                 column_config={c: st.column_config.NumberColumn(format="%.4f")
                                for c in (f"A: {a_name}", f"B: {b_name}", "B − A")})
    st.caption(plain(f"{s.note + '. ' if s.note else ''}Protocol: {result.protocol} Compared in "
                     f"{result.seconds:.0f} s."))

    st.subheader("Who gains, who loses")
    page.chart(view.difference_histogram(s, a_name, b_name))
    helped, hurt = s.users(10, helped=True), s.users(10, helped=False)
    for column, rows, title in zip(st.columns(2, gap="large"), (helped, hurt), ("helps", "hurts")):
        column.markdown(f"**Users B {title} most** (NDCG@10)")
        if rows.empty:
            column.caption(f"B {title} no user here.")
        else:
            column.dataframe(view.user_table(rows, a_name, b_name), hide_index=True, width="stretch",
                             column_config={c: st.column_config.NumberColumn(format="%.3f")
                                            for c in (f"A: {a_name}", f"B: {b_name}", "B − A")})
    users = [*helped["user_id"], *hurt["user_id"]]
    if users:
        who, with_a, with_b = st.columns([2, 1, 1], vertical_alignment="bottom")
        who.selectbox("Open a user on Recommendations", users, key="cmp_open_user")
        with_a.button("With A", key="cmp_open_a", icon=page.ICONS["Recommendations"],
                      on_click=jobs.open_on_recommendations, args=(choice_a, "cmp_open_user"),
                      help="Makes A the session's model and shows this user's recommendations.")
        with_b.button("With B", key="cmp_open_b", icon=page.ICONS["Recommendations"],
                      on_click=jobs.open_on_recommendations, args=(choice_b, "cmp_open_user"),
                      help="Makes B the session's model and shows this user's recommendations.")

    lists = result.lists
    if lists is not None:
        st.subheader("How the lists differ")
        st.caption(f"Top {lists.k} of each warm test user, as evaluated (their training and validation items "
                   "left out). Rank-biased overlap weighs agreement near the top more; 1 means the same lists. "
                   "Popularity: training interactions of a listed item, on average.")
        for column, (label, value, delta) in zip(st.columns(4), view.list_numbers(lists)):
            column.metric(label, value, delta, delta_color="off")
        for column, counts, title in zip(st.columns(2, gap="large"), (lists.entering, lists.leaving),
                                         ("Entering B's lists most often", "Leaving them most often")):
            column.markdown(f"**{title}**")
            column.dataframe(view.item_table(counts), hide_index=True, width="stretch")

    st.subheader("One pair, explained by both")
    test = result.slices[0]
    first = helped["user_id"].iloc[0] if not helped.empty else test.user_ids[0]
    who, what, go = st.columns([1, 2, 1], vertical_alignment="bottom")
    user = who.selectbox("User", test.user_ids, index=test.user_ids.index(first), key="cmp_pair_user")
    row = test.user_ids.index(user)
    item = what.selectbox("Item (B's top 10, then A's)", list(dict.fromkeys([*test.top_b[row], *test.top_a[row]])),
                          key="cmp_pair_item", format_func=lambda i: formatting.item_label(a, i))
    pair_busy = jobs.busy(key, "pair")
    if go.button("Explain with both", key="cmp_pair_run", disabled=pair_busy) and not pair_busy:
        jobs.start_pair(a, b, user, item)
        st.rerun()
    jobs.wait(key, "pair", "explanations")
    pair = jobs.pair(key)
    if pair is None:
        st.caption("Integrated gradients of the texts carrying the score, under A and under B with the same "
                   "settings: which fields and history items each model leans on for this pair.")
    else:
        st.markdown(plain(f"{pair.user_id} × {formatting.item_label(a, pair.item_id)}: rank {pair.a.rank} under A, "
                          f"{pair.b.rank} under B, given the history of the user's test case (the held-out item is not in it)."))
        left, right = st.columns(2, gap="large")
        page.chart(view.field_share_bars(pair, a_name, b_name), where=left)
        right.markdown("**History items**: score − score without the item, in each model's own units (empty: "
                       "outside that model's history window)")
        right.dataframe(view.history_table(pair, a_name, b_name), hide_index=True, width="stretch",
                        column_config={c: st.column_config.NumberColumn(format="%+.3f")
                                       for c in (f"A: {a_name}", f"B: {b_name}")})
        st.caption(plain(f"A: {pair.a.reason}"))
        st.caption(plain(f"B: {pair.b.reason}"))
