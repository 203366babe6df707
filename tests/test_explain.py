"""Explanations: completeness of roll-ups, delta reporting, attention shapes, a planted signal, faithfulness."""
import json

import numpy as np
import pytest
import torch
from torch import nn

from recsys_core.explain import (
    ExplainConfig,
    add_faithfulness,
    contrast_pair,
    explain_pair,
    explanation_html,
    pair_state,
    what_if,
)
from recsys_core.explain.attention import rollout

FAST = ExplainConfig(n_steps=24)


@pytest.fixture(scope="module")
def pair_and_exp(tiny_model):
    user = tiny_model.known_users()[0]
    item = tiny_model.recommend(user, 1)[0].item_id
    return user, item, explain_pair(tiny_model, user, item, FAST)


def test_roll_ups_sum_exactly_to_their_tokens(pair_and_exp):
    _, _, exp = pair_and_exp
    total = sum(t.attribution for t in exp.tokens)
    assert sum(exp.fields.values()) == pytest.approx(total, abs=1e-9)
    history_tokens = sum(t.attribution for t in exp.tokens if t.history_item_id is not None)
    assert sum(h.text_attribution for h in exp.history_items) == pytest.approx(history_tokens, abs=1e-9)  # the text part


def test_completeness_holds_up_to_the_reported_delta(pair_and_exp):
    _, _, exp = pair_and_exp
    total = sum(t.attribution for t in exp.tokens)
    assert total + 0.0 == pytest.approx(exp.score - exp.baseline_score + exp.convergence_delta, abs=1e-6)
    assert abs(exp.convergence_delta) <= 0.05 * abs(exp.score - exp.baseline_score) + 1e-4
    assert exp.delta_ok and not exp.warnings


def test_score_matches_the_recommender(tiny_model, pair_and_exp):
    user, item, exp = pair_and_exp
    served = {r.item_id: r.score for r in tiny_model.recommend(user, None)}
    assert exp.score == pytest.approx(served[item], abs=1e-3)
    assert exp.rank == 1


def test_more_steps_shrink_the_delta_and_large_deltas_are_flagged(tiny_model, pair_and_exp):
    user, item, _ = pair_and_exp
    coarse = explain_pair(tiny_model, user, item, ExplainConfig(n_steps=2, ig_method="riemann_right", faithfulness=False, method="ig", delta_tolerance=0.0))
    fine = explain_pair(tiny_model, user, item, ExplainConfig(n_steps=64, faithfulness=False, method="ig"))
    assert abs(fine.convergence_delta) < abs(coarse.convergence_delta)
    assert not coarse.delta_ok and "raise the number of steps" in coarse.warnings[0]


def test_attention_shapes_and_rollout(pair_and_exp, tiny_model):
    _, _, exp = pair_and_exp
    item_att = exp.attention[0]
    layers = np.array(item_att.layers)
    n = len(item_att.tokens)
    assert layers.shape == (6, 12, n, n) and not item_att.heads_averaged
    np.testing.assert_allclose(layers.sum(-1), 1.0, atol=1e-3)
    np.testing.assert_allclose(np.array(item_att.rollout).sum(-1), 1.0, atol=1e-3)
    history_att = [a for a in exp.attention if a.label.startswith("history")]
    assert history_att and np.array(history_att[0].layers).shape[1] == 1  # head-averaged
    assert len(exp.attention) == 1 + 1 + min(20, len(tiny_model.catalog.histories[exp.user_id]))


def test_rollout_of_identity_layers_is_identity():
    eye = np.stack([np.eye(4)] * 3)
    np.testing.assert_allclose(rollout(eye), np.eye(4))


def test_history_items_carry_model_attention(pair_and_exp):
    _, _, exp = pair_and_exp
    assert sum(h.attention_weight for h in exp.history_items) == pytest.approx(1.0, abs=1e-4)


