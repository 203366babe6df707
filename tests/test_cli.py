"""The command line end to end: train → recommend → reload → evaluate → explain, and its errors."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import tiny_tables


ROOT = Path(__file__).resolve().parent.parent


def run(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "recsys_core", *args], capture_output=True, text=True, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    interactions, items, users = tiny_tables()
    interactions.to_csv(root / "interactions.csv", index=False)
    items.to_csv(root / "items.tsv", sep="\t", index=False)
    users.to_parquet(root / "users.parquet")
    return root


@pytest.fixture(scope="module")
def trained(files):
    out = files / "model"
    result = run(
        "train", "--interactions", str(files / "interactions.csv"), "--items", str(files / "items.tsv"),
        "--users", str(files / "users.parquet"), "--out", str(out), "--epochs", "2", "--seed", "1",
        "--cache-dir", str(files / "cache"),
    )
    assert result.returncode == 0, result.stderr
    return out, result


def test_train_prints_the_model_next_to_the_baselines(trained):
    out, result = trained
    for name in ("HybridBERT", "MostPopular", "ItemKNN", "EASE", "TextKNN", "NDCG@10"):
        assert name in result.stdout
    assert {p.name for p in out.iterdir()} >= {"config.json", "weights.safetensors", "metrics.json"}


def test_recommend_writes_every_user_and_matches_the_library(trained, files):
    out, _ = trained
    csv = files / "recs.csv"
    result = run("recommend", "--model", str(out), "--k", "3", "--out", str(csv))
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(csv, dtype={"user_id": str, "item_id": str})
    assert list(table.columns) == ["user_id", "item_id", "rank", "score"]
    assert table.user_id.nunique() == 30 and (table.groupby("user_id").size() == 3).all()
    from recsys_core import artifacts

    rec = artifacts.load(out)
    first = table[table.user_id == "u00"].item_id.tolist()
    assert first == [r.item_id for r in rec.recommend("u00", 3)]


def test_recommend_all_and_unknown_users_from_history(trained, files):
    out, _ = trained
    new = pd.DataFrame({"user_id": ["new1", "new1"], "item_id": ["i00", "i04"], "timestamp": [1, 2]})
    new.to_csv(files / "new.csv", index=False)
    csv = files / "new_recs.csv"
    result = run("recommend", "--model", str(out), "--k", "all", "--interactions", str(files / "new.csv"), "--out", str(csv))
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(csv, dtype=str)
    assert set(table.user_id) == {"new1"} and len(table) == 40 - 2  # whole catalogue minus the two seen


def test_evaluate_and_explain(trained, files):
    out, _ = trained
    result = run("evaluate", "--model", str(out), "--interactions", str(files / "interactions.csv"))
    assert result.returncode == 0, result.stderr
    assert "HybridBERT" in result.stdout and "leave-last-out" in result.stdout
    js, page = files / "exp.json", files / "exp.html"
    result = run("explain", "--model", str(out), "--user", "u00", "--item", "i04", "--steps", "8", "--out", str(js), "--html", str(page))
    assert result.returncode == 0, result.stderr
    data = json.loads(js.read_text())
    for key in ("user_id", "item_id", "score", "baseline_score", "convergence_delta", "tokens", "fields", "history_items", "attention", "faithfulness", "reason"):
        assert key in data
    assert {"text", "attribution", "side", "field", "history_item_id"} <= set(data["tokens"][0])
    assert "<html" in page.read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["recommend", "--model", "/no/such/model", "--out", "x.csv"], "No model directory"),
        (["train", "--interactions", "/no/such.csv", "--items", "/no/items.csv", "--out", "m"], "no/such.csv"),
        (["recommend", "--model", "m", "--k", "zero", "--out", "x.csv"], "expected a whole number"),
    ],
)
def test_errors_are_one_readable_line_and_non_zero(args, message, tmp_path):
    result = run(*args, cwd=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_user_in_recommend(trained, files):
    out, _ = trained
    result = run("recommend", "--model", str(out), "--users", "ghost", "--out", str(files / "g.csv"))
    assert result.returncode == 1 and "ghost" in result.stderr and "Traceback" not in result.stderr


def test_bad_data_is_reported_not_crashed(files, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("who,what\na,b\n")
    result = run("train", "--interactions", str(bad), "--items", str(files / "items.tsv"), "--out", str(tmp_path / "m"))
    assert result.returncode == 1 and "user_id" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "m").exists()


def test_help_for_every_command():
    for command in ("train", "recommend", "evaluate", "explain"):
        result = run(command, "--help")
        assert result.returncode == 0 and "usage" in result.stdout
