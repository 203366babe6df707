"""A hostile or unlucky user's inputs: every one gets a clear message, none a traceback, no file is lost.

Each case sets up a workspace (data files, a saved tiny model, a sentinel
folder of the analyst's own files), hashes every file in it, runs one bad
input and checks:

* CLI cases (``main(argv)`` in this process; three as real subprocesses):
  exit code non-zero, exactly one line on stderr starting with ``error:``, the
  expected words in it, no ``Traceback``, no "error: unexpected …" (the CLI's line for a bug);
* API cases: a ``RecsysError`` whose first line is under 200 characters and
  holds the expected words;
* afterwards every file that existed before still exists, byte for byte, and
  no ``*.tmp`` / ``.partial-*`` file was left behind.

The module prints one summary line: cases tried, clear messages, tracebacks,
files lost.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import tiny_tables
from recsys_core import artifacts, durable
from recsys_core.cli import main
from recsys_core.errors import SUMMARY_LIMIT, RecsysError

ROOT = Path(__file__).resolve().parent.parent
STATS = {"cases tried": 0, "clear messages": 0, "tracebacks": 0, "files lost": 0, "temporaries left": 0}


@pytest.fixture(scope="module", autouse=True)
def summary(request):
    yield
    line = "bad-input suite: " + ", ".join(f"{k} {v}" for k, v in STATS.items())
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is not None:
        with capture.global_and_fixture_disabled():  # shown in the CI log even without -s
            print("\n" + line)
    else:  # pragma: no cover
        print(line)


@pytest.fixture(scope="module")
def base_model(tiny_model, tmp_path_factory) -> Path:
    return artifacts.save(tiny_model, tmp_path_factory.mktemp("bad-inputs") / "model")


@pytest.fixture
def ws(tmp_path, base_model, monkeypatch) -> Path:
    """Workspace: data/, model/, sentinel/ (the analyst's files), cwd and HOME both point at it."""
    interactions, items, users = tiny_tables()
    (tmp_path / "data").mkdir()
    interactions.to_csv(tmp_path / "data" / "interactions.csv", index=False)
    items.to_csv(tmp_path / "data" / "items.csv", index=False)
    users.to_csv(tmp_path / "data" / "users.csv", index=False)
    shutil.copytree(base_model, tmp_path / "model")
    (tmp_path / "sentinel" / "chapter").mkdir(parents=True)
    (tmp_path / "sentinel" / "thesis.txt").write_text("four years of work")
    (tmp_path / "sentinel" / "chapter" / "one.md").write_text("# One")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


# -- the cases --------------------------------------------------------------------------------

D = "data/"
TRAIN = ["train", "--interactions", D + "interactions.csv", "--items", D + "items.csv", "--out", "newmodel"]


def write(ws: Path, name: str, content: bytes | str) -> str:
    path = ws / D / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return D + name


def train_with(interactions: str | None = None, items: str | None = None, *extra: str) -> Callable[[Path], list[str]]:
    argv = list(TRAIN)
    if interactions:
        argv[2] = interactions
    if items:
        argv[4] = items
    return lambda ws: argv + list(extra)


def train_file(role: str, name: str, content: bytes | str, *extra: str):
    def setup(ws: Path) -> list[str]:
        path = write(ws, name, content)
        return train_with(path if role == "interactions" else None, path if role == "items" else None, *extra)(ws)

    return setup


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return buffer.getvalue()


def damage(file: str, how: Callable[[Path], None], *argv: str):
    """Damage one file of the workspace's model, then run a command on it (recommend by default)."""

    def setup(ws: Path) -> list[str]:
        how(ws / "model" / file)
        return [*(argv or ["recommend", "--out", "recs.csv"]), "--model", "model"]

    return setup


def edit_json(change: Callable[[object], object]) -> Callable[[Path], None]:
    def how(path: Path) -> None:
        path.write_text(json.dumps(change(json.loads(path.read_text()))))

    return how


def truncate(n: int | float) -> Callable[[Path], None]:
    def how(path: Path) -> None:
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * n) if isinstance(n, float) else n])

    return how


