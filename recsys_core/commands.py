"""The work behind each CLI command (argument parsing lives in ``cli``)."""
from __future__ import annotations

import json
import sys
from argparse import Namespace
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from . import artifacts
from .batch import RECOMMENDATION_COLUMNS, recommend_all, recommendation_rows
from .compare import Comparison, compare_models
from .encoder import EncoderConfig
from .errors import RecsysError
from .evaluation import MODEL_NAME, EvaluationReport
from .exports import write_csv, write_output
from .loading import NewUser, load_dataset, load_increment, load_new_users
from .metrics import metric_table
from .parallel import Engine
from .pipeline import FIT_STAGES, FitOptions, fit, history_window, rating_mode
from .pipeline import evaluate as evaluate_model
from .ratings import RatingScale, liked
from .recommender import Recommender
from .registry import ModelRegistry
from .schema import ColumnMap, USER
from .splits import Split, SplitConfig, last_out_case
from .training import EpochLog, TrainConfig, budget_advice
from .update import UPDATE_STAGES, UpdateOptions, update_model


class _Bar:
    """Progress on stderr: a tqdm bar on a terminal; in a log (not a terminal), only whole lines.

    A log gets one line per stage and per epoch (printed by the callers) and one
    line when a counted step such as encoding finishes, never the thousands of
    carriage-return updates a bar writes.
    """

    def __init__(self, interactive: bool | None = None) -> None:
        self.bar = None
        self.training = False
        self.last = ""  # the last count printed to a log (the encoder reports its end twice)
        self.interactive = sys.stderr.isatty() if interactive is None else interactive

    def stage(self, name: str) -> None:
        self.close()
        print(f"· {name}", file=sys.stderr)

    def progress(self, fraction: float, message: str) -> None:
        """``fit``'s progress: a line per stage; within a stage a bar (terminal) or its last count (log)."""
        if message in FIT_STAGES:
            self.stage(message)
            self.training = message.startswith("training")  # the model, then its text-only reference
            return
        if not self.interactive:
            # A log gets the finished count of encoding; epochs get their own line with loss and NDCG.
            if fraction >= 1.0 and not self.training and message != self.last:
                print(f"  {message} done", file=sys.stderr)
                self.last = message
            return
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=1000, file=sys.stderr, leave=False, dynamic_ncols=True, bar_format="{l_bar}{bar}")
        self.bar.set_description_str(message, refresh=False)
        self.bar.n = round(1000 * min(max(fraction, 0.0), 1.0))
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _columns(args: Namespace) -> ColumnMap:
    return ColumnMap(
        user=args.user_col, item=args.item_col, rating=getattr(args, "rating_col", None), timestamp=args.time_col
    )


# CLI settings (argparse destinations) that go to TrainConfig and FitOptions when given;
# left out, the library's defaults apply.
TRAIN_OPTIONS = ("batch_size", "lr", "negatives", "popular_negatives", "patience", "max_minutes")
MODEL_OPTIONS = ("dim", "hidden", "max_history")


