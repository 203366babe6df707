"""The hybrid recommender: text vectors + item ids + ordered history + profile.

Shapes use B = users in a batch, C = candidate items per user (or the shared
candidate set), H = history length, T = text-vector size, D = model size.

Why this design (see docs/model.md for the measurements):
- item ids carry the collaborative signal the text cannot (co-occurrence,
  franchises, popularity); *id dropout* during training and a zeroed id
  embedding for items never seen in training make cold items fall back to text.
  Dropout is 0.5: with 0.25 the ids carried the training and the text path of a
  cold item ranked no better than a text-only model; 0.5 lifted cold-item NDCG on
  the demo by +0.012 ± 0.008 (paired, same run) with warm NDCG level; on the
  generated 100k case it left cold items level, lifted new users and cost warm
  NDCG 0.02 (models that all stop at epoch 1 there: docs/benchmarks.md);
- the text vectors are centred on the catalogue's mean before the projection (``center_text``): the
  encoder's shared component otherwise dominates what the projection sees; on the generated cases this
  lifted test NDCG@10 after one epoch (docs/model.md, "Centred text");
- ``evidence_gate`` (off by default) mixes the id part in by log(1 + training
  interactions) and gives an id-less item a bias read from its text, and
  ``TrainConfig.text_loss`` adds the softmax with candidate ids hidden; neither
  beat 0.5 dropout on the demo (docs/model.md, "Cold items and new users");
- with explicit ratings, each history item is scaled and shifted by its rating (``ratings.py``), so
  a disliked item can push recommendations away from itself instead of towards it;
- the history is attended to *with the candidate as query* and with a learned
  recency (position) embedding, because the next interaction depends most on
  the latest ones, and the weights tell which past items mattered;
- ``[u, i, u*i]`` through an MLP plus a bilinear ``theta . (u*i)`` term and an
  item bias give the score, a logit trained with a sampled softmax over items: it ranks one
  user's items, and ``sigmoid(score)`` is not a calibrated probability (it saturates near 1).
Every path from the score back to the text vectors is differentiable, so
integrated gradients can attribute the score to the encoder's input tokens.
"""
from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .ratings import N_FEATURES


@dataclass(frozen=True)
class ModelConfig:
    n_items: int
    text_dim: int
    dim: int = 64
    hidden: int = 64
    max_history: int = 20
    dropout: float = 0.1
    id_dropout: float = 0.5
    use_text: bool = True
    use_item_ids: bool = True
    use_positions: bool = True
    use_profile: bool = True
    use_candidate_attention: bool = True
    # (lowest, highest) rating of the training data when the model reads ratings (ratings.py); None: it does not
    rating_scale: tuple[float, float] | None = None
    # Mix an item's id part in by its interaction evidence, and give id-less items a bias read from
    # their text (see item_repr).  Off by default: it did not beat 0.5 id dropout on
    # the demo (docs/model.md); False is the plain text + id + bias sum of every saved model.
    evidence_gate: bool = False
    # Subtract the catalogue's mean unit text vector before the text projection (``text_center``, set by training).
    # Sentence encoders give every text a large shared component (two random titles of the generated 1m case
    # have cosine 0.92; centred, -0.03), so uncentred the projection starts out seeing mostly what all items
    # share.  False is what every model saved before it was measured did (docs/model.md, "Centred text").
    center_text: bool = False

    def __post_init__(self) -> None:
        if self.rating_scale is not None:  # a list when read back from config.json
            object.__setattr__(self, "rating_scale", tuple(float(v) for v in self.rating_scale))

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class UserInput:
    """The user side of a batch, as tensors.

    hist_vecs: (B, H, T) text vectors of history items, newest first, zero-padded.
    hist_idx: (B, H) item indices (0-based catalogue positions), -1 for padding.
    profile_vec: (B, T) profile text vectors (zeros when no profile).
    has_profile: (B,) 1.0 where the user has a profile text.
    hist_ratings: (B, H, 2) ``ratings.rating_features`` of the history items (zeros where unrated), or None.
    """

    hist_vecs: torch.Tensor
    hist_idx: torch.Tensor
    profile_vec: torch.Tensor
    has_profile: torch.Tensor
    hist_ratings: torch.Tensor | None = None


@dataclass
class UserContext:
    """The candidate-independent part of a batch of users, as the model computes it.

    hist: (B, H, D) history item vectors with recency, zero where padded; valid: (B, H) mask;
    keys: (B, H, D) attention keys (None without candidate attention);
    profile: (B, D) projected profile (zeros without a profile; None when profiles are off).
    """

    hist: torch.Tensor
    valid: torch.Tensor
    keys: torch.Tensor | None
    profile: torch.Tensor | None


