"""Featured demo users on the Home page: chosen from the model, prefetched, one click from Explain."""
from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard import explain_jobs
from recsys_core import demo
from recsys_core.explain.core import cached_state

ROOT = Path(__file__).resolve().parents[1]


def test_featured_pairs_are_clear_leads_on_distinct_items_and_stable():
    rec = demo.load_demo_model()
    picked = explain_jobs.featured_pairs(rec)
    assert len(picked) == explain_jobs.FEATURED
    assert len({item for _, item, _ in picked}) == len(picked)
    margins = [m for _, _, m in picked]
    assert margins == sorted(margins, reverse=True) and margins[-1] > 0
    for user_id, item_id, margin in picked:
        assert len(rec.context(user_id).history) >= 5
        top = rec.recommend(user_id, 2)
        assert top[0].item_id == item_id
        assert abs((top[0].score - top[1].score) - margin) < 1e-4  # batched vs single scoring, float32
    assert explain_jobs.featured_pairs(rec) == picked


def test_home_names_featured_users_prepares_them_and_opens_one_on_explain():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Featured users" in [s.value for s in at.subheader]
    buttons = [b for b in at.button if b.key and b.key.startswith("featured_")]
    assert len(buttons) == explain_jobs.FEATURED

    rec = at.session_state["model"]
    config = explain_jobs.page_config()
    first_user, first_item, _ = explain_jobs.featured_pairs(rec)[0]
    deadline = time.time() + 600
    while cached_state(rec, first_user, first_item, config, rec.context(first_user)) is None:
        assert time.time() < deadline, "the featured explanation was never prepared"
        time.sleep(0.5)
    state = cached_state(rec, first_user, first_item, config, rec.context(first_user))
    deadline = time.time() + 600
    while not all(n in state.tokens for n in explain_jobs.carrying_texts(state)):
        assert time.time() < deadline, "the featured explanation's tokens were never split"
        time.sleep(0.5)

    buttons[0].click()
    at.run()
    target = at.session_state["explain_target"]
    assert (target.user_id, target.item_id) == (first_user, first_item)
