"""Why was item *i* recommended to user *u*?

    from recsys_core.explain import explain_pair, ExplainConfig
    exp = explain_pair(recommender, "u0042", "m0007", ExplainConfig(n_steps=20))
    exp.reason, exp.fields, exp.history_items, exp.attention[0].rollout

See ``types`` for the result schema and ``docs/explanations.md`` for the methods.
"""
from .core import (
    PairState,
    add_faithfulness,
    clear_cache,
    compose,
    explain_pair,
    pair_state,
    split_texts,
)
from .global_importance import GlobalImportance, field_ablation, global_importance
from .html import explanation_html
from .methods import TOKEN_METHODS, Progress, TokenMethod
from .types import (
    DeletionCurve,
    ExplainConfig,
    Explanation,
    HistoryContribution,
    TextAttention,
    TextContribution,
    TokenAttribution,
)
from .whatif import Contrast, WhatIf, contrast_pair, what_if

__all__ = [
    "TOKEN_METHODS",
    "Contrast",
    "DeletionCurve",
    "ExplainConfig",
    "Explanation",
    "GlobalImportance",
    "HistoryContribution",
    "PairState",
    "Progress",
    "TextAttention",
    "TextContribution",
    "TokenAttribution",
    "TokenMethod",
    "WhatIf",
    "add_faithfulness",
    "clear_cache",
    "compose",
    "contrast_pair",
    "explain_pair",
    "explanation_html",
    "field_ablation",
    "global_importance",
    "pair_state",
    "split_texts",
    "what_if",
]
