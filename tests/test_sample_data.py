"""The committed demo data: reproducible, in range, consistent, and with real text signal."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DATA_DIR = Path(__file__).resolve().parents[1] / "sample_data"
FILES = ("items.csv", "users.csv", "interactions.csv")


def _load_generator():
    spec = importlib.util.spec_from_file_location("sample_data_generate", DATA_DIR / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def items() -> pd.DataFrame:
    return pd.read_csv(DATA_DIR / "items.csv", dtype={"item_id": str})


@pytest.fixture(scope="module")
def users() -> pd.DataFrame:
    return pd.read_csv(DATA_DIR / "users.csv", dtype={"user_id": str}, keep_default_na=False)


@pytest.fixture(scope="module")
def interactions() -> pd.DataFrame:
    df = pd.read_csv(DATA_DIR / "interactions.csv", dtype={"user_id": str, "item_id": str})
    return df.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)


def test_files_exist():
    for name in (*FILES, "generate.py", "README.md"):
        assert (DATA_DIR / name).is_file(), name


def test_committed_files_match_the_generator(tmp_path):
    gen = _load_generator()
    gen.generate(tmp_path, seed=7)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (DATA_DIR / name).read_bytes(), (
            f"{name} differs from what sample_data/generate.py produces; rerun `python sample_data/generate.py`"
        )


def test_sizes_and_columns(items, users, interactions):
    assert list(items.columns) == ["item_id", "title", "genres", "description", "tags", "year", "language"]
    assert list(users.columns) == ["user_id", "age", "occupation", "country", "about"]
    assert list(interactions.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert 1800 <= len(items) <= 2200
    assert 900 <= len(users) <= 1100
    assert 50_000 <= len(interactions) <= 80_000
    assert items.item_id.is_unique and users.user_id.is_unique
    assert items.item_id.str.fullmatch(r"m\d{4}").all()
    assert users.user_id.str.fullmatch(r"u\d{4}").all()


def test_value_ranges(items, users, interactions):
    assert items.year.between(1970, 2025).all()
    n_genres = items.genres.str.split(", ").str.len()
    assert n_genres.between(1, 3).all()
    assert items.genres.str.split(", ").explode().nunique() <= 20
    n_tags = items.tags.str.split(", ").str.len()
    assert n_tags.between(3, 6).all()
    assert (items.description.str.len() > 20).all()
    assert items.title.notna().all() and items.title.is_unique
    assert users.age.between(16, 90).all()
    no_about = (users.about == "").mean()
    assert 0.05 <= no_about <= 0.15
    assert interactions.rating.between(1, 5).all()
    assert interactions.rating.dtype.kind == "i"
    span = interactions.timestamp.max() - interactions.timestamp.min()
    assert 300 * 86400 <= span <= 400 * 86400


def test_referential_integrity_and_no_duplicates(items, users, interactions):
    assert not interactions.duplicated(["user_id", "item_id"]).any()
    assert interactions.item_id.isin(items.item_id).all()
    assert interactions.user_id.isin(users.user_id).all()
    counts = interactions.groupby("user_id").size()
    assert len(counts) == len(users)
    assert counts.min() >= 5
    assert counts.max() >= 300  # long-tailed activity


def _user_sequences(interactions: pd.DataFrame) -> list[list[str]]:
    return [list(g) for _, g in interactions.groupby("user_id", sort=True)["item_id"]]


def test_last_item_shares_tags_with_recent_history_more_than_random(items, interactions):
    tags = {r.item_id: set(r.tags.split(", ")) for r in items.itertuples()}
    genres = {r.item_id: set(r.genres.split(", ")) for r in items.itertuples()}
    all_ids = items.item_id.to_numpy()
    rng = np.random.default_rng(0)
    real_tag = rand_tag = real_genre = rand_genre = n = 0
    for seq in _user_sequences(interactions):
        last, earlier = seq[-1], seq[-6:-1]  # the 5 interactions before the last one
        seen = set(seq)
        other = all_ids[rng.integers(len(all_ids))]
        while other in seen:
            other = all_ids[rng.integers(len(all_ids))]
        hist_tags = set().union(*(tags[i] for i in earlier))
        hist_genres = set().union(*(genres[i] for i in earlier))
        real_tag += bool(tags[last] & hist_tags)
        rand_tag += bool(tags[other] & hist_tags)
        real_genre += bool(genres[last] & hist_genres)
        rand_genre += bool(genres[other] & hist_genres)
        n += 1
    assert real_tag / n >= 0.4
    assert real_tag >= 2 * rand_tag
    assert real_genre > rand_genre


def test_recent_items_matter_more_than_older_ones(items, interactions):
    tags = {r.item_id: set(r.tags.split(", ")) for r in items.itertuples()}
    seqs = _user_sequences(interactions)

    def share(lag: int) -> float:
        hits = total = 0
        for seq in seqs:
            for j in range(lag, len(seq)):
                hits += bool(tags[seq[j]] & tags[seq[j - lag]])
                total += 1
        return hits / total

    assert share(1) > 1.5 * share(10)


def test_sequels_are_mostly_watched_after_the_previous_part(items, interactions):
    title_of = dict(zip(items.item_id, items.title))
    id_of = {t: i for i, t in title_of.items()}
    previous = {"II": "", "III": " II", "IV": " III"}
    in_order = total = 0
    for seq in _user_sequences(interactions):
        pos = {item: j for j, item in enumerate(seq)}
        for item in seq:
            m = re.fullmatch(r"(.*) (II|III|IV)", title_of[item])
            if not m:
                continue
            prev_id = id_of[m.group(1) + previous[m.group(2)]]
            total += 1
            in_order += prev_id in pos and pos[prev_id] < pos[item]
    assert total > 500
    assert in_order / total >= 0.7
