"""Integrated gradients in two levels that add up exactly: texts first, then the tokens of each text.

The score of a pair is ``f(v_0, …, v_{N-1})``: the small recommender applied to
the pooled vectors of the N texts (candidate item, profile, history items).
Each vector is the frozen encoder of one text, ``v_n = g(e_n)``, where ``e_n``
are that text's word embeddings.

**Text level** (milliseconds: only the small recommender runs).  IG of ``f``
along the straight path from the baseline vectors ``b`` to the real vectors
``x`` gives each text its share

    A_n = w_n · (x_n − b_n),     w_n = ∫₀¹ ∂f/∂v_n (b + α(x − b)) dα,

and ``Σ_n A_n = f(x) − f(b)`` up to a text-level delta that 64 Gauss–Legendre
nodes make negligible (it is reported).

**Token level**, one text at a time.  ``A_n`` is the change of the *linear*
read-out ``h_n(e) = w_n · g(e)`` between the baseline and the real embeddings,
so IG of ``h_n`` over that text's word embeddings splits ``A_n`` over its
tokens: they sum to ``A_n`` up to that text's own delta.  Hence tokens add up
to their text, texts add up to ``score − baseline_score``, and the total
convergence delta is the text-level delta plus the token-level deltas.

Why this shape: a text's token IG needs only that text through the encoder
(no padding to the longest of 22 texts), texts that barely move the score can
be left for later, and every call works on embeddings it computed itself —
nothing is hooked into the encoder shared by all sessions, so any number of
threads can explain at once (``docs/explanations.md``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..encoder import pool
from .integrated_gradients import bert, embed, integration_rule, path_gradients
from .pair import PairInputs

TEXT_LEVEL_STEPS = 64  # Gauss–Legendre nodes on the small recommender: ~10 ms, delta ~1e-7 of the gap


# -- pooled text vectors ---------------------------------------------------------------------
def real_vectors(pair: PairInputs) -> torch.Tensor:
    """(N, T) vectors the recommender serves with: stored item vectors and the user's profile vector.

    Using the stored vectors (not a fresh encoder pass) makes the explained score
    exactly the served score, and costs nothing.
    """
    catalog = pair.recommender.catalog
    rows = [catalog.item_vectors[pair.item]]
    if pair.has_profile:
        rows.append(pair.ctx.profile_vector)
    rows += [catalog.item_vectors[i] for i in pair.history_items]
    return torch.from_numpy(np.stack(rows).astype(np.float32))


def encode_rows(pair: PairInputs, rows: list[torch.Tensor], memo: dict | None = None) -> torch.Tensor:
    """Pooled vectors (len(rows), T) of token-id rows (each unpadded), identical rows encoded once.

    Rows are sorted by length and batched with their neighbours, so little padding is run.
    ``memo`` (token-id row → vector, one caller's own, for one encoder) skips rows it already
    holds and keeps the new ones: a batch of pairs of the same users encodes their shared texts once.
    """
    encoder = pair.recommender.encoder
    unique: dict[tuple[int, ...], int] = {}
    keys = []
    for row in rows:
        key = tuple(int(t) for t in row)
        keys.append(unique.setdefault(key, len(unique)))
    vectors: dict[tuple[int, ...], torch.Tensor] = memo if memo is not None else {}
    distinct = sorted((k for k in unique if k not in vectors), key=len)
    pad = encoder.tokenizer.pad_token_id
    with torch.inference_mode():
        for chunk in _token_chunks(distinct, ENCODE_BATCH_TOKENS):
            width = max(len(c) for c in chunk)
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for r, c in enumerate(chunk):
                ids[r, : len(c)] = torch.tensor(c)
                mask[r, : len(c)] = 1
            hidden = bert(encoder)(input_ids=ids, attention_mask=mask).last_hidden_state
            pooled = pool(hidden, mask, encoder.config.pooling).float()
            for r, c in enumerate(chunk):
                vectors[c] = pooled[r].clone()
    order = {k: i for k, i in unique.items()}
    by_index = {i: vectors[k] for k, i in order.items()}
    return torch.stack([by_index[k] for k in keys])


ENCODE_BATCH_TOKENS = 2048  # tokens per inference pass (22 texts of up to 128 tokens in one pass peaked +90 MB)


def _token_chunks(rows: list[tuple[int, ...]], budget: int) -> list[list[tuple[int, ...]]]:
    """Consecutive runs of ``rows`` (sorted by length) whose padded size stays within ``budget`` tokens."""
    chunks: list[list[tuple[int, ...]]] = []
    for row in rows:
        if chunks and (len(chunks[-1]) + 1) * len(row) <= budget:
            chunks[-1].append(row)
        else:
            chunks.append([row])
    return chunks


def text_rows(pair: PairInputs, ids: torch.Tensor) -> list[torch.Tensor]:
    """The N rows of ``ids`` (N, L) cut to each text's real length."""
    lengths = pair.attention_mask.sum(1).tolist()
    return [ids[n, : int(k)] for n, k in enumerate(lengths)]


def baseline_vectors(pair: PairInputs, kind: str, memo: dict | None = None) -> torch.Tensor:
    """(N, T) pooled vectors of the baseline texts (``PairInputs.baseline_ids``); ``memo`` as in ``encode_rows``."""
    return encode_rows(pair, text_rows(pair, pair.baseline_ids(kind)), memo)


# -- text level -------------------------------------------------------------------------------
@dataclass
class TextLevel:
    """Exact IG over the pooled text vectors of one pair (see the module docstring)."""

    values: np.ndarray  # (N,) A_n, score units
    weights: torch.Tensor  # (N, T) w_n: path-averaged gradient of the score w.r.t. each text vector
    real: torch.Tensor  # (N, T)
    base: torch.Tensor  # (N, T)
    score: float
    baseline_score: float
    delta: float  # sum(values) − (score − baseline_score)

    @property
    def gap(self) -> float:
        return self.score - self.baseline_score


def text_level(pair: PairInputs, base: torch.Tensor, steps: int = TEXT_LEVEL_STEPS) -> TextLevel:
    return vector_level(pair.score_from_vectors, real_vectors(pair), base, steps)


def vector_level(score_of: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, base: torch.Tensor,
                 steps: int = TEXT_LEVEL_STEPS) -> TextLevel:
    """The text level of any function of N text vectors ((B, N, T) → (B,)): a pair's score, or the
    difference of two pairs' scores (``whatif.contrast_pair``)."""
    alphas, wts = integration_rule("gausslegendre", steps)
    with torch.enable_grad():
        path = (base.unsqueeze(0) + alphas.view(-1, 1, 1) * (real - base).unsqueeze(0)).requires_grad_(True)
        scores = score_of(path)
        (grads,) = torch.autograd.grad(scores.sum(), path)
    weights = (grads * wts.view(-1, 1, 1)).sum(0).detach()
    values = (weights * (real - base)).sum(-1).double().numpy()
    with torch.inference_mode():
        ends = score_of(torch.stack([real, base]))
    score, baseline_score = float(ends[0]), float(ends[1])
    return TextLevel(values, weights, real, base, score, baseline_score, float(values.sum()) - (score - baseline_score))


# -- token level ------------------------------------------------------------------------------
@dataclass
class TextTokens:
    """Token IG of one text's share A_n (see the module docstring)."""

    text_index: int
    values: np.ndarray  # (len_n,) signed, score units; zero on [CLS]/[SEP]
    target: float  # A_n they split
    delta: float  # sum(values) − A_n
    steps: int
    ok: bool  # |delta| within the budget it was given


def text_budget(level: TextLevel, tolerance: float, n: int) -> float:
    """|delta| allowed for text n's token split: the flag's room (``tolerance`` × |gap|) after the text
    level, shared half by |share| and half evenly, so the budgets of all texts add up to the flag."""
    room = max(0.0, tolerance * abs(level.gap) - abs(level.delta))
    shares = np.abs(level.values)
    total = float(shares.sum()) or 1.0
    return room * (0.5 * float(shares[n]) / total + 0.5 / len(shares))


LADDER = (12, 24, 48)  # with 8 nodes the pooled budget failed on 3 of 3 demo pairs tried; 12 met it for most texts


def step_ladder(max_steps: int) -> tuple[int, ...]:
    """Adaptive step counts tried in turn (``LADDER`` below ``max_steps``), then ``max_steps``."""
    return tuple(s for s in LADDER if s < max_steps) + (max_steps,)


BUCKET_STRETCH = 1.35  # texts batched together differ in length by at most this factor (little padding)
BUCKET_TOKENS = 1024  # at most this many (texts × length) tokens per bucket


def length_buckets(lengths: dict[int, int]) -> list[list[int]]:
    """Texts grouped by similar length (shortest first), so a batch is padded only a little."""
    order = sorted(lengths, key=lambda n: (lengths[n], n))
    buckets: list[list[int]] = []
    for n in order:
        if buckets:
            last = buckets[-1]
            if lengths[n] <= BUCKET_STRETCH * lengths[last[0]] and (len(last) + 1) * lengths[n] <= BUCKET_TOKENS:
                last.append(n)
                continue
        buckets.append([n])
    return buckets


def split_tokens(
    pair: PairInputs,
    level: TextLevel,
    texts: list[int],
    kind: str,
    budgets: dict[int, float],
    max_steps: int = 64,
    method: str = "gausslegendre",
    cancel: Callable[[], None] | None = None,
    progress: Callable[[float, str], None] | None = None,
    ladder: tuple[int, ...] | None = None,
) -> dict[int, TextTokens]:
    """Split each text's share over its tokens, with the fewest integration steps that keep the deltas in budget.

    Budgets are pooled over the texts of this call: after a step count, the texts are accepted
    when the sum of their |delta| is within the sum of their budgets; otherwise the texts furthest
    over their own budget move on to the next count of ``step_ladder`` until the rest fit.  Since
    every text's budget is its part of the pair's flag, the pair's total stays within the flag.
    Texts of similar length share encoder passes (each padded only to its bucket's longest).
    ``ladder`` replaces ``step_ladder(max_steps)`` (e.g. ``(max_steps,)``: one rung, no retries).
    """
    encoder = pair.recommender.encoder
    lengths = {n: int(pair.attention_mask[n].sum()) for n in texts}
    base_ids = pair.baseline_ids(kind)
    done: dict[int, TextTokens] = {}
    pending = list(texts)
    ladder = ladder or step_ladder(max_steps)
    for rung, count in enumerate(ladder):
        if not pending:
            break
        results: dict[int, TextTokens] = {}
        for bucket in length_buckets({n: lengths[n] for n in pending}):
            if progress is not None:
                names = ", ".join(pair.labels[n] for n in bucket[:2]) + ("…" if len(bucket) > 2 else "")
                progress(len(done) / max(len(texts), 1), names)
            width = max(lengths[n] for n in bucket)
            x = embed(encoder, pair.input_ids[bucket, :width])
            b = embed(encoder, base_ids[bucket, :width])
            mask = pair.attention_mask[bucket, :width]
            w = level.weights[bucket]  # (K, T)
            values = path_gradients(encoder, x, b, mask, lambda pooled, w=w: (pooled * w).sum((-1, -2)), count, method, cancel)
            values = values.detach().double().numpy()
            for row, n in enumerate(bucket):
                v = values[row, : lengths[n]]
                target = float(level.values[n])
                results[n] = TextTokens(n, v, target, float(v.sum()) - target, count, True)
        last = rung == len(ladder) - 1
        # furthest over its own budget first: those move on to more steps until the rest fit the pooled budget
        order = sorted(results, key=lambda n: -abs(results[n].delta) / max(budgets[n], 1e-12))
        while order and sum(abs(results[n].delta) for n in order) > sum(budgets[n] for n in order) and not last:
            order.pop(0)
        if last:
            fits = sum(abs(results[n].delta) for n in order) <= sum(budgets[n] for n in order)
            for n in order:
                r = results[n]
                done[n] = TextTokens(n, r.values, r.target, r.delta, r.steps, fits or abs(r.delta) <= budgets[n])
        else:
            done.update({n: results[n] for n in order})
        pending = [n for n in pending if n not in done]
    return done
