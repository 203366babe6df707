"""Typed results of the explainers.

The dashboard renders these *result types* (token attributions, attention
maps, field importances, curves), never a method name.  Every result is plain
data: ``to_dict()`` gives JSON-ready values.

Units: attributions are in **score units** (the model's logit); they are
signed (positive pushed the item up) and, for integrated gradients, sum to
``score - baseline_score`` up to the reported convergence delta.

Field roll-ups are keyed by ``FieldKey`` ("item: title", "profile: age",
"history: genres", "(separators)"): a ``str``, so JSON and dict look-ups see
the plain text, with the side and the field name as properties.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Literal, get_args

import numpy as np

from ..errors import RecsysError


def jsonable(value):
    """Plain JSON values from dataclass dicts holding numpy arrays and numbers (floats rounded to 6 digits)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(np.round(value.astype(np.float64), 6).tolist()) if value.dtype.kind == "f" else value.tolist()
    if isinstance(value, (np.floating, float)):
        return round(float(value), 6)
    if isinstance(value, np.integer):
        return int(value)
    return value


class FieldKey(str):
    """A field roll-up bucket: "<side>: <field>" ("item: title", "profile: age", "history: genres"),
    or ``SEPARATORS`` for tokens outside every field.

    A ``str`` (equal to, hashed and serialised as its text), so a dict keyed by it is looked up
    with "item: title" and exports as plain JSON; build one with ``FieldKey.of`` and read it
    with ``side`` / ``name`` instead of splitting the text.
    """

    __slots__ = ()
    SEPARATOR = ": "  # field names never hold ":" (the text builder writes "name: value")

    @classmethod
    def of(cls, side: str, name: str) -> FieldKey:
        return cls(f"{side}{cls.SEPARATOR}{name}")

    @property
    def side(self) -> str:
        """"item", "profile", "history" (or a contrast's "A item" / "B item"); "" for ``SEPARATORS``."""
        side, sep, _ = self.partition(self.SEPARATOR)
        return side if sep else ""

    @property
    def name(self) -> str:
        """The field ("title", "age"…), ``WHOLE_TEXT``, or the whole key for ``SEPARATORS``."""
        side, sep, name = self.partition(self.SEPARATOR)
        return name if sep else side

    @property
    def is_whole_text(self) -> bool:
        return self.name == WHOLE_TEXT


WHOLE_TEXT = "(whole text)"  # field name of a text not split into tokens yet: its exact text-level share
SEPARATORS = FieldKey("(separators)")  # bucket of tokens outside every field (" | " between fields)

Method = Literal["ig", "attention", "all"]
Baseline = Literal["pad", "mask", "empty"]
TokenLevel = Literal["none", "carrying", "all"]
METHODS: tuple[Method, ...] = get_args(Method)
BASELINES: tuple[Baseline, ...] = get_args(Baseline)
TOKEN_LEVELS: tuple[TokenLevel, ...] = get_args(TokenLevel)
ATTENTION_DETAIL = ("summary", "full")  # how much of the attention maps an exported explanation keeps


@dataclass(frozen=True)
class ExplainConfig:
    method: Method = "all"
    n_steps: int = 64  # most integration steps per text; fewer are used when the delta is already within the flag
    ig_method: str = "gausslegendre"  # integration rule: "gausslegendre" or riemann_{trapezoid,left,right,middle}
    baseline: Baseline = "pad"  # "empty": field values blanked, field names kept
    # History items attributed; None: every item the model reads (its window), so the explained score is
    # the served one.  A smaller number explains a score computed on fewer items (cheaper, not the served one).
    max_history: int | None = None
    token_level: TokenLevel = "all"  # texts split into tokens; "carrying": the item, profile and history items carrying the score
    delta_tolerance: float = 0.05  # flag |delta| above this share of |score - baseline score|
    faithfulness: bool = True  # deletion curves (costly: the dashboard asks for them on request)
    deletion_fractions: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
    attention_layers: str = "full"  # "full": layers × heads for item/profile texts; history texts head-averaged
    # Length of the list the pair is judged against (the Explain page's top-K): the reason says "Recommended"
    # only inside it, and what holds the item back outside it.  Wording only: it changes no number.
    top_k: int = 10

    def __post_init__(self) -> None:
        """Checked at construction, so a wrong setting is one clear message before any work."""
        for name, allowed in (("method", METHODS), ("baseline", BASELINES), ("token level", TOKEN_LEVELS)):
            value = getattr(self, name.replace(" ", "_"))
            if value not in allowed:
                raise RecsysError(f"Unknown {name} {value!r}: choose one of {', '.join(allowed)}.")
        if self.n_steps < 1:
            raise RecsysError(f"The number of integration steps must be at least 1, got {self.n_steps}.")
        if self.top_k < 1:
            raise RecsysError(f"The length of the recommendation list must be at least 1, got {self.top_k}.")
        if self.max_history is not None and self.max_history < 0:
            raise RecsysError(f"The number of history items to explain cannot be negative, got {self.max_history}.")

    def to_dict(self) -> dict:
        return asdict(self)


