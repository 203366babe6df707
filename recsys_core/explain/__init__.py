"""Why was item *i* recommended to user *u*?

    from recsys_core.explain import explain_pair, ExplainConfig
    exp = explain_pair(recommender, "u0042", "m0007", ExplainConfig(n_steps=20))
    exp.reason, exp.fields, exp.history_items, exp.attention[0].rollout

Or stage by stage, as the dashboard does: ``pair_state`` (first view, cached),
``split_texts`` (token attributions of chosen texts), ``add_faithfulness``,
then ``compose`` into an ``Explanation`` at any point.

Layers, each importing only those below it:

    types, pair, integrated_gradients            result schema, a pair's texts, IG kernels
    attention, levels, history, rollup, reason,  one ingredient each
    faithfulness, fidelity
    state_cache → state                          ``PairState``, its key, stages 1–2, the cache
    methods                                      token-ranking methods (read a ``PairState``)
    core                                         add_faithfulness, compose, explain_pair
    shares                                       a pair's field totals alone (what roll-ups read)
    whatif, counterfactual, html, batch,         built on explanations (or, field ablation, on
    global_importance, field_ablation, cli       evaluation alone; counterfactual on history alone)

See ``types`` for the result schema and ``docs/explanations.md`` for the methods.
"""
from ..progress import Progress
from .core import add_faithfulness, compose, explain_pair
from .counterfactual import Counterfactual, counterfactual
from .field_ablation import FieldAblation, field_ablation
from .global_importance import (
    DEFAULT_K,
    DEFAULT_USERS,
    IMPORTANCE_CONFIG,
    Bucket,
    GlobalImportance,
    WordWeight,
    global_importance,
)
from .html import explanation_html
from .levels import TextTokens
from .methods import TOKEN_METHODS, TokenMethod
from .rollup import merge_words
from .state import (
    PairState,
    cached_state,
    carrying_texts,
    clear_cache,
    pair_state,
    split_texts,
    state_key,
)
from .types import (
    DeletionCurve,
    ExplainConfig,
    Explanation,
    FieldKey,
    HistoryContribution,
    HistoryFidelity,
    TextAttention,
    TextContribution,
    TokenAttribution,
)
from .whatif import Contrast, WhatIf, contrast_pair, what_if

__all__ = [
    "DEFAULT_K",
    "DEFAULT_USERS",
    "IMPORTANCE_CONFIG",
    "TOKEN_METHODS",
    "Bucket",
    "Contrast",
    "Counterfactual",
    "DeletionCurve",
    "ExplainConfig",
    "Explanation",
    "FieldAblation",
    "FieldKey",
    "GlobalImportance",
    "HistoryContribution",
    "HistoryFidelity",
    "PairState",
    "Progress",
    "TextAttention",
    "TextContribution",
    "TextTokens",
    "TokenAttribution",
    "TokenMethod",
    "WhatIf",
    "WordWeight",
    "add_faithfulness",
    "cached_state",
    "carrying_texts",
    "clear_cache",
    "compose",
    "contrast_pair",
    "counterfactual",
    "explain_pair",
    "explanation_html",
    "field_ablation",
    "global_importance",
    "merge_words",
    "pair_state",
    "split_texts",
    "state_key",
    "what_if",
]
