"""EASE's dense inverse at large catalogues: seconds per fit, or how the process died.

    python bench/ease_inverse.py [N_ITEMS ...]        (default: 12000 16000 20000)

Each fit runs in its own process on a random 4,000-user binary matrix with 50 interactions per user, so a
crash in LAPACK is a line of the table, not the end of the script.  scipy 1.17's ``linalg.inv`` died with
SIGSEGV from 16,000 items on this machine (12,000 passed), which is why ``baselines.EASE`` inverts with numpy's.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def fit(n_items: int) -> None:
    import numpy as np
    import scipy.sparse as sp

    from recsys_core.baselines import EASE

    rng = np.random.default_rng(0)
    n_users, per_user = 4000, 50
    rows, cols = np.repeat(np.arange(n_users), per_user), rng.integers(0, n_items, n_users * per_user)
    train = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_users, n_items))
    started = time.perf_counter()
    EASE(max_items=n_items).fit(train)
    print(f"{time.perf_counter() - started:.1f}")


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        fit(int(sys.argv[2]))
        return
    print("| items | EASE.fit |\n|---|---|")
    for n in [int(a) for a in sys.argv[1:]] or [12000, 16000, 20000]:
        done = subprocess.run([sys.executable, __file__, "--child", str(n)], stdout=subprocess.PIPE, text=True)
        if done.returncode == 0:
            print(f"| {n:,} | {float(done.stdout.split()[-1]):.1f} s |", flush=True)
        else:
            died = signal.Signals(-done.returncode).name if done.returncode < 0 else f"exit {done.returncode}"
            print(f"| {n:,} | died: {died} |", flush=True)


if __name__ == "__main__":
    main()
