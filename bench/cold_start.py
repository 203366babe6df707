"""Cold items and new users (issue 17): the product's model against a text-only reference, on one split.

    python bench/cold_start.py [--case demo 100k] [--epochs N] [--max-minutes M] [--seed 0] [--id-dropout 0.5]
                               [--variant NAME:KEY=VALUE,...]... [--warm-variants [NAME ...]] [--no-text-only]

For each case (bench/cases.py; ``1m`` is accepted but slow) every model is trained with
``recsys_core.fit`` on ONE split, ``SplitConfig(cold_items=0.1, holdout_users=0.2, seed)``:

* **product**: ``FitOptions()`` as shipped (only the split is set);
* **text-only**: ``pipeline.reference_options`` of the same (item ids switched off): the same text
  vectors, no id embeddings and no item bias, as the Evaluation page's reference;
* **Random**: ``evaluation.random_scorer``.

All three are evaluated by ``evaluation.evaluate_all`` on the same cases: warm test (last item
of trained users), cold items (each user's cold items, ranked among the cold items only) and
inductive users (users held out of training: their last warm item given the earlier ones and
their profile, if any), each with a 95% interval over users.

**New user vs warm, the same users.** A second product model is trained on the split with
``holdout_users=0`` (same seed, so the same cold items; the held-out users' items but the last
two are now trained on) and scored on the inductive users' very same cases (same history, same
target, whole catalogue).  The ratio new-user / warm says what not having trained on a user costs.

Ratios are of means; next to each, the paired difference over the same users with its 95%
interval (``recsys_core.evaluation.paired_comparison``, the one the Evaluation page shows) says
whether the gap is more than noise.  The text-only model is trained here explicitly (the fits set
``text_reference=False``) so that it can be scored next to the extra variants.  ``--id-dropout X`` adds, in the same run, the
product model trained with ``ModelConfig.id_dropout = X`` (default 0.5) on the same split;
``--variant NAME:KEY=VALUE,...`` (repeatable) adds the product trained with those FitOptions or
TrainConfig fields (e.g. ``gate:evidence_gate=true,text_loss=1``), compared with text-only and with
the product on the same cases; ``--warm-variants`` gives the named variants (none named: all) their
own warm run.  Every warm run is also compared with its model on the test users, whom both trained
on: that ratio is what the warm run's extra data buys everyone, so the new-user ratio below it is
what is specific to not having trained on those users.  ``--no-text-only`` skips the text-only reference, for screening
variants against the product only.  Each epoch's validation NDCG is printed as it ends.
Everything is seeded; each step's wall time is printed.  Run it alone (2 cores).

Run time (demo, 2026-12-01, alone, epochs as shipped): product 197 s (incl. 31 s encoding; best
epoch 6), text-only 790 s (best epoch 22: it converges far slower, so ``--max-minutes`` or a low
``--epochs`` cuts it short and favours the product), ``--id-dropout 0.5`` 206 s (best epoch 12),
evaluation 18 s, the warm run (25% more users) a few minutes (best epoch 5, stopped at 8): about
25 min for the demo case with ``--id-dropout``.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recsys_core from a checkout, installed or not

from recsys_core.evaluation import (
    MODEL_NAME,
    TEXT_ONLY_NAME,
    CaseScorer,
    EvaluationReport,
    evaluate_all,
    model_scorer,
    paired_comparison,
    random_scorer,
)
from recsys_core.metrics import PairedDifference
from recsys_core.pipeline import FitOptions, reference_options
from recsys_core.pipeline import fit as fit_model
from recsys_core.recommender import Recommender
from recsys_core.schema import Dataset
from recsys_core.splits import EvalCase, SplitConfig, make_split
from recsys_core.training import TrainConfig

TEXT_ONLY = TEXT_ONLY_NAME
RANDOM = "Random"
METRIC = "NDCG@10"
SAMPLE_SEED = 0  # evaluate_all's user sample (above MAX_RANKED_PAIRS) and the paired comparisons use the same one
COLD, NEW_USERS = "cold items", "inductive users"  # evaluate_all's slice names


def split_config(seed: int = 0) -> SplitConfig:
    """The one split of issue 17's measurements."""
    return SplitConfig(cold_items=0.1, holdout_users=0.2, seed=seed)


