"""The four speed figures of issue 18, measured one after the other in one run, next to their targets.

    python bench/analyst_speed.py [--pairs 3] [--skip NAME ...]

1. faithfulness curves on the Explain page (target ≤ 10 s),
2. the word-level "why A above B" contrast (target ≤ 5 s),
3. the Feature importance page's default run (target ≤ 90 s),
4. restoring a session after a reload (a 100k-interaction upload and a draft model; target ≤ 3 s).

Each figure comes from its own benchmark (``bench/speed_explain.py``, ``bench/speed_importance.py``,
``bench/speed_restore.py``: read them for what exactly is timed), on the demo model where a model is
needed, with its reference measured in the same run (one plain scoring forward of a pair; the same
session's cold load).  Targets hold for a run alone on 2 cores: a figure measured beside other heavy
work is inflated, its ratio to the reference much less, so both are printed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmarks
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recsys_core from a checkout

import speed_explain  # noqa: E402
import speed_importance  # noqa: E402
import speed_restore  # noqa: E402

from recsys_core.demo import load_demo_model  # noqa: E402

TARGETS = {"faithfulness": 10.0, "contrast": 5.0, "importance": 90.0, "restore": 3.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="Explain pairs for figures 1 and 2 (medians)")
    parser.add_argument("--skip", nargs="*", default=[], choices=list(TARGETS))
    args = parser.parse_args()
    rec = load_demo_model()
    rows: list[tuple[str, float, str]] = []
    actions = tuple(a for a in ("faithfulness", "contrast") if a not in args.skip)
    if actions:
        figures = speed_explain.measure(rec, args.pairs, actions=actions)
        if "faithfulness" in actions:
            rows.append(("faithfulness", figures.faithfulness, f"{figures.faithfulness_ratio:.1f} forwards of the pair"))
        if "contrast" in actions:
            rows.append(("contrast", figures.contrast_words, f"{figures.contrast_ratio:.1f} forwards of the pair"))
    if "importance" not in args.skip:
        fi = speed_importance.measure(rec)
        rows.append(("importance", fi["seconds"], f"{fi['ratio']:.0f} forwards of a {fi['forward_texts']}-text pair; "
                                                  f"{fi['pairs']} pairs"))
    if "restore" not in args.skip:
        restored = speed_restore.measure()
        rows.append(("restore", restored["reload_s"], f"{restored['reload_ratio']:.2f}× the cold load "
                                                      f"({restored['cold_load_s']:.2f} s); store alone "
                                                      f"{restored['restore_s']:.2f} s"))
    print(f"\n{'figure':<14} {'seconds':>8} {'target':>7} {'met':>4}  reference")
    for name, seconds, reference in rows:
        met = "yes" if seconds <= TARGETS[name] else "no"
        print(f"{name:<14} {seconds:>8.2f} {TARGETS[name]:>7.0f} {met:>4}  {reference}")


if __name__ == "__main__":
    main()