def set_key(key: str, value) -> Callable[[dict], dict]:
    return lambda d: {**d, key: value}


def drop_key(key: str) -> Callable[[dict], dict]:
    return lambda d: {k: v for k, v in d.items() if k != key}


def out_of_range_history(path: Path) -> None:
    from safetensors.numpy import load_file, save_file

    vectors = load_file(str(path))
    vectors["history_items"] = vectors["history_items"].copy()
    vectors["history_items"][3] = 999
    save_file(vectors, str(path))


def changed_dim(path: Path) -> None:
    config = json.loads(path.read_text())
    config["model"]["dim"] = 32
    path.write_text(json.dumps(config))


def model_sizes(**sizes) -> Callable[[Path], None]:
    """A config.json that claims other model sizes than its weights have (issue 19: 3 GB allocated first)."""
    def how(path: Path) -> None:
        config = json.loads(path.read_text())
        config["model"].update(sizes)
        path.write_text(json.dumps(config))

    return how


def users_file(content: bytes | str):
    def setup(ws: Path) -> list[str]:
        return ["recommend", "--model", "model", "--users-file", write(ws, "ids.txt", content), "--out", "r.csv"]

    return setup


@dataclass
class Case:
    id: str
    setup: Callable[[Path], list[str] | Callable[[], object]]  # argv for the CLI, or a callable for an API case
    expect: str  # words the message must contain (case-insensitive)
    subprocess: bool = False
    notes: list[str] = field(default_factory=list)


