"""Shared fixtures: a tiny dataset (30 users, 40 items) and a model trained on it once per run."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from browser_support import no_request_leaves_loopback  # noqa: F401  (autouse: no browser test may leave loopback)
from recsys_core.loading import load_dataset
from recsys_core.pipeline import FitOptions, fit
from recsys_core.schema import Dataset
from recsys_core.training import TrainConfig

GENRES = ["Drama", "Comedy", "Sci-Fi", "Horror"]
N_USERS, N_ITEMS = 30, 40


def tiny_tables(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Interactions, items and users where each user mostly watches one genre."""
    rng = np.random.default_rng(seed)
    items = pd.DataFrame(
        {
            "item_id": [f"i{i:02d}" for i in range(N_ITEMS)],
            "title": [f"{GENRES[i % 4]} story number {i}" for i in range(N_ITEMS)],
            "genres": [GENRES[i % 4] for i in range(N_ITEMS)],
        }
    )
    users = pd.DataFrame(
        {
            "user_id": [f"u{u:02d}" for u in range(N_USERS)],
            "about": [f"Loves {GENRES[u % 4].lower()} films" for u in range(N_USERS)],
        }
    )
    rows = []
    for u in range(N_USERS):
        liked = [i for i in range(N_ITEMS) if i % 4 == u % 4]
        picks = rng.choice(liked, size=8, replace=False)
        for t, i in enumerate(picks):
            rows.append((f"u{u:02d}", f"i{i:02d}", float(rng.integers(3, 6)), 1_700_000_000 + 3600 * t))
    interactions = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    return interactions, items, users


def make_tiny_dataset() -> Dataset:
    interactions, items, users = tiny_tables()
    return load_dataset(interactions, items, users, item_fields=["title", "genres"], user_fields=["about"])


@pytest.fixture(scope="session", autouse=True)
def sessions_dir(tmp_path_factory):
    """Sessions kept for a reload (dashboard.session_store) go to a temporary folder, never ~/.cache.

    Session-scoped and set in os.environ, so dashboard servers that browser tests start inherit it too.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RECSYS_SESSIONS_DIR", str(tmp_path_factory.mktemp("sessions")))
        yield


@pytest.fixture(scope="session")
def tiny_dataset() -> Dataset:
    return make_tiny_dataset()


@pytest.fixture(scope="session")
def embedding_cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("embeddings"))


@pytest.fixture(scope="session")
def tiny_model(tiny_dataset, embedding_cache):
    # Five epochs: with id dropout 0.5 a one- to three-epoch model ties Random on the 30 test users
    # (HitRate@10 0.30–0.33 against 0.30), so test_training_learns_the_tiny_genre_structure could not
    # tell learning from chance; at five it reads 0.83 against 0.30 (measured 2026-12-02), a second or two.
    options = FitOptions(max_history=20, train=TrainConfig(epochs=5), baselines=True, cache_dir=embedding_cache)
    return fit(tiny_dataset, options)


@pytest.fixture(scope="session")
def short_window_model(tiny_dataset, embedding_cache):
    """A tiny model that reads only each user's 3 latest history items (every tiny user has 8)."""
    return fit(tiny_dataset, FitOptions(max_history=3, train=TrainConfig(epochs=1), baselines=False,
                                        cache_dir=embedding_cache))


@pytest.fixture(scope="session")
def demo_model():
    """The committed demo model (trained and saved on first use if it is missing)."""
    from recsys_core.demo import load_demo_model

    return load_demo_model()
