"""The shares-only path of global importance (``explain.shares``) against the full explanation it replaces.

``pair_shares`` computes a pair's field totals from the same text level and the same carrying texts as
``explain_pair``, but integrates each split text at the config's step count straight away (``explain_pair``
tries 12 steps first and keeps them when the delta fits).  So the text-level numbers must be the same
and the field shares may differ only by integration error: stated tolerance 0.02 of |attribution| per
field bucket and pair (the delta flag is 5 % of the score change, spread over the split texts).
"""
from __future__ import annotations

import pytest

from recsys_core.explain import IMPORTANCE_CONFIG, clear_cache, explain_pair
from recsys_core.explain.global_importance import _shares, sample_users, summarise
from recsys_core.explain.shares import pair_shares, shares_only
from recsys_core.explain.types import SEPARATORS, WHOLE_TEXT

SHARE_TOLERANCE = 0.02


@pytest.fixture(scope="module")
def pairs(tiny_model):
    users = sample_users(tiny_model, 3)
    return [(u, r.item_id) for u in users for r in tiny_model.recommend(u, 2)]


@pytest.fixture(scope="module")
def both(tiny_model, pairs):
    clear_cache()
    old = [explain_pair(tiny_model, u, i, IMPORTANCE_CONFIG) for u, i in pairs]
    memo: dict = {}
    new = [pair_shares(tiny_model, tiny_model.context(u), i, IMPORTANCE_CONFIG, memo) for u, i in pairs]
    return old, new


def test_the_page_config_takes_the_shares_only_path():
    assert shares_only(IMPORTANCE_CONFIG)
    assert not shares_only(IMPORTANCE_CONFIG.__class__(faithfulness=True, token_level="carrying"))
    assert not shares_only(IMPORTANCE_CONFIG.__class__(faithfulness=False, token_level="all"))  # agreement needs it


def test_scores_and_unsplit_texts_are_the_same(both):
    for old, new in zip(*both):
        assert (new.user_id, new.item_id) == (old.user_id, old.item_id)
        assert new.score == pytest.approx(old.score, abs=1e-5)
        assert new.baseline_score == pytest.approx(old.baseline_score, abs=1e-5)
        whole = [k for k in old.fields if WHOLE_TEXT in k]
        assert [k for k in new.fields if WHOLE_TEXT in k] == whole
        for key in whole:  # texts left unsplit count with their exact text-level share on both paths
            assert new.fields[key] == pytest.approx(old.fields[key], abs=1e-5)


def test_field_shares_agree_within_the_stated_tolerance(both):
    worst = 0.0
    for old, new in zip(*both):
        a = _shares({k: v for k, v in old.fields.items() if k != SEPARATORS})
        b = _shares({k: v for k, v in new.fields.items() if k != SEPARATORS})
        assert set(a) == set(b)
        worst = max(worst, max(abs(a[k] - b[k]) for k in a))
        assert abs(new.convergence_delta) <= IMPORTANCE_CONFIG.delta_tolerance * abs(new.score - new.baseline_score) + 1e-6
    assert worst <= SHARE_TOLERANCE, worst


def test_the_roll_up_of_both_paths_agrees(tiny_model, both):
    old, new = (summarise(tiny_model, e, IMPORTANCE_CONFIG) for e in both)
    assert old.field_share.keys() == new.field_share.keys()
    for key in old.field_share:
        assert new.field_share[key] == pytest.approx(old.field_share[key], abs=SHARE_TOLERANCE)
    assert {w.word for w in new.top_words[:5]} & {w.word for w in old.top_words[:5]}
