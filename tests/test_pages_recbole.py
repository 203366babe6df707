"""The Data page takes RecBole atomic files (.inter/.item/.user) and shows clean field names."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from recbole_files import ML_INTER, ML_ITEM, ML_USER
from recsys_core import demo
from recsys_core.registry import MODELS_DIR_ENV

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    demo.load_demo_model()  # the app opens on the demo model
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "models"))
    monkeypatch.setenv("RECSYS_CACHE_DIR", str(tmp_path / "embeddings"))


def test_recbole_files_upload_with_clean_field_names():
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/1_Data.py").run()
    uploads = {"upload_interactions": ("ml-100k.inter", ML_INTER), "upload_items": ("ml-100k.item", ML_ITEM),
               "upload_users": ("ml-100k.user", ML_USER)}
    for key, (name, data) in uploads.items():
        uploader = at.file_uploader(key=key)
        assert {".inter", ".item", ".user"} <= set(uploader.allowed_type), uploader.allowed_type  # the picker offers them
        uploader.set_value((name, data, "text/tab-separated-values"))
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    # the column pickers show the names without ':token' and guess the ids from them
    assert at.selectbox[0].options == ["user_id", "item_id", "rating", "timestamp"]
    assert (at.selectbox[0].value, at.selectbox[1].value, at.selectbox[2].value) == ("user_id", "item_id", "rating")
    assert at.multiselect[0].value == ["movie_title", "release_year", "class"]
    at.button(key="load_dataset").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    data = at.session_state["dataset"]
    assert list(data.items.columns) == ["item_id", "movie_title", "release_year", "class"]
    assert list(data.users.columns) == ["user_id", "age", "gender", "occupation", "zip_code"]
    assert data.items.set_index("item_id").loc["1", "class"] == "Animation, Children's, Comedy"
    assert at.session_state["dataset_label"] == "ml-100k.inter + ml-100k.item + ml-100k.user"
