"""History items judged through every path (text, id, recency, attention) and checked against removing them."""
import threading

import numpy as np
import pytest
import torch
from torch import nn

from bench.history_agreement import _sampled, gate_integrated_gradients, gated_scores, shapley_values
from recsys_core.explain import ExplainConfig, compose, pair_state, what_if
from recsys_core.explain.history import HistoryGame, history_paths, leave_one_out
from recsys_core.recommender import Recommender, UserContext

FIRST = ExplainConfig(token_level="none", faithfulness=False, method="ig")


@pytest.fixture(scope="module")
def explained(tiny_model):
    user = tiny_model.known_users()[3]
    item = tiny_model.recommend(user, 1)[0].item_id
    return user, item, compose(pair_state(tiny_model, user, item, FIRST))


def _without(rec: Recommender, user: str, drop: list[str]) -> UserContext:
    ctx = rec.context(user)
    return ctx.without(np.flatnonzero(np.isin(ctx.history, rec.catalog.indices(drop))))


def test_contributions_add_up_to_the_score_without_the_window(tiny_model, explained):
    """Σ attributions + history_together = score − score with every window item removed (re-scored here),
    and each item's attribution = its text part + its other part, the text parts being the texts' IG shares."""
    user, item, exp = explained
    without_all = _without(tiny_model, user, [h.item_id for h in exp.history_items])
    empty = float(tiny_model.score_items(without_all)[tiny_model.item_position(item)])
    total = sum(h.attribution for h in exp.history_items) + exp.history_together
    assert total == pytest.approx(exp.score - empty, abs=1e-4)
    for h in exp.history_items:
        assert h.text_attribution + h.other_attribution == pytest.approx(h.attribution, abs=1e-9)
    shares = {t.label: t.attribution for t in exp.texts if t.label.startswith("history: ")}
    assert sum(h.text_attribution for h in exp.history_items) == pytest.approx(sum(shares.values()), abs=1e-9)
    assert [abs(h.attribution) for h in exp.history_items] == sorted((abs(h.attribution) for h in exp.history_items), reverse=True)


def test_removal_effect_equals_an_explicit_rescore(tiny_model, explained):
    user, item, exp = explained
    ranked = [h for h in exp.history_items if h.rank_without is not None]
    assert len(ranked) == min(5, len(exp.history_items))
    for h in ranked:
        w = what_if(tiny_model, user, item, remove_history=[h.item_id])
        assert h.score_without == pytest.approx(w.score_after, abs=1e-4)
        assert h.attribution == pytest.approx(w.score_before - w.score_after, abs=1e-4)
        assert h.rank_without == w.rank_after
    for h in exp.history_items:  # every item, ranked or not, carries its re-scored removal
        ctx = _without(tiny_model, user, [h.item_id])
        assert h.score_without == pytest.approx(float(tiny_model.score_items(ctx)[tiny_model.item_position(item)]), abs=1e-4)


class _IdPlantedScorer(nn.Module):
    """Candidate ``target`` scores 10 more when item ``planted`` is among the history slots; every candidate
    also gets a little of its own text.  The planted item acts through its id alone: its text moves nothing,
    so text IG gives it ~0.
    """

    def __init__(self, config, planted: int, target: int):
        super().__init__()
        self.config = config
        self.planted, self.target = planted, target
        self.register_buffer("warm", torch.ones(config.n_items + 1))  # every item warm, as the model's buffer

    def score(self, user, cand_vecs, cand_idx):
        return self.score_and_attention(user, cand_vecs, cand_idx)[0]

    def score_and_attention(self, user, cand_vecs, cand_idx):
        b = user.hist_idx.shape[0]
        if cand_vecs.dim() == 2:
            cand_vecs = cand_vecs.unsqueeze(0).expand(b, -1, -1)
        present = (user.hist_idx == self.planted).any(-1).float()  # (B,)
        if cand_idx.dim() == 1:
            cand_idx = cand_idx.unsqueeze(0)
        scores = 10.0 * present.unsqueeze(-1) * (cand_idx == self.target).float() + 0.01 * cand_vecs[..., 0]
        weights = torch.zeros(*scores.shape, user.hist_idx.shape[1])
        return scores, weights


