"""Featured demo users on the Home page: chosen from the model, prefetched, one click from Explain."""
from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard import explanations
from recsys_core import demo
from recsys_core.explain import cached_state, carrying_texts

ROOT = Path(__file__).resolve().parents[1]


def test_featured_pairs_are_clear_leads_on_distinct_items_and_stable():
    rec = demo.load_demo_model()
    picked = explanations.featured_pairs(rec)
    assert len(picked) == explanations.FEATURED
    assert len({item for _, item, _ in picked}) == len(picked)
    margins = [m for _, _, m in picked]
    assert margins == sorted(margins, reverse=True) and margins[-1] > 0
    for user_id, item_id, margin in picked:
        assert len(rec.context(user_id).history) >= 5
        top = rec.recommend(user_id, 2)
        assert top[0].item_id == item_id
        assert abs((top[0].score - top[1].score) - margin) < 1e-4  # batched vs single scoring, float32
    assert explanations.featured_pairs(rec) == picked


def test_home_names_featured_users_prepares_them_and_opens_one_on_explain():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Featured users" in [s.value for s in at.subheader]
    buttons = [b for b in at.button if b.key and b.key.startswith("featured_")]
    assert len(buttons) == explanations.FEATURED

    rec = at.session_state["model"]
    config = explanations.page_config()
    pairs = explanations.featured_pairs(rec)
    for user_id, item_id, _ in pairs:
        deadline = time.time() + 600
        while cached_state(rec, user_id, item_id, config, rec.context(user_id)) is None:
            assert time.time() < deadline, "a featured explanation was never prepared"
            time.sleep(0.5)
        state = cached_state(rec, user_id, item_id, config, rec.context(user_id))
        while not all(n in state.tokens for n in carrying_texts(state)):
            assert time.time() < deadline, "a featured explanation's tokens were never split"
            time.sleep(0.5)

    # Drawn again once they are cached, the page says so at once (it used to queue new jobs and read
    # "0 of 3 ready" on every visit).
    at.run()
    assert f"{len(pairs)} of {len(pairs)} ready" in "\n".join(c.value for c in at.caption)
    first_user, first_item, _ = pairs[0]
    buttons = [b for b in at.button if b.key and b.key.startswith("featured_")]
    buttons[0].click()
    at.run()
    target = at.session_state["explain_target"]
    assert (target.user_id, target.item_id) == (first_user, first_item)
