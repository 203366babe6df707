"""The datasets the training and scale benchmarks run on, by name.

- ``demo``: the bundled sample data (64k interactions, 1,000 users, 2,000 items, with profiles).
- ``100k``: shaped like the public MovieLens-100k set (100k interactions, 943 users,
  1,682 items); no public data can be downloaded here, so it is generated.
- ``100k-rated``: the same ``100k`` interactions with 1–5 star ratings (``synthetic(..., ratings=True)``):
  on-topic picks are rated mostly 4–5, off-topic (popular) picks mostly 1–2, so a low rating
  says "not my topic", as it does for a film a MovieLens user disliked.
- ``1m``: 1M interactions, 20k users, 100k items: the scale target of issue 9.
- ``1m-mini``: the ``1m`` case's shape at a fifth of its size (200k interactions, 4k users, 20k items: the same
  topics of ~100 items, 50 interactions per user, 10 per item), for trying a training change in minutes.

Generated catalogues have short titles (a few words from a 2,000-word vocabulary) and
a genre, and users mostly pick items of one topic, so there is a signal both for the
text and for the ids; encoding cost per item is comparable to a title-only catalogue.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

CASES = {"demo": None, "100k": (1_682, 100_000, 943), "100k-rated": (1_682, 100_000, 943),
         "1m": (100_000, 1_000_000, 20_000), "1m-mini": (20_000, 200_000, 4_000)}
ZIPF_EXPONENT, ON_TOPIC = 1.3, 0.7  # a pick is on-topic with probability ON_TOPIC, else a Zipf-popular item
ON_TOPIC_STARS, OFF_TOPIC_STARS = [0.02, 0.05, 0.18, 0.40, 0.35], [0.35, 0.30, 0.20, 0.10, 0.05]  # P(1★ … 5★)


def synthetic(n_items: int, n_interactions: int, n_users: int | None = None, seed: int = 0, ratings: bool = False,
              topics: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(interactions, items): ``n_interactions`` distinct (user, item) pairs in time order.  With ``topics``, items
    also get the generator's truth as a ``topic`` column (for ``bench/ceiling.py``; no model is given it).

    Items fall into topics of about 100 items; a user picks 70% of the time in one topic of
    their own and otherwise a Zipf-popular item.  Pairs are drawn three times over and the first
    ``n_interactions`` distinct ones kept, so heavy users (100k interactions over 943 users)
    do not lose most of their picks to repeats.
    """
    rng = np.random.default_rng(seed)
    n_topics = max(8, n_items // 100)
    topic = rng.integers(0, n_topics, n_items)
    words = rng.integers(0, 40, (n_items, 4)) + topic[:, None] * 40
    items = pd.DataFrame({
        "item_id": [f"i{i}" for i in range(n_items)],
        "title": [" ".join(f"w{w}" for w in row) for row in words],
        "genres": [f"genre{t % 20}" for t in topic],
        **({"topic": topic} if topics else {}),
    })
    n_users = n_users or n_interactions // 50
    user_topic = rng.integers(0, n_topics, n_users)
    by_topic = [np.flatnonzero(topic == t) for t in range(n_topics)]
    draws = int(n_interactions * 3)
    users = rng.integers(0, n_users, draws)
    on_topic = rng.random(draws) < ON_TOPIC
    pool = [by_topic[user_topic[u]] for u in users]
    picks = np.where(on_topic, [p[rng.integers(len(p))] if len(p) else 0 for p in pool],
                     rng.zipf(ZIPF_EXPONENT, draws) % n_items)
    inter = pd.DataFrame({"user_id": [f"u{u}" for u in users], "item_id": [f"i{i}" for i in picks]})
    if ratings:  # drawn after every other draw, so the interactions are those of ratings=False
        stars = np.where(on_topic, rng.choice(5, draws, p=ON_TOPIC_STARS), rng.choice(5, draws, p=OFF_TOPIC_STARS)) + 1
        inter["rating"] = stars.astype(float)
    inter = inter.drop_duplicates(["user_id", "item_id"]).head(n_interactions)
    return inter.assign(timestamp=np.arange(len(inter))), items


def load_case(case: str):
    """The named case as a ``recsys_core`` Dataset."""
    from recsys_core.demo import DEMO_ITEM_FIELDS, DEMO_USER_FIELDS, SAMPLE_DIR
    from recsys_core.loading import load_dataset

    if case == "demo":
        return load_dataset(SAMPLE_DIR / "interactions.csv", SAMPLE_DIR / "items.csv", SAMPLE_DIR / "users.csv",
                            item_fields=DEMO_ITEM_FIELDS, user_fields=DEMO_USER_FIELDS)
    if case not in CASES:
        raise SystemExit(f"unknown case {case!r}: choose one of {', '.join(CASES)}")
    inter, items = synthetic(*CASES[case], ratings=case.endswith("-rated"))
    return load_dataset(inter, items, item_fields=["title", "genres"])
