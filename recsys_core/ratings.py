"""Explicit ratings as the model reads them: which interactions are likes, and each one's features.

With ratings, an interaction is not automatically a like: a 1★ film tells the model what the
user does *not* want.  Two rules follow, both here so that training, evaluation, serving and
the explanations agree:

* :func:`liked` — an interaction is a like when its rating is at least the lower of the user's
  own mean rating and the middle of the scale.  The user's mean makes a harsh rater's 3★ a like;
  the middle of the scale keeps a generous rater's 4★ (below their 4.5 mean) a like.  Training
  targets and evaluation targets are likes; every rated item stays in the history.
* :func:`rating_features` — two numbers per history item, both 0 for an unrated item (so a model
  trained without ratings reads exactly what it read before):
  where the rating sits on the scale, ``(r - middle) / half-range`` in [-1, 1], and how far it is
  from the user's own mean, ``(r - mean) / half-range`` clipped to [-1, 1].

The *scale* is the lowest and highest rating of the training data (1 and 5 for stars), kept in
the model's configuration so a saved model reads a new user's ratings the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_FEATURES = 2  # scale position, distance from the user's mean


@dataclass(frozen=True)
class RatingScale:
    low: float
    high: float

    @property
    def middle(self) -> float:
        return (self.low + self.high) / 2

    @property
    def half_range(self) -> float:
        # A data set whose ratings are all equal still gets a finite scale (every feature is then 0).
        return max((self.high - self.low) / 2, 1e-9)

    @classmethod
    def of(cls, ratings: np.ndarray) -> "RatingScale | None":
        """The scale of the given ratings (NaN ignored), or None when there is none."""
        finite = np.asarray(ratings, dtype=np.float64)
        finite = finite[np.isfinite(finite)]
        return cls(float(finite.min()), float(finite.max())) if len(finite) else None

    def stars(self, rating: float) -> str:
        """"4★" for whole ratings on a scale that starts at 0 or 1, else the number: "3.5 (of 0.5–5)"."""
        if float(rating).is_integer() and self.low in (0.0, 1.0) and self.high <= 10:
            return f"{int(rating)}★"
        return f"{rating:g} (of {self.low:g}–{self.high:g})"


def liked(ratings: np.ndarray, scale: RatingScale) -> np.ndarray:
    """(n,) bool: which of one user's interactions count as likes (see the module docstring).

    Unrated interactions (NaN) are likes: without a rating, an interaction is the implicit signal
    it always was."""
    r = np.asarray(ratings, dtype=np.float64)
    rated = np.isfinite(r)
    if not rated.any():
        return np.ones(len(r), dtype=bool)
    bar = min(float(r[rated].mean()), scale.middle)
    return ~rated | (r >= bar - 1e-9)


def rating_features(ratings: np.ndarray, scale: RatingScale) -> np.ndarray:
    """(n, 2) float32 features of one user's history ratings (oldest first); 0 where unrated.

    The mean is over the ratings given, i.e. over the history the model is shown."""
    r = np.asarray(ratings, dtype=np.float64)
    out = np.zeros((len(r), N_FEATURES), dtype=np.float32)
    rated = np.isfinite(r)
    if not rated.any():
        return out
    mean = float(r[rated].mean())
    out[rated, 0] = np.clip((r[rated] - scale.middle) / scale.half_range, -1, 1)
    out[rated, 1] = np.clip((r[rated] - mean) / scale.half_range, -1, 1)
    return out