GOOD_ITEMS = "item_id,title\ni00,Drama story\n"
CASES = [
    # -- unreadable or wrong interaction files
    Case("empty file", train_file("interactions", "e.csv", b""), "is empty"),
    Case("only blanks", train_file("interactions", "b.csv", "  \n\n \n"), "is empty"),
    Case("only a BOM", train_file("interactions", "bom.csv", b"\xef\xbb\xbf"), "is empty"),
    Case("header only", train_file("interactions", "h.csv", "user_id,item_id\n"), "no rows"),
    Case("binary garbage", train_file("interactions", "g.csv", bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8))), "csv"),
    Case("excel workbook", train_file("interactions", "x.csv", b"PK\x03\x04" + b"\x00" * 100), "excel"),
    Case("legacy xls", train_file("interactions", "x.xls", b"\xd0\xcf\x11\xe0" + b"\x00" * 100), "excel"),
    Case("gzip", train_file("interactions", "z.csv", b"\x1f\x8b\x08" + b"\x00" * 50), "gzip"),
    Case("utf-16 with BOM", train_file("interactions", "u.csv", "user_id,item_id\nu00,i00\n".encode("utf-16")), "utf-16"),
    Case("utf-16 without BOM", train_file("interactions", "u.csv", "user_id,item_id\nu00,i00\n".encode("utf-16-le")), "utf-16"),
    Case("latin-1", train_file("interactions", "l.csv", "user_id,item_id\nJosé,i00\n".encode("latin-1")), "not utf-8"),
    Case("nul byte", train_file("interactions", "n.csv", b"user_id,item_id\nu00\x00,i00\n"), "nul byte"),
    Case("pipe delimiter", train_file("interactions", "p.csv", "user_id|item_id\nu00|i00\n"), "no column 'user_id'"),
    Case("ragged row", train_file("interactions", "r.csv", "user_id,item_id\nu00,i00,extra,more\n"), "more values than the header"),
    Case("unterminated quote", train_file("interactions", "q.csv", 'user_id,item_id\nu00,"i00\n' + "x" * 100), "could not be read"),
    Case("missing user column", train_file("interactions", "m.csv", "who,item_id\na,i00\n"), "no column 'user_id'"),
    Case("missing item column", train_file("interactions", "m.csv", "user_id,what\nu00,x\n"), "no column 'item_id'"),
    Case("blank user id", train_file("interactions", "b.csv", "user_id,item_id\n,i00\nu01,i01\n"), "no user id"),
    Case("year 10000 and text dates", train_file("interactions", "t.csv", "user_id,item_id,timestamp\nu00,i00,10000-01-01\nu00,i01,soon\n"), "timestamp"),
    Case("text ratings", train_file("interactions", "r.csv", "user_id,item_id,rating\nu00,i00,five\n"), "not a number"),
    Case("min rating without ratings", train_file("interactions", "n.csv", "user_id,item_id\nu00,i00\n", "--min-rating", "3"), "no rating column"),
    Case("min rating above all", lambda ws: TRAIN + ["--min-rating", "99"], "no interactions are left"),
    Case("duplicate columns", train_file("interactions", "d.csv", "user_id,item_id,item_id\nu00,i00,i01\n"), "two columns named"),
    Case("parquet named but csv", train_file("interactions", "p.parquet", "user_id,item_id\nu00,i00\n"), "not one"),
    Case("truncated parquet", lambda ws: train_with(write(ws, "t.parquet", parquet_bytes(tiny_tables()[0])[:300]))(ws), "truncated"),
    Case("nul in parquet ids", lambda ws: train_with(write(ws, "n.parquet", parquet_bytes(pd.DataFrame({"user_id": ["u\x00", "u"], "item_id": ["i00", "i01"]}))))(ws), "nul character"),
    Case("interactions is a folder", lambda ws: train_with("sentinel")(ws), "is a folder"),
    Case("interactions missing", lambda ws: train_with("data/nope.csv")(ws), "does not exist"),
    Case("unknown time column", lambda ws: TRAIN + ["--time-col", "when"], "no column 'when'"),
    # -- items and users files
    Case("items missing", lambda ws: train_with(None, "data/nope.csv")(ws), "does not exist"),
    Case("items header only", train_file("items", "i.csv", "item_id,title\n"), "no rows"),
    Case("items duplicate ids", train_file("items", "i.csv", "item_id,title\ni00,a\ni00,b\n"), "more than one row"),
    Case("items without text columns", train_file("items", "i.csv", "item_id,budget\ni00,5\n"), "no text"),
    Case("unknown item field", lambda ws: TRAIN + ["--item-fields", "plot"], "not exist"),
    Case("no item has text", train_file("items", "i.csv", "item_id,title\nx1,Drama story\n"), "no interacted item has text"),
    Case("users duplicate ids", lambda ws: TRAIN + ["--users", write(ws, "u.csv", "user_id,about\nu00,a\nu00,b\n")], "more than one row"),
    Case("user fields without users file", lambda ws: TRAIN + ["--user-fields", "about"], "no users file"),
    Case("missing item id column in items", train_file("items", "i.csv", "id,title\ni00,a\n"), "no column 'item_id'"),
    # -- RecBole atomic files and renamed fields
    Case("recbole .inter without user column", train_file("interactions", "ml.inter", "item_id:token\trating:float\ni00\t4\n"), "no column 'user_id'"),
    Case("recbole .item without item column", train_file("items", "ml.item", "movie_id:token\ttitle:token_seq\ni00\tHeat\n"), "--items-item-col"),
    Case("recbole names clash once untyped", train_file("interactions", "ml.inter", "user_id:token\titem_id:token\trating:float\trating:token\nu00\ti00\t4\t4\n"), "once the recbole types are removed"),
    Case("recbole text rating", train_file("interactions", "ml.inter", "user_id:token\titem_id:token\trating:float\nu00\ti00\tfive\n"), "not a number"),
    Case("unknown items id column", lambda ws: TRAIN + ["--items-item-col", "movie_id"], "no column 'movie_id'"),
    Case("rename unknown column", lambda ws: TRAIN + ["--rename", "movie_title=title"], "cannot rename 'movie_title'"),
    Case("rename onto a column", lambda ws: TRAIN + ["--rename", "title=genres"], "already has a column"),
    Case("rename an id", lambda ws: TRAIN + ["--rename", "item_id=id"], "id column"),
    Case("rename without =", lambda ws: TRAIN + ["--rename", "title"], "expected old=new"),
    Case("batch size 0", lambda ws: TRAIN + ["--batch-size", "0"], "from 8 to 8192"),
    Case("learning rate inf", lambda ws: TRAIN + ["--lr", "inf"], "from 1e-05 to 1"),
    Case("popular negatives with BPR", lambda ws: TRAIN + ["--loss", "bpr", "--popular-negatives", "0.5"],
         "softmax loss only"),
    # -- where a model is written: nothing of the analyst's is replaced
    Case("--out is a file", lambda ws: TRAIN[:-1] + ["sentinel/thesis.txt"], "is a file"),
    Case("--out is a folder of other files", lambda ws: TRAIN[:-1] + ["sentinel"], "not a recsys_core model"),
    Case("--out is .", lambda ws: TRAIN[:-1] + ["."], "not a recsys_core model"),
    Case("--out is ~", lambda ws: TRAIN[:-1] + ["~"], "not a recsys_core model"),
    Case("--out is a folder with a subfolder", lambda ws: TRAIN[:-1] + ["sentinel/.."], "not a recsys_core model", subprocess=True),
    # -- bad arguments
    Case("no command", lambda ws: [], "required"),
    Case("unknown command", lambda ws: ["serve"], "invalid choice"),
    Case("unknown option", lambda ws: TRAIN + ["--colour", "red"], "unrecognized"),
    Case("k zero", lambda ws: ["recommend", "--model", "model", "--k", "zero", "--out", "r.csv"], "whole number", subprocess=True),
    Case("k negative", lambda ws: ["recommend", "--model", "model", "--k", "-3", "--out", "r.csv"], "at least 1"),
    Case("epochs zero", lambda ws: TRAIN + ["--epochs", "0"], "at least 1"),
    Case("cold items 2", lambda ws: TRAIN + ["--cold-items", "2"], "between 0 and 0.9"),
    Case("bad pooling", lambda ws: TRAIN + ["--pooling", "median"], "invalid choice"),
    Case("train without --out", lambda ws: TRAIN[:-2], "required"),
    # -- models that are missing or damaged
    Case("model missing", lambda ws: ["recommend", "--model", "nomodel", "--out", "r.csv"], "no model directory"),
    Case("model is a file", lambda ws: ["recommend", "--model", "sentinel/thesis.txt", "--out", "r.csv"], "is a file"),
    Case("empty weights", damage("weights.safetensors", truncate(0)), "weights.safetensors is empty"),
    Case("truncated weights", damage("weights.safetensors", truncate(0.5)), "truncated", subprocess=True),
    Case("weights of 7 bytes", damage("weights.safetensors", truncate(7)), "truncated"),
    Case("truncated vectors", damage("vectors.safetensors", truncate(0.3)), "vectors.safetensors is truncated"),
    Case("config is a list", damage("config.json", edit_json(lambda d: [d])), "json list"),
    Case("config not json", damage("config.json", lambda p: p.write_text("{oops")), "not valid json"),
    Case("format version as text", damage("config.json", edit_json(set_key("format_version", "1"))), "must be the number 1"),
    Case("format version 99", damage("config.json", edit_json(set_key("format_version", 99))), "format version 99"),
    Case("config without model", damage("config.json", edit_json(drop_key("model"))), "no 'model' entry"),
    Case("changed dim", damage("config.json", changed_dim), "does not match"),
    Case("config claims 10M items", damage("config.json", model_sizes(n_items=10_000_000)), "saved (41,), config (10000001,)"),
    Case("config claims 10^12 items", damage("config.json", model_sizes(n_items=10**12)), "does not match"),
    Case("config claims dim 16384", damage("config.json", model_sizes(dim=16384, hidden=16384)), "does not match"),
    Case("config claims -5 items", damage("config.json", model_sizes(n_items=-5)), "sizes no model can have"),
    Case("catalog missing item_ids", damage("catalog.json", edit_json(drop_key("item_ids"))), "no 'item_ids' entry"),
    Case("catalog not utf-8", damage("catalog.json", lambda p: p.write_bytes(b"\xff\xfe{}")), "not utf-8"),
    Case("history index out of range", damage("vectors.safetensors", out_of_range_history), "outside the 40 items"),
    Case("metrics missing", damage("metrics.json", lambda p: p.unlink()), "missing metrics.json"),
    Case("train log wrong shape", damage("train_log.json", edit_json(lambda d: {"epoch": 1})), "unexpected layout"),
    Case("damaged model for evaluate", damage("weights.safetensors", truncate(0), "evaluate", "--interactions", "data/interactions.csv"), "weights.safetensors is empty"),
    # -- recommend, evaluate, explain specifics
    Case("unknown user", lambda ws: ["recommend", "--model", "model", "--user", "ghost", "--out", "r.csv"], "ghost"),
    Case("id with comma", lambda ws: ["recommend", "--model", "model", "--user", "u00,u01", "--out", "r.csv"], "'u00,u01'"),
    Case("users file missing", lambda ws: ["recommend", "--model", "model", "--users-file", "ids.txt", "--out", "r.csv"], "does not exist"),
    Case("users file utf-16", users_file("u00\nu01\n".encode("utf-16-le")), "not utf-8"),
    Case("users file empty", users_file("\n \n"), "no user ids"),
    Case("recommend --out is a folder", lambda ws: ["recommend", "--model", "model", "--out", "sentinel"], "is a folder"),
    Case("evaluate on unknown items", lambda ws: ["evaluate", "--model", "model", "--interactions", write(ws, "x.csv", "user_id,item_id\nz,x1\nz,x2\n")], "2 or more interactions"),
    Case("explain --html is a folder", lambda ws: ["explain", "--model", "model", "--user", "u00", "--item", "i04", "--out", "e.json", "--html", "sentinel"], "is a folder"),
    Case("explain --out is a folder", lambda ws: ["explain", "--model", "model", "--user", "u00", "--item", "i04", "--out", "sentinel"], "is a folder"),
    Case("compare --a missing", lambda ws: ["compare", "--a", "nowhere", "--b", "model"], "--a nowhere does not exist"),
    Case("compare --out is a folder", lambda ws: ["compare", "--a", "model", "--b", "model", "--out", "sentinel"], "is a folder"),
    Case("models delete with the name typed wrong", lambda ws: ["models", "--models-dir", "sentinel", "delete", "thesis", "--confirm", "these"], "type its name exactly"),
    Case("models restore an unknown version", lambda ws: ["models", "--models-dir", "models", "restore", "m", "v1"], "no kept version"),
    Case("models untrash an unknown entry", lambda ws: ["models", "--models-dir", "models", "untrash", "m.1"], "nothing in the trash"),
    Case("models save with a control character in --owner", lambda ws: ["models", "--models-dir", "models", "save", "m", "--from", "model", "--owner", "a\nb"], "owner label"),
    Case("models save from a folder of other files", lambda ws: ["models", "--models-dir", "models", "save", "m", "--from", "sentinel"], "incomplete"),
]


