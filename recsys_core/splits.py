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

from .catalog import Catalog, timed_histories
from .errors import RecsysError

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


def last_out_case(user_id: str, items: np.ndarray) -> EvalCase | None:
    """The leave-last-out case of a sequence (oldest first): its last item to find given the earlier
    ones, or None when there are fewer than 2 items (nothing to give or nothing to hold out).

    For an earlier step (e.g. the validation case, the second-last item) pass the sequence cut
    before it: ``last_out_case(user, items[:-1])``.
    """
    if len(items) < 2:
        return None
    return EvalCase(user_id, items[:-1], items[-1:])


@dataclass
class Split:
    config: SplitConfig
    train: dict[str, np.ndarray]  # user → training item indices, oldest first
    validation: list[EvalCase]
    test: list[EvalCase]
    cold_items: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    cold_test: list[EvalCase] = field(default_factory=list)  # targets are cold items; rank among cold items
    inductive_test: list[EvalCase] = field(default_factory=list)  # users absent from training

    def warm_mask(self, n_items: int) -> np.ndarray:
        mask = np.zeros(n_items, dtype=bool)
        for seq in self.train.values():
            mask[seq] = True
        return mask


def make_split(interactions: pd.DataFrame, catalog: Catalog, config: SplitConfig = SplitConfig()) -> Split:
    """Split interactions per ``config`` (deterministic for a given seed)."""
    rng = np.random.default_rng(config.seed)
    seqs = timed_histories(interactions, catalog.item_index)
    n_items = catalog.n_items
    cold = np.sort(rng.choice(n_items, size=int(round(config.cold_items * n_items)), replace=False))
    is_cold = np.zeros(n_items, dtype=bool)
    is_cold[cold] = True
    users = sorted(seqs)
    n_holdout = int(round(config.holdout_users * len(users)))
    holdout = set(rng.choice(users, size=n_holdout, replace=False).tolist()) if n_holdout else set()

    warm_seqs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for user in users:
        items, times = seqs[user]
        keep = ~is_cold[items]
        warm_seqs[user] = (items[keep], times[keep])

    trained = {u: warm_seqs[u] for u in users if u not in holdout}
    if config.kind == "leave-last-out":
        train, validation, test = _leave_last_out(trained)
    elif config.kind == "temporal":
        train, validation, test = _temporal(trained)
    else:
        train, validation, test = _random(trained, rng)
    if not test:
        raise RecsysError(
            "No user has enough interactions to hold any out for testing: each user needs at least 3 "
            "(leave-last-out) — upload more interactions or choose another split."
        )

    inductive = [c for c in (last_out_case(u, warm_seqs[u][0]) for u in sorted(holdout)) if c is not None]
    cold_test = []
    if len(cold):
        for user in users:
            items, _ = seqs[user]
            targets = np.unique(items[is_cold[items]])
            history = train.get(user)
            if len(targets) and history is not None and len(history):
                cold_test.append(EvalCase(user, history, targets))
    return Split(config, train, validation, test, cold, cold_test, inductive)


def _leave_last_out(seqs):
    """Last interaction → test, second last → validation, rest → train (users with < 3 stay in train)."""
    train, val, test = {}, [], []
    for user, (items, _) in seqs.items():
        if len(items) < 3:
            if len(items):
                train[user] = items
            continue
        train[user] = items[:-2]
        val.append(last_out_case(user, items[:-1]))
        test.append(last_out_case(user, items))
    return train, val, test


def _temporal(seqs):
    """One global clock: before the 80% time quantile → train, 80–90% → validation, after → test."""
    all_times = np.concatenate([t for _, t in seqs.values()]) if seqs else np.zeros(0)
    if len(all_times) == 0:
        return {}, [], []
    t_val, t_test = np.quantile(all_times, [0.8, 0.9])
    train, val, test = {}, [], []
    for user, (items, times) in seqs.items():
        tr = items[times < t_val]
        va = items[(times >= t_val) & (times < t_test)]
        te = items[times >= t_test]
        if len(tr):
            train[user] = tr
            if len(va):
                val.append(EvalCase(user, tr, np.unique(va)))
        before_test = items[times < t_test]
        if len(te) and len(before_test):
            test.append(EvalCase(user, before_test, np.unique(te)))
    return train, val, test


def _random(seqs, rng):
    """Per user, a random 80/10/10 of the interactions (the history keeps time order)."""
    train, val, test = {}, [], []
    for user, (items, _) in seqs.items():
        n = len(items)
        if n < 3:
            if n:
                train[user] = items
            continue
        order = rng.permutation(n)
        n_test = max(1, int(round(0.1 * n)))
        n_val = max(1, int(round(0.1 * n)))
        test_pos = np.sort(order[:n_test])
        val_pos = np.sort(order[n_test : n_test + n_val])
        train_pos = np.sort(order[n_test + n_val :])
        train[user] = items[train_pos]
        val.append(EvalCase(user, items[train_pos], np.unique(items[val_pos])))
        test.append(EvalCase(user, items[np.sort(np.concatenate([train_pos, val_pos]))], np.unique(items[test_pos])))
    return train, val, test