def _given(args: Namespace, names: tuple[str, ...]) -> dict:
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def _renames(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """--rename OLD=NEW pairs as a mapping; naming a column twice is a mistake worth a message."""
    renames: dict[str, str] = {}
    for old, new in pairs:
        if old in renames and renames[old] != new:
            raise RecsysError(f"--rename gives '{old[:40]}' two new names ('{renames[old][:40]}' and '{new[:40]}'): keep one.")
        renames[old] = new
    return renames


def print_report(report: EvaluationReport, out=None) -> None:
    out = out or sys.stdout  # looked up per call: a default bound at import would keep a replaced (e.g. closed) stream
    print(f"Protocol: {report.protocol}", file=out)
    for s in report.slices:
        title = f"[{s.name}] {s.n_cases} users" + (f" — {s.note}" if s.note else "")
        print(f"\n{title}", file=out)
        table = metric_table(s.metrics, report.ks)
        extra = [c for c in ("Coverage@10", "Diversity@10") if any(c in m for m in s.metrics.values())]
        for c in extra:
            table[c] = [s.metrics[m].get(c, float("nan")) for m in table.index]
        with pd.option_context("display.width", 200, "display.max_columns", 40, "display.precision", 4):
            print(table.to_string(float_format=lambda v: f"{v:.4f}"), file=out)
        for other, by_metric in s.paired.items():
            p = by_metric.get("NDCG@10")
            if p is not None:
                noise = "beyond noise" if p.beyond_noise else "within noise"
                print(f"{MODEL_NAME} − {other}, NDCG@10 on the same {p.n_cases} users: {p.diff:+.4f} ± "
                      f"{p.diff_ci95:.4f} (95% interval, {noise})", file=out)
    if report.text_reference is not None:
        print(f"\n{report.text_reference.describe()}", file=out)


def train(args: Namespace) -> int:
    artifacts.check_output_dir(args.out)  # refuse a wrong --out before minutes of training, not after
    if args.train_engine != "ray" and (args.train_workers or args.train_storage):
        raise RecsysError(f"--train-{'workers' if args.train_workers else 'storage'} needs --train-engine ray.")
    dataset = load_dataset(
        args.interactions,
        args.items,
        args.users,
        columns=_columns(args),
        item_fields=args.item_fields,
        user_fields=args.user_fields,
        min_rating=args.min_rating,
        item_id_col=args.items_item_col,
        user_id_col=args.users_user_col,
        rename=_renames(args.rename),
    )
    for notice in dataset.notices:
        print(f"{'warning' if notice.is_warning else 'note'}: {notice.message}", file=sys.stderr)
    bar = _Bar()

    def epoch_line(e: EpochLog) -> None:
        bar.close()
        print(f"  epoch {e.epoch}: loss {e.loss:.4f}, validation NDCG@10 {e.val_ndcg10:.4f} ({e.seconds:.1f}s)",
              file=sys.stderr)

    options = FitOptions(
        encoder=EncoderConfig(name=args.encoder, pooling=args.pooling),
        split=SplitConfig(kind=args.split, cold_items=args.cold_items, holdout_users=args.holdout_users, seed=args.seed),
        train=TrainConfig(epochs=args.epochs, seed=args.seed, loss=args.loss, sparse_ids=args.sparse_ids,
                          **_given(args, TRAIN_OPTIONS)),
        cache_dir=args.cache_dir,
        engine=Engine(args.engine, address=args.ray_address),
        train_engine=Engine(args.train_engine, address=args.ray_address, workers=args.train_workers),
        train_storage=args.train_storage,
        use_ratings=not args.ignore_ratings,
        text_reference=not args.no_text_reference,
        **_given(args, MODEL_OPTIONS),
    )
    print(f"note: {rating_mode(dataset, options)}", file=sys.stderr)
    print(f"note: history window {history_window(dataset, options).describe()}", file=sys.stderr)
    recommender = fit(dataset, options, bar.progress, on_epoch=epoch_line)
    bar.close()
    path = artifacts.save(recommender, args.out)
    print_report(recommender.report)
    advice = budget_advice(recommender.training, recommender.train_log)
    if advice:
        print(f"\nnote: {advice}", file=sys.stderr)
    print(f"\nSaved to {path}", file=sys.stderr)
    return 0


def new_users_from_files(args: Namespace, recommender: Recommender) -> dict[str, NewUser]:
    """The users described by ``--interactions`` and ``--profiles`` (either may be absent)."""
    profiles = getattr(args, "profiles", None)
    if profiles and not recommender.catalog.user_fields:
        raise RecsysError(f"This model was trained without user profiles, so it cannot read --profiles {profiles}: "
                          "leave it out, or train with --users.")
    if not (args.interactions or profiles):
        return {}
    return load_new_users(args.interactions, profiles, columns=_columns(args),
                          profile_id_col=getattr(args, "profiles_user_col", USER),
                          profile_fields=recommender.catalog.user_fields)


def read_id_file(path: str | Path) -> list[str]:
    """Ids from a text file, one per line (surrounding spaces and blank lines ignored)."""
    path = Path(path)
    if not path.is_file():
        raise RecsysError(f"The users file {path} {'is a folder' if path.is_dir() else 'does not exist'}: give a text file with one user id per line.")
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data:
        raise RecsysError(f"The users file {path} is not UTF-8 text (UTF-16 or binary): save it as UTF-8, one user id per line.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RecsysError(f"The users file {path} is not UTF-8 text (byte {exc.start}): save it as UTF-8, one user id per line.") from None
    ids = list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))
    if not ids:
        raise RecsysError(f"The users file {path} holds no user ids: write one id per line.")
    return ids