@dataclass
class ColdStartResult:
    """One case's measurement.

    report: ``evaluate_all`` of product, text-only, Random (and any extra variant) on test, cold items
    and inductive users.  cold_vs_text: product (a) vs text-only (b) on the cold-item cases.
    new_vs_warm: the product on the inductive users (a) vs the warm-run product on the same cases (b);
    None without a warm run.  seconds: wall time of each step, in order.
    """

    report: EvaluationReport
    models: dict[str, Recommender]
    cold_vs_text: PairedDifference | None
    new_vs_warm: PairedDifference | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    # Further paired comparisons of the same run, printed as they are: (label, pair).
    more: list[tuple[str, PairedDifference]] = field(default_factory=list)


def paired(a: CaseScorer, b: CaseScorer, cases: Sequence[EvalCase], n_items: int,
           candidates: np.ndarray | None = None) -> PairedDifference:
    """``METRIC`` of two scorers on the same cases, as ``evaluate_all`` picks and ranks them."""
    return paired_comparison(a, b, cases, n_items, METRIC, candidates, seed=SAMPLE_SEED)


def measure(
    dataset: Dataset,
    options: FitOptions,
    warm_run: bool = True,
    id_dropout: float | None = None,
    say: Callable[[str], None] = lambda _line: None,
    on_evaluated: Callable[[ColdStartResult], None] | None = None,
    variants: dict[str, FitOptions] | None = None,
    text_only: bool = True,
    warm_variants: bool | Sequence[str] = False,
) -> ColdStartResult:
    """Train product, text-only (and the warm product, and any variant) on ``options.split``.

    ``options.split`` must hold out users and cold items (``split_config``).  Baselines are not
    fitted (``Random`` is the floor here); ``say`` hears each step as it ends, ``on_evaluated`` the
    result before the warm runs start (so a stopped run still leaves the main table).
    ``variants`` (name → options on the same split) are trained and compared in the same run;
    ``warm_variants`` gives each (True) or the named ones their own warm run too.  ``text_only=False``
    skips the text-only reference (screening only: no ratio to text-only is printed).
    """
    if not (options.split.cold_items > 0 and options.split.holdout_users > 0):
        raise ValueError(f"The split must hold out cold items and users, got {options.split}.")
    options = replace(options, baselines=False, text_reference=False)  # the text-only model is fitted below
    variants = {name: replace(v, split=options.split, baselines=False, text_reference=False) for name, v in (variants or {}).items()}
    if id_dropout is not None:
        variants[f"{MODEL_NAME} id_dropout={id_dropout}"] = replace(options, id_dropout=id_dropout)
    seconds: dict[str, float] = {}

    def fit(data: Dataset, fit_options: FitOptions) -> Recommender:  # the library's fit, each epoch said as it ends
        return fit_model(data, fit_options, on_epoch=lambda e: say(
            f"    epoch {e.epoch}: loss {e.loss:.4f}, validation NDCG@10 {e.val_ndcg10:.4f} ({e.seconds:.0f} s)"))

    def step(name: str, run):
        started = time.perf_counter()
        value = run()
        seconds[name] = time.perf_counter() - started
        extra = ""
        if isinstance(value, Recommender):
            extra = f" (best epoch {value.training.best_epoch}, {value.training.stopped})"
        say(f"  {name}: {seconds[name]:.1f} s{extra}")
        return value

    product = step("fit product", lambda: fit(dataset, options))
    models = {MODEL_NAME: product}
    if text_only:
        models[TEXT_ONLY] = step("fit text-only", lambda: fit(dataset, reference_options(options)))
    for name, variant in variants.items():
        models[name] = step(f"fit {name}", lambda variant=variant: fit(dataset, variant))
    catalog = product.catalog
    split = make_split(dataset.interactions, catalog, options.split)
    scorers: dict[str, CaseScorer] = {name: model_scorer(rec.model, catalog) for name, rec in models.items()}
    scorers[RANDOM] = random_scorer(catalog.n_items, options.split.seed)
    more: list[tuple[str, PairedDifference]] = []

    def evaluate():
        report = evaluate_all(scorers, split, catalog, seed=SAMPLE_SEED)
        cold_vs_text = None
        if text_only:
            cold_vs_text = paired(scorers[MODEL_NAME], scorers[TEXT_ONLY], split.cold_test, catalog.n_items, split.cold_items)
            for name in variants:
                more.append((f"cold items, {name} / text-only",
                             paired(scorers[name], scorers[TEXT_ONLY], split.cold_test, catalog.n_items, split.cold_items)))
        for name in variants:
            more.append((f"cold items, {name} / product",
                         paired(scorers[name], scorers[MODEL_NAME], split.cold_test, catalog.n_items, split.cold_items)))
            more.append((f"test, {name} / product", paired(scorers[name], scorers[MODEL_NAME], split.test, catalog.n_items)))
        return report, cold_vs_text

    report, cold_vs_text = step("evaluate (all slices)", evaluate)
    result = ColdStartResult(report, models, cold_vs_text, seconds=seconds, more=more)
    if on_evaluated is not None:
        on_evaluated(result)
    if warm_run:
        chosen = variants if warm_variants is True else {n: v for n, v in variants.items() if n in (warm_variants or ())}
        warm_runs = {MODEL_NAME: options, **chosen}
        for name, base in warm_runs.items():
            warm_options = replace(base, split=replace(options.split, holdout_users=0.0))
            label = "warm run" if name == MODEL_NAME else f"warm run of {name}"
            warm = step(f"fit {name}, warm run (no users held out)", lambda warm_options=warm_options: fit(dataset, warm_options))
            warm_split = make_split(dataset.interactions, warm.catalog, warm_options.split)
            if not np.array_equal(warm_split.cold_items, split.cold_items):
                raise RuntimeError("The warm run's split has other cold items: the comparison would not be like for like.")
            models[label] = warm
            warm_scorer = model_scorer(warm.model, catalog)
            new_vs_warm = step(f"evaluate new users vs warm ({name})",
                               lambda warm_scorer=warm_scorer, name=name: paired(
                                   scorers[name], warm_scorer, split.inductive_test, catalog.n_items))
            # The same comparison on users both models trained on: what the warm run's extra data alone buys.
            trained_vs_warm = paired(scorers[name], warm_scorer, split.test, catalog.n_items)
            if name == MODEL_NAME:
                result.new_vs_warm = new_vs_warm
            else:
                more.append((f"new users, {name} / its warm run", new_vs_warm))
            more.append((f"test users (trained in both), {name} / its warm run", trained_vs_warm))
    return result


