"""What test NDCG@10 a generated case allows: oracles that know bench/cases.py's generator.

    python bench/ceiling.py [100k] [1m] [1m-mini]

A generated user picks on-topic items uniformly (``ON_TOPIC`` of the draws) and otherwise Zipf-popular ones,
so within a topic nothing is learnable.  For each user (history: every interaction but the last, as the
leave-last-out test case; their topic: the most common one in that history), two oracles rank the unseen items:

- *topic*: the user's unseen topic items first, in random order (expected NDCG@10 computed exactly);
- *topic + popularity*: by the generator's probability ``ON_TOPIC / |topic| · [same topic] + (1 − ON_TOPIC) ·
  zipf(item)``, ties in random order: the best any recommender can expect on this case.

Compare the model's and TextKNN's test NDCG@10 (``bench/scale.py``) with these, not with each other alone.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases import CASES, ON_TOPIC, ZIPF_EXPONENT, synthetic  # noqa: E402

DISCOUNT = 1 / np.log2(np.arange(2, 12))  # NDCG@10's discount of ranks 1 … 10 (one relevant item: IDCG = 1)


def ceilings(case: str, seed: int = 0) -> dict:
    inter, items = synthetic(*CASES[case], topics=True)
    n_items = len(items)
    topics = items["topic"].to_numpy()
    zipf = np.zeros(n_items)
    ranks = np.arange(1, n_items + 1)
    np.add.at(zipf, ranks % n_items, ranks.astype(float) ** -ZIPF_EXPONENT)  # what ``zipf % n_items`` draws
    zipf /= zipf.sum()
    size = np.bincount(topics)
    users = inter["user_id"].str[1:].astype(int).to_numpy()
    picks = inter["item_id"].str[1:].astype(int).to_numpy()
    order = np.argsort(users, kind="stable")  # each user's interactions stay in time order
    users, picks = users[order], picks[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    rng = np.random.default_rng(seed)
    topic_only, best, on_topic = [], [], []
    for start, end in zip(starts, np.r_[starts[1:], len(users)]):
        if end - start < 3:
            continue
        history, target = picks[start:end - 1], picks[end - 1]
        topic = np.bincount(topics[history]).argmax()
        seen = np.zeros(n_items, bool)
        seen[history] = True
        in_topic = topics == topic
        unseen_in_topic = int((in_topic & ~seen).sum())
        hit = topics[target] == topic
        on_topic.append(hit)
        topic_only.append(DISCOUNT[:min(10, unseen_in_topic)].sum() / unseen_in_topic if hit and unseen_in_topic else 0.0)
        p = (1 - ON_TOPIC) * zipf + np.where(in_topic, ON_TOPIC / size[topic], 0.0)
        p = np.where(seen, -1.0, p + rng.random(n_items) * 1e-12)  # a tiny random term breaks ties at random
        top = np.argpartition(-p, 10)[:10]
        top = top[np.argsort(-p[top])]
        found = np.flatnonzero(top == target)
        best.append(DISCOUNT[found[0]] if len(found) else 0.0)
    return {"case": case, "users": len(best), "on_topic": float(np.mean(on_topic)),
            "topic": float(np.mean(topic_only)), "best": float(np.mean(best)),
            "best_ci": 1.96 * float(np.std(best)) / np.sqrt(len(best))}


def main() -> None:
    print("| case | test users | test item in the user's topic | topic oracle NDCG@10 | topic + popularity oracle |")
    print("|---|---|---|---|---|")
    for case in sys.argv[1:] or ["100k", "1m"]:
        if case not in CASES or CASES[case] is None:
            raise SystemExit(f"{case!r} is not a generated case: choose from "
                             f"{', '.join(c for c, shape in CASES.items() if shape)}")
        r = ceilings(case)
        print(f"| {case} | {r['users']:,} | {r['on_topic']:.3f} | {r['topic']:.4f} | "
              f"{r['best']:.4f} ± {r['best_ci']:.4f} |", flush=True)


if __name__ == "__main__":
    main()
