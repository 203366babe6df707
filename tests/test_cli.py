"""The command line end to end: train → recommend → reload → evaluate → explain, and its errors."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
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


def test_train_logs_whole_lines_when_stderr_is_not_a_terminal(trained):
    _, result = trained  # run with stderr piped, as in CI logs and batch jobs
    assert "\r" not in result.stderr
    lines = result.stderr.splitlines()
    assert sum(line.startswith("  epoch ") for line in lines) == 2
    assert any(line.startswith("  encoding:") and "done" in line for line in lines)
    assert len(lines) < 30


def test_train_prints_the_model_next_to_the_baselines(trained):
    out, result = trained
    for name in ("HybridBERT", "MostPopular", "ItemKNN", "EASE", "TextKNN", "NDCG@10"):
        assert name in result.stdout
    assert {p.name for p in out.iterdir()} >= {"config.json", "weights.safetensors", "metrics.json"}


def test_train_with_cold_items_and_held_out_users_prints_the_text_only_reference(files, tmp_path):
    result = run(
        "train", "--interactions", str(files / "interactions.csv"), "--items", str(files / "items.tsv"),
        "--out", str(tmp_path / "m"), "--epochs", "1", "--cold-items", "0.2", "--holdout-users", "0.2",
        "--cache-dir", str(files / "cache"),
    )
    assert result.returncode == 0, result.stderr
    assert "· training the text-only reference" in result.stderr.splitlines()
    for slice_name in ("[test]", "[cold items]", "[inductive users]"):
        block = result.stdout.split(slice_name, 1)[1].split("\n[", 1)[0]
        assert "\nText-only reference " in block  # its row in the slice's table
        assert "HybridBERT − Text-only reference, NDCG@10 on the same" in block
    assert "The text-only reference (the same model with item ids switched off" in result.stdout


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


def test_a_new_user_with_a_known_users_history_and_profile_gets_that_users_list(trained, files, tmp_path, capsys):
    from recsys_core import artifacts

    out, _ = trained
    interactions = pd.read_csv(files / "interactions.csv", dtype={"user_id": str, "item_id": str})
    users = pd.read_parquet(files / "users.parquet")
    twin = interactions[interactions.user_id == "u00"].assign(user_id="twin")
    twin.to_csv(tmp_path / "twin.csv", index=False)
    profiles = pd.concat([users[users.user_id == "u00"].assign(user_id="twin"),
                          users[users.user_id == "u01"].assign(user_id="only_profile")])
    profiles.to_csv(tmp_path / "profiles.csv", index=False)
    csv = tmp_path / "r.csv"
    code, _, err = main_run(capsys, "recommend", "--model", str(out), "--k", "5", "--interactions", str(tmp_path / "twin.csv"),
                            "--profiles", str(tmp_path / "profiles.csv"), "--out", str(csv))
    assert code == 0, err
    table = pd.read_csv(csv, dtype={"user_id": str, "item_id": str})
    assert set(table.user_id) == {"twin", "only_profile"}  # a profile alone makes a user too
    rec = artifacts.load(out)
    known = rec.recommend("u00", 5)
    twin_rows = table[table.user_id == "twin"]
    assert twin_rows.item_id.tolist() == [r.item_id for r in known]
    assert np.allclose(twin_rows.score, [r.score for r in known], atol=1e-5)
    # Without the profile the same history scores differently: the profile was read, not ignored.
    code, _, err = main_run(capsys, "recommend", "--model", str(out), "--k", "5", "--interactions", str(tmp_path / "twin.csv"),
                            "--out", str(csv))
    assert code == 0, err
    assert not np.allclose(pd.read_csv(csv).score, [r.score for r in known], atol=1e-5)
    js = tmp_path / "e.json"
    code, _, err = main_run(capsys, "explain", "--model", str(out), "--user", "only_profile", "--item", "i04",
                            "--method", "attention", "--profiles", str(tmp_path / "profiles.csv"), "--out", str(js))
    assert code == 0, err
    assert json.loads(js.read_text())["user_id"] == "only_profile"


def test_a_profiles_file_without_the_models_user_fields_is_one_clear_line(trained, tmp_path, capsys):
    out, _ = trained
    pd.DataFrame({"user_id": ["x"], "shoe_size": [42]}).to_csv(tmp_path / "p.csv", index=False)
    code, _, err = main_run(capsys, "recommend", "--model", str(out), "--profiles", str(tmp_path / "p.csv"),
                            "--out", str(tmp_path / "r.csv"))
    assert code == 1 and "none of the model's user fields" in err and "'shoe_size'" in err and "Traceback" not in err
    assert not (tmp_path / "r.csv").exists()


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
    for command in ("train", "recommend", "evaluate", "explain", "models", "compare"):
        result = run(command, "--help")
        assert result.returncode == 0 and "usage" in result.stdout


# -- in-process checks (no new interpreter): main(argv) with captured stderr -------------------


def main_run(capsys, *argv):
    from recsys_core.cli import main

    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("kind", ["folder with a file", "file", "folder with a subfolder"])
def test_train_out_never_deletes_what_it_did_not_create(files, tmp_path, capsys, kind):
    out = tmp_path / "d"
    if kind == "file":
        out.write_text("thesis")
    else:
        out.mkdir()
        (out / ("thesis.txt" if kind == "folder with a file" else "sub")).mkdir() if "sub" in kind else (out / "thesis.txt").write_text("x")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    code, _, err = main_run(
        capsys, "train", "--interactions", str(files / "interactions.csv"), "--items", str(files / "items.tsv"), "--out", str(out)
    )
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Nothing was changed" in err, err
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_train_out_dot_is_refused(files, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(files)
    code, _, err = main_run(capsys, "train", "--interactions", "interactions.csv", "--items", "items.tsv", "--out", ".")
    assert code == 1 and "not a recsys_core model" in err
    assert (files / "interactions.csv").exists()


def test_train_may_replace_a_model_or_fill_an_empty_folder(trained, files, tmp_path):
    from recsys_core import artifacts

    out, _ = trained
    assert artifacts.check_output_dir(out) == out  # an existing model folder may be replaced
    (tmp_path / "empty").mkdir()
    assert artifacts.check_output_dir(tmp_path / "empty") == tmp_path / "empty"


def test_recommend_takes_ids_with_commas_from_user_and_users_file(trained, tmp_path, capsys):
    out, _ = trained
    ids = tmp_path / "ids.txt"
    ids.write_text("u01\n\n  u02  \nu01\n")
    csv = tmp_path / "r.csv"
    code, _, err = main_run(capsys, "recommend", "--model", str(out), "--k", "2", "--user", "u00", "--users-file", str(ids), "--out", str(csv))
    assert code == 0, err
    assert pd.read_csv(csv, dtype=str).user_id.unique().tolist() == ["u00", "u01", "u02"]
    code, _, err = main_run(capsys, "recommend", "--model", str(out), "--user", "u,comma", "--out", str(csv))
    assert code == 1 and "'u,comma'" in err  # one id, not 'u' and 'comma'


def test_recommend_csv_neutralises_formula_ids(trained, tmp_path, capsys):
    from recsys_core.exports import read_csv

    out, _ = trained
    new = tmp_path / "new.csv"
    pd.DataFrame({"user_id": ["=1+1", "=1+1"], "item_id": ["i00", "i04"], "timestamp": [1, 2]}).to_csv(new, index=False)
    csv = tmp_path / "r.csv"
    code, _, err = main_run(capsys, "recommend", "--model", str(out), "--k", "2", "--interactions", str(new), "--out", str(csv))
    assert code == 0, err
    assert all(line.startswith("'=1+1,") for line in csv.read_text().splitlines()[1:])
    assert read_csv(csv).user_id.unique().tolist() == ["=1+1"]


def test_explain_html_pointing_at_a_folder_is_a_message_and_leaves_no_temporary(trained, tmp_path, capsys):
    out, _ = trained
    folder = tmp_path / "page"
    folder.mkdir()
    code, _, err = main_run(
        capsys, "explain", "--model", str(out), "--user", "u00", "--item", "i04", "--method", "attention",
        "--out", str(tmp_path / "e.json"), "--html", str(folder),
    )
    assert code == 1 and "is a folder" in err.strip().splitlines()[-1] and "Traceback" not in err
    assert not list(tmp_path.rglob("*.tmp"))


def test_verbose_adds_the_details_after_the_one_line_message(files, tmp_path, capsys):
    bad = tmp_path / "i.csv"
    bad.write_text("who,item_id\na,i00\n")
    args = ["train", "--interactions", str(bad), "--items", str(files / "items.tsv"), "--out", str(tmp_path / "m")]
    code, _, err = main_run(capsys, *args)
    assert code == 1 and len(err.strip().splitlines()) == 1 and len(err.strip()) < 220
    code, _, err = main_run(capsys, "--verbose", *args)
    assert code == 1 and err.strip().splitlines()[1] == "Columns found: 'who', 'item_id'."


# -- options: help text, RecBole files, renames, id columns and training settings --------------


def test_every_option_of_every_command_has_help_text():
    import argparse

    from recsys_core.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [
        f"{name} {action.option_strings[-1]}"
        for name, sub in commands.choices.items()
        for action in sub._actions
        if action.option_strings and not (action.help or "").strip()
    ]
    assert not missing, missing


def test_the_defaults_train_help_states_are_the_library_defaults():
    from recsys_core.cli import TRAIN_SETTINGS
    from recsys_core.pipeline import FitOptions
    from recsys_core.training import TrainConfig

    for option, (_, shown, _) in TRAIN_SETTINGS.items():
        name = option[2:].replace("-", "_")
        actual = getattr(TrainConfig(), name) if hasattr(TrainConfig(), name) else getattr(FitOptions(), name)
        assert shown == actual, option


def test_train_passes_ids_renames_and_settings_to_the_library(tmp_path, capsys, monkeypatch):
    from recbole_files import ML_INTER, ML_ITEM, ML_USER
    from recsys_core import commands

    (tmp_path / "ml.inter").write_bytes(ML_INTER)
    # ids under other names in the items and users files: chosen with --items-item-col / --users-user-col
    (tmp_path / "ml.item").write_bytes(ML_ITEM.replace(b"item_id:token", b"movie_id:token", 1))
    (tmp_path / "ml.user").write_bytes(ML_USER.replace(b"user_id:token", b"uid:token", 1))
    seen = {}

    def fake_fit(dataset, options, progress=None, cancel=None, on_epoch=None):
        seen.update(dataset=dataset, options=options)
        raise commands.RecsysError("stopped by the test")

    monkeypatch.setattr(commands, "fit", fake_fit)
    code, _, err = main_run(
        capsys, "train", "--interactions", str(tmp_path / "ml.inter"), "--items", str(tmp_path / "ml.item"),
        "--users", str(tmp_path / "ml.user"), "--items-item-col", "movie_id", "--users-user-col", "uid",
        "--rename", "movie_title=title", "--rename", "class=genres", "--item-fields", "title,class",
        "--batch-size", "32", "--lr", "0.01", "--dim", "16", "--hidden", "24", "--negatives", "7", "--patience", "2",
        "--popular-negatives", "0.25", "--no-text-reference", "--out", str(tmp_path / "m"),
    )
    assert code == 1 and "stopped by the test" in err
    data, options = seen["dataset"], seen["options"]
    assert data.item_fields == ["title", "genres"] and "title" in data.items.columns
    assert data.users.set_index("user_id").loc["6", "zip_code"] == "02138"
    assert (options.train.batch_size, options.train.lr, options.train.negatives, options.train.patience) == (32, 0.01, 7, 2)
    assert options.train.popular_negatives == 0.25
    assert (options.dim, options.hidden) == (16, 24)
    assert options.text_reference is False


def test_train_without_settings_keeps_the_library_defaults(files, tmp_path, capsys, monkeypatch):
    from recsys_core import commands
    from recsys_core.pipeline import FitOptions
    from recsys_core.training import TrainConfig

    seen = {}
    monkeypatch.setattr(commands, "fit", lambda d, o, p=None, **_: (seen.update(options=o), (_ for _ in ()).throw(commands.RecsysError("stop")))[1])
    main_run(capsys, "train", "--interactions", str(files / "interactions.csv"), "--items", str(files / "items.tsv"), "--out", str(tmp_path / "m"))
    options = seen["options"]
    assert options.train.batch_size == TrainConfig().batch_size and options.train.lr == TrainConfig().lr
    assert (options.dim, options.hidden) == (FitOptions().dim, FitOptions().hidden)
    assert options.text_reference is True  # meaningful only with cold items or held-out users: fit decides


def _options_and_data_of_train(capsys, monkeypatch, files, tmp_path, *extra):
    """(code, stderr, FitOptions, Dataset) that ``train`` with ``extra`` arguments hands to ``fit``."""
    from recsys_core import commands

    seen = {}

    def fake_fit(dataset, options, progress=None, cancel=None, on_epoch=None):
        seen.update(dataset=dataset, options=options)
        raise commands.RecsysError("stopped by the test")

    monkeypatch.setattr(commands, "fit", fake_fit)
    code, _, err = main_run(capsys, "train", "--interactions", str(files / "interactions.csv"),
                            "--items", str(files / "items.tsv"), "--out", str(tmp_path / "m"), *extra)
    return code, err, seen.get("options"), seen.get("dataset")


def test_train_takes_a_history_window_and_can_ignore_ratings(files, tmp_path, capsys, monkeypatch):
    code, err, options, _ = _options_and_data_of_train(capsys, monkeypatch, files, tmp_path,
                                                       "--max-history", "5", "--ignore-ratings")
    assert code == 1 and "stopped by the test" in err
    assert options.max_history == 5 and options.use_ratings is False
    assert "note: Ratings are present but switched off" in err  # what the fit will do, said before it runs
    assert "note: history window set: 5 — covers 0% of users fully" in err  # every tiny user has 8 items


def test_train_defaults_to_the_auto_window_and_to_reading_ratings(files, tmp_path, capsys, monkeypatch):
    for extra in ((), ("--max-history", "auto")):
        code, err, options, _ = _options_and_data_of_train(capsys, monkeypatch, files, tmp_path, *extra)
        assert options.max_history is None and options.use_ratings is True
        assert "note: history window auto: 8 — covers 100% of users fully" in err
        assert "note: Ratings from 3 to 5 are used" in err


def test_the_history_window_help_states_the_librarys_cap_and_coverage():
    import argparse

    from recsys_core.cli import build_parser
    from recsys_core.pipeline import HISTORY_CAP, HISTORY_COVERAGE

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    text = " ".join(commands.choices["train"].format_help().split())
    assert f"enough for {HISTORY_COVERAGE:.0%} of the users' whole histories, at most {HISTORY_CAP}" in text


def test_min_rating_still_keeps_only_the_interactions_rated_at_least_that(files, tmp_path, capsys, monkeypatch):
    code, err, options, data = _options_and_data_of_train(capsys, monkeypatch, files, tmp_path, "--min-rating", "4")
    assert code == 1 and "stopped by the test" in err
    raw = pd.read_csv(files / "interactions.csv")
    assert len(data.interactions) == (raw["rating"] >= 4).sum() < len(raw)
    assert (data.interactions["rating"] >= 4).all()
    assert "below" in err  # the loader's notice of what was dropped reaches the terminal


def test_train_on_recbole_files_end_to_end(files, tmp_path, capsys):
    from recbole_files import ML_INTER, ML_ITEM, ML_USER
    from recsys_core import artifacts

    for name, data in (("ml.inter", ML_INTER), ("ml.item", ML_ITEM), ("ml.user", ML_USER)):
        (tmp_path / name).write_bytes(data)
    out = tmp_path / "model"
    code, stdout, err = main_run(
        capsys, "train", "--interactions", str(tmp_path / "ml.inter"), "--items", str(tmp_path / "ml.item"),
        "--users", str(tmp_path / "ml.user"), "--rename", "movie_title=title", "--epochs", "1", "--dim", "16",
        "--batch-size", "16", "--out", str(out), "--cache-dir", str(files / "cache"),
    )
    assert code == 0, err
    assert "note: Read the items file" in err and "RecBole atomic file" in err
    rec = artifacts.load(out)
    assert rec.model.config.dim == 16
    assert rec.catalog.item_fields == ["title", "release_year", "class"]
    assert "title: Toy Story | release_year: 1995 | class: Animation, Children's, Comedy" in [t.text for t in rec.catalog.item_texts]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--batch-size", "4"], "from 8 to 8192"),
        (["--lr", "nan"], "from 1e-05 to 1"),
        (["--dim", "sixty"], "whole number from 8 to 1024"),
        *[(["--max-history", v], "whole number from 1 to 500") for v in ("0", "501", "ten", "2.5")],
        (["--rename", "movie_title"], "expected OLD=NEW"),
        (["--rename", "a=b", "--rename", "a=c"], "two new names"),
    ],
)
def test_bad_training_settings_are_one_line(files, tmp_path, capsys, args, message):
    try:
        code, _, err = main_run(
            capsys, "train", "--interactions", str(files / "interactions.csv"), "--items", str(files / "items.tsv"),
            "--out", str(tmp_path / "m"), *args,
        )
    except SystemExit as exc:  # argparse's own exit
        code, err = exc.code, capsys.readouterr().err
    assert code in (1, 2) and message in err and len(err.strip().splitlines()) == 1, err


def test_explain_counterfactual_writes_the_checked_smallest_change(trained, tmp_path, capsys):
    from recsys_core import artifacts

    out, _ = trained
    js, page = tmp_path / "cf.json", tmp_path / "cf.html"
    code, stdout, err = main_run(capsys, "explain", "--model", str(out), "--user", "u02", "--item", "i04", "--method",
                                 "attention", "--counterfactual", "--k", "5", "--out", str(js), "--html", str(page))
    assert code == 0, err
    change = json.loads(js.read_text())["counterfactual"]
    assert change["k"] == 5 and change["summary"] in stdout
    assert "Smallest change to the history (top 5)" in page.read_text()
    rec = artifacts.load(out)
    ctx = rec.context("u02")
    before = "i04" in {r.item_id for r in rec.recommend_for(ctx, 5)}
    assert change["goal"] == ("leave" if before else "enter")
    if change["found"]:  # the written set really moves the item across the boundary when served
        removed = {r["item_id"] for r in change["removed"]}
        after = ctx.without([i for i, x in enumerate(ctx.history) if rec.catalog.item_ids[x] in removed])
        assert ("i04" in {r.item_id for r in rec.recommend_for(after, 5)}) is not before


def test_models_keeps_owners_versions_and_a_trash(tiny_model, tmp_path, capsys, monkeypatch):
    from recsys_core import artifacts

    monkeypatch.setattr("getpass.getuser", lambda: "osuser")
    folder = tmp_path / "trained"
    artifacts.save(tiny_model, folder)
    reg = ["models", "--models-dir", str(tmp_path / "models")]
    assert main_run(capsys, *reg, "save", "m", "--from", str(folder))[0] == 0
    code, _, err = main_run(capsys, *reg, "save", "m", "--from", str(folder))
    assert code == 1 and "already exists" in err and len(err.strip().splitlines()) == 1
    assert main_run(capsys, *reg, "save", "m", "--from", str(folder), "--replace", "--owner", "bob")[0] == 0
    assert "m\tbob\t" in main_run(capsys, *reg, "list")[1]
    lines = main_run(capsys, *reg, "versions", "m")[1].splitlines()
    assert [line.split("\t")[1] for line in lines] == ["bob", "osuser"] and lines[0].endswith("current")
    assert main_run(capsys, *reg, "restore", "m", lines[1].split("\t")[0])[0] == 0
    code, _, err = main_run(capsys, *reg, "delete", "m", "--confirm", "M")
    assert code == 1 and "type its name exactly" in err and (tmp_path / "models" / "m").is_dir()
    assert main_run(capsys, *reg, "delete", "m", "--confirm", "m")[0] == 0
    entry, name, by = main_run(capsys, *reg, "trash")[1].split("\t")[:3]
    assert name == "m" and by.startswith("deleted by osuser")
    assert main_run(capsys, *reg, "untrash", entry)[0] == 0
    current = [line for line in main_run(capsys, *reg, "versions", "m")[1].splitlines() if line.endswith("current")]
    assert [line.split("\t")[1] for line in current] == ["osuser"]  # the version put back before the delete


def test_train_with_sparse_id_updates_records_the_setting(files, tmp_path):
    result = run(
        "train", "--interactions", str(files / "interactions.csv"), "--items", str(files / "items.tsv"),
        "--out", str(tmp_path / "m"), "--epochs", "1", "--sparse-ids",
        "--cache-dir", str(files / "cache"),
    )
    assert result.returncode == 0, result.stderr
    settings = json.loads((tmp_path / "m" / "config.json").read_text())["settings"]
    assert settings["options"]["train"]["sparse_ids"] is True


def test_id_update_flags_record_the_choice_and_exclude_each_other(files, tmp_path):
    from recsys_core.cli import build_parser

    base = ["train", "--interactions", "i.csv", "--items", "t.csv", "--out", "m"]
    assert build_parser().parse_args(base).sparse_ids is None  # auto: by the catalogue's size
    assert build_parser().parse_args(base + ["--dense-ids"]).sparse_ids is False
    assert build_parser().parse_args(base + ["--sparse-ids"]).sparse_ids is True
    both = run(*base, "--sparse-ids", "--dense-ids")
    assert both.returncode == 2 and "not allowed with" in both.stderr
