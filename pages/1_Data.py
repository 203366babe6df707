"""Data: upload and map your files, then look at what was loaded."""
import streamlit as st

from dashboard import formatting, page, plots, state, uploads
from dashboard.uploads import FILE_TYPES
from dashboard.resources import read_upload
from dashboard.safe_text import plain
from recsys_core import ITEM, TIMESTAMP, USER, ColumnMap, build_field_text, describe_fields, rating_mode

NONE = "(none)"


def read(upload):
    return None if upload is None else read_upload(upload.name, upload.getvalue())


page.setup("Data")

with st.expander("Load your own data", icon=":material/upload_file:", expanded=True):
    st.caption("CSV, TSV, Parquet, or RecBole atomic files (.inter, .item, .user). Interactions and items are "
               "required; user profiles are optional.")
    c1, c2, c3 = st.columns(3)
    inter_file = c1.file_uploader("Interactions", type=FILE_TYPES, key="upload_interactions")
    items_file = c2.file_uploader("Items", type=FILE_TYPES, key="upload_items")
    users_file = c3.file_uploader("Users (optional)", type=FILE_TYPES, key="upload_users")
    columns, item_id, item_fields, user_id, user_fields, min_rating = ColumnMap(), ITEM, None, USER, None, None
    rename: dict[str, str] = {}
    checked = uploads.UploadCheck()
    with page.user_errors():
        inter_df, items_df, users_df = read(inter_file), read(items_file), read(users_file)
        if inter_df is not None:
            st.markdown("**Interaction columns**")
            cols = list(inter_df.columns)
            a, b, c, d = st.columns(4)
            user_col = a.selectbox("User", cols, index=formatting.guess_column(cols, "user_id", "user"),
                                   placeholder="choose a column")
            item_col = b.selectbox("Item", cols, index=formatting.guess_column(cols, "item_id", "item"),
                                   placeholder="choose a column")
            rating_col = c.selectbox("Rating", [NONE, *cols],
                                     index=(formatting.guess_column(cols, "rating", "score") or -1) + 1)
            time_col = d.selectbox("Timestamp", [NONE, *cols],
                                   index=(formatting.guess_column(cols, "timestamp", "time", "date") or -1) + 1)
            columns = ColumnMap(user=user_col or USER, item=item_col or ITEM,
                                rating=None if rating_col == NONE else rating_col,
                                timestamp=None if time_col == NONE else time_col)
        if items_df is not None:
            st.markdown("**Item text**")
            cols = list(items_df.columns)
            a, b = st.columns([1, 3])
            item_id = a.selectbox("Item id column", cols, index=formatting.guess_column(cols, "item_id", "id") or 0)
            item_fields = b.multiselect("Fields that become the item text", [c for c in cols if c != item_id],
                                        default=describe_fields(items_df, item_id))
        if users_df is not None:
            st.markdown("**User profile text**")
            cols = list(users_df.columns)
            a, b = st.columns([1, 3])
            user_id = a.selectbox("User id column", cols, index=formatting.guess_column(cols, "user_id", "id") or 0)
            others = [c for c in cols if c != user_id]
            user_fields = b.multiselect("Fields that become the profile text", others, default=others)
        text_fields = list(dict.fromkeys([*(item_fields or []), *(user_fields or [])]))
        if text_fields:
            st.markdown("**Field names in the text**")
            st.caption("BERT reads each field as name: value (title: Heat | genres: Crime), so the name is part "
                       "of the text: give a column a name that reads as words, e.g. movie_title → title.")
            grid = st.columns(min(len(text_fields), 4))
            for i, field in enumerate(text_fields):  # one box per name: the library renames it in both tables
                new = grid[i % len(grid)].text_input(plain(field), value=str(field), key=f"rename_{field}")
                if new.strip() != str(field):
                    rename[field] = new
            if items_df is not None and item_fields and len(items_df):
                named = {rename.get(f, f).strip(): items_df[f].iloc[0] for f in item_fields}
                st.caption("The first item's text, as BERT will read it:")
                st.code(build_field_text(named, list(named)).text, language=None, wrap_lines=True)
        min_rating = st.number_input("Keep only interactions rated at least (optional)", value=None, step=0.5,
                                     help="Turns explicit ratings into implicit feedback; leave empty to keep all.")

        # Checked as soon as the files and columns are chosen: a wrong file is reported here, not after "Load".
        with st.spinner("Checking the files with these columns…"):
            checked = uploads.check(inter_file, items_file, users_file, columns=columns, item_fields=item_fields,
                                    user_fields=user_fields, min_rating=min_rating, item_id_col=item_id,
                                    user_id_col=user_id, rename=rename)
        if checked.problem:
            page.error(checked.problem)
        elif checked.ready and checked.dataset is not state.dataset():  # once loaded, the page below shows it
            st.success(formatting.ready_to_load(checked.dataset.summary()), icon=":material/check_circle:")

    if st.button("Load dataset", type="primary", key="load_dataset", icon=":material/input:",
                 disabled=not checked.ready) and checked.ready:
        with page.user_errors():
            # kept on the server, so that a reload loads the same files again
            state.use_dataset(checked.dataset, " + ".join(f.name for f in (inter_file, items_file, users_file) if f),
                              source=checked.source)
            page.done("Dataset loaded: the Train page now uses it. Train a model on it to compare.")

data = state.dataset()
st.header(plain(state.dataset_label()))  # the uploaded files' names
summary = data.summary()
cols = st.columns(4)
for col, (name, value) in zip(cols, summary.items()):
    col.metric(name.replace("_", " ").capitalize(), f"{value:,}")
# Which ratings mode a training of this data gets by default (the Train page can switch ratings off).
st.info(plain(rating_mode(data)), icon=":material/star_half:")
page.show_notices(data.notices)

# Drawn from the loaded data: an unexpected failure here is one message, and the page above still works.
with page.user_errors():
    tabs = st.tabs(["Interactions", "Items", "Users"])
    tabs[0].dataframe(formatting.interactions_preview(data, 200), hide_index=True, column_config={
        TIMESTAMP: st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm", help="UTC")})
    tabs[1].dataframe(data.items.head(200), hide_index=True)
    if data.users is None:
        tabs[2].info("No user profiles were loaded.")
    else:
        tabs[2].dataframe(data.users.head(200), hide_index=True)
    st.caption("Previews show the first 200 rows.")

    left, right = st.columns(2)
    with left:
        page.chart(plots.long_tail(data.interactions[USER], "user"))
    with right:
        page.chart(plots.long_tail(data.interactions[ITEM], "item"))
    with left:
        if data.has_ratings:
            page.chart(plots.rating_distribution(data.interactions["rating"]))
        else:
            st.info("No rating column: there is no rating distribution to show.")
    with right:
        if data.has_timestamps:
            page.chart(plots.activity_over_time(data.interactions["timestamp"]))
        else:
            st.info("No timestamps: the file's row order is used as time.")
    if data.item_fields:
        page.chart(plots.text_lengths(formatting.text_lengths(data.items, data.item_fields)))
