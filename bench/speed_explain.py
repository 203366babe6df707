"""Speed of the Explain page's two slow actions on the demo model: faithfulness curves and "why A above B" in words.

    python bench/speed_explain.py [--pairs 3] [--model DIR]

For each of ``--pairs`` (a user with a full history window — 50 items on the demo model — and
their top item A; B is their second item, the page's default "Compare with"), with every
explanation cache cold:

1. **faithfulness**: the page's "Compute deletion curves" as its job runs it —
   ``add_faithfulness`` on the pair's state with the page's settings (``page_config``), after the
   page's first view (text shares, carrying texts split), which is not timed: that button only
   appears once the first view is drawn.  Like the page, it judges the texts shown split into
   tokens (item, profile, carrying history texts): every token method of ``TOKEN_METHODS`` on
   their tokens, then the deletion curves.
2. **contrast in words**: the page's "Compare" with "Also attribute the difference to words"
   checked, as its job runs it (``contrast_pair(..., words=True)`` with the page's contrast
   settings: at most 20 integration steps, pad baseline).

The reference is one plain scoring forward of the pair (every text of the pair through the
encoder, then the recommender: ``PairInputs.score_from_ids``), measured on the same pair in
the same run.  Prints medians over pairs in seconds and as that reference's multiples.  Wall
seconds depend on what else the machine runs; the ratios much less (not at all only if the
load stays constant through the run), so compare runs by ratio.

``measure(...)`` is importable, for a combined benchmark.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recsys_core from a checkout, installed or not

from recsys_core import artifacts
from recsys_core.errors import ArtifactError
from recsys_core.demo import load_demo_model
from recsys_core.explain import ExplainConfig, add_faithfulness, clear_cache, contrast_pair, pair_state, split_texts
from recsys_core.explain.state import carrying_texts
from recsys_core.recommender import Recommender

# The Explain page's settings at their defaults (dashboard.explanations.page_config / _contrast_config);
# written out here because the benchmark runs without the dashboard package's Streamlit import.
PAGE_STEPS = 64
PAGE_CONFIG = ExplainConfig(method="all", n_steps=PAGE_STEPS, baseline="pad", token_level="carrying", faithfulness=False)
CONTRAST_CONFIG = ExplainConfig(n_steps=min(PAGE_STEPS, 20), baseline="pad")


@dataclass
class PairTiming:
    user_id: str
    item_a: str
    item_b: str
    n_texts: int
    forward: float  # one plain scoring forward of the pair's texts
    faithfulness: float  # NaN when not measured
    faithfulness_split: float  # of which: token IG of the texts the first view left unsplit
    contrast_words: float  # NaN when not measured


@dataclass
class SpeedFigures:
    """Medians over pairs: seconds and multiples of one plain scoring forward."""

    pairs: list[PairTiming]
    forward: float
    faithfulness: float
    contrast_words: float

    @property
    def faithfulness_ratio(self) -> float:
        return statistics.median(p.faithfulness / p.forward for p in self.pairs)

    @property
    def contrast_ratio(self) -> float:
        return statistics.median(p.contrast_words / p.forward for p in self.pairs)

    def lines(self) -> list[str]:
        return [
            f"faithfulness curves (page action)   median {self.faithfulness:7.2f} s = {self.faithfulness_ratio:6.1f} forwards",
            f"word-level contrast (page action)   median {self.contrast_words:7.2f} s = {self.contrast_ratio:6.1f} forwards",
            f"reference: one scoring forward      median {self.forward:7.3f} s",
        ]


def _timed(fn) -> tuple[object, float]:
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


def benchmark_pairs(rec: Recommender, n: int) -> list[tuple[str, str, str]]:
    """(user, top item, second item) of the first ``n`` users whose history fills the model's window."""
    window = rec.max_history
    users = [u for u in rec.known_users() if len(rec.catalog.histories[u]) >= window][:n]
    if len(users) < n:
        raise SystemExit(f"Only {len(users)} users have a full history window of {window} items; ask for fewer pairs.")
    out = []
    for user in users:
        top = rec.recommend(user, 2)
        out.append((user, top[0].item_id, top[1].item_id))
    return out


def _forward(state) -> float:
    pair = state.pair
    times = []
    with torch.inference_mode():
        for _ in range(3):  # the median of 3: one forward is short enough for a blip to matter
            times.append(_timed(lambda: pair.score_from_ids(pair.input_ids.unsqueeze(0)))[1])
    return statistics.median(times)


ACTIONS = ("faithfulness", "contrast")


def measure(rec: Recommender | None = None, pairs: int = 3, say=print, actions=ACTIONS) -> SpeedFigures:
    """Time the page actions in ``actions`` on ``pairs`` pairs (caches cold for each); ``say`` gets one
    line per pair.  An action not asked for is NaN in the figures."""
    rec = rec or load_demo_model()
    chosen = benchmark_pairs(rec, pairs)
    warm = pair_state(rec, chosen[0][0], chosen[0][1], PAGE_CONFIG)  # load and warm the encoder: no part of any timing
    _forward(warm)
    timings = []
    for user, a, b in chosen:
        clear_cache()
        ctx = rec.context(user)
        state = pair_state(rec, user, a, PAGE_CONFIG, ctx)
        split_texts(state, carrying_texts(state))  # the page's first view: drawn before the button shows
        forward = _forward(state)
        faith = contrast = split = float("nan")
        if "faithfulness" in actions:
            before = state.seconds.get("tokens", 0.0)
            # as the page asks: over the texts it shows split into tokens (dashboard.explanations)
            _, faith = _timed(lambda: add_faithfulness(state, texts=sorted(state.tokens)))
            split = state.seconds.get("tokens", 0.0) - before
        clear_cache()
        if "contrast" in actions:
            _, contrast = _timed(lambda: contrast_pair(rec, user, a, b, CONTRAST_CONFIG, ctx, words=True))
        timing = PairTiming(user, a, b, state.pair.n_texts, forward, faith, split, contrast)
        say(f"  {user} → {a} vs {b} ({timing.n_texts} texts): forward {forward:.3f} s, faithfulness {faith:.2f} s "
            f"({faith / forward:.0f}×; token IG of the other texts {split:.2f} s of it), "
            f"contrast in words {contrast:.2f} s ({contrast / forward:.0f}×)")
        timings.append(timing)
    clear_cache()
    return SpeedFigures(
        timings,
        statistics.median(t.forward for t in timings),
        statistics.median(t.faithfulness for t in timings),
        statistics.median(t.contrast_words for t in timings),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="(user, top item) pairs to time (default 3)")
    parser.add_argument("--model", help="saved model directory (default: the demo model)")
    parser.add_argument("--only", choices=ACTIONS, help="time only this action")
    args = parser.parse_args()
    if args.pairs < 1:
        raise SystemExit("--pairs must be at least 1.")
    try:
        rec = artifacts.load(args.model) if args.model else load_demo_model()
    except ArtifactError as err:
        raise SystemExit(f"Cannot load the model: {err}") from None
    print(f"torch threads {torch.get_num_threads()}; {args.pairs} pairs with a full history window of "
          f"{rec.max_history}; caches cold for each action")
    figures = measure(rec, args.pairs, actions=(args.only,) if args.only else ACTIONS)
    for line in figures.lines():
        print(line)


if __name__ == "__main__":
    main()