def _requested_users(args: Namespace) -> list[str]:
    """--users (comma-separated), every --user, then --users-file, in that order, without repeats."""
    ids = list(args.users or []) + [u.strip() for u in args.user if u.strip()]
    if args.users_file:
        ids += read_id_file(args.users_file)
    return list(dict.fromkeys(ids))


def recommend(args: Namespace) -> int:
    if Path(args.out).is_dir():
        raise RecsysError(f"--out {args.out} is a folder: give a CSV file name, e.g. {Path(args.out) / 'recommendations.csv'}.")
    requested = _requested_users(args)
    recommender = artifacts.load(args.model)
    given = new_users_from_files(args, recommender)
    users = requested or (sorted(given) if given else recommender.known_users())
    exclude_seen = not args.include_seen
    new = [u for u in users if u in given and u not in recommender.catalog.histories]
    new_set = set(new)
    known = [u for u in dict.fromkeys(users) if u not in new_set]
    # Known users are scored in batches (on Ray workers with --engine ray); new users from their given history.
    if args.engine == "ray":
        for user in known:
            recommender.context(user)  # an unknown id is one clear error before any Ray work starts
        known_rows = recommend_all(args.model, known, args.k, exclude_seen=exclude_seen,
                                   engine=Engine("ray", address=args.ray_address))
    else:
        known_rows = recommendation_rows(recommender, known, args.k, exclude_seen)
    by_user = {u: list(g.itertuples(index=False, name=None)) for u, g in known_rows.groupby("user_id", sort=False)}
    for user in new:
        recs = recommender.recommend_from_history(given[user].items, args.k, profile=given[user].profile,
                                                  ratings=given[user].ratings, exclude_seen=exclude_seen)
        by_user[user] = [(user, r.item_id, r.rank, r.score) for r in recs]
    rows = [(u, i, rank, float(f"{score:.6f}")) for user in users for u, i, rank, score in by_user.get(user, [])]
    table = pd.DataFrame(rows, columns=RECOMMENDATION_COLUMNS)
    table = table.astype({"user_id": object, "item_id": object})
    out = write_csv(table, args.out)  # ids from uploads may start with '=': neutralised (recsys_core.exports)
    print(f"Wrote {len(rows)} recommendations for {len(users)} users to {out}", file=sys.stderr)
    return 0


def evaluate(args: Namespace) -> int:
    """Leave-last-out on the given file: the model and baselines (fitted on the model's own data)."""
    recommender = artifacts.load(args.model)
    catalog = recommender.catalog
    histories = {u: user for u, user in new_users_from_files(args, recommender).items() if user.items}
    scale = RatingScale(*recommender.model.config.rating_scale) if recommender.reads_ratings else None
    cases = []
    for user, given in histories.items():
        # Items outside the catalogue are skipped with their ratings; with ratings the held-out item is a like.
        known = np.array([i in catalog.item_index for i in given.items], dtype=bool)
        ratings = np.asarray(given.ratings, dtype=np.float32)[known] if scale is not None and given.ratings else None
        case = last_out_case(user, catalog.indices(given.items), ratings,
                             liked(ratings, scale) if ratings is not None else None)
        if case is not None:
            cases.append(case)
    if not cases:
        raise RecsysError(
            f"No user in {args.interactions} has 2 or more interactions with items of this model's catalogue; "
            "evaluation needs a history and a held-out last item per user."
        )
    targets = {u: liked(r, scale) for u, r in catalog.ratings.items()} if scale is not None else {}
    split = Split(SplitConfig(), dict(catalog.histories), [], cases, train_targets=targets)
    report = evaluate_model(recommender.model, catalog, split)
    report.protocol = (
        f"leave-last-out on {args.interactions}: each user's last interaction is ranked against the full catalogue "
        f"given the earlier ones (masked); baselines fitted on the model's training data; {len(cases)} users."
    )
    print_report(report)
    if args.out:
        write_output(args.out, json.dumps(report.to_dict(), indent=2).encode(), "metrics.json")
    return 0


