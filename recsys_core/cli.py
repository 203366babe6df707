"""``python -m recsys_core``: train, recommend, evaluate and explain from the shell.

Every failure the user can fix ends with exit code 1 (2 for bad arguments)
and one readable line on stderr — the first line of the RecsysError; ``--verbose``
adds its details.  Anything unexpected is still one line (naming the exception
type), never a traceback unless ``--verbose`` asks for it.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .errors import RecsysError

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not the whole usage block
        self.exit(EXIT_USAGE, f"error: {message} (see `python -m recsys_core {self.prog.split()[-1]} --help`)\n")


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 0.9, got {text!r}") from None
    if not 0 <= value < 0.9:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 0.9, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {text!r}")
    return value


def _in_range(kind: type, low, high):
    """An argparse type for a ``kind`` (int or float) in [low, high]; nan and inf are refused."""
    what = "a whole number" if kind is int else "a number"
    expected = f"expected {what} from {low:g} to {high:g}"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{expected}, got {text!r}") from None
        if not low <= value <= high:  # also false for nan
            raise argparse.ArgumentTypeError(f"{expected}, got {text!r}")
        return value

    return parse


def _rename(text: str) -> tuple[str, str]:
    old, sep, new = text.partition("=")
    if not sep or not old.strip() or not new.strip():
        raise argparse.ArgumentTypeError(f"expected OLD=NEW, e.g. movie_title=title, got {text!r}")
    return old.strip(), new.strip()


# Model and optimiser settings the Train page offers, with the same ranges. The defaults live in
# TrainConfig / FitOptions (imported lazily: they pull in torch); the help text repeats them and
# tests/test_cli.py checks that it still says the truth.
TRAIN_SETTINGS = {
    # option: (type, shown default, help)
    "--batch-size": (_in_range(int, 8, 8192), 256, "training examples per batch, 8-8192"),
    "--lr": (_in_range(float, 1e-5, 1.0), 2e-3, "AdamW learning rate, 1e-05 to 1"),
    "--dim": (_in_range(int, 8, 1024), 64, "model dimension (item, user and id embeddings), 8-1024"),
    "--hidden": (_in_range(int, 8, 4096), 64, "hidden size of the scoring MLP, 8-4096"),
    "--negatives": (_in_range(int, 1, 100_000), 128, "sampled negatives per batch (softmax loss), 1-100000"),
    "--popular-negatives": (_in_range(float, 0.0, 1.0), 0.0,
                            "share of the negatives drawn by training popularity rather than uniformly, 0-1: popular "
                            "items then compete with every target, and fewer of them reach the lists; softmax loss only "
                            "(docs/model.md)"),
    "--patience": (_in_range(int, 1, 1000), 3, "epochs without a better validation NDCG@10 before stopping early, 1-1000"),
    "--max-minutes": (_in_range(float, 0.1, 100_000), None,
                      "stop before an epoch that would end past this many minutes of training (the best epoch is kept)"),
}


MAX_HISTORY_LIMIT = 500  # the longest window offered (Train page too); the memory of a batch grows with it


def _history_window(text: str) -> int | None:
    """--max-history: 'auto' (None) or a whole number of items."""
    return None if text.strip().lower() == "auto" else _in_range(int, 1, MAX_HISTORY_LIMIT)(text)


def _k(text: str) -> int | None:
    return None if text.lower() == "all" else _positive_int(text)


def _csv_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _add_data_args(p: argparse.ArgumentParser, items_required: bool) -> None:
    p.add_argument("--interactions", required=True, help="interactions file (CSV, TSV, Parquet or RecBole .inter)")
    p.add_argument("--items", required=items_required, help="item metadata file (CSV, TSV, Parquet or RecBole .item)")
    p.add_argument("--users", help="optional user profile file (CSV, TSV, Parquet or RecBole .user)")
    p.add_argument("--user-col", default="user_id", help="user id column of the interactions file (default: user_id)")
    p.add_argument("--item-col", default="item_id", help="item id column of the interactions file (default: item_id)")
    p.add_argument("--items-item-col", default="item_id", metavar="COL", help="item id column of the --items file (default: item_id)")
    p.add_argument("--users-user-col", default="user_id", metavar="COL", help="user id column of the --users file (default: user_id)")
    p.add_argument("--rating-col", help="rating column (default: 'rating' if present)")
    p.add_argument("--time-col", help="timestamp column, unix seconds or ISO dates (default: 'timestamp' if present)")
    p.add_argument("--min-rating", type=float, help="keep only interactions rated at least this (explicit → implicit)")
    p.add_argument("--rename", type=_rename, action="append", default=[], metavar="OLD=NEW",
                   help="rename an items/users column; the name is part of the text BERT reads "
                        "('title: Heat | …'), e.g. movie_title=title; repeat for more")


def _add_history_columns(p: argparse.ArgumentParser) -> None:
    """Columns of an --interactions file given to recommend, evaluate or explain."""
    p.add_argument("--user-col", default="user_id", help="user id column of --interactions (default: user_id)")
    p.add_argument("--item-col", default="item_id", help="item id column of --interactions (default: item_id)")
    p.add_argument("--time-col", help="timestamp column of --interactions (default: 'timestamp' if present, else row order)")


def _add_profiles(p: argparse.ArgumentParser) -> None:
    """A profiles file for users the model has not seen (recommend, explain)."""
    p.add_argument("--profiles", help="user profile file (CSV, TSV, Parquet or RecBole .user) for users the model has not seen: "
                                      "its columns named like the model's user fields are read, with or without --interactions")
    p.add_argument("--profiles-user-col", default="user_id", metavar="COL", help="user id column of --profiles (default: user_id)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m recsys_core", description="BERT-feature recommender: train, recommend, evaluate, explain.")
    parser.add_argument("--verbose", action="store_true", help="after an error's one-line message, print its details")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train, evaluate against baselines, save", description="Encode texts, train the hybrid model, evaluate it next to the baselines on the same split and save it.")
    _add_data_args(t, items_required=True)
    t.add_argument("--out", required=True, help="model directory to write (replaced atomically)")
    t.add_argument("--item-fields", type=_csv_list, help="item columns that become text, e.g. title,genres,description, by file or --rename name (default: every text-like column)")
    t.add_argument("--user-fields", type=_csv_list, help="user profile columns that become text, by file or --rename name (default: all)")
    t.add_argument("--encoder", default="all-MiniLM-L6-v2", help="Hugging Face BERT-family model id or local path (default: the bundled all-MiniLM-L6-v2)")
    t.add_argument("--pooling", choices=("mean", "cls", "max"), default="mean",
                   help="how token vectors become one text vector (default: mean)")
    t.add_argument("--epochs", type=_positive_int, default=30, help="maximum epochs (early stopping on validation NDCG@10)")
    for option, (kind, shown, text) in TRAIN_SETTINGS.items():
        default = "no limit" if shown is None else f"{shown:g}"
        t.add_argument(option, type=kind, default=None, help=f"{text} (default: {default})")
    t.add_argument("--max-history", type=_history_window, default=None, metavar="N",
                   help=f"how many of each user's latest history items the model reads, 1-{MAX_HISTORY_LIMIT}, or "
                        "'auto': enough for 90%% of the users' whole histories, at most 50 (default: auto)")
    t.add_argument("--ignore-ratings", action="store_true",
                   help="treat every interaction as a like and do not give the model the ratings "
                        "(default: with a rating column, the model reads each history item's rating)")
    ids = t.add_mutually_exclusive_group()
    ids.add_argument("--sparse-ids", dest="sparse_ids", action="store_true", default=None,
                     help="update the item id tables row by row (lazy Adam): a step costs what the batch touches, "
                          "not the catalogue (default: from 20,000 items on; docs/model.md)")
    ids.add_argument("--dense-ids", dest="sparse_ids", action="store_false",
                     help="update the whole item id tables at every step (AdamW), whatever the catalogue's size")
    t.add_argument("--seed", type=int, default=0, help="random seed: the same seed and data give the same model (default: 0)")
    t.add_argument("--split", choices=("leave-last-out", "temporal", "random"), default="leave-last-out",
                   help="evaluation split: each user's last items, a global time cut, or random per user (default: leave-last-out)")
    t.add_argument("--cold-items", type=_fraction, default=0.0, help="fraction of items held out of training entirely (cold-start slice)")
    t.add_argument("--holdout-users", type=_fraction, default=0.0, help="fraction of users never trained on (inductive slice)")
    t.add_argument("--no-text-reference", action="store_true",
                   help="with --cold-items or --holdout-users, skip the text-only reference (the same model with "
                        "item ids switched off, trained on the same split: it doubles training time, and without it "
                        "the cold-item and new-user slices cannot say whether text carries)")
    t.add_argument("--loss", choices=("softmax", "bpr"), default="softmax",
                   help="sampled softmax over shared negatives, or BPR with one negative per positive (default: softmax)")
    t.add_argument("--cache-dir", default=None, help="embedding cache directory (default: ~/.cache/recsys_core)")
    t.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="where texts missing from the cache are encoded: this process, or Ray workers (needs the scale extra)")
    t.add_argument("--ray-address", help="Ray cluster address (default: $RAY_ADDRESS, else a local Ray runtime for this run)")
    t.add_argument("--train-engine", choices=("local", "ray"), default="local",
                   help="where the model trains: this process, or data parallel on Ray Train workers, the same "
                        "batches and model (needs the scale extra; docs/distributed_training.md)")
    t.add_argument("--train-workers", type=_positive_int, metavar="N",
                   help="Ray Train workers with --train-engine ray (default: one per CPU of the Ray cluster)")
    t.add_argument("--train-storage", metavar="PATH_OR_URI",
                   help="with --train-engine ray on a cluster of several machines: a folder or URI every node can "
                        "write, where the best weights are checkpointed (default: a temporary folder)")

    r = sub.add_parser("recommend", help="top-K per user as CSV", description="Write user_id,item_id,rank,score for every requested user.")
    r.add_argument("--model", required=True, help="model directory written by train")
    r.add_argument("--k", type=_k, default=10, help="list length, or 'all' for the full catalogue")
    r.add_argument("--users", type=_csv_list, help="comma-separated user ids (default: every known user, or every user of --interactions and --profiles)")
    r.add_argument("--user", action="append", default=[], metavar="ID", help="one user id, taken as is (commas allowed); repeat for more")
    r.add_argument("--users-file", help="text file with one user id per line (UTF-8; blank lines ignored)")
    r.add_argument("--interactions", help="histories for users the model has not seen (recommended without retraining)")
    _add_history_columns(r)
    _add_profiles(r)
    r.add_argument("--include-seen", action="store_true", help="do not remove items the user already interacted with")
    r.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="where known users are scored: this process, or Ray workers that each load --model (needs the scale extra)")
    r.add_argument("--ray-address", help="Ray cluster address (default: $RAY_ADDRESS, else a local Ray runtime for this run)")
    r.add_argument("--out", required=True, help="CSV file to write")

    e = sub.add_parser("evaluate", help="metrics of a saved model on other data", description="Leave-last-out evaluation of a saved model and the baselines on the given interactions.")
    e.add_argument("--model", required=True, help="model directory written by train")
    e.add_argument("--interactions", required=True, help="interactions to evaluate on (each user's last one is held out)")
    _add_history_columns(e)
    e.add_argument("--out", help="optional JSON file for the metrics")

    x = sub.add_parser("explain", help="why was an item recommended to a user", description="Integrated gradients and attention for one (user, item) pair, as JSON (and optionally an HTML card).")
    x.add_argument("--model", required=True, help="model directory written by train")
    x.add_argument("--user", required=True, help="user id (known to the model, or present in --interactions or --profiles)")
    x.add_argument("--item", required=True, help="item id of the catalogue: why is it scored as it is for this user")
    x.add_argument("--interactions", help="history for a user the model has not seen")
    _add_history_columns(x)
    _add_profiles(x)
    x.add_argument("--method", choices=("ig", "attention", "all"), default="all",
                   help="integrated gradients, attention, or both (default: all)")
    x.add_argument("--steps", type=_positive_int, default=20, help="integration steps (Gauss-Legendre)")
    x.add_argument("--baseline", choices=("pad", "mask", "empty"), default="pad",
                   help="what integrated gradients start from: [PAD] tokens, [MASK] tokens or empty fields (default: pad)")
    x.add_argument("--out", required=True, help="JSON file to write")
    x.add_argument("--html", help="also write a self-contained HTML card")
    x.add_argument("--counterfactual", action="store_true",
                   help="also search the smallest set of history items whose removal moves the item across the "
                        "top-k boundary (out of it, or into it), checked by re-scoring the catalogue")
    x.add_argument("--k", type=_positive_int, default=10, help="the top-k of --counterfactual (default: 10)")
    x.add_argument("--full-attention", action="store_true",
                   help="keep every layer and head of the attention maps in the JSON (much larger file); "
                        "by default it keeps the last layer's head average and the rollout per text")
    m = sub.add_parser("models", help="the shared registry of named models: list, save, versions, delete, trash",
                       description="Named models in a shared folder ($RECSYS_MODELS_DIR, else ./models): who saved "
                                   "each, the versions a replace kept, and a trash deleted models stay in for a while.")
    m.add_argument("--models-dir", help="the registry folder (default: $RECSYS_MODELS_DIR, else ./models)")
    actions = m.add_subparsers(dest="action", required=True, parser_class=_Parser)
    actions.add_parser("list", help="saved models with their owners")
    ms = actions.add_parser("save", help="put a model folder written by `train --out` into the registry")
    ms.add_argument("name", help="the model's name: letters, digits, - and _")
    ms.add_argument("--from", dest="source", required=True, help="model folder written by train --out")
    ms.add_argument("--replace", action="store_true", help="replace a model of that name (its version is kept)")
    mv = actions.add_parser("versions", help="the kept versions of a model")
    mv.add_argument("name")
    mr = actions.add_parser("restore", help="make a kept version current again")
    mr.add_argument("name")
    mr.add_argument("version", help="a version id from `models versions NAME`")
    md = actions.add_parser("delete", help="move a model and its versions to the trash")
    md.add_argument("name")
    md.add_argument("--confirm", required=True, metavar="NAME", help="the model's name again: nothing is deleted "
                                                                     "unless it matches")
    actions.add_parser("trash", help="deleted models that can still be restored")
    mu = actions.add_parser("untrash", help="restore a deleted model under its name")
    mu.add_argument("entry", help="an entry from `models trash`")
    for action in (ms, mr, md, mu):
        action.add_argument("--owner", help="who does this, as shown to colleagues (default: your user name)")
    u = sub.add_parser("update", help="take new interactions, items and users into a saved model without retraining",
                       description="Add new items and users and extend histories, then continue training from the model's "
                                   "weights on the new interactions plus replayed old ones, validated on each user's newest "
                                   "interaction. The model updated is never changed: the result goes to --out, or to the "
                                   "registry as a new version of --name (the previous version is kept).")
    source = u.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="model directory written by train (then give --out)")
    source.add_argument("--name", help="a model of the shared registry: the update is saved as its new version")
    u.add_argument("--models-dir", help="the registry folder, with --name (default: $RECSYS_MODELS_DIR, else ./models)")
    u.add_argument("--owner", help="with --name: who saves the new version (default: your user name)")
    u.add_argument("--out", help="with --model: a new model directory to write (never the one being updated)")
    u.add_argument("--interactions", required=True, help="the new interactions (CSV, TSV, Parquet or RecBole .inter)")
    u.add_argument("--items", help="new items, and known items whose text changed, with the model's item fields")
    u.add_argument("--users", help="new or changed user profiles, with the model's user fields")
    _add_history_columns(u)
    u.add_argument("--rating-col", help="rating column of --interactions (default: 'rating' if present)")
    u.add_argument("--items-item-col", default="item_id", metavar="COL", help="item id column of --items (default: item_id)")
    u.add_argument("--users-user-col", default="user_id", metavar="COL", help="user id column of --users (default: user_id)")
    u.add_argument("--epochs", type=_in_range(int, 1, 1000), default=3, help="passes over the new and replayed examples, at most (default: 3)")
    u.add_argument("--replay", type=_in_range(float, 0, 100), default=3.0,
                   help="old training examples replayed per new one, so the model keeps what it knew (default: 3)")
    u.add_argument("--lr", type=_in_range(float, 1e-5, 1.0), help="learning rate (default: the model's own)")
    u.add_argument("--max-minutes", type=_in_range(float, 0.1, 100_000), default=10.0,
                   help="training budget in minutes; the best complete pass is kept (default: 10)")
    u.add_argument("--compare-retrain", action="store_true",
                   help="also train a model from scratch on all the data and report its NDCG on the same newest "
                        "interactions (takes as long as a training)")
    u.add_argument("--seed", type=int, default=0, help="random seed of the replay draw and training (default: 0)")
    u.add_argument("--cache-dir", default=None, help="embedding cache directory (default: ~/.cache/recsys_core)")
    u.add_argument("--report", help="optional JSON file for the update's report")

    c = sub.add_parser("compare", help="two saved models side by side on the same test cases",
                       description="Both models rank the same test users of the split they were trained on (no "
                                   "retraining): metrics at K=5/10/20 with paired 95%% intervals of B minus A and a "
                                   "verdict per slice, how their top-10 lists differ, the users B helps and hurts most.")
    c.add_argument("--a", required=True, metavar="MODEL_DIR", help="model directory of A (the reference)")
    c.add_argument("--b", required=True, metavar="MODEL_DIR", help="model directory of B (the variant)")
    c.add_argument("--a-name", help="how A is called in the output (default: its directory's name)")
    c.add_argument("--b-name", help="how B is called in the output (default: its directory's name)")
    c.add_argument("--users", type=_in_range(int, 0, 100), default=5, metavar="N",
                   help="users B helps and hurts most to list, 0-100 (default: 5)")
    c.add_argument("--out", help="optional JSON file with every number (per-user values and lists included)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from . import commands  # heavy imports only once the arguments are known to be fine

    try:
        return getattr(commands, args.command)(args)
    except RecsysError as exc:
        print(f"error: {exc.summary}", file=sys.stderr)
        if args.verbose and exc.details:
            print(exc.details, file=sys.stderr)
        return EXIT_ERROR
    except FileNotFoundError as exc:
        print(f"error: file not found: {exc.filename or exc}", file=sys.stderr)
        return EXIT_ERROR
    except PermissionError as exc:
        print(f"error: permission denied: {exc.filename or exc}", file=sys.stderr)
        return EXIT_ERROR
    except IsADirectoryError as exc:
        print(f"error: {exc.filename or exc} is a folder; give a file name", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:  # disk full, read-only file system, ...: the system's words are the clearest
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("error: interrupted; nothing was overwritten", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not the user's fault: still no traceback unless asked for
        if args.verbose:
            raise
        first = (str(exc).splitlines() or [""])[0][:150]
        print(f"error: unexpected {type(exc).__name__}: {first} (a bug: rerun with --verbose and report it)", file=sys.stderr)
        return EXIT_ERROR