def test_explanation_is_json_and_html(pair_and_exp):
    _, _, exp = pair_and_exp
    data = json.loads(json.dumps(exp.to_dict()))
    assert data["tokens"][0]["side"] in ("item", "user")
    assert {"integrated gradients", "GradientSHAP", "field ablation", "attention", "rollout", "random"} == {c["method"] for c in data["faithfulness"]}
    fidelity = {f["method"]: f for f in data["history_fidelity"]}  # the history orderings, judged with the curves
    assert {"full path (shipped)", "random", "KernelSHAP (Captum)"} <= set(fidelity)
    assert set(fidelity["random"]["pos"]) == {"5", "10", "20"}
    assert "Why" in explanation_html(exp) and exp.reason


def test_contrast_attributes_the_score_difference(tiny_model, pair_and_exp):
    user, item, _ = pair_and_exp
    other = tiny_model.recommend(user, 10)[-1].item_id
    c = contrast_pair(tiny_model, user, item, other, FAST)
    words = sum(t.attribution for t in c.tokens_a) + sum(t.attribution for t in c.tokens_b)  # the two item texts
    user_texts = sum(v for k, v in c.word_fields.items() if k.side in ("profile", "history"))  # whole-text shares
    assert all(k.is_whole_text for k in c.word_fields if k.side in ("profile", "history"))
    total = words + user_texts
    assert total == pytest.approx((c.score_a - c.score_b) - c.baseline_difference + c.convergence_delta, abs=1e-6)
    assert abs(c.convergence_delta) < 0.05 * abs(c.score_a - c.score_b - c.baseline_difference) + 1e-3
    assert any(k.startswith("B item: ") for k in c.word_fields)


def test_what_if_removing_history_changes_score_and_rank(tiny_model, pair_and_exp):
    user, item, exp = pair_and_exp
    top = exp.history_items[0].item_id
    w = what_if(tiny_model, user, item, remove_history=[top])
    assert w.rank_before == 1 and w.score_before == pytest.approx(exp.score, abs=1e-3)
    assert w.score_after != pytest.approx(w.score_before)
    fields = what_if(tiny_model, user, item, remove_fields=["genres"])
    assert fields.score_after != pytest.approx(fields.score_before)


# ---------------------------------------------------------------------------- planted signal
class _OneDimensionScorer(nn.Module):
    """A recommender whose score is dimension ``dim`` of the candidate's text vector, times 10."""

    def __init__(self, config, dim):
        super().__init__()
        self.config = config
        self.dim = dim
        self.register_buffer("warm", torch.ones(config.n_items + 1))  # every item warm, as the model's buffer

    def score(self, user, cand_vecs, cand_idx):
        return self.score_and_attention(user, cand_vecs, cand_idx)[0]

    def score_and_attention(self, user, cand_vecs, cand_idx):
        if cand_vecs.dim() == 2:
            cand_vecs = cand_vecs.unsqueeze(0).expand(user.hist_idx.shape[0], -1, -1)
        scores = 10 * cand_vecs[..., self.dim]
        weights = torch.zeros(*scores.shape, user.hist_idx.shape[1])
        return scores, weights


def test_planted_token_is_ranked_first(tiny_model, tmp_path):
    """Encoder without token mixing + a score reading one embedding dimension only the token 'dragon' has."""
    from dataclasses import replace

    from transformers import AutoTokenizer, BertConfig, BertModel

    from recsys_core.catalog import Catalog
    from recsys_core.encoder import EncoderConfig, TextEncoder, resolve_encoder_path
    from recsys_core.recommender import Recommender
    from recsys_core.text import build_field_text

    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder_path("default"))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16)
    torch.manual_seed(0)
    bert = BertModel(config, add_pooling_layer=False)
    dragon = tokenizer.convert_tokens_to_ids("dragon")
    with torch.no_grad():
        layer = bert.encoder.layer[0]
        for lin in (layer.attention.output.dense, layer.output.dense):  # no mixing between tokens
            lin.weight.zero_()
            lin.bias.zero_()
        emb = bert.embeddings
        emb.word_embeddings.weight[:, 0] = 0.0
        emb.word_embeddings.weight[dragon, 0] = 5.0
        emb.position_embeddings.weight[:, 0] = 0.0
        emb.token_type_embeddings.weight[:, 0] = 0.0
    path = tmp_path / "planted-bert"
    bert.save_pretrained(path)
    tokenizer.save_pretrained(path)

    texts = [build_field_text({"title": t}, ["title"]) for t in ("the red dragon of the north", "a quiet kitchen", "ships at sea")]
    encoder = TextEncoder(EncoderConfig(name=str(path)))
    vectors = encoder.encode([t.text for t in texts])
    catalog = Catalog(["a", "b", "c"], texts, vectors, ["title"], [], [], [], np.zeros((0, 16), np.float32), {"u": np.array([1, 2])})
    model_config = replace(tiny_model.model.config, n_items=3, text_dim=16)
    rec = Recommender(_OneDimensionScorer(model_config, 0), catalog, encoder.config, _encoder=encoder)
    exp = explain_pair(rec, "u", "a", ExplainConfig(n_steps=32, faithfulness=False, method="ig"))
    item_tokens = [t for t in exp.tokens if t.text_index == 0 and not t.special]
    best = max(item_tokens, key=lambda t: t.attribution)
    assert best.text == "dragon"
    others = [abs(t.attribution) for t in item_tokens if t.text != "dragon"]
    assert best.attribution > 5 * max(others)
    assert abs(exp.convergence_delta) < 0.05 * abs(exp.score - exp.baseline_score)