def explain(args: Namespace) -> int:
    for option, value in (("--out", args.out), ("--html", args.html)):
        if value and Path(value).is_dir():  # before minutes of attribution, and before any file is written
            raise RecsysError(f"{option} {value} is a folder: give a file name, e.g. {Path(value) / 'explanation'}.")
    recommender = artifacts.load(args.model)
    ctx = None
    if args.user not in recommender.catalog.histories and (args.interactions or args.profiles):
        given = new_users_from_files(args, recommender).get(args.user)
        if given is None:
            files = " or ".join(f for f in (args.interactions, args.profiles) if f)
            raise RecsysError(f"User {args.user!r} is neither known to the model nor present in {files}.")
        ctx = replace(recommender.new_user_context(given.items, given.profile, given.ratings), user_id=args.user)
    from .explain.cli import run_explain  # here: captum and the explain package load only for this command

    return run_explain(args, recommender, ctx)


def models(args: Namespace) -> int:
    """The shared registry: one action per call; what changed goes to stderr, listings to stdout."""
    registry = ModelRegistry(args.models_dir)
    owner = getattr(args, "owner", None)
    if args.action == "list":
        for i in registry.list():
            print(f"{i.name}\t{i.owner}\t{i.saved_at}\t{len(registry.versions(i.name))} version(s)")
    elif args.action == "save":
        info = registry.save(artifacts.load(args.source), args.name, overwrite=args.replace, owner=owner)
        print(f"Saved {info.name} (by {info.owner}) in {info.path}", file=sys.stderr)
    elif args.action == "versions":
        registry.check_name(args.name)
        if not registry.exists(args.name) and not registry.versions(args.name):
            raise RecsysError(registry.unknown(args.name))
        for v in registry.versions(args.name):
            print(f"{v.id}\t{v.owner}\t{v.saved_at}{chr(9) + 'current' if v.current else ''}")
    elif args.action == "restore":
        info = registry.restore_version(args.name, args.version, by=owner)
        print(f"{info.name}: version {info.version} is current again", file=sys.stderr)
    elif args.action == "delete":
        entry = registry.delete(args.name, confirm=args.confirm, by=owner)
        print(f"Moved {entry.name} to the trash as {entry.id} (restorable until {entry.expires_at})", file=sys.stderr)
    elif args.action == "trash":
        for t in registry.trash():
            print(f"{t.id}\t{t.name}\tdeleted by {t.deleted_by} at {t.deleted_at}\tuntil {t.expires_at}")
    elif args.action == "untrash":
        info = registry.untrash(args.entry, by=owner)
        print(f"Restored {info.name} from the trash", file=sys.stderr)
    return 0


def update(args: Namespace) -> int:
    """An incremental update of a model folder (to a new --out) or of a registry model (a new version)."""
    registry = ModelRegistry(args.models_dir) if args.name else None
    if args.model:
        if not args.out:
            raise RecsysError("--model needs --out: a new folder for the updated model (the model updated is kept as it is).")
        if Path(args.out).expanduser().absolute() == Path(args.model).expanduser().absolute():
            raise RecsysError(f"--out {args.out} is the model being updated: give a new folder (the previous model is "
                              "kept), or update a registry model with --name, which keeps its versions.")
        artifacts.check_output_dir(args.out)
    elif args.out:
        raise RecsysError("--out goes with --model; with --name the update is saved as the model's new version.")
    recommender = registry.load(registry.check_name(args.name)) if registry else artifacts.load(args.model)
    increment = load_increment(args.interactions, args.items, args.users,
                               columns=ColumnMap(user=args.user_col, item=args.item_col, rating=args.rating_col,
                                                 timestamp=args.time_col),
                               item_id_col=args.items_item_col, user_id_col=args.users_user_col)
    bar = _Bar()

    def progress(fraction: float, message: str) -> None:
        if message in UPDATE_STAGES:
            bar.stage(message)
            bar.training = message == "updating"  # a log gets pass lines, not every batch's count
        else:
            bar.progress(fraction, message)

    def epoch_line(e: EpochLog) -> None:
        bar.close()
        print(f"  pass {e.epoch}: loss {e.loss:.4f}, NDCG@10 on the newest interactions {e.val_ndcg10:.4f} "
              f"({e.seconds:.1f}s)", file=sys.stderr)

    options = UpdateOptions(epochs=args.epochs, replay=args.replay, lr=args.lr, max_minutes=args.max_minutes,
                            compare_retrain=args.compare_retrain, seed=args.seed, cache_dir=args.cache_dir)
    result = update_model(recommender, increment, options, progress, on_epoch=epoch_line)
    bar.close()
    if registry:
        info = registry.save(result.recommender, args.name, overwrite=True, owner=args.owner)
        where = f"{info.name} as its new version (the previous one is kept: `models versions {info.name}`)"
    else:
        where = str(artifacts.save(result.recommender, args.out))
    for line in result.report.lines():
        print(line)
    if args.report:
        write_output(args.report, json.dumps(result.report.to_dict(), indent=2).encode(), "update.json")
    print(f"\nSaved to {where}", file=sys.stderr)
    return 0


