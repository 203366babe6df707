"""Why A above B, what-if, and how much of an explanation is exported: specifications on the tiny model."""
from __future__ import annotations

import json

import numpy as np
import pytest

from recsys_core.explain import (
    ExplainConfig,
    contrast_pair,
    explain_pair,
    explanation_html,
)
from recsys_core.explain import whatif as whatif_module
from recsys_core.progress import Cancelled

FAST = ExplainConfig(n_steps=8, faithfulness=False)


def _pair_with_same_genre(model):
    """A user and two of its unseen items of the same genre (the tiny catalogue cycles 4 genres)."""
    user = model.known_users()[0]
    seen = {model.catalog.item_ids[i] for i in model.context(user).history}
    ranked = [r.item_id for r in model.recommend(user, 40)]
    genre = {i: model.catalog.item_texts[model.item_position(i)].values()["genres"] for i in ranked}
    a = ranked[0]
    b = next(i for i in ranked[1:] if genre[i] == genre[a] and i not in seen)
    c = next(i for i in ranked[1:] if genre[i] != genre[a] and i not in seen)
    return user, a, b, c


def test_contrast_parts_add_up_to_the_score_difference(tiny_model):
    user, a, _, c = _pair_with_same_genre(tiny_model)
    result = contrast_pair(tiny_model, user, a, c, FAST, words=False)
    scores = tiny_model.score_items(tiny_model.context(user), np.array([tiny_model.item_position(a), tiny_model.item_position(c)]))
    assert result.difference == pytest.approx(float(scores[0] - scores[1]), abs=1e-5)
    assert sum(v for _, v in result.parts()) == pytest.approx(result.difference, abs=1e-5)
    assert {name for name, _ in result.parts()} == {"item text: title", "item text: genres", "item id embedding", "item bias"}
    assert result.exact
    assert "a difference of" in result.summary()


def test_a_field_identical_on_both_items_gets_exactly_zero(tiny_model):
    user, a, b, _ = _pair_with_same_genre(tiny_model)
    result = contrast_pair(tiny_model, user, a, b, FAST, words=False)
    assert result.identical_fields == ["genres"]
    assert result.fields["genres"] == 0.0
    assert sum(v for _, v in result.parts()) == pytest.approx(result.difference, abs=1e-5)
    assert "genres identical on both" in result.summary()


def test_contrast_is_antisymmetric(tiny_model):
    user, a, _, c = _pair_with_same_genre(tiny_model)
    ab = contrast_pair(tiny_model, user, a, c, FAST, words=False)
    ba = contrast_pair(tiny_model, user, c, a, FAST, words=False)
    assert ba.difference == pytest.approx(-ab.difference, abs=1e-5)
    for name in ab.fields:
        assert ba.fields[name] == pytest.approx(-ab.fields[name], abs=1e-5)
    assert ba.bias == pytest.approx(-ab.bias, abs=1e-6)


def test_sampled_shapley_still_adds_up(tiny_model, monkeypatch):
    monkeypatch.setattr(whatif_module, "EXACT_PLAYERS", 0)  # force the permutation estimate
    user, a, _, c = _pair_with_same_genre(tiny_model)
    result = contrast_pair(tiny_model, user, a, c, FAST, words=False)
    assert not result.exact
    assert sum(v for _, v in result.parts()) == pytest.approx(result.difference, abs=1e-5)


def test_word_level_contrast_can_be_cancelled(tiny_model):
    user, a, _, c = _pair_with_same_genre(tiny_model)

    def cancel():
        raise Cancelled()

    with pytest.raises(Cancelled):
        contrast_pair(tiny_model, user, a, c, FAST, words=True, cancel=cancel)


def test_json_keeps_full_attention_only_when_asked(tiny_model):
    user = tiny_model.known_users()[0]
    item = tiny_model.recommend(user, 1)[0].item_id
    exp = explain_pair(tiny_model, user, item, FAST)
    summary, full = exp.to_dict(), exp.to_dict(attention="full")
    assert all("layers" not in a and "last_layer" in a and "rollout" in a for a in summary["attention"])
    assert all("layers" in a for a in full["attention"])
    layers = np.array(exp.attention[0].layers)
    assert np.allclose(summary["attention"][0]["last_layer"], layers[-1].mean(axis=0), atol=6e-5)  # 4 decimals
    assert len(json.dumps(summary)) < len(json.dumps(full))
    with pytest.raises(ValueError, match="summary, full"):
        exp.to_dict(attention="everything")