# ---------------------------------------------------------------------------- faithfulness on the demo
def test_ig_deletion_beats_random_on_the_demo_model(demo_model):
    """Removing the tokens IG ranks highest lowers the score at least twice as much as removing random tokens."""
    areas = {"integrated gradients": [], "random": []}
    for user in demo_model.known_users()[:4]:
        item = demo_model.recommend(user, 1)[0].item_id
        state = pair_state(demo_model, user, item, ExplainConfig(method="ig"))
        add_faithfulness(state, methods=["integrated gradients"])  # the two-level IG the page shows
        for curve in state.curves:
            if curve.method in areas:
                areas[curve.method].append(curve.area)
    assert np.mean(areas["integrated gradients"]) >= 2 * np.mean(areas["random"]), areas


# ---------------------------------------------------------------------------- beyond one pair
def test_global_importance_shares_sum_to_one(tiny_model):
    from recsys_core.explain import global_importance

    g = global_importance(tiny_model, n_users=3, k=2, config=ExplainConfig(n_steps=8, faithfulness=False))
    assert g.n_pairs == 6
    assert sum(g.field_share.values()) == pytest.approx(1.0)
    assert set(g.field_share) >= {"item: title", "item: genres"}
    for bucket in g.by_user_activity + g.by_item_popularity:  # every bucket is listed, sampled or not
        if bucket.n_pairs:
            assert sum(bucket.field_share.values()) == pytest.approx(1.0)
    json.dumps(g.to_dict())


def test_field_ablation_reports_every_field(tiny_model):
    from recsys_core.explain import field_ablation

    a = field_ablation(tiny_model, max_users=30)
    assert set(a.ablated_ndcg10) == {"item: title", "item: genres", "profile: about"}
    assert 0 <= a.base_ndcg10 <= 1 and all(0 <= v <= 1 for v in a.ablated_ndcg10.values())
    assert set(a.drop) == set(a.ablated_ndcg10)


# The plain-language reason has its own file: tests/test_reason.py.


def test_merge_words_sums_wordpieces():
    from recsys_core.explain.rollup import merge_words

    words, values = merge_words(["space", "##ship", "crew"], [0.1, 0.2, 0.3])
    assert words == ["spaceship", "crew"] and values == pytest.approx([0.3, 0.3])


def test_html_card_escapes_every_user_string():
    from recsys_core.explain.types import (
        Explanation,
        HistoryContribution,
        TextContribution,
        TokenAttribution,
    )

    evil = "<script>alert(1)</script>"
    exp = Explanation(
        evil, evil, 1.0, 0.5, 0.0, True, [TokenAttribution(evil, 0.3, "item", "title", None, 0, 1)], {f"item: {evil}": 0.3},
        [HistoryContribution(evil, evil, 0.1, 0.5, 0)], [], [], {}, evil, 1,
        texts=[TextContribution(0, f"history: {evil}", 0.3, True, 0.0, 12)], warnings=[evil],
    )
    page = explanation_html(exp, evil)
    assert "<script" not in page and "&lt;script&gt;" in page