def _api(func: Callable[[Path], object]):
    return lambda ws: (lambda: func(ws))


def _registry(ws: Path):
    from recsys_core.registry import ModelRegistry

    return ModelRegistry(ws / "models")


def _load(ws: Path):
    return artifacts.load(ws / "model")


def _tamper(folder: Path) -> None:
    """A saved model's item text changed in place: still a loadable model, only its fingerprint tells."""
    catalog = json.loads((folder / "catalog.json").read_text())
    catalog["item_texts"][0]["text"] = "planted"
    (folder / "catalog.json").write_text(json.dumps(catalog))


API_CASES = [
    Case("registry name with newline", _api(lambda ws: _registry(ws).check_name("ok\n")), "control characters"),
    Case("registry name with escape", _api(lambda ws: _registry(ws).check_name("a\x1b[31m")), "control characters"),
    Case("registry unknown model", _api(lambda ws: _registry(ws).load("ghost")), "no saved model named 'ghost'"),
    Case("registry overwrite a foreign folder", _api(lambda ws: (shutil.copytree(ws / "sentinel", ws / "models" / "notes"), _registry(ws).save(_load(ws), "notes", overwrite=True))), "not a recsys_core model"),
    Case("registry model changed after saving", _api(lambda ws: (_registry(ws).save(_load(ws), "m"), _tamper(ws / "models" / "m"), _registry(ws).load("m"))), "changed after saving"),
    Case("registry version changed after saving", _api(lambda ws: (_registry(ws).save(_load(ws), "m"), _registry(ws).save(_load(ws), "m", overwrite=True), _tamper(_registry(ws).versions("m")[1].path), _registry(ws).restore_version("m", _registry(ws).versions("m")[1].id))), "changed after saving"),
    Case("registry delete with the name typed wrong", _api(lambda ws: (_registry(ws).save(_load(ws), "m"), _registry(ws).delete("m", confirm="M"))), "type its name exactly"),
    Case("registry delete a folder it did not make", _api(lambda ws: (shutil.copytree(ws / "sentinel", ws / "models" / "notes"), _registry(ws).delete("notes", confirm="notes"))), "not a saved model"),
    Case("registry owner with an escape", _api(lambda ws: _registry(ws).save(_load(ws), "m", owner="\x1b[31mboss")), "owner label"),
    Case("save over a file", _api(lambda ws: artifacts.save(_load(ws), ws / "sentinel" / "thesis.txt")), "is a file"),
    Case("save over a foreign folder", _api(lambda ws: artifacts.save(_load(ws), ws / "sentinel")), "not a recsys_core model"),
    Case("table over the size limit", _api(lambda ws: __import__("recsys_core.loading").loading.read_table(ws / "data" / "interactions.csv", max_bytes=100)), "over the"),
    Case("unknown pooling", _api(lambda ws: __import__("recsys_core.encoder").encoder.EncoderConfig(pooling="median")), "pooling"),
    Case("unknown user (API)", _api(lambda ws: _load(ws).recommend("ghost", 5)), "ghost"),
    Case("unknown item (API)", _api(lambda ws: _load(ws).item_position("nope")), "nope"),
    Case("csv export to a folder", _api(lambda ws: __import__("recsys_core.exports").exports.write_csv(pd.DataFrame({"a": [1]}), ws / "sentinel")), "is a folder"),
]


