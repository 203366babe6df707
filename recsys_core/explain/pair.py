"""The texts of one (user, item) pair as encoder inputs, and the score as a function of them.

A pair has up to 2 + H texts: the candidate item's text, the user's profile
text (if any) and the texts of the H most recent history items (newest first,
the order the model reads them).  ``PairInputs.score_from_ids`` runs the
frozen encoder on all of them and the recommender on the pooled vectors, so
the score stays differentiable from the encoder's input tokens.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..batching import pad_rating_features
from ..encoder import pool
from ..model import UserInput
from ..recommender import Recommender, UserContext
from ..text import FieldText
from .types import BASELINES



@dataclass
class PairInputs:
    """Tokenised texts of one pair; index 0 is the candidate item.

    input_ids / attention_mask: (N, L) with N = 1 + has_profile + H.
    fields[n][t]: field name of token t of text n (None for special tokens and separators).
    removable: (N, L) bool, real tokens other than [CLS]/[SEP]/[PAD].
    """

    recommender: Recommender
    ctx: UserContext
    item: int  # catalogue index of the candidate
    texts: list[FieldText]
    labels: list[str]  # "item", "profile", "history: <title>"
    history_items: list[int]  # catalogue indices of the history texts, newest first
    has_profile: bool
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    tokens: list[list[str]]
    fields: list[list[str | None]]
    value_token: torch.Tensor  # (N, L) bool: token lies in a field's value (not its "name:" label)
    removable: torch.Tensor
    history_ratings: torch.Tensor | None = None  # (1, H, 2) rating features of the history, when the model reads ratings

    @property
    def n_texts(self) -> int:
        return int(self.input_ids.shape[0])

    def history_slot(self, n: int) -> int | None:
        """Position in the history (0 = newest) of text n, or None for item/profile texts."""
        first = 1 + int(self.has_profile)
        return n - first if n >= first else None

    def side(self, n: int) -> str:
        return "item" if n == 0 else "user"

    # -- baselines ---------------------------------------------------------------
    def baseline_ids(self, kind: str) -> torch.Tensor:
        """Reference input: every removable token replaced by [PAD] or [MASK] ([CLS]/[SEP] kept).

        "empty" blanks only the field values, keeping the field names, so the
        attribution measures what the *content* of each field adds.
        """
        if kind not in BASELINES:
            raise ValueError(f"Unknown baseline {kind!r}: choose one of {', '.join(BASELINES)}.")
        tok = self.recommender.encoder.tokenizer
        fill = tok.mask_token_id if kind == "mask" else tok.pad_token_id
        which = self.value_token if kind == "empty" else self.removable
        return torch.where(which, torch.full_like(self.input_ids, fill), self.input_ids)

    # -- the score as a function of the token ids -----------------------------------
    def score_from_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """Scores (B,) for ids of shape (B, N, L) — B variants of the pair's texts."""
        b = ids.shape[0]
        mask = self.attention_mask.unsqueeze(0).expand(b, -1, -1)
        return self.score_from_flat(ids.reshape(-1, ids.shape[-1]), mask.reshape(-1, ids.shape[-1]), b)

    def score_from_flat(self, flat_ids: torch.Tensor, flat_mask: torch.Tensor, b: int) -> torch.Tensor:
        encoder = self.recommender.encoder
        hidden = encoder.model(input_ids=flat_ids, attention_mask=flat_mask).last_hidden_state
        pooled = pool(hidden, flat_mask, encoder.config.pooling).reshape(b, self.n_texts, -1)
        return self.score_from_vectors(pooled)

    def score_from_vectors(self, pooled: torch.Tensor) -> torch.Tensor:
        """Scores (B,) from pooled text vectors (B, N, T) in this pair's text order."""
        b = pooled.shape[0]
        model = self.recommender.model
        item_vec = pooled[:, :1]  # (B, 1, T)
        first = 1 + int(self.has_profile)
        hist_vecs = pooled[:, first:]  # newest first
        hist_idx = torch.tensor(self.history_items, dtype=torch.long).reshape(1, -1).expand(b, -1)
        if self.has_profile:
            profile, has = pooled[:, 1], torch.ones(b)
        else:
            profile, has = torch.zeros(b, pooled.shape[-1]), torch.zeros(b)
        ratings = None if self.history_ratings is None else self.history_ratings.expand(b, -1, -1)
        user = UserInput(hist_vecs, hist_idx, profile, has, ratings)
        cand_idx = torch.full((b, 1), self.item, dtype=torch.long)
        return model.score(user, item_vec, cand_idx)[:, 0]


def build_pair(recommender: Recommender, ctx: UserContext, item: int, max_history: int | None = None) -> PairInputs:
    """Tokenise the candidate's text, the profile and the latest history texts of one pair."""
    catalog = recommender.catalog
    window = recommender.model.config.max_history  # None: the model's whole window (the served score)
    h = window if max_history is None else min(max_history, window)
    history = [int(i) for i in ctx.history[-h:][::-1]] if h else []
    texts = [catalog.item_texts[item]]
    labels = ["item"]
    if ctx.profile_text is not None and ctx.profile_vector is not None:
        texts.append(ctx.profile_text)
        labels.append("profile")
    has_profile = len(texts) == 2
    for i in history:
        texts.append(catalog.item_texts[i])
        labels.append(f"history: {_short_title(catalog.item_texts[i], catalog.item_ids[i])}")
    encoder = recommender.encoder
    batch = encoder.tokenize([t.text for t in texts], offsets=True)
    ids, mask, offsets = batch["input_ids"], batch["attention_mask"], batch["offset_mapping"]
    special = torch.tensor(
        [encoder.tokenizer.get_special_tokens_mask(row.tolist(), already_has_special_tokens=True) for row in ids],
        dtype=torch.bool,
    )
    removable = mask.bool() & ~special
    tokens, fields = [], []
    value_token = torch.zeros_like(removable)
    for n, text in enumerate(texts):
        row_tokens = encoder.tokenizer.convert_ids_to_tokens(ids[n].tolist())
        row_fields: list[str | None] = []
        for t, (a, b) in enumerate(offsets[n].tolist()):
            if not removable[n, t]:
                row_fields.append(None)
                continue
            name = text.field_at(a, b)
            row_fields.append(name)
            if name is not None:
                span = next(s for s in text.spans if s.field == name)
                value_token[n, t] = a >= span.value_start
        n_real = int(mask[n].sum())
        tokens.append(row_tokens[:n_real])
        fields.append(row_fields[:n_real])
    scale = recommender.model.config.rating_scale
    ratings = pad_rating_features([ctx.ratings], len(history), scale) if scale is not None else None
    return PairInputs(
        recommender, ctx, item, texts, labels, history, has_profile, ids, mask, tokens, fields, value_token, removable,
        ratings,
    )


def _short_title(text: FieldText, fallback: str) -> str:
    values = text.values()
    return values.get("title") or values.get("name") or fallback


def item_title(recommender: Recommender, item: int) -> str:
    return _short_title(recommender.catalog.item_texts[item], recommender.catalog.item_ids[item])


def full_rank(recommender: Recommender, ctx: UserContext, item: int, scores: np.ndarray | None = None) -> int:
    """1-based rank of ``item`` among the items the user has not seen, by the model's scores."""
    if scores is None:
        scores = recommender.score_items(ctx)
    eligible = np.ones(len(scores), dtype=bool)
    eligible[ctx.history] = False
    eligible[item] = True
    return int((scores[eligible] > scores[item]).sum()) + 1
