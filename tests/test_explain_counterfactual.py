"""Counterfactual explanations (issue 20 §2) are checked through the serving path, not through the search's own code.

For each returned set the test removes those items from the user's history and asks ``recommend_for`` (what the
Recommendations page and the CLI serve) whether the item crossed the top-k boundary; a set claimed minimal is
checked against every smaller set by brute force.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from recsys_core.explain.counterfactual import counterfactual

K = 5


def in_top(rec, ctx, item_id: str, k: int = K) -> bool:
    return item_id in {r.item_id for r in rec.recommend_for(ctx, k)}


def without(rec, ctx, removed_ids) -> object:
    """The user without the named items (each named item occurs once in these histories)."""
    positions = [i for i, index in enumerate(ctx.history) if rec.catalog.item_ids[index] in set(removed_ids)]
    assert len(positions) == len(removed_ids)
    return ctx.without(positions)


def smaller_sets_crossing(rec, ctx, item_id: str, size: int, before: bool) -> list[tuple[str, ...]]:
    """Every set of fewer than ``size`` window items whose removal crosses the boundary, by brute force: all of
    them scored in one batch, each ranked here among the items its changed history leaves unseen."""
    subsets = [s for n in range(1, size) for s in itertools.combinations(window_ids(rec, ctx), n)]
    contexts = [without(rec, ctx, s) for s in subsets]
    scores = rec.score_many(contexts)
    item = rec.item_position(item_id)
    crossing = []
    for subset, c, row in zip(subsets, contexts, scores):
        unseen = np.setdiff1d(np.arange(len(row)), c.history)
        rank = int((row[unseen] > row[item]).sum()) + 1
        if (rank <= K) is not before:
            crossing.append(subset)
    return crossing


def window_ids(rec, ctx) -> list[str]:
    window = min(len(ctx.history), rec.model.config.max_history)
    return [rec.catalog.item_ids[i] for i in ctx.history[::-1][:window]]


def pairs(rec, n_users: int = 4):
    """(ctx, item id) for the top item and an item just outside the top-k of the first users."""
    users = sorted(rec.catalog.histories)[:n_users]  # the tiny data's users have 8 items each
    for u in users:
        ctx = rec.context(u)
        ranked = rec.recommend_for(ctx, K + 3)
        yield ctx, ranked[0].item_id
        yield ctx, ranked[K + 2].item_id


def test_every_returned_set_really_crosses_the_boundary_and_a_minimal_one_has_no_smaller_rival(tiny_model):
    rec, found = tiny_model, 0
    for ctx, item_id in pairs(rec):
        cf = counterfactual(rec, ctx, rec.item_position(item_id), K)
        before = in_top(rec, ctx, item_id)
        assert cf.goal == ("leave" if before else "enter")
        if not cf.found:
            continue
        found += 1
        removed = [r.item_id for r in cf.removed]
        after = without(rec, ctx, removed)
        assert in_top(rec, after, item_id) is not before, (cf.summary(), removed)
        served = [r.item_id for r in rec.recommend_for(after, None)]  # every eligible item, ranked
        assert cf.rank_after == served.index(item_id) + 1
        if cf.minimal:  # no smaller set of window items crosses
            assert smaller_sets_crossing(rec, ctx, item_id, len(removed), before) == [], cf.summary()
        else:  # heuristic: still no item of the set can be kept
            for kept in removed:
                rest = [r for r in removed if r != kept]
                assert in_top(rec, without(rec, ctx, rest), item_id) is before
    assert found >= 3, "too few pairs had a counterfactual for the test to mean anything"


def test_the_summary_states_the_checked_numbers(tiny_model):
    rec = tiny_model
    ctx, item_id = next(pairs(rec))
    cf = counterfactual(rec, ctx, rec.item_position(item_id), K)
    assert f"rank {cf.rank_before:,}" in cf.summary()
    if cf.found:
        assert f"would rank {cf.rank_after:,}" in cf.summary()
        assert all(f"“{r.title}”" in cf.summary() for r in cf.removed)
    data = cf.to_dict()
    assert data["found"] == cf.found and data["summary"] == cf.summary()


def test_a_pair_with_no_history_reports_that_nothing_was_found(tiny_model):
    rec = tiny_model
    ctx = rec.context(sorted(rec.catalog.histories)[0])
    empty = ctx.without(np.arange(len(ctx.history)))
    item = int(np.argmax(rec.score_items(empty)))
    cf = counterfactual(rec, empty, item, K)
    assert not cf.found and cf.removed == () and "No removal" in cf.summary()


def test_cancel_stops_the_search(tiny_model):
    from recsys_core.progress import Cancelled

    rec = tiny_model
    ctx, item_id = next(pairs(rec))

    def cancel():
        raise Cancelled()

    with pytest.raises(Cancelled):
        counterfactual(rec, ctx, rec.item_position(item_id), K, cancel=cancel)
