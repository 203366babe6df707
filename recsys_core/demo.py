"""The bundled demo: sample data and a small pre-trained model, ready offline.

``load_demo_model`` reads the committed model in ``sample_data/demo_model``;
when it is missing (or unreadable) it trains one on the demo data and saves it
there, so a fresh checkout always comes up with a working demo.
"""
from __future__ import annotations

from pathlib import Path

from . import artifacts
from .errors import ArtifactError
from .loading import load_dataset
from .pipeline import FitOptions, Progress, data_fingerprint, fit
from .recommender import Recommender
from .schema import Dataset
from .training import TrainConfig

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data"
DEMO_MODEL_DIR = SAMPLE_DIR / "demo_model"
DEMO_ITEM_FIELDS = ["title", "genres", "tags", "description"]
DEMO_USER_FIELDS = ["age", "occupation", "country", "about"]
DEMO_TRAIN = TrainConfig(epochs=12, seed=0)


def load_demo_dataset() -> Dataset:
    return load_dataset(
        SAMPLE_DIR / "interactions.csv",
        SAMPLE_DIR / "items.csv",
        SAMPLE_DIR / "users.csv",
        item_fields=DEMO_ITEM_FIELDS,
        user_fields=DEMO_USER_FIELDS,
    )


def train_demo_model(progress: Progress | None = None, out: Path = DEMO_MODEL_DIR) -> Recommender:
    recommender = fit(load_demo_dataset(), FitOptions(train=DEMO_TRAIN), progress)
    artifacts.save(recommender, out)
    return recommender


def load_demo_model(progress: Progress | None = None) -> Recommender:
    """The committed demo model; retrained when missing, unreadable or trained on other data."""
    try:
        model = artifacts.load(DEMO_MODEL_DIR)
    except ArtifactError:
        return train_demo_model(progress)
    if model.fingerprint != data_fingerprint(load_demo_dataset()):  # the demo data was regenerated
        return train_demo_model(progress)
    return model