def test_html_attention_map_is_readable(tiny_model):
    """The exported map leaves [CLS]/[SEP] out and shades each row against its own largest weight,
    so every row has a fully dark cell (the old map, scaled by the overall maximum, was nearly blank)."""
    import re

    user = tiny_model.known_users()[0]
    item = tiny_model.recommend(user, 1)[0].item_id
    exp = explain_pair(tiny_model, user, item, FAST)
    page = explanation_html(exp, "x")
    heat = page[page.index('<div class="heat"'):]
    alphas = [float(a) for a in re.findall(r"rgba\(68,1,84,([0-9.]+)\)", heat)]
    content = [t for t in exp.attention[0].tokens if t not in ("[CLS]", "[SEP]")]
    assert len(alphas) == len(content) ** 2
    rows = np.array(alphas).reshape(len(content), len(content))
    assert np.allclose(rows.max(axis=1), 1.0)
    assert "[CLS] (0)" not in heat
    assert "P = " not in page  # no saturated probability: score and rank


def test_cli_explain_writes_full_attention_only_with_the_flag(tiny_model, tmp_path):
    from recsys_core import save
    from recsys_core.cli import main

    model = tmp_path / "model"
    save(tiny_model, str(model))
    user = tiny_model.known_users()[0]
    item = tiny_model.recommend(user, 1)[0].item_id
    sizes = {}
    for name, extra in (("summary", []), ("full", ["--full-attention"])):
        out = tmp_path / f"{name}.json"
        code = main(["explain", "--model", str(model), "--user", user, "--item", item, "--method", "attention",
                     "--out", str(out), *extra])
        assert code == 0
        data = json.loads(out.read_text())
        assert all(("layers" in a) == (name == "full") for a in data["attention"])
        sizes[name] = out.stat().st_size
    assert sizes["summary"] < sizes["full"]


# ---------------------------------------------------------------------------- the word level
WORDS = ExplainConfig(n_steps=20, faithfulness=False)  # the Explain page's contrast settings (at most 20 steps)


def _word_pairs(model):
    user = model.known_users()[0]
    ranked = [r.item_id for r in model.recommend(user, 12)]
    return user, [(ranked[0], ranked[1]), (ranked[0], ranked[5]), (ranked[2], ranked[11]), (ranked[7], ranked[3])]


def test_word_level_parts_add_up_to_the_score_difference(tiny_model):
    """Words of both item texts + the user's whole-text shares + the difference with every text blanked =
    score(A) − score(B), up to the convergence delta, which is within IG's 5 % flag of what is attributed."""
    user, pairs = _word_pairs(tiny_model)
    ctx = tiny_model.context(user)
    for a, b in pairs:
        c = contrast_pair(tiny_model, user, a, b, WORDS, words=True)
        scores = tiny_model.score_items(ctx, np.array([tiny_model.item_position(a), tiny_model.item_position(b)]))
        assert c.difference == pytest.approx(float(scores[0] - scores[1]), abs=1e-5)
        total = sum(v for _, v in c.word_parts())
        assert total == pytest.approx(c.difference + c.convergence_delta, abs=1e-5)  # the bookkeeping is exact
        assert abs(total - c.difference) <= WORDS.delta_tolerance * abs(c.difference - c.baseline_difference), (a, b)
        assert c.delta_share <= WORDS.delta_tolerance


def test_word_level_splits_only_the_item_texts_and_keeps_the_user_texts_whole(tiny_model):
    user, pairs = _word_pairs(tiny_model)
    c = contrast_pair(tiny_model, user, *pairs[0], WORDS, words=True)
    assert c.tokens_a and {t.text_index for t in c.tokens_a} == {0} and {t.text_index for t in c.tokens_b} == {0}
    assert {t.side for t in c.tokens_a + c.tokens_b} == {"item"}
    sides = {key.side for key in c.word_fields}
    assert {"A item", "B item"} <= sides
    for key, value in c.word_fields.items():
        if key.side in ("profile", "history"):  # one exact whole-text share per user text, no words
            assert key.is_whole_text, key
    history = [k for k in c.word_fields if k.side == "history"]
    assert history and sum(c.word_fields[k] for k in history) == pytest.approx(
        sum(h.attribution for h in c.history_items), abs=1e-6)
    words = sum(t.attribution for t in c.tokens_a + c.tokens_b)  # the words are the item texts' fields and separators
    fields = sum(v for k, v in c.word_fields.items() if k.side in ("A item", "B item") or not k.side)
    assert words == pytest.approx(fields, abs=1e-6)
