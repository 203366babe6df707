"""Train / validation / test splits, including cold-item and inductive-user slices.

Every held-out case says what the model may see (``history``) and what it must
find (``targets``); evaluation masks the history, so a user's training and
validation items can never count as hits.  ``last_out_case`` builds the
leave-last-out case of one sequence, for the split here and for every other
place that holds out a user's last item (field ablation, ``evaluate`` on a file).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import pandas as pd

from .catalog import Catalog, UserEvents, timed_histories
from .errors import RecsysError
from .ratings import RatingScale, liked

SplitKind = Literal["leave-last-out", "temporal", "random"]
SPLITS: tuple[SplitKind, ...] = get_args(SplitKind)


@dataclass(frozen=True)
class SplitConfig:
    kind: SplitKind = "leave-last-out"
    cold_items: float = 0.0  # fraction of items whose every interaction is held out
    holdout_users: float = 0.0  # fraction of users never trained on (inductive slice)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in SPLITS:
            raise RecsysError(f"Unknown split {self.kind!r}: choose one of {', '.join(SPLITS)}.")
        for name in ("cold_items", "holdout_users"):
            value = getattr(self, name)
            if not 0.0 <= value < 0.9:
                raise RecsysError(f"{name.replace('_', '-')} must be a fraction between 0 and 0.9, got {value}.")


@dataclass(frozen=True)
class EvalCase:
    user_id: str
    history: np.ndarray  # item indices the model may use, oldest first (masked at ranking time)
    targets: np.ndarray  # held-out relevant item indices
    ratings: np.ndarray | None = None  # the history's ratings (aligned) when the model reads ratings


def last_out_case(user_id: str, items: np.ndarray, ratings: np.ndarray | None = None,
                  is_target: np.ndarray | None = None) -> EvalCase | None:
    """The leave-last-out case of a sequence (oldest first): its last item to find given the earlier
    ones, or None when there are fewer than 2 items (nothing to give or nothing to hold out).

    With ``is_target`` (a bool per item; with ratings, the likes) the case holds out the last item
    that may be a target, given every item before it; None when no such item has one before it.
    For an earlier step (e.g. the validation case, the second-last item) pass the sequence cut
    before it: ``last_out_case(user, items[:-1])``.
    """
    last = len(items) - 1 if is_target is None else (int(np.flatnonzero(is_target)[-1]) if is_target.any() else -1)
    if last < 1:
        return None
    return EvalCase(user_id, items[:last], items[last : last + 1], None if ratings is None else ratings[:last])


@dataclass
class Split:
    """What each model of one fit trains and is judged on.

    With ratings (``make_split(..., scale=...)``) every rated item stays in ``train`` and in the cases'
    histories, while the held-out targets and the training targets (``train_targets``) are likes only.
    """

    config: SplitConfig
    train: dict[str, np.ndarray]  # user → training item indices, oldest first
    validation: list[EvalCase]
    test: list[EvalCase]
    cold_items: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    cold_test: list[EvalCase] = field(default_factory=list)  # targets are cold items; rank among cold items
    inductive_test: list[EvalCase] = field(default_factory=list)  # users absent from training
    train_ratings: dict[str, np.ndarray] = field(default_factory=dict)  # user → ratings aligned with train
    train_targets: dict[str, np.ndarray] = field(default_factory=dict)  # user → bool per train item; absent: all

    def is_target(self, user: str) -> np.ndarray:
        """Which of a user's training items may be a training target (all, without ratings)."""
        found = self.train_targets.get(user)
        return np.ones(len(self.train[user]), dtype=bool) if found is None else found

    def liked_train(self) -> dict[str, np.ndarray]:
        """Each user's liked training items, oldest first: what the baselines learn from."""
        if not self.train_targets:
            return self.train
        return {u: items[self.is_target(u)] for u, items in self.train.items()}

    def warm_mask(self, n_items: int) -> np.ndarray:
        mask = np.zeros(n_items, dtype=bool)
        for seq in self.train.values():
            mask[seq] = True
        return mask


def make_split(interactions: pd.DataFrame, catalog: Catalog, config: SplitConfig = SplitConfig(),
               scale: RatingScale | None = None) -> Split:
    """Split interactions per ``config`` (deterministic for a given seed).

    ``scale`` (the model reads ratings): held-out and training targets are likes (``ratings.liked``),
    and the ratings travel with every history.  Without it every interaction is a like, as before.
    """
    rng = np.random.default_rng(config.seed)
    seqs = timed_histories(interactions, catalog.item_index)
    if scale is None:  # the model does not read ratings: none travel, every interaction is a target
        seqs = {u: UserEvents(e.items, e.times) for u, e in seqs.items()}
    n_items = catalog.n_items
    cold = np.sort(rng.choice(n_items, size=int(round(config.cold_items * n_items)), replace=False))
    is_cold = np.zeros(n_items, dtype=bool)
    is_cold[cold] = True
    users = sorted(seqs)
    n_holdout = int(round(config.holdout_users * len(users)))
    holdout = set(rng.choice(users, size=n_holdout, replace=False).tolist()) if n_holdout else set()

    def likes(events: UserEvents) -> np.ndarray:
        return np.ones(len(events.items), bool) if events.ratings is None or scale is None else liked(events.ratings, scale)

    warm_seqs = {user: seqs[user].where(~is_cold[seqs[user].items]) for user in users}
    trained = {u: (warm_seqs[u], likes(warm_seqs[u])) for u in users if u not in holdout}
    if config.kind == "leave-last-out":
        parts = _leave_last_out(trained)
    elif config.kind == "temporal":
        parts = _temporal(trained)
    else:
        parts = _random(trained, rng)
    if not parts.test:
        raise RecsysError(
            "No user has enough interactions to hold any out for testing: each user needs at least 3 "
            "(leave-last-out) — upload more interactions or choose another split."
        )

    inductive = [
        c for c in (last_out_case(u, warm_seqs[u].items, warm_seqs[u].ratings, likes(warm_seqs[u])) for u in sorted(holdout))
        if c is not None
    ]
    cold_test = []
    if len(cold):
        for user in users:
            events = seqs[user]
            targets = np.unique(events.items[is_cold[events.items] & likes(events)])
            history = parts.train.get(user)
            if len(targets) and history is not None and len(history):
                cold_test.append(EvalCase(user, history, targets, parts.train_ratings.get(user)))
    return Split(config, parts.train, parts.validation, parts.test, cold, cold_test, inductive,
                 parts.train_ratings, parts.train_targets if scale is not None else {})


