"""Explanation cost and agreement on the demo model: two-level IG vs naive Captum LayerIntegratedGradients.

    python bench/explain.py [--pairs 20] [--reference-steps 20] [--model DIR]

For each of ``--pairs`` (user with ≥ 20 history items, their top item), with
every cache cold (explanation cache cleared; the encoder is warmed once):

* first view: each text's share of the score (text-level IG), the model's
  history attention, encoder attention over the item text, rank, reason;
* carrying tokens: token IG of the item, the profile and the history texts
  that carry the score, until |delta| ≤ 5% of |score − baseline|;
* all tokens: the remaining history texts as well;
* reference: Captum ``LayerIntegratedGradients`` on the word-embedding layer
  through all the texts at once (the pre-issue-7 method), at the smallest step
  count in (10, 20, 50) whose |delta| ≤ 5% of the gap — equal delta criterion;
* agreement of the two-level token attributions with that joint IG: Spearman
  over every token of the pair and over the carrying texts' tokens, and the
  deletion area (mean score drop, ``faithfulness.deletion_curves``) of both
  rankings next to random.

Seconds are wall clock; "forward-equivalents" divide by one plain scoring
forward of the pair's texts (item, profile and every history item the model
reads: 22 with a window of 20) measured on the same pair in the same run.
``--model DIR`` explains another saved model (default: the demo model), e.g.
the same data with another history window.
Medians over pairs.  Runs in ~6–9 minutes on 2 quiet cores.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recsys_core from a checkout, installed or not

from recsys_core import artifacts, heavy_imports
from recsys_core.demo import load_demo_model
from recsys_core.explain import (
    ExplainConfig,
    clear_cache,
    compose,
    pair_state,
    split_texts,
)
from recsys_core.explain.core import spearman
from recsys_core.explain.faithfulness import deletion_curves
from recsys_core.explain.pair import build_pair
from recsys_core.explain.state import carrying_texts, token_grid

TOLERANCE = 0.05


def naive_captum(pair, steps: int) -> tuple[np.ndarray, float]:
    """Captum LIG on the shared word-embedding layer over all texts (one step per encoder pass, as before)."""
    LayerIntegratedGradients = heavy_imports.attribute("captum.attr", "LayerIntegratedGradients")
    layer = pair.recommender.encoder.model.get_input_embeddings()
    lig = LayerIntegratedGradients(pair.score_from_ids, layer)
    inputs, base = pair.input_ids.unsqueeze(0), pair.baseline_ids("pad").unsqueeze(0)
    with torch.enable_grad():
        attr = lig.attribute(inputs, baselines=base, n_steps=steps, method="gausslegendre", internal_batch_size=pair.n_texts)
    values = attr.sum(-1).reshape(pair.input_ids.shape).detach().double().numpy() * pair.attention_mask.numpy()
    with torch.inference_mode():
        both = pair.score_from_ids(torch.cat([inputs, base]))
    return values, float(values.sum()) - float(both[0] - both[1])


def timed(fn):
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--reference-steps", type=int, nargs="+", default=[10, 20, 50])
    parser.add_argument("--model", help="saved model directory (default: the demo model)")
    args = parser.parse_args()
    rec = artifacts.load(args.model) if args.model else load_demo_model()
    users = [u for u in rec.known_users() if len(rec.catalog.histories[u]) >= 20][: args.pairs]
    config = ExplainConfig(method="ig", token_level="carrying", faithfulness=False)
    warm = build_pair(rec, rec.context(users[0]), 0)  # load the encoder once: not part of any explanation
    with torch.inference_mode():
        warm.score_from_ids(warm.input_ids.unsqueeze(0))
    rows = []
    print(f"torch threads {torch.get_num_threads()}; {len(users)} pairs (users with ≥ 20 history items, their top item); "
          f"history window {rec.max_history}")
    for user in users:
        item_id = rec.recommend(user, 1)[0].item_id
        clear_cache()
        ctx = rec.context(user)

        def first_view():
            state = pair_state(rec, user, item_id, config, ctx=ctx)
            return state, compose(state, config=config)

        (state, first), t_first = timed(first_view)
        carry = carrying_texts(state)
        flagged, t_carry = timed(lambda: split_texts(state, carry))
        carried = compose(state, flagged, config)
        gap = abs(carried.score - carried.baseline_score)
        rest, t_rest = timed(lambda: split_texts(state, list(range(state.pair.n_texts))))
        fast = token_grid(state, {**flagged, **rest})
        fast_delta = state.level.delta + sum(t.delta for t in {**state.tokens, **flagged, **rest}.values())
        pair = state.pair
        with torch.inference_mode():
            _, t_forward = timed(lambda: pair.score_from_ids(pair.input_ids.unsqueeze(0)))
        t_ref, ref_steps = 0.0, 0
        for steps in args.reference_steps:
            (joint, joint_delta), t = timed(lambda: naive_captum(pair, steps))
            t_ref += t
            ref_steps = steps
            if abs(joint_delta) <= TOLERANCE * gap:
                break
        mask = pair.removable.numpy()
        carry_mask = np.zeros_like(mask)
        carry_mask[carry] = mask[carry]
        curves = {c.method: c.area for c in deletion_curves(pair, {"two-level": fast, "joint": joint}, real=state.level.real)}
        rows.append(
            dict(
                first=t_first, carry=t_carry, rest=t_rest, forward=t_forward, ref=t_ref, ref_steps=ref_steps,
                n_carry=len(carry), carry_share=abs(carried.convergence_delta) / gap, fast_share=abs(fast_delta) / gap,
                ref_share=abs(joint_delta) / gap, rho=spearman(fast[mask], joint[mask]),
                rho_carry=spearman(fast[carry_mask], joint[carry_mask]), n_texts=pair.n_texts,
                area_fast=curves["two-level"], area_joint=curves["joint"], area_random=curves["random"],
            )
        )
        r = rows[-1]
        print(f"  {user} → {item_id}: first {t_first:.2f}s, carrying ({len(carry)} texts) {t_carry:.2f}s, "
              f"rest {t_rest:.2f}s, naive Captum {t_ref:.1f}s ({ref_steps} steps), ρ {r['rho']:.2f}", flush=True)
    med = {k: float(np.median([r[k] for r in rows])) for k in rows[0]}
    fwd = med["forward"]
    print()
    print(f"plain scoring forward of a pair ({med['n_texts']:.0f} texts, median): {fwd * 1000:.0f} ms median")
    print(f"{'what':<58} {'median s':>9} {'fwd-eq':>7} {'vs naive':>9} {'|δ|/gap med':>12} {'max':>7}")
    first_to_carry = [r["first"] + r["carry"] for r in rows]
    lines = [
        ("first view (text shares, history attention, item attention, reason)", [r["first"] for r in rows], None),
        ("+ token IG of item, profile, carrying history (≤ 5%)", first_to_carry, "carry_share"),
        ("+ token IG of every remaining history text", [a + r["rest"] for a, r in zip(first_to_carry, rows)], "fast_share"),
        ("naive Captum LIG, all texts jointly (≤ 5%)", [r["ref"] for r in rows], "ref_share"),
    ]
    for name, seconds, share in lines:
        t = float(np.median(seconds))
        shares = [r[share] for r in rows] if share else None
        delta = f"{np.median(shares):12.2%} {max(shares):7.2%}" if shares else f"{'':>12} {'':>7}"
        print(f"{name:<58} {t:9.2f} {t / fwd:7.0f} {t / med['ref']:9.2f} {delta}")
    print(f"reference steps used: {sorted({r['ref_steps'] for r in rows})}; carrying texts per pair: median {med['n_carry']:.0f}")
    print(f"agreement with joint IG: Spearman over all tokens median {med['rho']:.3f} (min {min(r['rho'] for r in rows):.3f}); "
          f"over the carrying texts' tokens median {med['rho_carry']:.3f}")
    print(f"deletion area (mean score drop): two-level {med['area_fast']:.3f}, joint IG {med['area_joint']:.3f}, "
          f"random {med['area_random']:.3f} → two-level / random = {med['area_fast'] / max(med['area_random'], 1e-9):.1f}×")
    print(f"speed-up, first view + carrying tokens vs naive: {med['ref'] / float(np.median(first_to_carry)):.1f}×")


if __name__ == "__main__":
    main()
