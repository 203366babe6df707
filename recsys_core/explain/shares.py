"""``pair_shares``: the part of one pair's explanation that sample roll-ups read, and nothing else.

Global feature importance (``global_importance``) rolls many pairs up into
field shares and words; per pair it reads the field totals, the tokens of the
split texts, the score, its baseline and the convergence delta.  ``explain_pair``
computes all of that and more (what removing each history item does, ranks,
encoder attention, the reason), which the sample never shows; ``pair_shares``
computes the same totals from the same stages (``levels``, ``rollup``) without
the rest.  Both engines of ``batch`` use it when the config asks for no more.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..progress import Checkpoint, Progress, quiet
from ..recommender import Recommender, UserContext
from .levels import baseline_vectors, split_tokens, text_budget, text_level
from .pair import build_pair
from .rollup import field_totals, token_attributions
from .state import texts_at
from .types import ExplainConfig, FieldKey, TokenAttribution


@dataclass
class PairShares:
    """What the roll-ups read of one explained pair (``Explanation`` has the same attributes)."""

    user_id: str
    item_id: str
    score: float
    baseline_score: float
    convergence_delta: float  # text-level delta + the token splits' deltas
    fields: dict[FieldKey, float]  # signed attribution per field bucket (``rollup.field_totals``)
    tokens: list[TokenAttribution]  # of the split texts
    agreement: dict[str, float] = field(default_factory=dict)  # none: it needs every text split and its attention


def shares_only(config: ExplainConfig) -> bool:
    """Whether ``pair_shares`` computes everything ``config`` asks of the sample: IG split of some texts
    without deletion curves (the attention–IG agreement needs every text split, so "all" takes the full path)."""
    return config.method != "attention" and not config.faithfulness and config.token_level != "all"


def pair_shares(
    recommender: Recommender,
    ctx: UserContext,
    item_id: str,
    config: ExplainConfig,
    memo: dict | None = None,
    progress: Progress | None = None,
    cancel: Checkpoint | None = None,
) -> PairShares:
    """One pair's field totals and tokens as ``explain_pair`` gives them, computing only what the
    roll-ups read: the texts' shares (text-level IG) and the token IG of the texts ``config.token_level``
    names, within the same delta budgets.  Left out: what removing each history item does, the ranks,
    the encoder attention and the reason.  ``memo`` keeps baseline vectors across the pairs of a sample
    (the pairs of one user share their profile and history texts).  The token split goes straight to
    ``config.n_steps`` steps instead of trying 12 first: on the demo model about half the texts
    missed their budget at 12 and were integrated twice."""
    say = progress or quiet
    pair = build_pair(recommender, ctx, recommender.item_position(item_id), config.max_history)
    level = text_level(pair, baseline_vectors(pair, config.baseline, memo))
    texts = texts_at(pair, level, config.token_level)
    splits = split_tokens(pair, level, texts, config.baseline,
                          {n: text_budget(level, config.delta_tolerance, n) for n in texts}, config.n_steps,
                          config.ig_method, cancel, lambda f, _m: say(f, "token attributions"), (config.n_steps,))
    grid = np.zeros(tuple(pair.input_ids.shape))
    for n, t in splits.items():
        grid[n, : len(t.values)] = t.values
    unsplit = {n: float(level.values[n]) for n in range(pair.n_texts) if n not in splits}
    return PairShares(
        user_id=ctx.user_id or "(new user)",
        item_id=item_id,
        score=level.score,
        baseline_score=level.baseline_score,
        convergence_delta=level.delta + sum(t.delta for t in splits.values()),
        fields=field_totals(pair, grid, unsplit),
        tokens=token_attributions(pair, grid, sorted(splits)),
    )