class HybridRecommender(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        d, t = config.dim, config.text_dim
        self.text_proj = nn.Sequential(nn.Linear(t, d), nn.GELU(), nn.Linear(d, d))
        # Row 0 is "no id" (padding, cold item, or dropped id): kept at zero.
        self.item_emb = nn.Embedding(config.n_items + 1, d, padding_idx=0)
        self.item_bias = nn.Embedding(config.n_items + 1, 1, padding_idx=0)
        nn.init.normal_(self.item_emb.weight, std=0.02)
        nn.init.zeros_(self.item_bias.weight)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()
        self.position = nn.Embedding(config.max_history, d)
        nn.init.normal_(self.position.weight, std=0.02)
        self.query = nn.Linear(d, d, bias=False)
        self.key = nn.Linear(d, d, bias=False)
        self.recency_logit = nn.Parameter(torch.zeros(config.max_history))
        self.profile_proj = nn.Sequential(nn.Linear(t, d), nn.GELU(), nn.Linear(d, d))
        self.user_norm = nn.LayerNorm(d)
        # Training's random draws (dropout, id dropout) come from this generator when training sets one, so a
        # model trained while other sessions train or explain gets its seed's numbers, not theirs.
        self.generator: torch.Generator | None = None
        self.mlp = nn.Sequential(
            nn.Linear(3 * d, config.hidden), nn.GELU(), nn.Linear(config.hidden, 1)
        )
        self.theta = nn.Parameter(torch.full((d,), 1.0 / math.sqrt(d)))
        # 1 for items that had training interactions; cold items get no id embedding.
        self.register_buffer("warm", torch.ones(config.n_items + 1))
        if config.rating_scale is not None:
            # A rated history item is scaled and shifted by its rating features; both start at zero, so
            # an untrained model (or an unrated item) reads the history exactly as without ratings, and
            # a 1★ item can learn to point *away* from what the user wants (a negative gain).
            self.rating_gain = nn.Linear(N_FEATURES, d, bias=False)
            self.rating_shift = nn.Linear(N_FEATURES, d, bias=False)
            nn.init.zeros_(self.rating_gain.weight)
            nn.init.zeros_(self.rating_shift.weight)
        if config.center_text:
            self.register_buffer("text_center", torch.zeros(t))  # set_text_center: a statistic of the texts, not learned
        if config.evidence_gate:
            # log(1 + training interactions) per embedding row, filled by training (row 0, "no id", has none;
            # an item with none is scored from its text alone).
            self.register_buffer("evidence", torch.zeros(config.n_items + 1))
            self.gate_scale = nn.Parameter(torch.ones(()))
            self.gate_shift = nn.Parameter(torch.zeros(()))
            self.text_bias = nn.Linear(d, 1)
            nn.init.zeros_(self.text_bias.weight)
            nn.init.zeros_(self.text_bias.bias)

    # -- item side -------------------------------------------------------------
    def _id_rows(self, idx: torch.Tensor) -> torch.Tensor:
        """Embedding rows (idx+1), with -1 (padding) mapped to row 0, dropped at random in training."""
        rows = (idx + 1).clamp(min=0)
        rows = torch.where(self.warm[rows] > 0, rows, torch.zeros_like(rows))
        if self.training and self.config.id_dropout > 0:
            keep = torch.rand(rows.shape, device=rows.device, generator=self.generator) >= self.config.id_dropout
            rows = rows * keep
        return rows

    def item_repr(self, text_vecs: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Item vectors ``(..., D)`` and biases ``(...)`` from text vectors ``(..., T)`` and indices."""
        d = self.config.dim
        text = torch.zeros(*idx.shape, d, dtype=text_vecs.dtype, device=text_vecs.device)
        if self.config.use_text:
            text = self.text_proj(self.unit_text(text_vecs))
        bias = torch.zeros(idx.shape, dtype=text_vecs.dtype, device=text_vecs.device)
        if not self.config.use_item_ids:
            return text, bias
        rows = self._id_rows(idx)
        if not self.config.evidence_gate:
            return text + self.item_emb(rows), self.item_bias(rows).squeeze(-1)
        # gate = 0 for an item with no id or no evidence (cold, padding, dropped in training): its vector is exactly
        # the text path's and its bias is read from its text, where a plain model would give it a
        # learned-bias slot stuck at 0; the gate grows with the item's training interactions.
        evidence = self.evidence[rows]
        gate = torch.sigmoid(self.gate_scale * evidence + self.gate_shift) * (evidence > 0)
        rep = text + gate.unsqueeze(-1) * self.item_emb(rows)
        bias = gate * self.item_bias(rows).squeeze(-1) + (1 - gate) * self.text_bias(text).squeeze(-1)
        return rep, bias

    def unit_text(self, text_vecs: torch.Tensor) -> torch.Tensor:
        """What the text projection reads: unit text vectors, centred on ``text_center`` and made unit again
        when ``config.center_text``."""
        unit = F.normalize(text_vecs, dim=-1)
        if self.config.center_text:
            unit = F.normalize(unit - self.text_center, dim=-1)
        return unit

    def set_text_center(self, item_vectors: np.ndarray) -> None:
        """Centre the text path on the mean of these (the catalogue's) unit text vectors; a model without
        ``config.center_text`` is left as it is.  Training calls it once, on a fresh model: an update keeps the
        centre its model was trained with, as it keeps its weights."""
        if not self.config.center_text or not len(item_vectors):
            return
        vectors = torch.as_tensor(np.asarray(item_vectors, dtype=np.float32))
        with torch.no_grad():
            self.text_center.copy_(F.normalize(vectors, dim=-1).mean(dim=0))

    def catalogue_biases(self, text_vecs: torch.Tensor) -> torch.Tensor:
        """The bias ``(n,)`` each catalogue item scores with, from all its text vectors ``(n, T)``:
        the learned bias of a warm item, 0 or (gated) the text-read bias of a cold one."""
        with torch.inference_mode():
            return self.item_repr(text_vecs, torch.arange(len(text_vecs)))[1]

    # -- user side -------------------------------------------------------------
    def history_repr(self, user: UserInput) -> tuple[torch.Tensor, torch.Tensor]:
        """History item vectors (B, H, D) with recency added, and their validity mask (B, H)."""
        valid = user.hist_idx >= 0
        rep, _ = self.item_repr(user.hist_vecs, user.hist_idx)
        if self.config.rating_scale is not None and user.hist_ratings is not None:
            rep = rep * (1 + self.rating_gain(user.hist_ratings)) + self.rating_shift(user.hist_ratings)
        if self.config.use_positions:
            h = rep.shape[1]
            rep = rep + self.position.weight[:h].unsqueeze(0)
        return self.dropout(rep) * valid.unsqueeze(-1), valid

    def dropout(self, x: torch.Tensor) -> torch.Tensor:
        """Inverted dropout of ``config.dropout`` in training (``nn.Dropout``'s), drawn from ``self.generator``."""
        p = self.config.dropout
        if not self.training or p <= 0:
            return x
        keep = torch.rand(x.shape, device=x.device, generator=self.generator) >= p
        return x * keep / (1 - p)

    def context(self, user: UserInput) -> UserContext:
        """The user side that does not depend on the candidate, computed once per batch of users."""
        hist, valid = self.history_repr(user)
        keys = self.key(hist) if self.config.use_candidate_attention else None
        profile = None
        if self.config.use_profile:
            profile = self.profile_proj(F.normalize(user.profile_vec, dim=-1)) * user.has_profile.unsqueeze(-1)
        return UserContext(hist, valid, keys, profile)

    def attention(self, ctx: UserContext, cand: torch.Tensor) -> torch.Tensor:
        """Weights (B, C, H) of each history item for each candidate (rows sum to 1, or 0 if no history)."""
        b, h, _ = ctx.hist.shape
        if ctx.keys is not None:
            q = self.query(cand)  # projected before broadcasting to users: (1|B, C, D)
            if q.shape[0] == 1:  # shared candidates: one (B*H, D) x (D, C) product, no (B, C, D) copy
                logits = (ctx.keys @ q[0].T).transpose(1, 2)
            else:
                logits = torch.einsum("bcd,bhd->bch", q, ctx.keys)
            logits = logits / math.sqrt(self.config.dim)
        else:
            logits = torch.zeros(b, cand.shape[1], h, dtype=ctx.hist.dtype, device=ctx.hist.device)
        if self.config.use_positions:
            logits = logits + self.recency_logit[:h]
        logits = logits.masked_fill(~ctx.valid.unsqueeze(1), float("-inf"))
        weights = torch.softmax(logits, dim=-1)
        return torch.nan_to_num(weights, nan=0.0)  # users with no history: all-zero weights

    def user_repr(self, ctx: UserContext, cand: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Candidate-conditioned user vectors (B, C, D) and attention weights (B, C, H); cand is (1|B, C, D)."""
        weights = self.attention(ctx, cand)
        u = torch.bmm(weights, ctx.hist)
        if ctx.profile is not None:
            u = u + ctx.profile.unsqueeze(1)
        return self.user_norm(u), weights

    # -- scoring ---------------------------------------------------------------
    def score(self, user: UserInput, cand_vecs: torch.Tensor, cand_idx: torch.Tensor) -> torch.Tensor:
        """Scores (B, C) of candidates for each user.

        cand_vecs: (B, C, T) or (C, T) shared by all users; cand_idx: (B, C) or (C,).
        The score is a logit for ranking one user's candidates (not a calibrated probability).
        """
        return self.score_and_attention(user, cand_vecs, cand_idx)[0]

    def score_and_attention(
        self, user: UserInput, cand_vecs: torch.Tensor, cand_idx: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores (B, C) as ``score``, and the history attention weights (B, C, H) behind them."""
        return self.score_in_context(self.context(user), cand_vecs, cand_idx)

    def score_in_context(
        self, ctx: UserContext, cand_vecs: torch.Tensor, cand_idx: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``score_and_attention`` for a context already computed: training scores a batch's
        targets and its shared negatives against one context (one dropout draw; the history is
        projected once, not once per candidate set)."""
        if cand_vecs.dim() == 2:
            cand_vecs = cand_vecs.unsqueeze(0)
            cand_idx = cand_idx.unsqueeze(0)
        item, bias = self.item_repr(cand_vecs, cand_idx)  # (1|B, C, D)
        u, weights = self.user_repr(ctx, item)
        return self.head(u, item, bias), weights

    def head(self, u: torch.Tensor, item: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """Scores (B, C) = MLP([u, i, u*i]) + theta . (u*i) + bias, for u (B, C, D) and items (1|B, C, D).

        The MLP's first layer is applied block by block rather than to the concatenation:
        the item block then costs C rows instead of B x C when candidates are shared, and
        no (B, C, 3D) tensor is built.  In training this head over B x (1 + negatives) pairs
        is most of a step, and the result equals the concatenated form (same weights).
        """
        first, act, last = self.mlp
        w_user, w_item, w_inter = first.weight.split(self.config.dim, dim=1)
        inter = u * item
        hidden = F.linear(u, w_user) + F.linear(item, w_item, first.bias) + F.linear(inter, w_inter)
        # (inter * theta).sum rather than inter @ theta: the matrix-vector form's backward is an
        # outer product run as a K=1 matrix multiply, several times slower on CPU than this broadcast.
        return last(act(hidden)).squeeze(-1) + (inter * self.theta).sum(-1) + bias


# torch's global generator is one per process: whoever seeds it and draws from it holds this lock, so
# sessions that build models (or sample, as Captum's KernelSHAP does) at once each get their seed's numbers.
GLOBAL_RNG = threading.Lock()


def seeded_model(config: ModelConfig, seed: int) -> HybridRecommender:
    """A new model whose initial weights depend on ``seed`` only, whatever other threads draw meanwhile."""
    with GLOBAL_RNG:
        torch.manual_seed(seed)
        return HybridRecommender(config)


# Buffers and tables with one row per item (row 0 = "no id"): what grows with the catalogue.
ITEM_ROWS = ("item_emb.weight", "item_bias.weight", "warm", "evidence")


def with_items(model: HybridRecommender, n_items: int) -> HybridRecommender:
    """A copy of ``model`` for its catalogue grown to ``n_items`` (new items come last).

    Every item row that was never trained (a new item, or an item cold in ``model``: its row is still its
    random initial value) starts at zero and cold, so such an item is scored exactly from its text until
    training gives it interactions (``warm``) and an id embedding.  ``model`` itself is not changed.
    """
    if n_items < model.config.n_items:
        raise ValueError(f"a catalogue only grows: {model.config.n_items} items, asked for {n_items}")
    grown = HybridRecommender(replace(model.config, n_items=n_items))
    state = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
    untrained = torch.ones(n_items + 1, dtype=torch.bool)
    untrained[: model.config.n_items + 1] = model.warm <= 0
    untrained[0] = False  # "no id" stays the zero row it is
    for name in ITEM_ROWS:
        if name in state:
            old = state[name]
            rows = torch.zeros((n_items + 1, *old.shape[1:]), dtype=old.dtype)
            rows[: len(old)] = old
            if name != "evidence":
                rows[untrained] = 0
            state[name] = rows
    grown.load_state_dict(state)
    return grown.eval()
