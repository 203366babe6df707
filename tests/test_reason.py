"""The plain-language reason says only what the numbers beside it on the Explain page bear out (issue 18).

Unit tests build the typed inputs by hand for the three ways the reason used to contradict its numbers;
the many-pairs test explains pairs of the demo model and of a model of real-looking RecBole movie files
(top items and items ranked outside the top K) and reads every number and claim back out of the text.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from recsys_core.explain import ExplainConfig, compose, pair_state, split_texts, state_key
from recsys_core.explain.reason import ReasonInputs, build_reason, claims
from recsys_core.explain.types import HistoryContribution, TextContribution

MATERIAL = 0.05  # the rule under test: a contribution under 5% of max(|score|, |score − reference|) is not named


def texts(item: float, profile: float | None = None) -> tuple[TextContribution, ...]:
    out = [TextContribution(0, "item", item, False, 0.0, 0)]
    if profile is not None:
        out.append(TextContribution(1, "profile", profile, False, 0.0, 0))
    return tuple(out)


def removal(item_id, title, total, text, position, score, rank_without=None, **kwargs) -> HistoryContribution:
    """A history item as ``history.full_path_items`` makes it: removal effect, its text part, the rest."""
    return HistoryContribution(item_id, title, total, 0.1, position, text_attribution=text,
                               other_attribution=total - text, score_without=score - total,
                               rank_without=rank_without, **kwargs)


# ------------------------------------------------------------------------------ the three bad cases
def test_a_share_far_below_the_score_is_never_called_a_driver():
    # The pair: "Item text's share" +0.0017 of a +6.90 score was said to have "drove the score".
    inputs = ReasonInputs("Solaris", 6.90, 6.8983, 1, 10, texts(0.0017),
                          fields={"item: genres": 0.0010, "item: title": 0.0007}, words=(("space", 0.0008),))
    text = build_reason(inputs)
    assert "drove" not in text and "mainly because" not in text
    assert "genres" not in text and "item's own text" not in text and "space" not in text
    assert text.startswith("Ranks 1, in the top 10, though nothing in its texts or history raises its score materially.")
    assert "+6.898 instead of +6.900: the texts change it little" in text


def test_an_item_outside_the_top_k_says_what_holds_it_back():
    history = (removal("a", "Alien", 0.9, 0.6, 0, 3.0, rank_without=58),
               removal("d", "Dune", -0.7, -0.5, 1, 3.0, rank_without=12))
    inputs = ReasonInputs("Solaris", 3.0, 2.0, 32, 10, texts(0.4), history)
    text = build_reason(inputs)
    assert "Recommended" not in text and "mainly because" not in text
    assert text.startswith("Ranks 32, outside the top 10; what holds it back: “Dune” in the user's history (-0.700, "
                           "mostly through its text: text share -0.500; without it the item would rise from rank 32 to 12).")
    assert ("What still speaks for it: “Alien” in the user's history (+0.900, mostly through its text: text share "
            "+0.600; without it the item would drop from rank 32 to 58); the item's own text (+0.400).") in text


def test_a_history_item_carried_by_its_id_says_so_not_its_text():
    # The pair: text share −1.77, removal costs 7.08 through its id: "the main reason" must say which path.
    history = (removal("h", "Heat", 7.08, -1.77, 0, 6.90, rank_without=40),)
    inputs = ReasonInputs("Solaris", 6.90, 5.0, 1, 10, texts(0.5), history)
    text = build_reason(inputs)
    assert text.startswith("Recommended (rank 1 of the top 10) mainly because of: “Heat” in the user's history "
                           "(+7.080, through its id, recency and the model's attention, not its text: text share "
                           "-1.770; without it the item would drop from rank 1 to 40)")


# ------------------------------------------------------------------------------ the rest of the rule
def test_holding_back_is_never_a_reason_for_and_the_threshold_is_relative_to_the_score():
    history = (removal("a", "Alien", 0.8, 0.6, 0, 3.0), removal("b", "Blade Runner", 0.3, 0.25, 1, 3.0),
               removal("c", "Cats", 0.14, 0.1, 2, 3.0),  # 4.7% of the score: not named
               removal("d", "Dune", -0.5, -0.3, 3, 3.0))
    fields = {"item: genres": 0.6, "item: title": -0.2, "history: title": 1.1}
    inputs = ReasonInputs("Solaris", 3.0, 1.0, 2, 10, texts(0.4), history, fields, (("space", 0.3), ("crew", 0.2)))
    raising, holding = claims(inputs)
    assert [c.value for c in raising] == [0.8, 0.4, 0.3] and [c.value for c in holding] == [-0.5]
    text = build_reason(inputs)
    reasons, held = text.split("What holds it back:")
    assert "“Alien”" in reasons and "“Blade Runner”" in reasons and "Dune" not in reasons and "Cats" not in text
    assert "the item's own text (+0.400, led by its genres; words ‘space’, ‘crew’)" in reasons
    assert "“Dune” in the user's history (-0.500, mostly through its text: text share -0.300)" in held
    assert "+1.000 instead of +3.000: the texts raise it" in text


def test_a_negative_score_and_texts_that_pull_it_down_are_said_so():
    inputs = ReasonInputs("Solaris", -1.2, 0.9, 700, 10, texts(-1.6, -0.5), fields={"item: title": -1.4})
    text = build_reason(inputs)
    assert text.startswith("Ranks 700, outside the top 10; what holds it back: the item's own text (-1.600, led by "
                           "its title); the user's profile text (-0.500).")
    assert "Its score is negative (-1.200); with every text blanked it would be +0.900: the texts pull it down" in text
    assert "speaks for it" not in text


def test_outside_the_top_k_with_nothing_material_against_it():
    inputs = ReasonInputs("Solaris", 3.0, 2.9, 11, 10, texts(0.1))
    assert build_reason(inputs).startswith("Ranks 11, outside the top 10: nothing in its texts or history holds "
                                           "it back materially; the items above it score higher.")


def test_ratings_stay_with_the_items_named_on_either_side():
    history = (removal("a", "Alien", 0.8, 0.6, 0, 2.0, rating=5.0, rating_label="5★"),
               removal("j", "Jean de Florette", -0.6, 0.05, 1, 2.0, rating=1.0, rating_label="1★"),
               removal("c", "Cats", -0.01, 0.0, 2, 2.0, rating=1.0, rating_label="1★"))
    text = build_reason(ReasonInputs("Solaris", 2.0, 1.0, 3, 10, texts(0.05), history))
    reasons, held = text.split("What holds it back:")
    assert "“Alien” in the user's history, rated 5★ (+0.800" in reasons and "Jean" not in reasons
    assert "“Jean de Florette” in the user's history, rated 1★ (-0.600, through its id" in held
    assert "Cats" not in text  # rated 1★ too, but immaterial


def test_a_cold_item_keeps_its_opening_and_an_unknown_rank_names_no_list():
    cold = build_reason(ReasonInputs("Solaris", 0.5, 0.1, None, 10, texts(0.4), cold=True))
    assert cold.startswith("“Solaris” has no interactions in the training data (a cold item)")
    assert "What raises its score: the item's own text (+0.400)." in cold and "the history's item ids and order" in cold
    assert "Recommended" not in cold and "top 10" not in cold


def test_the_list_length_is_a_checked_setting_that_changes_no_number(tiny_model):
    from recsys_core.errors import RecsysError

    with pytest.raises(RecsysError, match="at least 1"):
        ExplainConfig(top_k=0)
    user = tiny_model.known_users()[0]
    ctx, item = tiny_model.context(user), tiny_model.catalog.item_ids[0]
    assert state_key(tiny_model, ctx, item, ExplainConfig(top_k=3)) == state_key(tiny_model, ctx, item, ExplainConfig())


# ------------------------------------------------------------------------------ over many real pairs
NUMBER = re.compile(r"[+-]?\d+(?:,\d{3})*(?:\.\d+)?")
QUOTED = re.compile(r"“[^”]*”|‘[^’]*’")  # titles and words: text, not numbers
MARKERS = [("mainly because of:", +1), ("What still speaks for it:", +1), ("What raises its score:", +1),
           ("what holds it back:", -1), ("What holds it back:", -1)]
HISTORY = re.compile(r"“(?P<title>[^”]*)” in the user's history(?:, rated [^()]*(?:\(of [^)]*\))?)? \((?P<total>[+-]\d+\.\d{3})"
                     r"(?:, (?P<path>[^:;)]*)(?:[:;] text share (?P<share>[+-]\d+\.\d{3}))?)?")
TEXT = re.compile(r"the (?P<which>item's own|user's profile) text \((?P<share>[+-]\d+\.\d{3})")


def displayed_numbers(exp, top_k: int) -> set[str]:
    """Every number the Explain page shows for the pair, written as it writes them
    (dashboard/explain_panels.py and explain_view.py)."""
    from dashboard.explain_view import history_items_shown

    shown = {f"{exp.score:+.3f}", f"{exp.baseline_score:+.3f}", f"{exp.rank:,}", f"{exp.texts[0].attribution:+.4f}",
             f"{top_k:,}"}  # score metrics; the list is the page's "top-K"
    shown |= {f"{t.attribution:+.3f}" for t in sorted(exp.texts, key=lambda t: -abs(t.attribution))[:12]}  # share bar
    for h in history_items_shown(exp.history_items):  # history chart: text, other paths, total, rank without
        shown |= {f"{h.text_attribution:+.3f}", f"{h.other_attribution:+.3f}", f"{h.attribution:+.3f}"}
        if h.rank_without is not None:
            shown.add(f"{h.rank_without:,}")
    return shown


def check_reason(exp, top_k: int) -> None:
    """Every number of the reason is one the page shows, every claim has the sign and size its wording says."""
    text, where = exp.reason, f"{exp.user_id} × {exp.item_id} (rank {exp.rank}): {exp.reason}"
    assert "drove" not in text, where
    unquoted = QUOTED.sub("", text)
    for label in {h.rating_label for h in exp.history_items if h.rating_label}:  # "4★", "5 (of 3–5)": as the history table
        unquoted = unquoted.replace(f"rated {label}", "")
    numbers = NUMBER.findall(unquoted)
    assert numbers and set(numbers) <= displayed_numbers(exp, top_k), (set(numbers) - displayed_numbers(exp, top_k), where)
    threshold = MATERIAL * max(abs(exp.score), abs(exp.score - exp.baseline_score))
    profile = next((t for t in exp.texts if t.label == "profile"), None)

    def side(at: int) -> int:
        found = [(text.rfind(m, 0, at), sign) for m, sign in MARKERS]
        position, sign = max(found)
        assert position >= 0, f"a claim outside every list: {where}"
        return sign

    named = []
    for m in HISTORY.finditer(text):
        sign = side(m.start())
        candidates = [h for h in exp.history_items if h.title == m["title"] and f"{h.attribution:+.3f}" == m["total"]]
        assert candidates, f"“{m['title']}” {m['total']} is not a history item's removal effect: {where}"
        h = candidates[0]
        assert np.sign(h.attribution) == sign and abs(h.attribution) >= threshold, where
        named.append(h.attribution)
        if m["share"] is not None:
            assert m["share"] == f"{h.text_attribution:+.3f}", where
            through_text = h.text_attribution * h.attribution > 0 and abs(h.text_attribution) >= 0.5 * abs(h.attribution)
            assert m["path"].startswith("mostly through its text") == through_text, where
            if m["path"].endswith("not its text"):
                assert h.text_attribution * h.attribution <= 0 or abs(h.text_attribution) < threshold, where
    for m in TEXT.finditer(text):
        t = exp.texts[0] if m["which"] == "item's own" else profile
        assert m["share"] == f"{t.attribution:+.3f}", where
        assert np.sign(t.attribution) == side(m.start()) and abs(t.attribution) >= threshold, where
        named.append(t.attribution)

    candidates = [h.attribution for h in exp.history_items] + [exp.texts[0].attribution] + (
        [profile.attribution] if profile is not None else [])
    raising = [v for v in candidates if v >= threshold]
    if raising:  # the largest material contribution of each sign is named
        assert max(raising) in named, where
    if any(v <= -threshold for v in candidates):
        assert min(candidates) in named, where
    inside = exp.rank <= top_k
    assert ("Recommended (rank" in text) == (inside and bool(raising)), where  # after a cold item's opening
    assert (f"outside the top {top_k}" in text) == (not inside), where
    assert ("the texts pull it down" in text) == (exp.baseline_score - exp.score >= threshold), where


@pytest.fixture(scope="module")
def recbole_model(embedding_cache):
    """A model of RecBole ml-100k-shaped files: real movie titles and genres, a profile, 1–5 ratings."""
    from recbole_files import ML_INTER, ML_ITEM, ML_USER
    from recsys_core.loading import load_dataset
    from recsys_core.pipeline import FitOptions, fit
    from recsys_core.training import TrainConfig

    data = load_dataset(("ml.inter", ML_INTER), ("ml.item", ML_ITEM), ("ml.user", ML_USER),
                        rename={"movie_title": "title"})
    return fit(data, FitOptions(train=TrainConfig(epochs=3), baselines=False, cache_dir=embedding_cache))


def ranked_items(rec, user: str, positions: list[int]) -> list[str]:
    """The items at these 0-based positions of the user's full list (seen items left out)."""
    ctx = rec.context(user)
    seen = set(int(i) for i in ctx.history)
    order = [int(i) for i in np.argsort(-rec.score_items(ctx), kind="stable") if int(i) not in seen]
    return [rec.catalog.item_ids[order[p]] for p in positions if p < len(order)]


def explain_many(rec, users: list[str], positions: list[int]) -> int:
    """Explain each user's items at ``positions`` as the page's first view, and the top item again once its
    text is split into tokens (its fields and words then enter the reason); check every reason.
    Returns the pairs checked."""
    config = ExplainConfig(method="all", token_level="carrying", faithfulness=False, top_k=5)
    count = 0
    for user in users:
        for n, item in enumerate(ranked_items(rec, user, positions)):
            state = pair_state(rec, user, item, config)
            check_reason(compose(state, None, config), config.top_k)
            if n == 0:
                flagged = split_texts(state, [0])
                check_reason(compose(state, flagged, config), config.top_k)
            count += 1
    return count


def test_every_number_and_claim_of_the_reason_matches_the_page_over_many_pairs(demo_model, recbole_model):
    # K = 5 puts positions 4 and 5 on either side of the list's end; the page's K is 10.
    checked = explain_many(demo_model, demo_model.known_users()[:3], [0, 4, 5, 60, 1500])
    checked += explain_many(recbole_model, recbole_model.known_users(), [0, 5, 12])
    assert checked >= 30