@dataclass
class _Parts:
    """What a split kind makes of the trained users' sequences."""

    train: dict[str, np.ndarray] = field(default_factory=dict)
    validation: list[EvalCase] = field(default_factory=list)
    test: list[EvalCase] = field(default_factory=list)
    train_ratings: dict[str, np.ndarray] = field(default_factory=dict)
    train_targets: dict[str, np.ndarray] = field(default_factory=dict)

    def keep(self, user: str, events: UserEvents, likes: np.ndarray, positions) -> np.ndarray:
        """Put ``events[positions]`` in the training part; returns those item indices."""
        items = events.items[positions]
        self.train[user] = items
        self.train_targets[user] = likes[positions]
        if events.ratings is not None:
            self.train_ratings[user] = events.ratings[positions]
        return items

    def case(self, user: str, events: UserEvents, history_positions, targets: np.ndarray) -> EvalCase:
        ratings = None if events.ratings is None else events.ratings[history_positions]
        return EvalCase(user, events.items[history_positions], targets, ratings)


def _leave_last_out(seqs: dict[str, tuple[UserEvents, np.ndarray]]) -> _Parts:
    """Last like → test, the like before it → validation, everything before that → train (users with
    fewer likes, or none before the validation one, stay whole in train)."""
    parts = _Parts()
    for user, (events, likes) in seqs.items():
        liked_at = np.flatnonzero(likes)
        if len(liked_at) < 2 or liked_at[-2] < 1:
            if len(events.items):
                parts.keep(user, events, likes, slice(None))
            continue
        val_at, test_at = int(liked_at[-2]), int(liked_at[-1])
        parts.keep(user, events, likes, slice(0, val_at))
        parts.validation.append(parts.case(user, events, slice(0, val_at), events.items[val_at : val_at + 1]))
        parts.test.append(parts.case(user, events, slice(0, test_at), events.items[test_at : test_at + 1]))
    return parts


def _temporal(seqs: dict[str, tuple[UserEvents, np.ndarray]]) -> _Parts:
    """One global clock: before the 80% time quantile → train, 80–90% → validation, after → test
    (validation and test targets are the likes of their period)."""
    parts = _Parts()
    all_times = np.concatenate([e.times for e, _ in seqs.values()]) if seqs else np.zeros(0)
    if len(all_times) == 0:
        return parts
    t_val, t_test = np.quantile(all_times, [0.8, 0.9])
    for user, (events, likes) in seqs.items():
        times = events.times
        before_val, before_test = times < t_val, times < t_test
        va = events.items[~before_val & before_test & likes]
        te = events.items[~before_test & likes]
        if before_val.any():
            parts.keep(user, events, likes, before_val)
            if len(va):
                parts.validation.append(parts.case(user, events, before_val, np.unique(va)))
        if len(te) and before_test.any():
            parts.test.append(parts.case(user, events, before_test, np.unique(te)))
    return parts


def _random(seqs: dict[str, tuple[UserEvents, np.ndarray]], rng) -> _Parts:
    """Per user, a random 10% of the likes → test, 10% → validation, the rest → train (the history keeps
    time order)."""
    parts = _Parts()
    for user, (events, likes) in seqs.items():
        n = len(events.items)
        liked_at = np.flatnonzero(likes)
        if len(liked_at) < 3:
            if n:
                parts.keep(user, events, likes, slice(None))
            continue
        order = liked_at[rng.permutation(len(liked_at))]
        n_test = max(1, int(round(0.1 * len(liked_at))))
        n_val = max(1, int(round(0.1 * len(liked_at))))
        test_pos = np.sort(order[:n_test])
        val_pos = np.sort(order[n_test : n_test + n_val])
        train_pos = np.setdiff1d(np.arange(n), np.concatenate([test_pos, val_pos]))
        parts.keep(user, events, likes, train_pos)
        parts.validation.append(parts.case(user, events, train_pos, np.unique(events.items[val_pos])))
        parts.test.append(parts.case(user, events, np.sort(np.concatenate([train_pos, val_pos])),
                                     np.unique(events.items[test_pos])))
    return parts
