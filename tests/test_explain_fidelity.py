"""The LXR fidelity metrics of history-item orderings (issue 20 §3): definitions on a toy game whose answers
are known by hand, then on a trained model, checked against the serving path (``recommend_for``)."""
from __future__ import annotations

import numpy as np
import pytest

from recsys_core.errors import RecsysError
from recsys_core.explain import ExplainConfig, pair_state
from recsys_core.explain.core import history_orderings, pair_history_fidelity
from recsys_core.explain.fidelity import (
    KERNEL_SHAP,
    RANDOM,
    SHIPPED,
    history_fidelity,
    kernel_shap_values,
    mean_fidelity,
    removal_counts,
    removal_sets,
)
from recsys_core.explain.history import HistoryGame


class OneItemGame:
    """A window of 5 slots where slot 2 carries the whole score: 10 with it (rank 1), 0 without it (rank 50)."""

    window = 5
    carrier = 2

    def __init__(self):
        self.sets: list[tuple] = []

    def rescored(self, sets):
        self.sets.extend(sets)
        return [(50, 0.0) if self.carrier in s else (1, 10.0) for s in sets]


def test_removal_steps_take_a_tenth_of_the_window_each_rounded_up():
    assert removal_counts(5) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert removal_counts(20) == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]
    assert removal_counts(1) == [1] * 10
    top, bottom, all_but_top = removal_sets(np.array([0.1, 0.5, 0.9, 0.3, 0.2]))  # order: 2, 1, 3, 4, 0
    assert top[0] == (2,) and top[2] == (1, 2) and top[-1] == (0, 1, 2, 3, 4)
    assert bottom[0] == (0,) and bottom[2] == (0, 4)
    assert all_but_top[0] == (0, 1, 3, 4) and all_but_top[-1] == ()
    for sets in (top, bottom):  # each step removes what the step before did, and more (monotone)
        assert all(set(a) <= set(b) for a, b in zip(sets, sets[1:]))


def test_the_ordering_that_names_the_carrier_first_gets_the_best_figures_and_its_reverse_the_worst():
    right = np.array([0.0, 0.1, 1.0, 0.2, 0.3])  # the carrier (slot 2) first
    wrong = -right  # the carrier last
    game = OneItemGame()
    good, bad = history_fidelity(game, {"right": right, "wrong": wrong}, ks=(5, 10))
    # Right: the carrier leaves at step 1, so the item is never in the list after a top removal ...
    assert good.pos == {5: 0.0, 10: 0.0} and good.deletion == pytest.approx(-10.0)
    # ... removing from the bottom reaches the carrier only when the whole window goes (steps 9 and 10) ...
    assert good.neg == {5: 0.8, 10: 0.8}
    # ... and keeping only the top item keeps the whole score.
    assert good.insertion == pytest.approx(0.0)
    # Wrong: exactly the other way round.
    assert bad.pos == {5: 0.8, 10: 0.8} and bad.deletion == pytest.approx(-2.0)
    assert bad.neg == {5: 0.0, 10: 0.0} and bad.insertion == pytest.approx(-8.0)
    assert len(game.sets) == len(set(game.sets))  # every removal set re-scored once, shared between orderings


def test_pairs_average_per_method_and_bad_orderings_are_refused():
    game = OneItemGame()
    a = history_fidelity(game, {"x": np.arange(5.0)})
    b = history_fidelity(game, {"x": -np.arange(5.0)})
    (mean,) = mean_fidelity([a, b])
    assert mean.pairs == 2
    assert mean.deletion == pytest.approx((a[0].deletion + b[0].deletion) / 2)
    assert mean.pos[10] == pytest.approx((a[0].pos[10] + b[0].pos[10]) / 2)
    with pytest.raises(RecsysError, match="window of 5"):
        history_fidelity(game, {"short": np.ones(3)})


@pytest.fixture(scope="module")
def judged(tiny_model):
    """A trained pair, its state and every ordering's figures (KernelSHAP with a small sample bound)."""
    user = sorted(tiny_model.catalog.histories)[0]
    item_id = tiny_model.recommend(user, k=1)[0].item_id
    state = pair_state(tiny_model, user, item_id, ExplainConfig(method="ig", token_level="none", faithfulness=False))
    return state, {f.method: f for f in pair_history_fidelity(state, kernel_samples=40)}


def test_every_baseline_and_the_captum_one_are_judged(judged):
    state, figures = judged
    orderings = history_orderings(state, kernel_samples=40)
    assert set(figures) == set(orderings) and KERNEL_SHAP in figures and RANDOM in figures
    h = len(state.pair.history_items)
    assert all(len(v) == h and np.isfinite(v).all() for v in orderings.values())
    for f in figures.values():
        assert all(0.0 <= f.pos[k] <= 1.0 and 0.0 <= f.neg[k] <= 1.0 for k in (5, 10, 20))
        assert f.pos[5] <= f.pos[10] <= f.pos[20]  # a top-5 item is in the top-10 too
    # KernelSHAP is seeded: the same values on every call
    game = HistoryGame(state.recommender, state.ctx, state.item, h)
    assert np.array_equal(kernel_shap_values(game, 40), kernel_shap_values(game, 40))


def test_figures_match_removing_the_items_and_asking_the_served_list(judged, tiny_model):
    """DEL and POS@5 of the shipped ordering recomputed through ``recommend_for`` and ``score_items``."""
    state, figures = judged
    ctx, item_id = state.ctx, state.item_id
    h = len(state.pair.history_items)
    top, _, _ = removal_sets(history_orderings(state, kernel_samples=None)[SHIPPED])
    served = float(tiny_model.score_items(ctx)[state.item])
    in_list, drops = [], []
    for slots in top:
        changed = ctx.without([len(ctx.history) - 1 - s for s in slots])
        in_list.append(item_id in {r.item_id for r in tiny_model.recommend_for(changed, 5)})
        drops.append(float(tiny_model.score_items(changed)[state.item]) - served)
    assert h >= 2
    assert figures[SHIPPED].pos[5] == pytest.approx(np.mean(in_list))
    assert figures[SHIPPED].deletion == pytest.approx(np.mean(drops), abs=1e-5)