def _run_cli(argv: list[str], use_subprocess: bool, capsys) -> tuple[int, str]:
    if use_subprocess:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
        done = subprocess.run([sys.executable, "-m", "recsys_core", *argv], capture_output=True, text=True, env=env)
        return done.returncode, done.stderr
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own exit for bad arguments
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - an escaped exception is exactly what this suite hunts
        capsys.readouterr()
        return -1, traceback.format_exc()
    return code, capsys.readouterr().err


@pytest.mark.parametrize("case", CASES + API_CASES, ids=lambda c: c.id)
def test_bad_input_gets_a_clear_message_and_loses_nothing(case: Case, ws: Path, capsys):
    prepared = case.setup(ws)
    before = _hashes(ws)
    STATS["cases tried"] += 1
    if callable(prepared):
        with pytest.raises(RecsysError) as info:
            try:
                prepared()
            except RecsysError:
                raise
            except BaseException:
                STATS["tracebacks"] += 1
                raise
        message = str(info.value)
        first = info.value.summary
    else:
        code, err = _run_cli(prepared, case.subprocess, capsys)
        lines = [line for line in err.splitlines() if line.strip()]
        bug = code == -1 or "Traceback" in err or "error: unexpected " in err  # the CLI's line for an uncaught error
        STATS["tracebacks"] += bug
        assert not bug, err
        assert code not in (0, -1), err
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        message = first = lines[0]
    assert "\x00" not in message
    assert len(first) < SUMMARY_LIMIT + len("error: "), first
    assert case.expect.lower() in first.lower(), first

    after = _hashes(ws)
    lost = [p for p, h in before.items() if after.get(p) != h]
    STATS["files lost"] += len(lost)
    assert not lost, lost
    # Our temporaries are whatever durable.parse_temporary recognises (files, or any folder on the way).
    left = [p for p in after if p.endswith(".tmp") or "/.partial-" in p
            or any(durable.parse_temporary(ws / Path(*Path(p).parts[: n + 1])) for n in range(len(Path(p).parts)))]
    STATS["temporaries left"] += len(left)
    assert not left, left
    STATS["clear messages"] += 1


def test_the_suite_is_large_enough():
    assert len(CASES) + len(API_CASES) >= 60
    assert sum(c.subprocess for c in CASES) >= 3