def format_result(case: str, result: ColdStartResult) -> str:
    """The printed table and ratios of one case (markdown, pasted into docs/benchmarks.md as is)."""
    report = result.report
    lines = [f"### {case}", "", f"Protocol: {report.protocol}", ""]
    names = list(report.slices[0].metrics)
    header = "| " + " | ".join([f"{METRIC} ± 95%"] + [f"{s.name} ({s.n_cases} users)" for s in report.slices]) + " |"
    lines += [header, "|" + "---|" * (len(report.slices) + 1)]
    for name in names:
        cells = []
        for s in report.slices:
            value = s.metrics.get(name, {}).get(METRIC, math.nan)
            half = s.ci95.get(name, {}).get(METRIC, math.nan)
            cells.append(f"{value:.4f} ± {half:.4f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")

    def ratio_line(label: str, p: PairedDifference) -> str:
        return (f"- {label}: {p.a:.4f} / {p.b:.4f} = **{p.ratio:.2f}** "
                f"(paired difference {p.diff:+.4f} ± {p.diff_ci95:.4f}, {p.n_cases} users)")

    if result.cold_vs_text is not None:
        lines.append(ratio_line("cold items, product / text-only", result.cold_vs_text))
    cold = report.slice(COLD)
    if cold is not None:
        to_random = cold.metrics[MODEL_NAME][METRIC] / cold.metrics[RANDOM][METRIC] if cold.metrics[RANDOM][METRIC] > 0 else math.nan
        lines.append(f"- cold items, product / Random: {cold.metrics[MODEL_NAME][METRIC]:.4f} / "
                     f"{cold.metrics[RANDOM][METRIC]:.4f} = **{to_random:.2f}**")
    if result.new_vs_warm is not None:
        lines.append(ratio_line("new users, product / the same users' cases in the warm run", result.new_vs_warm))
    for label, pair in result.more:
        lines.append(ratio_line(label, pair))
    lines.append("")
    lines.append("Training: " + "; ".join(
        f"{name} best epoch {rec.training.best_epoch} ({rec.training.stopped})" for name, rec in result.models.items()))
    lines.append("Wall time: " + "; ".join(f"{name} {s:.0f} s" for name, s in result.seconds.items())
                 + f"; total {sum(result.seconds.values()) / 60:.1f} min")
    return "\n".join(lines)


