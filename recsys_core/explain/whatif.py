"""Counterfactuals: contrastive attributions and rank what-ifs.

- ``contrast_pair`` splits ``score(u, A) - score(u, B)`` into the net share of each item field, the
  item ids and the item bias (Shapley values: they add up, identical fields get 0), and optionally
  attributes it to the words of both texts: why A ranks above B.
- ``what_if`` removes history items or item fields, or replaces the item's text,
  re-encodes only what changed, and re-scores through the model's ``Scorer``
  (the one scoring path of serving): the new score and rank.

Field keys of the word level are ``FieldKey``s: "A item: genres", "B item: genres",
"history: title", "(separators)".
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import ClassVar
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch

from ..errors import RecsysError
from ..progress import Checkpoint, Progress, quiet
from ..recommender import Recommender, UserContext
from ..text import build_field_text
from .levels import baseline_vectors, real_vectors, split_tokens, vector_level
from .pair import PairInputs, build_pair, full_rank, item_title
from .rollup import field_totals, history_contributions, token_attributions
from .state import resolve_context
from .types import (SEPARATORS, ExplainConfig, FieldKey, HistoryContribution, TokenAttribution, jsonable, read_flag,
                    read_number, read_text, read_whole)


@dataclass
class Contrast:
    """Why A scores above (or below) B for one user: ``score_a − score_b`` split into parts that add up.

    The parts are the Shapley values of the candidate's own ingredients — each field of its
    text, and its item id — in the game "score of a hybrid item that takes the ingredients in S
    from A and the rest from B" (the user's history and profile stay as they are).  So:

    - ``fields[f]`` is field f's *net* effect of being A's value instead of B's; a field whose
      value is the same on A and B changes nothing and gets exactly 0;
    - ``id_embedding`` is what A's learned id vector does instead of B's — the collaborative
      signal, including how it steers the model's attention over the history;
    - ``bias`` is A's item bias minus B's (it is additive, so its share is exact);
    - ``sum(fields) + id_embedding + bias == score_a − score_b`` (to float precision).

    With ``words=True`` the difference is also attributed by integrated gradients, in two levels
    (``_add_words``): first to every text, exactly, over the pooled text vectors — A's item text, B's
    item text, and the user's profile and history texts, which both scores share; then A's and B's
    item-text shares to their **words**.  The user's texts stay at **text level** (one whole-text share
    each: "profile: (whole text)", "history: (whole text)" in ``word_fields``).  Words, user-text
    shares and ``baseline_difference`` (the difference with every text at the baseline) add up to
    ``difference`` up to ``convergence_delta``.  Those fields are filled then, and empty / NaN otherwise.
    """

    BLANKED: ClassVar[str] = "every text blanked (item ids and bias)"  # the word level's part no text carries

    user_id: str
    item_a: str
    item_b: str
    score_a: float
    score_b: float
    fields: dict[str, float]  # net Shapley share per item field, largest |share| first
    id_embedding: float
    bias: float
    identical_fields: list[str]  # fields whose value is the same on A and B (share exactly 0)
    exact: bool  # True: every coalition enumerated; False: sampled permutations (still adds up exactly)
    # word level (words=True only)
    baseline_difference: float = float("nan")  # the difference with every text at the baseline
    convergence_delta: float = float("nan")
    tokens_a: list[TokenAttribution] = field(default_factory=list)  # A's item text
    tokens_b: list[TokenAttribution] = field(default_factory=list)  # B's item text
    word_fields: dict[FieldKey, float] = field(default_factory=dict)  # "A item: genres", "history: title", ...
    history_items: list[HistoryContribution] = field(default_factory=list)  # their texts' shares of the difference

    @property
    def difference(self) -> float:
        return self.score_a - self.score_b

    @property
    def has_words(self) -> bool:
        return bool(self.word_fields)

    @property
    def delta_share(self) -> float:
        """|convergence delta| as a share of what the word level attributes, |difference − baseline_difference|."""
        gap = abs(self.difference - self.baseline_difference)
        return abs(self.convergence_delta) / gap if gap > 0 else 0.0

    def word_parts(self) -> list[tuple[str, float]]:
        """The word level's parts, largest |value| first: A's and B's item-text fields (their words), the user's
        texts (whole-text shares) and the difference with every text blanked.  They add up to ``difference``
        up to ``convergence_delta``."""
        rows = list(self.word_fields.items()) + [(self.BLANKED, self.baseline_difference)]
        return sorted(rows, key=lambda kv: -abs(kv[1]))

    def parts(self) -> list[tuple[str, float]]:
        """Labelled parts of the difference, largest |value| first; they add up to ``difference``."""
        rows = [(f"item text: {name}", value) for name, value in self.fields.items()]
        rows += [("item id embedding", self.id_embedding), ("item bias", self.bias)]
        return sorted(rows, key=lambda kv: -abs(kv[1]))

    def summary(self) -> str:
        """One plain sentence with numbers that add up to the difference."""
        text = sum(self.fields.values())
        same = f" ({', '.join(self.identical_fields)} identical on both: 0)" if self.identical_fields else ""
        return (
            f"Score {self.score_a:+.3f} vs {self.score_b:+.3f}: a difference of {self.difference:+.3f} = "
            f"{text:+.3f} from the item texts' fields{same} {_signed(self.id_embedding)} from the item ids "
            f"(the learned id vectors, collaborative signal) {_signed(self.bias)} from the item bias."
        )

    def to_dict(self) -> dict:
        out = jsonable(asdict(self))
        out["difference"] = jsonable(self.difference)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Contrast:
        """The result ``to_dict`` wrote (``difference`` is recomputed); KeyError/TypeError/ValueError when
        ``data`` is not one."""
        return cls(
            user_id=read_text(data["user_id"]), item_a=read_text(data["item_a"]), item_b=read_text(data["item_b"]),
            score_a=read_number(data["score_a"]), score_b=read_number(data["score_b"]),
            fields={read_text(k): read_number(v) for k, v in data["fields"].items()},
            id_embedding=read_number(data["id_embedding"]), bias=read_number(data["bias"]),
            identical_fields=[read_text(f) for f in data["identical_fields"]], exact=read_flag(data["exact"]),
            baseline_difference=read_number(data["baseline_difference"]),
            convergence_delta=read_number(data["convergence_delta"]),
            tokens_a=[TokenAttribution.from_dict(t) for t in data["tokens_a"]],
            tokens_b=[TokenAttribution.from_dict(t) for t in data["tokens_b"]],
            word_fields={FieldKey(read_text(k)): read_number(v) for k, v in data["word_fields"].items()},
            history_items=[HistoryContribution.from_dict(h) for h in data["history_items"]],
        )


def _signed(value: float) -> str:
    return f"{'+' if value >= 0 else '−'} {abs(value):.3f}"


EXACT_PLAYERS = 9  # up to 8 fields + the id: 2^9 = 512 coalitions (256 hybrid texts to encode); beyond, permutations
PERMUTATIONS = 64


def _coalition_values(recommender: Recommender, ctx: UserContext, a: int, b: int, names: list[str],
                      coalitions: list[frozenset[int]]) -> dict[frozenset[int], float]:
    """Score of the hybrid item for each coalition (player i < len(names): field i from A; the last: A's id)."""
    catalog = recommender.catalog
    va, vb = catalog.item_texts[a].values(), catalog.item_texts[b].values()
    id_player = len(names)
    texts: dict[frozenset[int], int] = {}  # the text part of a coalition → its row
    rows: list[str | int] = []
    for c in coalitions:
        part = frozenset(i for i in c if i < id_player)
        if part not in texts:
            texts[part] = len(rows)
            if len(part) == len(names):
                rows.append(a)  # all of A's fields: A's stored vector (the served score exactly)
            elif not part:
                rows.append(b)
            else:
                mixed = {f: (va if i in part else vb).get(f) for i, f in enumerate(names)}
                rows.append(build_field_text(mixed, list(catalog.item_fields)).text)
    fresh = [r for r in rows if isinstance(r, str)]
    encoded = iter(recommender.encoder.encode(fresh) if fresh else [])
    vectors = np.stack([catalog.item_vectors[r] if isinstance(r, int) else next(encoded) for r in rows]).astype(np.float32)
    cand_vecs = vectors[[texts[frozenset(i for i in c if i < id_player)] for c in coalitions]]
    cand_idx = np.array([a if id_player in c else b for c in coalitions], dtype=np.int64)
    scores = recommender.scorer.score_vectors(recommender.users([ctx]), cand_vecs, cand_idx)[0]
    return {c: float(s) for c, s in zip(coalitions, scores)}


def _shapley(n: int, value: Callable[[list[frozenset[int]]], dict[frozenset[int], float]]) -> tuple[np.ndarray, bool]:
    """Shapley values of n players: exact over all coalitions when n is small, else sampled permutations
    (each permutation's marginal contributions telescope, so the values still sum to v(all) − v(none))."""
    if n <= EXACT_PLAYERS:
        everyone = [frozenset(c) for k in range(n + 1) for c in itertools.combinations(range(n), k)]
        v = value(everyone)
        phi = np.zeros(n)
        for c in everyone:
            for i in range(n):
                if i not in c:
                    weight = math.factorial(len(c)) * math.factorial(n - len(c) - 1) / math.factorial(n)
                    phi[i] += weight * (v[c | {i}] - v[c])
        return phi, True
    rng = np.random.default_rng(0)
    orders = [rng.permutation(n) for _ in range(PERMUTATIONS // 2)]
    orders += [o[::-1] for o in orders]  # antithetic pairs halve the variance
    chains = [[frozenset(o[:k]) for k in range(n + 1)] for o in orders]
    v = value(sorted({c for chain in chains for c in chain}, key=len))
    phi = np.zeros(n)
    for o, chain in zip(orders, chains):
        for k, player in enumerate(o):
            phi[player] += v[chain[k + 1]] - v[chain[k]]
    return phi / len(orders), False


def contrast_pair(
    recommender: Recommender,
    user_id: str | None,
    item_a: str,
    item_b: str,
    config: ExplainConfig = ExplainConfig(),
    ctx: UserContext | None = None,
    words: bool = True,
    progress: Progress | None = None,
    cancel: Checkpoint | None = None,
) -> Contrast:
    """Why A ranks above B for the user: ``score(u, A) − score(u, B)`` split into net field, id and bias
    shares (see ``Contrast``); with ``words`` also joint integrated gradients over A's, B's and the user's
    texts.  ``progress(fraction, message)`` is called between stages, ``cancel`` between encoder passes
    of the word level (either may raise to stop)."""
    say = progress or quiet
    ctx = resolve_context(recommender, user_id, ctx)
    a, b = recommender.item_position(item_a), recommender.item_position(item_b)
    if a == b:
        raise RecsysError("Pick two different items to compare.")
    say(0.0, "each field's and the item id's net share")
    catalog = recommender.catalog
    va, vb = catalog.item_texts[a].values(), catalog.item_texts[b].values()
    names = [f for f in catalog.item_fields if f in va or f in vb]
    identical = [f for f in names if va.get(f) == vb.get(f)]
    players = [f for f in names if f not in identical]  # an identical field is a null player: exactly 0
    phi, exact = _shapley(len(players) + 1, lambda cs: _coalition_values(recommender, ctx, a, b, players, cs))
    with torch.inference_mode():
        _, biases = recommender.model.item_repr(torch.from_numpy(catalog.item_vectors[[a, b]]), torch.tensor([a, b]))
    bias = float(biases[0] - biases[1])
    fields = dict(zip(players, (float(x) for x in phi[:-1])))
    fields.update({f: 0.0 for f in identical})
    contrast = Contrast(
        user_id=ctx.user_id or "(new user)",
        item_a=item_a,
        item_b=item_b,
        score_a=0.0,
        score_b=0.0,
        fields=dict(sorted(fields.items(), key=lambda kv: -abs(kv[1]))),
        id_embedding=float(phi[-1]) - bias,
        bias=bias,
        identical_fields=identical,
        exact=exact,
    )
    scores = recommender.score_items(ctx, np.array([a, b]))
    contrast.score_a, contrast.score_b = float(scores[0]), float(scores[1])
    if words:
        say(0.1, "each text's share, then the words of both item texts (integrated gradients)")
        _add_words(contrast, recommender, ctx, a, b, config, cancel, say)
    say(1.0, "done")
    return contrast


def _joint_pair(pa: PairInputs, pb: PairInputs) -> PairInputs:
    """A's texts followed by B's item text, as one set of token rows (padded to a common length).

    What the baseline vectors and the token split read (rows, labels, baselines); its own
    ``score_from_vectors`` is A's and is never called on it: the difference is ``_add_words``'s.
    """
    length = max(pa.input_ids.shape[1], pb.input_ids.shape[1])

    def rows(of_a: torch.Tensor, of_b: torch.Tensor, fill) -> torch.Tensor:
        def widen(t: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.pad(t, (0, length - t.shape[1]), value=fill)
        return torch.cat([widen(of_a), widen(of_b[:1])])

    pad_id = pa.recommender.encoder.tokenizer.pad_token_id
    return replace(
        pa,
        texts=pa.texts + pb.texts[:1],
        labels=["A item", *pa.labels[1:], "B item"],
        input_ids=rows(pa.input_ids, pb.input_ids, pad_id),
        attention_mask=rows(pa.attention_mask, pb.attention_mask, 0),
        tokens=pa.tokens + pb.tokens[:1],
        fields=pa.fields + pb.fields[:1],
        value_token=rows(pa.value_token, pb.value_token, False),
        removable=rows(pa.removable, pb.removable, False),
    )


# Most integration steps of an item text's word split (12 first, then 20 for a text over its budget): on 3 demo
# pairs, letting the ladder go on to 64 met the flag more tightly but took 3–11 s instead of ~2.
WORD_STEPS = 20


def _add_words(contrast: Contrast, recommender: Recommender, ctx: UserContext, a: int, b: int,
               config: ExplainConfig, cancel: Checkpoint | None, say: Progress) -> None:
    """The difference over the texts (exact), then over the words of A's and B's item texts.

    Text level: IG of ``score(u, A) − score(u, B)`` over the pooled vectors of A's item text, the
    user's texts (shared by both scores) and B's item text, baseline vectors → real ones (only the
    small recommender runs).  Word level: A's and B's item-text shares split over their words by
    token IG of the linear read-out (``levels.split_tokens``); the user's texts keep their exact
    text-level share.  Words + user-text shares = ``difference − baseline_difference`` up to
    ``convergence_delta`` (the text level's, ~1e-7, plus the two splits').
    """
    pa = build_pair(recommender, ctx, a, config.max_history)
    pb = build_pair(recommender, ctx, b, config.max_history)
    joint = _joint_pair(pa, pb)
    n = pa.n_texts  # B's item text is text n of the joint rows

    def difference(pooled: torch.Tensor) -> torch.Tensor:
        pooled_b = torch.cat([pooled[:, n : n + 1], pooled[:, 1:n]], dim=1)  # B's item text + the shared user texts
        return pa.score_from_vectors(pooled[:, :n]) - pb.score_from_vectors(pooled_b)

    real = torch.cat([real_vectors(pa), real_vectors(pb)[:1]])
    level = vector_level(difference, real, baseline_vectors(joint, config.baseline))
    items = [0, n]
    # The whole flag goes to the two splits (the user texts are not split): half by |share|, half evenly.
    room = max(0.0, config.delta_tolerance * abs(level.gap) - abs(level.delta))
    shares = np.abs(level.values[items])
    total = float(shares.sum()) or 1.0
    budgets = {m: room * (0.5 * float(s) / total + 0.5 / len(items)) for m, s in zip(items, shares)}
    splits = split_tokens(joint, level, items, config.baseline, budgets, min(config.n_steps, WORD_STEPS), config.ig_method,
                          cancel, lambda f, _m: say(0.1 + 0.85 * f, "the words of both item texts"))
    va, vb = np.zeros(tuple(pa.input_ids.shape)), np.zeros(tuple(pb.input_ids.shape))
    va[0, : len(splits[0].values)] = splits[0].values
    vb[0, : len(splits[n].values)] = splits[n].values
    user = {m: float(level.values[m]) for m in range(1, n)}  # profile and history: whole-text shares
    fields: dict[FieldKey, float] = {}
    for key, value in field_totals(pa, va, user).items():
        fields[FieldKey.of("A item", key.name) if key.side == "item" else key] = value
    for key, value in field_totals(pb, vb).items():
        if key.side == "item":  # B's pair adds only its item text (and its separators)
            fields[FieldKey.of("B item", key.name)] = value
        elif key == SEPARATORS:
            fields[key] = fields.get(key, 0.0) + value
    weights = recommender.history_attention(ctx, a)  # A's attention, for reference next to the attributions
    contrast.baseline_difference = level.baseline_score
    contrast.convergence_delta = level.delta + splits[0].delta + splits[n].delta
    contrast.tokens_a = token_attributions(pa, va, [0])
    contrast.tokens_b = token_attributions(pb, vb, [0])
    contrast.word_fields = dict(sorted(fields.items(), key=lambda kv: -abs(kv[1])))
    contrast.history_items = history_contributions(pa, va, weights, user)


@dataclass
class WhatIf:
    """Score and rank of an item before and after a change (rank among unseen items, 1 = top)."""

    item_id: str
    change: str
    score_before: float
    score_after: float
    rank_before: int
    rank_after: int

    def to_dict(self) -> dict:
        return jsonable(asdict(self))

    @classmethod
    def from_dict(cls, data: dict) -> WhatIf:
        """The result ``to_dict`` wrote; KeyError/TypeError/ValueError when ``data`` is not one."""
        return cls(item_id=read_text(data["item_id"]), change=read_text(data["change"]),
                   score_before=read_number(data["score_before"]), score_after=read_number(data["score_after"]),
                   rank_before=read_whole(data["rank_before"], 1), rank_after=read_whole(data["rank_after"], 1))


def what_if(
    recommender: Recommender,
    user_id: str | None,
    item_id: str,
    *,
    remove_history: list[str] | tuple[str, ...] = (),
    remove_fields: list[str] | tuple[str, ...] = (),
    item_text: str | None = None,
    ctx: UserContext | None = None,
) -> WhatIf:
    """Re-score after removing history items, dropping fields of the item's text, or replacing that text.

    Only the candidate's new text is encoded; every other item keeps its
    stored vector, so the rank is against the same catalogue.
    """
    ctx = resolve_context(recommender, user_id, ctx)
    item = recommender.item_position(item_id)
    scores = recommender.score_items(ctx)
    before_score, before_rank = float(scores[item]), full_rank(recommender, ctx, item, scores)
    changes = []
    new_ctx = ctx
    if remove_history:
        drop = recommender.catalog.indices(remove_history)
        new_ctx = ctx.without(np.flatnonzero(np.isin(ctx.history, drop)))
        changes.append("without " + ", ".join(f"“{item_title(recommender, i)}”" for i in drop))
    text = None
    if item_text is not None:
        text = item_text
        changes.append("with the edited item text")
    elif remove_fields:
        text = recommender.catalog.item_texts[item].without(remove_fields).text
        changes.append("without the item's " + ", ".join(remove_fields))
    if not changes:
        raise RecsysError("Nothing to change: remove a history item or a field, or edit the item text.")
    new_scores = recommender.score_items(new_ctx)
    if text is not None:
        new_scores[item] = _score_with_text(recommender, new_ctx, item, text)
    return WhatIf(
        item_id=item_id,
        change="; ".join(changes),
        score_before=before_score,
        score_after=float(new_scores[item]),
        rank_before=before_rank,
        rank_after=full_rank(recommender, new_ctx, item, new_scores),
    )


def _score_with_text(recommender: Recommender, ctx: UserContext, item: int, text: str) -> float:
    """The score of ``item`` for ``ctx`` with ``text`` as its text, through the model's ``Scorer``
    (the history keeps the stored texts: only the candidate is edited)."""
    vector = recommender.encoder.encode([text])
    return float(recommender.scorer.score_vectors(recommender.users([ctx]), vector, np.array([item]))[0, 0])
