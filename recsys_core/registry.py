"""Named models in one shared directory: list, save, load and delete by name.

Every model is a directory written by :mod:`recsys_core.artifacts` under the
registry root, so a model saved from the dashboard can be loaded by the CLI or
a notebook (``artifacts.load(root / name)``) and the other way round.

The root defaults to ``$RECSYS_MODELS_DIR`` or ``./models``.  It is shared by
everyone who runs the tool from the same place: names are the only namespace,
and saving never replaces a model of the same name unless asked to.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from . import artifacts, durable
from .errors import ArtifactError, RecsysError, UnknownEntityError
from .evaluation import MODEL_NAME
from .recommender import Recommender
from .training import TrainingRecord

MODELS_DIR_ENV = "RECSYS_MODELS_DIR"
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # ASCII only: no look-alike or control characters


def default_root() -> Path:
    """``$RECSYS_MODELS_DIR`` when set, otherwise ``./models`` (relative to the working directory)."""
    return Path(os.environ.get(MODELS_DIR_ENV) or "models")


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about a saved model without loading its weights.

    ndcg10: the model's NDCG@10 on the test slice (None when the model was
        saved without an evaluation report).  n_users: users in the data it
        was trained on.  saved_at: UTC, ISO 8601.
    """

    name: str
    path: Path
    saved_at: str
    n_items: int | None
    n_users: int | None
    ndcg10: float | None
    encoder: str


class ModelRegistry:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()

    def __repr__(self) -> str:
        return f"ModelRegistry({str(self.root)!r})"

    # -- names ---------------------------------------------------------------
    @staticmethod
    def check_name(name: str) -> str:
        """Return ``name`` if it can name a model directory, else raise a RecsysError saying why."""
        # fullmatch, not match: "$" also matches before a trailing newline, which let 'ok\n' through.
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            shown = repr(name)[:80]
            raise RecsysError(
                f"{shown} cannot be used as a model name: use 1 to 64 letters, digits, '-' or '_' "
                "(no spaces, dots, slashes or control characters), e.g. 'movies-bpr_v2'."
            )
        return name

    def path_of(self, name: str) -> Path:
        return self.root / self.check_name(name)

    def exists(self, name: str) -> bool:
        return (self.path_of(name) / "config.json").is_file()

    # -- operations ----------------------------------------------------------
    def list(self) -> list[ModelInfo]:
        """Saved models, newest first.  Unreadable directories are listed with empty fields."""
        if not self.root.is_dir():
            return []
        artifacts.recover_all(self.root)  # put back models whose save was killed mid-swap; drop dead leftovers
        infos = [
            self._info(path)
            for path in self.root.iterdir()
            if path.is_dir() and _NAME.fullmatch(path.name) and (path / "config.json").is_file()
        ]
        return sorted(infos, key=lambda i: (i.saved_at, i.name), reverse=True)

    def save(self, recommender: Recommender, name: str, *, overwrite: bool = False) -> ModelInfo:
        """Write the model under ``name`` (atomically: a failed save leaves any previous one intact)."""
        target = self.path_of(name)
        if not overwrite and target.exists():
            raise RecsysError(
                f"A model named {name!r} already exists in {self.root}: choose another name, "
                "or delete or replace the existing one."
            )
        artifacts.save(recommender, target)
        return self._info(target)

    def load(self, name: str) -> Recommender:
        path = self.path_of(name)
        try:
            return artifacts.load(path)  # also finds a model left aside by a save killed mid-swap
        except ArtifactError:
            if not path.exists() and not self.exists(name):
                raise UnknownEntityError(self._unknown(name)) from None
            raise

    def delete(self, name: str) -> None:
        path = self.path_of(name)
        if not path.is_dir():
            raise UnknownEntityError(self._unknown(name))
        # Renamed first (durable.remove_folder): the name is free at once and a half-deleted model is never listed.
        durable.remove_folder(path)

    # -- helpers -------------------------------------------------------------
    def _unknown(self, name: str) -> str:
        names = [i.name for i in self.list()]
        known = f"saved models: {', '.join(names)}" if names else "no model is saved there yet"
        return f"No saved model named {name!r} in {self.root} ({known})."

    @staticmethod
    def _info(path: Path) -> ModelInfo:
        try:
            config = json.loads((path / "config.json").read_text())
            metrics = json.loads((path / "metrics.json").read_text()) if (path / "metrics.json").is_file() else None
        except (OSError, json.JSONDecodeError):
            return ModelInfo(path.name, path, "", None, None, None, "unreadable")
        return ModelInfo(
            name=path.name,
            path=path,
            saved_at=config.get("saved_at", ""),
            n_items=config.get("model", {}).get("n_items"),
            n_users=TrainingRecord.from_dict(config.get("settings")).n_users,
            ndcg10=_test_ndcg10(metrics),
            encoder=config.get("encoder", {}).get("name", ""),
        )


def _test_ndcg10(metrics: dict | None) -> float | None:
    for s in (metrics or {}).get("slices", []):
        if s.get("name") == "test":
            value = s.get("metrics", {}).get(MODEL_NAME, {}).get("NDCG@10")
            return None if value is None else float(value)
    return None


__all__ = ["MODELS_DIR_ENV", "ModelInfo", "ModelRegistry", "default_root"]