def read_text(value: object, optional: bool = False) -> str | None:
    """A string of a record read back from JSON (``optional``: or None); TypeError otherwise."""
    if isinstance(value, str) or (optional and value is None):
        return value
    raise TypeError(f"expected text, got {value!r}")


def read_number(value: object, optional: bool = False) -> float | None:
    """A number of a record read back from JSON (NaN included; ``optional``: or None); TypeError otherwise
    (a bool or a numeric string is not a number)."""
    if optional and value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"expected a number, got {value!r}")


def read_whole(value: object, low: int = 0) -> int:
    """A whole number ≥ ``low`` of a record read back from JSON; TypeError/ValueError otherwise."""
    if type(value) is not int:
        raise TypeError(f"expected a whole number, got {value!r}")
    if value < low:
        raise ValueError(f"expected a whole number from {low}, got {value}")
    return value


def read_flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value


@dataclass(frozen=True)
class TokenAttribution:
    text: str  # the WordPiece as the tokenizer wrote it ("##ing" kept)
    attribution: float  # signed, score units
    side: str  # "item" | "user"
    field: str | None  # field of its text ("title", "age"...), None for separators/special tokens
    history_item_id: str | None  # the history item whose text holds it, or None
    text_index: int  # which text of the pair (0 = candidate item, then profile, then history newest first)
    position: int  # token position inside that text
    special: bool = False

    @classmethod
    def from_dict(cls, data: dict) -> TokenAttribution:
        """One record as ``jsonable(asdict(...))`` wrote it; KeyError/TypeError/ValueError when it is not one."""
        return cls(read_text(data["text"]), read_number(data["attribution"]), read_text(data["side"]),
                   read_text(data["field"], optional=True), read_text(data["history_item_id"], optional=True),
                   read_whole(data["text_index"]), read_whole(data["position"]), read_flag(data["special"]))


@dataclass(frozen=True)
class HistoryContribution:
    item_id: str
    title: str
    attribution: float  # full-path contribution: score − score with the item removed (text, id, recency, attention)
    attention_weight: float  # the model's attention on it for this candidate (0..1, sums to 1 over history)
    position: int  # 0 = most recent
    text_attribution: float = 0.0  # its text's IG share (its tokens' sum when split); see explain/history.py
    other_attribution: float = 0.0  # attribution − text_attribution: id, recency, attention (non-text paths)
    score_without: float | None = None  # score with the item removed (= score − attribution when computed)
    rank_without: int | None = None  # rank with it removed (computed for the 5 largest |attribution|)
    rating: float | None = None  # the user's rating of it, when the model reads ratings
    rating_label: str = ""  # that rating as shown, e.g. "1★" (ratings.RatingScale.stars)

    @classmethod
    def from_dict(cls, data: dict) -> HistoryContribution:
        """One record as ``jsonable(asdict(...))`` wrote it; KeyError/TypeError/ValueError when it is not one."""
        rank = data["rank_without"]
        return cls(read_text(data["item_id"]), read_text(data["title"]), read_number(data["attribution"]),
                   read_number(data["attention_weight"]), read_whole(data["position"]),
                   read_number(data["text_attribution"]), read_number(data["other_attribution"]),
                   read_number(data["score_without"], optional=True), None if rank is None else read_whole(rank, 1),
                   read_number(data["rating"], optional=True), read_text(data["rating_label"]))


@dataclass(frozen=True)
class TextContribution:
    """One text's share of the score (text-level IG over the pooled text vectors; see levels.py).

    Every text's ``attribution`` is exact; its tokens (when ``split``) sum to
    ``attribution + token_delta``.
    """

    text_index: int
    label: str  # "item", "profile", "history: <title>"
    attribution: float  # score units, signed
    split: bool  # token-level attributions computed for this text
    token_delta: float  # sum of its token attributions − attribution (0 when not split)
    steps: int  # integration steps its token split used (0 when not split)


