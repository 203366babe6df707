"""``load_dataset`` on the ``100k`` case's CSV bytes with pandas' ``isin`` and with ``loading.entities.present_in``
(Arrow's ``is_in``) for the id-membership checks, alternating in one process.

    python bench/load_membership.py [--rounds 2]

Prints each load's seconds and the ratio of the medians (the same work, the same run: the ratio holds up
under load, the seconds do not).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from cases import CASES, synthetic  # noqa: E402

from recsys_core import load_dataset  # noqa: E402
from recsys_core.loading import dataset, entities  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    inter, items = synthetic(*CASES["100k"])
    files = (("ratings.csv", inter.to_csv(index=False).encode()), ("items.csv", items.to_csv(index=False).encode()))
    ways = {"pandas isin": lambda values, pool: values.isin(pool), "arrow is_in": entities.present_in}
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    summaries = set()
    try:
        for r in range(args.rounds):
            for name, way in ways.items():
                entities.present_in = dataset.present_in = way
                started = time.perf_counter()
                summaries.add(str(load_dataset(*files, item_fields=["title", "genres"]).summary()))
                seconds[name].append(time.perf_counter() - started)
                print(f"round {r}: {name:12s} {seconds[name][-1]:.2f} s", flush=True)
    finally:
        entities.present_in = dataset.present_in = ways["arrow is_in"]
    assert len(summaries) == 1, summaries  # the same dataset either way
    a, b = (statistics.median(seconds[n]) for n in ways)
    print(f"median: pandas isin {a:.2f} s, arrow is_in {b:.2f} s -> {a / b:.1f}x faster")


if __name__ == "__main__":
    main()