def print_comparison(comparison: Comparison, users: int = 5, out=None) -> None:
    """Every slice's metrics for A and B with the paired difference, its 95% interval and the verdict; then how
    the lists differ and the users B helps and hurts most (the numbers ``Comparison.to_dict`` holds)."""
    out = out or sys.stdout
    a, b = comparison.a_name, comparison.b_name
    print(f"A = {a}, B = {b}\nProtocol: {comparison.protocol}", file=out)
    for s in comparison.slices:
        print(f"\n[{s.name}] {s.n_cases} users" + (f" — {s.note}" if s.note else ""), file=out)
        table = s.table("A", "B")
        table["95% interval"] = [f"[{lo:+.4f}, {hi:+.4f}]" for lo, hi in zip(table["low"], table["high"])]
        table["beyond noise"] = ["yes" if m.beyond_noise else "no" for m in s.metrics.values()]
        shown = table[["metric", "A", "B", "B − A", "95% interval", "beyond noise"]]
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(shown.to_string(index=False, formatters={c: "{:.4f}".format for c in ("A", "B")}
                                  | {"B − A": "{:+.4f}".format}), file=out)
        print(f"Verdict: {s.metrics['NDCG@10'].verdict(a, b)}", file=out)
    lists = comparison.lists
    if lists is not None:
        print(f"\nLists (top {lists.k} of the test users): overlap@{lists.k} {lists.overlap:.3f}, rank-biased overlap "
              f"{lists.rbo:.3f} (1 = the same lists)", file=out)
        print(f"Catalogue coverage: A {lists.coverage_a:.1%}, B {lists.coverage_b:.1%}; mean popularity of a listed "
              f"item: A {lists.popularity_a:.1f}, B {lists.popularity_b:.1f} training interactions", file=out)
        for title, counts in (("Entering B's lists most often", lists.entering), ("Leaving them most often", lists.leaving)):
            if counts:
                print(f"{title}: " + "; ".join(f"{c.title or c.item_id} ({c.item_id}) in {c.users}" for c in counts[:5]),
                      file=out)
    test = comparison.slices[0]
    for helped in (True, False):
        rows = test.users(users, helped)
        if not rows.empty:
            print(f"Users B {'helps' if helped else 'hurts'} most (NDCG@10 A → B): " + "; ".join(
                f"{r.user_id} {r.A:.3f} → {r.B:.3f}" for r in rows.itertuples()), file=out)
    print(f"\nCompared in {comparison.seconds:.1f} s.", file=out)


def compare(args: Namespace) -> int:
    """Two saved models on the same test cases, without retraining either."""
    if args.out and Path(args.out).is_dir():  # said before a minute of ranking, not after
        raise RecsysError(f"{args.out} is a folder: give a file name, e.g. {Path(args.out) / 'comparison.json'}.")
    models = []
    for option, path in (("--a", args.a), ("--b", args.b)):
        if not Path(path).is_dir():
            raise RecsysError(f"{option} {path} {'is a file' if Path(path).exists() else 'does not exist'}: give a "
                              "model directory written by train (or saved from the dashboard).")
        models.append(artifacts.load(path))
    names = (args.a_name or Path(args.a).resolve().name, args.b_name or Path(args.b).resolve().name)
    bar = _Bar()
    comparison = compare_models(*models, *names, progress=bar.progress)
    bar.close()
    print_comparison(comparison, args.users)
    if args.out:
        write_output(args.out, json.dumps(comparison.to_dict(), indent=2).encode(), "comparison.json")
    return 0