@dataclass(frozen=True)
class TextAttention:
    """Self-attention of the encoder over one text.

    layers: (L, H, n, n) for the candidate item and the profile text; history
        texts keep only the head average (L, 1, n, n) — see ``heads_averaged``.
    rollout: (n, n) attention rollout (Abnar & Zuidema 2020) with the residual
        added as 0.5·A + 0.5·I before multiplying layers.
    token_importance: (n,) mean attention each token receives in the last
        layer (head-averaged, over all query tokens), the per-token "where the
        encoder looks" score used for agreement and deletion.
    rollout_importance: (n,) the same from the rollout matrix.
    """

    label: str  # "item", "profile" or "history: <title>"
    text_index: int
    tokens: list[str]
    layers: np.ndarray  # float32, see above
    heads_averaged: bool
    rollout: np.ndarray
    token_importance: np.ndarray
    rollout_importance: np.ndarray

    def to_dict(self, detail: str = "summary") -> dict:
        """JSON-ready values; ``detail="summary"`` replaces ``layers`` by ``last_layer`` (n, n), the
        head average of the last layer (it and the rollout to 4 decimals), ``"full"`` keeps
        ``layers`` (L, H, n, n) as computed."""
        out = {
            "label": self.label,
            "text_index": self.text_index,
            "tokens": list(self.tokens),
            "heads_averaged": self.heads_averaged,
            "rollout": self.rollout,
            "token_importance": self.token_importance,
            "rollout_importance": self.rollout_importance,
        }
        if detail == "full":
            out["layers"] = self.layers
        else:
            # Four decimals are plenty for weights in [0, 1] that are drawn, and halve the text.
            out["last_layer"] = np.round(np.asarray(self.layers)[-1].mean(axis=0), 4)
            out["rollout"] = np.round(np.asarray(self.rollout), 4)
        return jsonable(out)


@dataclass(frozen=True)
class DeletionCurve:
    method: str  # a token-ranking method's name ("integrated gradients", "attention", "random", ...)
    fractions: list[float]  # share of removable tokens replaced by [PAD]
    scores: list[float]  # model score after the removal
    area: float  # mean score drop over the fractions (higher = the ranking found what matters)
    comprehensiveness: float  # score drop when the top 20% are removed
    sufficiency: float  # score drop when only the top 20% are kept
    texts: list[int] = field(default_factory=list)  # the texts whose tokens were ranked and removed (others as served)


@dataclass(frozen=True)
class HistoryFidelity:
    """How faithful one ordering of the history items is, by the counterfactual metrics of LXR (Barkan et al.,
    "Learning to eXplain Recommendations"; ``explain/fidelity.py``), on one pair or averaged over pairs.

    Items are removed from the model's window in steps of 10 % of it (1 item at least), in the ordering's
    order; each figure is the mean over the steps (and pairs).  Scores are logits, as changes from the
    served score, so 0 is "as served" and the figures of different pairs add up on one scale.
    """

    method: str  # the ordering: "full path (shipped)", "random", "model attention", ...
    pos: dict[int, float]  # k → share of steps the item is still in the top-k, top-ranked removed first (lower = better)
    neg: dict[int, float]  # k → the same with the lowest-ranked removed first (higher = better)
    deletion: float  # DEL: mean score change with the top-ranked removed (lower = better)
    insertion: float  # INS: mean score change with only the top-ranked kept (higher = better)
    pairs: int = 1  # pairs averaged

    def to_dict(self) -> dict:
        return jsonable(asdict(self))


@dataclass
class Explanation:
    """Why ``item_id`` was recommended to ``user_id`` (schema of ``explain`` JSON)."""

    user_id: str
    item_id: str
    score: float
    baseline_score: float
    convergence_delta: float
    delta_ok: bool
    tokens: list[TokenAttribution]
    fields: dict[FieldKey, float]  # "item: title", "profile: age", "history: genres", "(separators)" → summed attribution
    history_items: list[HistoryContribution]
    attention: list[TextAttention]
    faithfulness: list[DeletionCurve]
    agreement: dict[str, float]  # Spearman of IG vs attention / rollout over tokens
    reason: str
    rank: int | None  # rank of the item in the user's full list (seen items excluded)
    texts: list[TextContribution] = field(default_factory=list)  # every text's exact share, item first
    text_delta: float = 0.0  # sum of text shares − (score − baseline_score)
    config: ExplainConfig = field(default_factory=ExplainConfig)
    seconds: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    history_together: float = 0.0  # score − score without the window's items − Σ history attributions
    history_fidelity: list[HistoryFidelity] = field(default_factory=list)  # with the deletion curves, on request

    def to_dict(self, attention: str = "summary") -> dict:
        """JSON-ready values (the schema documented in docs/explanations.md).

        ``attention="summary"`` (default) keeps, per text, the last layer's head-averaged map and
        the rollout (plus the per-token importances): what the page and the HTML card draw.
        ``"full"`` keeps every layer × head as computed (on the demo a JSON of ~17 MB instead of
        well under 1 MB).
        """
        if attention not in ATTENTION_DETAIL:
            raise ValueError(f"Unknown attention detail {attention!r}: choose one of {', '.join(ATTENTION_DETAIL)}.")
        out = jsonable(asdict(replace(self, attention=[])))
        out["attention"] = [a.to_dict(attention) for a in self.attention]
        return out
