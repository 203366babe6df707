"""A trained recommender ready to serve: top-K for known and new users.

Seen-item filtering, candidate restriction and diversity are explicit
arguments (as in ``implicit``'s API), never hidden behaviour.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .batching import make_user_input
from .catalog import Catalog
from .encoder import EncoderConfig, TextEncoder
from .errors import UnknownEntityError
from .evaluation import EvaluationReport
from .model import HybridRecommender, UserInput
from .retrieval import ExactRetriever, Retriever, make_retriever
from .scoring import ModelScorer, Users, top_k
from .text import FieldText, build_field_text
from .training import EpochLog, TrainingRecord

RERANK_ABOVE = 20_000  # catalogues larger than this are scored in two stages
RETRIEVE = 2_000  # candidates the first stage keeps for the full model


@dataclass(frozen=True)
class Recommendation:
    item_id: str
    score: float  # the model's logit: comparable within one user's list, not a calibrated probability
    rank: int  # 1-based


@dataclass(frozen=True)
class UserContext:
    """What the model knows about one user at recommendation time."""

    user_id: str | None
    history: np.ndarray  # item indices, oldest first
    profile_vector: np.ndarray | None
    profile_text: FieldText | None
    ratings: np.ndarray | None = None  # the history's ratings (aligned), when the data had ratings

    def without(self, positions) -> "UserContext":
        """The same user with the history items at ``positions`` (oldest-first indices) removed."""
        ratings = None if self.ratings is None else np.delete(self.ratings, positions)
        return UserContext(self.user_id, np.delete(self.history, positions), self.profile_vector, self.profile_text,
                           ratings)


@dataclass
class Recommender:
    model: HybridRecommender
    catalog: Catalog
    encoder_config: EncoderConfig
    training: TrainingRecord = field(default_factory=TrainingRecord)  # how it was trained, for the record
    report: EvaluationReport | None = None
    train_log: list[EpochLog] = field(default_factory=list)
    fingerprint: str = ""
    _encoder: TextEncoder | None = field(default=None, repr=False)
    _model_fingerprint: str = field(default="", repr=False)
    _scorer: ModelScorer | None = field(default=None, repr=False)
    _retriever: Retriever | None = field(default=None, repr=False)

    # -- who and what ------------------------------------------------------------
    @property
    def model_fingerprint(self) -> str:
        """Hash of the weights, the item vectors and the data: keys caches of this exact model."""
        if not self._model_fingerprint:
            h = hashlib.sha256(self.fingerprint.encode())
            for name, tensor in sorted(self.model.state_dict().items()):
                h.update(name.encode())
                h.update(tensor.detach().numpy().tobytes())
            h.update(np.ascontiguousarray(self.catalog.item_vectors).tobytes())
            self._model_fingerprint = h.hexdigest()[:16]
        return self._model_fingerprint

    @property
    def encoder(self) -> TextEncoder:
        """Loaded lazily: serving known users never needs the BERT weights."""
        if self._encoder is None:
            self._encoder = TextEncoder(self.encoder_config)
        return self._encoder

    @property
    def max_history(self) -> int:
        """How many of a user's latest history items the model reads (older ones never reach a score)."""
        return self.model.config.max_history

    def known_users(self) -> list[str]:
        return sorted(self.catalog.histories)

    def context(self, user_id: str) -> UserContext:
        history = self.catalog.histories.get(user_id)
        profile = self.catalog.profile_vector(user_id)
        if history is None and profile is None:
            raise UnknownEntityError(
                f"User {user_id!r} is not known to this model: pick a user from the data it was trained on, "
                "or give their history (new-user mode)."
            )
        return UserContext(
            user_id,
            history if history is not None else np.zeros(0, np.int64),
            profile,
            self.catalog.profile_text(user_id),
            self.catalog.ratings_of(user_id),
        )

    @property
    def reads_ratings(self) -> bool:
        """True when the model was trained with each history item's rating as an input (``ratings.py``)."""
        return self.model.config.rating_scale is not None

    def new_user_context(
        self, history: Sequence[str] = (), profile: dict[str, object] | None = None,
        ratings: Sequence[float] | None = None,
    ) -> UserContext:
        """A user the model never saw, from item ids (oldest first), their ratings (aligned, optional)
        and/or profile fields.  History items not in the catalogue are skipped, with their ratings."""
        unknown = [i for i in history if i not in self.catalog.item_index]
        if unknown and len(unknown) == len(history) and not profile:
            raise UnknownEntityError(
                f"None of the {len(history)} history items is in the catalogue (e.g. {unknown[0]!r}): "
                "use item ids from the items file."
            )
        # Same field order as the training profiles, so the same person gets the same text.
        order = [f for f in self.catalog.user_fields if f in (profile or {})] + [
            f for f in (profile or {}) if f not in self.catalog.user_fields
        ]
        text = build_field_text(profile, order) if profile else None
        vector = self.encoder.encode([text.text])[0] if text and text.text else None
        known = [i in self.catalog.item_index for i in history]
        kept = None if ratings is None else np.asarray(ratings, dtype=np.float32)[np.asarray(known, dtype=bool)]
        return UserContext(None, self.catalog.indices(history), vector, text if vector is not None else None, kept)

    def has_interactions(self, item: int) -> bool:
        """False for a cold item (no training interaction): the model scores it from its text alone, with no
        id embedding and no popularity bias (``HybridRecommender.warm``)."""
        return bool(self.model.warm[item + 1] > 0)

    def item_position(self, item_id: str) -> int:
        try:
            return self.catalog.item_index[item_id]
        except KeyError:
            raise UnknownEntityError(f"Item {item_id!r} is not in this model's catalogue.") from None

    # -- scoring -----------------------------------------------------------------
    def user_input(self, ctx: UserContext) -> UserInput:
        config = self.model.config
        return make_user_input([ctx.history], [ctx.profile_vector], torch.from_numpy(self.catalog.item_vectors),
                               config.max_history, [ctx.ratings], config.rating_scale)

    @property
    def scorer(self) -> ModelScorer:
        """The model as a ``Scorer`` over this catalogue (the one scoring path of serving)."""
        if self._scorer is None:
            self._scorer = ModelScorer(self.model, self.catalog.item_vectors)
        return self._scorer

    @property
    def retriever(self) -> Retriever:
        """The first stage of two-stage serving (exact unless ``use_retriever`` chose another)."""
        if self._retriever is None:
            self._retriever = ExactRetriever(self.catalog.item_vectors, self._item_bias())
        return self._retriever

    def use_retriever(self, kind: str) -> None:
        """Serve large catalogues with the "exact" or the approximate "faiss" first stage."""
        self._retriever = make_retriever(kind, self.catalog.item_vectors, self._item_bias())

    @property
    def item_units(self) -> np.ndarray:
        """Unit-length item text vectors, normalised once (held by the retriever)."""
        return self.retriever.units

    def _item_bias(self) -> np.ndarray:
        return self.model.catalogue_biases(torch.from_numpy(self.catalog.item_vectors)).numpy()

    def score_items(self, ctx: UserContext, items: np.ndarray | None = None) -> np.ndarray:
        """Scores (logits) of the given item indices (default: the whole catalogue) for one user."""
        return self.score_many([ctx], items)[0]

    def score_many(self, contexts: Sequence[UserContext], items: np.ndarray | None = None) -> np.ndarray:
        """Scores (len(contexts), len(items)) for many users at once, in blocks within the scorer's budget."""
        return self.scorer.score(self.users(contexts), items)

    @staticmethod
    def users(contexts: Sequence[UserContext]) -> Users:
        """The scoring side of user contexts (histories, profiles, ratings)."""
        return Users([c.history for c in contexts], [c.profile_vector for c in contexts], [c.ratings for c in contexts])

    def history_attention(self, ctx: UserContext, item: int) -> np.ndarray:
        """The model's attention weight on each of the latest history items, newest first, for one candidate."""
        vectors = torch.from_numpy(self.catalog.item_vectors)
        idx = torch.tensor([item])
        with torch.inference_mode():
            _, weights = self.model.score_and_attention(self.user_input(ctx), vectors[idx], idx)
        h = min(len(ctx.history), self.model.config.max_history)
        return weights[0, 0, :h].numpy().copy()

    # -- recommending ------------------------------------------------------------
    def recommend(
        self,
        user_id: str,
        k: int | None = 10,
        *,
        exclude_seen: bool = True,
        candidates: Sequence[str] | None = None,
        diversity: float = 0.0,
    ) -> list[Recommendation]:
        """Top-k for a user the model knows. ``k=None`` ranks every eligible item."""
        return self.recommend_for(self.context(user_id), k, exclude_seen=exclude_seen, candidates=candidates, diversity=diversity)

    def recommend_many(
        self, user_ids: Sequence[str], k: int | None = 10, *, exclude_seen: bool = True
    ) -> dict[str, list[Recommendation]]:
        """Top-k for many known users, scored together in batches: same lists as ``recommend`` per user.

        Catalogues served in two stages (above ``RERANK_ABOVE`` items) keep the
        per-user path, whose first stage differs per user.
        """
        contexts = [self.context(u) for u in user_ids]
        if self.catalog.n_items > RERANK_ABOVE:
            return {u: self.recommend_for(c, k, exclude_seen=exclude_seen) for u, c in zip(user_ids, contexts)}
        out: dict[str, list[Recommendation]] = {}
        everything = np.arange(self.catalog.n_items)
        step = max(1, self.scorer.budget // max(self.catalog.n_items, 1))
        for start in range(0, len(contexts), step):
            block = contexts[start : start + step]
            scores = self.score_many(block)
            for row, ctx in enumerate(block):
                pool = self._eligible(everything, ctx, exclude_seen)
                out[ctx.user_id] = self._ranked(pool, scores[row][pool], k)
        return out

    @staticmethod
    def _eligible(pool: np.ndarray, ctx: UserContext, exclude_seen: bool) -> np.ndarray:
        return pool[~np.isin(pool, ctx.history)] if exclude_seen and len(ctx.history) else pool

    def _ranked(self, pool: np.ndarray, scores: np.ndarray, k: int | None) -> list[Recommendation]:
        """The best ``k`` of ``pool`` (all if None) by ``scores``, aligned with ``pool``."""
        if len(pool) == 0:
            return []
        order = top_k(scores[None, :], len(pool) if k is None else min(k, len(pool)))[0]
        return [Recommendation(self.catalog.item_ids[pool[j]], float(scores[j]), r + 1) for r, j in enumerate(order)]

    def recommend_from_history(
        self,
        history: Sequence[str] = (),
        k: int | None = 10,
        *,
        profile: dict[str, object] | None = None,
        ratings: Sequence[float] | None = None,
        exclude_seen: bool = True,
        candidates: Sequence[str] | None = None,
        diversity: float = 0.0,
    ) -> list[Recommendation]:
        """Top-k for a new user from their history (with its ratings, if any) and/or profile, with no retraining."""
        ctx = self.new_user_context(history, profile, ratings)
        return self.recommend_for(ctx, k, exclude_seen=exclude_seen, candidates=candidates, diversity=diversity)

    def recommend_for(
        self,
        ctx: UserContext,
        k: int | None = 10,
        *,
        exclude_seen: bool = True,
        candidates: Sequence[str] | None = None,
        diversity: float = 0.0,
    ) -> list[Recommendation]:
        if not 0.0 <= diversity <= 1.0:
            raise ValueError(f"diversity must be between 0 and 1, got {diversity}.")
        pool = np.arange(self.catalog.n_items) if candidates is None else self.catalog.indices(candidates)
        pool = self._eligible(pool, ctx, exclude_seen)
        if len(pool) == 0:
            return []
        k = len(pool) if k is None else min(k, len(pool))
        if len(pool) > RERANK_ABOVE and k <= RETRIEVE:
            pool = self._retrieve(ctx, pool, RETRIEVE)
        scores = self.score_items(ctx, pool)
        if diversity == 0:
            return self._ranked(pool, scores, k)
        order = self._mmr(pool, scores, k, diversity)
        return [Recommendation(self.catalog.item_ids[pool[j]], float(scores[j]), r + 1) for r, j in enumerate(order)]

    def _retrieve(self, ctx: UserContext, pool: np.ndarray, n: int) -> np.ndarray:
        """First stage for big catalogues: ``n`` candidates of ``pool`` from the retriever (personal and popular)."""
        query = self.retriever.query(ctx.history[-self.model.config.max_history :], ctx.profile_vector)
        excluded = np.setdiff1d(np.arange(self.catalog.n_items), pool, assume_unique=True)
        if len(excluded) > n:
            # An explicit candidate list: scoring it exactly is cheaper than searching around the exclusions.
            return self.retriever.candidates_within(query, pool, n)
        return self.retriever.candidates(query, n, exclude=excluded)

    def _mmr(self, pool: np.ndarray, scores: np.ndarray, k: int, diversity: float) -> np.ndarray:
        """Maximal marginal relevance: trade relevance for dissimilarity to items already picked.

        diversity = 0 is pure relevance; 1 picks the most dissimilar after the first item.
        """
        shortlist = top_k(scores[None, :], min(len(pool), max(10 * k, 200)))[0]
        rel = scores[shortlist]
        rel = (rel - rel.min()) / max(rel.max() - rel.min(), 1e-9)
        vecs = self.item_units[pool[shortlist]]
        chosen: list[int] = []
        max_sim = np.full(len(shortlist), -1.0, dtype=np.float32)
        available = np.ones(len(shortlist), dtype=bool)
        for _ in range(k):
            penalty = max_sim if chosen else np.zeros_like(max_sim)
            gain = (1 - diversity) * rel - diversity * penalty
            gain[~available] = -np.inf
            best = int(np.argmax(gain))
            chosen.append(best)
            available[best] = False
            max_sim = np.maximum(max_sim, vecs @ vecs[best])
        return shortlist[chosen]
