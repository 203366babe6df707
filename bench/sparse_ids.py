"""One training step's cost as the catalogue grows: dense AdamW against row-wise (sparse) id-table updates.

    python bench/sparse_ids.py [--items 2000 100000 1000000] [--steps 20] [--interactions 1000000]

For each catalogue size, the model as ``fit`` builds it (``ModelConfig`` defaults, 384-wide text
vectors, history window 50) takes ``--steps`` training steps of the shipped batch (256 users, 128
shared negatives, ``training._loss``) through ``training.make_optimiser``, once with
``TrainConfig()`` and once with ``sparse_ids=True``, on the same seeded random batches.  It prints
milliseconds per step (median, after one warm-up step) and the epoch time they imply for
``--interactions`` training examples, with the ratio sparse/dense measured in the same run, and the
smallest catalogue as the reference the others are compared with.  Text vectors and histories are
random: only the cost of a step is measured here, not what the model learns (bench/scale.py).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys_core.batching import make_user_input  # noqa: E402
from recsys_core.model import HybridRecommender, ModelConfig  # noqa: E402
from recsys_core.training import BatchLoss, TrainConfig, make_optimiser  # noqa: E402

TEXT_DIM, WINDOW, BATCH = 384, 50, 256


def step_ms(n_items: int, config: TrainConfig, steps: int, seed: int = 0) -> float:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    vectors = torch.from_numpy(rng.standard_normal((n_items, TEXT_DIM), dtype=np.float32))
    model = HybridRecommender(ModelConfig(n_items=n_items, text_dim=TEXT_DIM, max_history=WINDOW, use_profile=False))
    model.train()
    optimiser = make_optimiser(model, config)
    net = BatchLoss(model, config)
    warm = np.arange(n_items)
    times = []
    for step in range(steps + 1):
        histories = [rng.integers(0, n_items, rng.integers(1, WINDOW + 1)) for _ in range(BATCH)]
        user = make_user_input(histories, [None] * BATCH, vectors, WINDOW)
        targets = rng.integers(0, n_items, BATCH)
        started = time.perf_counter()
        negatives = torch.from_numpy(rng.choice(warm, size=config.negatives, replace=False))  # as train_step
        loss = net(user, torch.from_numpy(targets), negatives, vectors)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step:  # the first step allocates Adam's moments: not a steady-state step
            times.append(time.perf_counter() - started)
    optimiser.done()
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[2_000, 100_000, 1_000_000])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--interactions", type=int, default=1_000_000, help="training examples per epoch")
    args = parser.parse_args()
    torch.set_num_threads(2)
    steps_per_epoch = args.interactions / BATCH
    print(f"ms per step (median of {args.steps}); epoch = {steps_per_epoch:,.0f} steps of {BATCH}")
    print(f"{'items':>10} {'dense ms':>9} {'sparse ms':>10} {'sparse/dense':>13} {'dense epoch':>12} "
          f"{'sparse epoch':>13} {'dense / ref':>12} {'sparse / ref':>13}")
    reference = None
    for n in args.items:
        dense = step_ms(n, TrainConfig(), args.steps)
        sparse = step_ms(n, TrainConfig(sparse_ids=True), args.steps)
        reference = reference or (dense, sparse)
        print(f"{n:>10,} {dense:>9.1f} {sparse:>10.1f} {sparse / dense:>13.2f} "
              f"{dense * steps_per_epoch / 60000:>10.1f} m {sparse * steps_per_epoch / 60000:>11.1f} m "
              f"{dense / reference[0]:>12.2f} {sparse / reference[1]:>13.2f}", flush=True)


if __name__ == "__main__":
    main()