def test_planted_id_signal_is_found_by_attribution_and_removal_alike(tiny_model):
    user = tiny_model.known_users()[5]
    ctx = tiny_model.context(user)
    planted = int(ctx.history[-3])  # third newest: not favoured by recency either
    target = next(i for i in range(len(tiny_model.catalog.item_ids)) if i not in set(ctx.history.tolist()))
    rec = Recommender(_IdPlantedScorer(tiny_model.model.config, planted, target), tiny_model.catalog,
                      tiny_model.encoder_config, _encoder=tiny_model.encoder)
    item = tiny_model.catalog.item_ids[target]
    assert rec.recommend(user, 1)[0].item_id == item
    exp = compose(pair_state(rec, user, item, FIRST))
    top = exp.history_items[0]
    assert top.item_id == tiny_model.catalog.item_ids[planted]
    assert top.attribution == pytest.approx(10.0, abs=1e-4)  # removal: the whole planted score goes
    assert abs(top.text_attribution) < 1e-6 and top.other_attribution == pytest.approx(10.0, abs=1e-4)
    assert all(abs(h.attribution) < 1e-6 for h in exp.history_items[1:])
    assert top.rank_without > 1
    assert exp.reason.startswith(f"Recommended (rank 1 of the top 10) mainly because of: “{top.title}” in the user's history")
    assert "(+10.000, through its id, recency and the model's attention, not its text" in exp.reason


def test_history_paths_are_the_same_from_many_threads(tiny_model):
    users = tiny_model.known_users()[:3]
    jobs = [(u, tiny_model.item_position(tiny_model.recommend(u, 1)[0].item_id)) for u in users]
    alone = {u: history_paths(tiny_model, tiny_model.context(u), i, 20) for u, i in jobs}
    results, errors = [], []

    def run(u, i):
        try:
            results.append((u, history_paths(tiny_model, tiny_model.context(u), i, 20)))
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=jobs[k % 3]) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 6
    for u, paths in results:
        np.testing.assert_allclose(paths.contributions, alone[u].contributions, atol=1e-6)
        assert {s: r.rank for s, r in paths.removals.items()} == {s: r.rank for s, r in alone[u].removals.items()}


# -- the measured alternatives (bench/history_agreement.py) keep their own promises -------------
def _game(tiny_model):
    user = tiny_model.known_users()[0]
    item = tiny_model.item_position(tiny_model.recommend(user, 1)[0].item_id)
    ctx = tiny_model.context(user)
    return HistoryGame(tiny_model, ctx, item, min(len(ctx.history), 20))


def test_shapley_values_add_up_exactly_exact_or_sampled(tiny_model):
    game = _game(tiny_model)
    effects, full, empty = leave_one_out(game)
    for phi, f, e in (shapley_values(game), _sampled(game)):
        assert (f, e) == pytest.approx((full, empty), abs=1e-5)
        assert phi.sum() == pytest.approx(full - empty, abs=1e-5)
    assert effects.shape == (game.window,)


def test_gate_ends_are_the_served_and_the_masked_history(tiny_model):
    game = _game(tiny_model)
    with torch.inference_mode():
        ends = gated_scores(game, torch.stack([torch.ones(game.window), torch.zeros(game.window)]))
    _, full, empty = leave_one_out(game)
    served = tiny_model.score_items(game.ctx)[game.item]
    no_history = game.ctx.without(np.arange(len(game.ctx.history) - game.window, len(game.ctx.history)))
    assert float(ends[0]) == pytest.approx(served, abs=1e-4)
    if game.window == len(game.ctx.history):  # nothing older slides in: masked = removed
        assert float(ends[1]) == pytest.approx(float(tiny_model.score_items(no_history)[game.item]), abs=1e-4)
    values, f, e = gate_integrated_gradients(game)
    assert values.sum() == pytest.approx(f - e, abs=1e-3 * max(1.0, abs(f - e)))


def test_history_chart_shows_top_items_and_the_most_attended_with_no_axis_over_its_title():
    from dashboard.explain_view import history_bar, history_items_shown
    from recsys_core.explain.types import HistoryContribution

    items = [HistoryContribution(f"i{k}", f"Item {k}", 1.0 - 0.05 * k, 0.01, k, 0.5, 0.5 - 0.05 * k,
                                 rank_without=10 + k if k < 5 else None) for k in range(15)]
    items.append(HistoryContribution("quiet", "Quiet but attended", 0.001, 0.8, 15, 0.001, 0.0))
    shown = history_items_shown(items, 10)
    assert [h.item_id for h in shown[:10]] == [f"i{k}" for k in range(10)] and shown[-1].item_id == "quiet"
    fig = history_bar(items)
    labels = list(fig.layout.yaxis.ticktext)  # the bars stand at positions 0…10 of these labels
    assert list(fig.data[0].y) == list(range(11))
    assert any("Quiet but attended" in y for y in labels) and len(labels) == 11
    assert any("without it: rank 10" in y for y in labels)  # the removal's rank sits next to the item
    assert fig.layout.barmode == "relative"
    # the old chart put the attention axis on top, under the title: every axis now sits at the bottom
    for axis in (fig.layout.xaxis, fig.layout.xaxis2):
        assert axis.side in (None, "bottom")