def parse_variant(spec: str, options: FitOptions) -> tuple[str, FitOptions]:
    """``"name:key=value,key=value"`` → (name, options with those FitOptions / TrainConfig fields set)."""
    name, _, settings = spec.partition(":")
    if not name or not settings:
        raise ValueError(f"expected NAME:KEY=VALUE,..., got {spec!r}")
    fit_fields = {f.name: f for f in fields(FitOptions)}
    train_fields = {f.name: f for f in fields(TrainConfig)}
    fit_changes, train_changes = {}, {}
    for item in settings.split(","):
        key, _, raw = item.partition("=")
        key = key.strip()
        current = getattr(options, key) if key in fit_fields else getattr(options.train, key, None)
        if key not in fit_fields and key not in train_fields or not isinstance(current, (bool, int, float)):
            raise ValueError(f"{key!r} is not a number or switch of FitOptions or TrainConfig")
        if isinstance(current, bool):
            if raw.lower() not in ("true", "false"):
                raise ValueError(f"{key} takes true or false, got {raw!r}")
            value = raw.lower() == "true"
        else:
            value = type(current)(raw)
        (fit_changes if key in fit_fields else train_changes)[key] = value
    return name, replace(options, train=replace(options.train, **train_changes), **fit_changes)


def main() -> None:
    from cases import CASES, load_case

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", nargs="+", default=["demo", "100k"], choices=list(CASES))
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs, help="at most this many epochs per model")
    parser.add_argument("--max-minutes", type=float, default=None, help="training budget per model")
    parser.add_argument("--seed", type=int, default=0, help="split and training seed")
    parser.add_argument("--id-dropout", type=float, default=None, help="also train the product with this id dropout")
    parser.add_argument("--no-warm-run", action="store_true", help="skip the warm run (no new-user / warm ratio)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:KEY=VALUE,...",
                        help="also train the product with these settings (FitOptions or TrainConfig fields), "
                             "e.g. 'gate:evidence_gate=true,text_loss=1'; repeatable")
    parser.add_argument("--warm-variants", nargs="*", default=None, metavar="NAME",
                        help="a warm run for these variants too (no name: for every variant)")
    parser.add_argument("--no-text-only", action="store_true",
                        help="skip the text-only reference (screening variants against the product only)")
    args = parser.parse_args()
    train = TrainConfig(epochs=args.epochs, max_minutes=args.max_minutes, seed=args.seed)
    options = FitOptions(split=split_config(args.seed), train=train)
    try:
        variants = dict(parse_variant(spec, options) for spec in args.variant)
    except ValueError as exc:
        raise SystemExit(f"--variant: {exc}") from None
    unknown = sorted(set(args.warm_variants or ()) - set(variants))
    if unknown:
        raise SystemExit(f"--warm-variants: no --variant is named {unknown[0]!r}")
    warm_variants = True if args.warm_variants == [] else (args.warm_variants or False)
    print(f"bench/cold_start.py {' '.join(sys.argv[1:])} — {time.strftime('%Y-%m-%d %H:%M')}", flush=True)
    for case in args.case:
        started = time.perf_counter()
        print(f"\n[{case}] loading", flush=True)
        data = load_case(case)
        print(f"  loading: {time.perf_counter() - started:.1f} s", flush=True)
        result = measure(data, options, warm_run=not args.no_warm_run, id_dropout=args.id_dropout,
                         variants=variants, text_only=not args.no_text_only, warm_variants=warm_variants,
                         say=lambda line: print(line, flush=True),
                         on_evaluated=lambda r: print("\n" + format_result(f"{case} (before the warm run)", r) + "\n", flush=True))
        print("\n" + format_result(case, result), flush=True)
        print(f"[{case}] done in {(time.perf_counter() - started) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
