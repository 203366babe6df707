"""Encoder adaptation (issue 17, section 2): does LoRA fine-tuning of the BERT encoder on co-interaction pairs help?

    python bench/finetune.py [--case demo] [--steps 60 160] [--minutes M] [--seed 0]

On ONE split, ``bench/cold_start.split_config(seed)`` (10% cold items, 20% held-out users), the
product model (``recsys_core.fit``, ``FitOptions()`` as shipped, baselines off) is trained twice
or more, same split, same seed:

* **frozen**: on the shipped all-MiniLM-L6-v2 vectors;
* **LoRA n steps**: on vectors of the same encoder after ``n`` steps of LoRA fine-tuning (``peft``).

The fine-tuning objective is collaborative: an item and the next different item in a user's *training*
sequence (``Split.train``: no cold item, no held-out user, no validation or test target) are a
positive pair; the other items of the batch are the negatives (symmetric InfoNCE over cosine
similarities at temperature 0.05 — the recipe MiniLM was trained with — on the encoder's own
mean pooling, ``recsys_core.encoder.pool``).  The pairs are checked against the split before any
step runs.  After fine-tuning the LoRA weights are merged into a copy of the encoder, saved to a
temporary directory, and ``fit`` re-encodes the whole catalogue (items and profiles) through it
with a fresh cache directory, so frozen and adapted vectors never share a cache entry.

All models are evaluated by ``evaluation.evaluate_all`` on the same cases (warm test, cold items
ranked among the cold items, held-out users) with 95% intervals, and each adapted model is compared
with the frozen one case by case (``evaluation.paired_comparison``: the paired difference and its interval).

The machine's cores are shared, so budgets are given in optimizer **steps** (``--steps``, each one
batch of ``--batch`` pairs, i.e. 2 × batch texts forward and backward); ``--minutes`` additionally
caps the run's wall time.  One run goes to the largest budget and the adapter is saved after each
smaller one (the learning rate is constant, so a snapshot after n steps is a run of n steps).
Each run prints its steps, wall seconds and process CPU seconds per step; with ``--threads 1``
(the default: two torch threads on contended cores ran three times slower) CPU seconds per step
are what a step costs on one idle core.

Result (demo, seed 0, 2026-12-02, ``--steps 60 160``, shared cores, 62.8 min end to end): cold items
+0.0050 ± 0.0077 after 160 steps (within the noise), warm test +0.0112 ± 0.0107; so the product
does not fine-tune.  Full table and reading: docs/model.md, "Encoder adaptation (LoRA)".
"""
from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recsys_core from a checkout, installed or not
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling bench modules

from cold_start import COLD, METRIC, NEW_USERS, RANDOM, SAMPLE_SEED, split_config  # noqa: E402

from recsys_core.encoder import EncoderConfig, TextEncoder, pool, resolve_encoder_path  # noqa: E402
from recsys_core.evaluation import EvaluationReport, evaluate_all, model_scorer, paired_comparison, random_scorer  # noqa: E402
from recsys_core.metrics import PairedDifference  # noqa: E402
from recsys_core.pipeline import FitOptions, fit  # noqa: E402
from recsys_core.recommender import Recommender  # noqa: E402
from recsys_core.splits import Split, make_split  # noqa: E402
from recsys_core.training import TrainConfig  # noqa: E402

FROZEN = "frozen MiniLM"
WARM = "test"  # evaluate_all's name of the warm test slice


@dataclass(frozen=True)
class LoraSettings:
    """One fine-tuning run.  ``steps``: optimizer steps; ``max_minutes``: a wall-time cap on top (None: none)."""

    steps: int = 100
    batch: int = 32  # pairs per step: 2 × batch texts through BERT, forward and backward
    lr: float = 5e-4  # constant, so a snapshot after n steps is the same model as a run of n steps
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.1
    temperature: float = 0.05
    target_modules: tuple[str, ...] = ("query", "key", "value", "dense")
    # Only the top layers get LoRA weights: backpropagation then stops there, which roughly halves a
    # step on CPU (the frozen lower layers only run forward).  MiniLM-L6 has layers 0..5.
    top_layers: int = 2
    max_minutes: float | None = None
    seed: int = 0


@dataclass
class LoraRun:
    """A fine-tuning run up to one snapshot: steps, wall and CPU seconds, the loss at the start and lately."""

    steps: int
    batch: int
    seconds: float
    cpu_seconds: float  # process CPU time: about (seconds alone) × (cores used), whatever else runs
    first_loss: float
    last_loss: float  # mean over the last 10 steps
    trainable: int
    adapter: Path  # the LoRA adapter as saved by peft (adapter_model.safetensors + adapter_config.json)

    @property
    def seconds_per_step(self) -> float:
        return self.seconds / self.steps if self.steps else math.nan

    @property
    def cpu_seconds_per_step(self) -> float:
        return self.cpu_seconds / self.steps if self.steps else math.nan


def training_pairs(split: Split) -> np.ndarray:
    """``(n, 2)`` item indices: each item and the next different item of a training sequence.

    Only ``split.train`` is read, so cold items, held-out users and the held-out validation and
    test interactions cannot enter; ``check_no_leak`` verifies it against the rest of the split.
    """
    rows = []
    for seq in split.train.values():
        if len(seq) >= 2:
            a, b = seq[:-1], seq[1:]
            keep = a != b
            rows.append(np.stack([a[keep], b[keep]], axis=1))
    return np.concatenate(rows) if rows else np.zeros((0, 2), dtype=np.int64)


def check_no_leak(pairs: np.ndarray, split: Split) -> None:
    """Raise if any pair touches a cold item or an item no training sequence holds, or a held-out user trained."""
    if np.isin(pairs, split.cold_items).any():
        raise RuntimeError("A fine-tuning pair contains a cold item.")
    in_training = np.unique(np.concatenate(list(split.train.values())))
    if not np.isin(pairs, in_training).all():
        raise RuntimeError("A fine-tuning pair contains an item outside the training sequences.")
    if {c.user_id for c in split.inductive_test} & set(split.train):
        raise RuntimeError("A held-out user has a training sequence.")


def finetune(texts: list[str], pairs: np.ndarray, encoder: EncoderConfig, settings: LoraSettings,
             snapshots: Sequence[int], out_dir: Path, say: Callable[[str], None] = lambda _line: None) -> list[LoraRun]:
    """LoRA-adapt ``encoder`` so that paired texts pool to close vectors; the adapter is saved after each
    step count in ``snapshots`` (and at the end), one ``LoraRun`` each."""
    import torch
    import torch.nn.functional as F
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel

    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    tokenize = TextEncoder(encoder).tokenize  # the product's tokenization (truncation, max_length)
    base = AutoModel.from_pretrained(resolve_encoder_path(encoder.name))
    n_layers = base.config.num_hidden_layers
    model = get_peft_model(base, LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                                            target_modules=list(settings.target_modules),
                                            layers_to_transform=list(range(n_layers - settings.top_layers, n_layers)),
                                            layers_pattern="layer"))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=settings.lr)
    model.train()

    def embed(indices: np.ndarray):
        batch = tokenize([texts[i] for i in indices])
        hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                       token_type_ids=batch.get("token_type_ids")).last_hidden_state
        return F.normalize(pool(hidden, batch["attention_mask"], encoder.pooling), dim=-1)

    losses: list[float] = []
    runs: list[LoraRun] = []
    started, cpu_started = time.perf_counter(), time.process_time()
    deadline = started + settings.max_minutes * 60 if settings.max_minutes else math.inf

    def snapshot() -> None:
        adapter = out_dir / f"adapter-{len(losses)}"
        model.save_pretrained(adapter)  # adapter_model.safetensors: the LoRA weights only
        runs.append(LoraRun(len(losses), settings.batch, time.perf_counter() - started,
                            time.process_time() - cpu_started, losses[0], float(np.mean(losses[-10:])),
                            trainable, adapter))
        say(f"    snapshot after {len(losses)} steps: {runs[-1].seconds:.0f} s ({runs[-1].seconds_per_step:.2f} s/step, "
            f"{runs[-1].cpu_seconds_per_step:.2f} CPU s/step), loss {runs[-1].first_loss:.3f} → {runs[-1].last_loss:.3f}")

    for step in range(1, settings.steps + 1):
        if time.perf_counter() > deadline:
            say(f"    stopped by the {settings.max_minutes} min cap after {len(losses)} steps")
            break
        chosen = pairs[rng.choice(len(pairs), settings.batch, replace=False)]
        left, right = chosen[:, 0], chosen[:, 1]
        logits = embed(left) @ embed(right).T / settings.temperature
        # An item drawn twice in one batch is not a negative of itself: mask those off-diagonal cells.
        same = (right[None, :] == right[:, None]) | (left[None, :] == left[:, None])
        logits = logits.masked_fill(torch.from_numpy(same & ~np.eye(len(chosen), dtype=bool)), -1e4)
        target = torch.arange(len(chosen))
        loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step % 10 == 0:
            say(f"    step {step}/{settings.steps}: loss {np.mean(losses[-10:]):.3f} (last 10), "
                f"{time.perf_counter() - started:.0f} s")
        if step in snapshots:
            snapshot()
    if losses and (not runs or runs[-1].steps != len(losses)):
        snapshot()
    return runs


def merged_encoder(adapter: Path, encoder: EncoderConfig, directory: Path) -> Path:
    """The encoder with the adapter's LoRA weights merged in, and its tokenizer: a local model directory."""
    from peft import PeftModel
    from transformers import AutoModel

    base = AutoModel.from_pretrained(resolve_encoder_path(encoder.name))
    merged = PeftModel.from_pretrained(base, adapter).merge_and_unload()
    merged.save_pretrained(directory)
    TextEncoder(encoder).tokenizer.save_pretrained(directory)
    return directory


@dataclass
class FinetuneResult:
    report: EvaluationReport
    runs: dict[str, LoraRun]  # adapted model name → its fine-tuning run
    vs_frozen: dict[str, dict[str, PairedDifference]]  # adapted model name → slice name → adapted (a) vs frozen (b)
    seconds: dict[str, float]
    models: dict[str, Recommender]


def measure(dataset, options: FitOptions, settings: LoraSettings, snapshots: Sequence[int],
            say: Callable[[str], None] = lambda _line: None) -> FinetuneResult:
    """The frozen model and one adapted model per snapshot, on ``options.split``, all evaluated on the same cases."""
    options = replace(options, baselines=False, text_reference=False)  # the comparison is frozen vs adapted
    seconds: dict[str, float] = {}

    def step(name: str, run):
        started = time.perf_counter()
        value = run()
        seconds[name] = time.perf_counter() - started
        extra = f" (best epoch {value.training.best_epoch}, {value.training.stopped})" if isinstance(value, Recommender) else ""
        say(f"  {name}: {seconds[name]:.1f} s{extra}")
        return value

    frozen = step(f"fit {FROZEN}", lambda: fit(dataset, options))
    catalog = frozen.catalog
    split = make_split(dataset.interactions, catalog, options.split)
    pairs = training_pairs(split)
    check_no_leak(pairs, split)
    say(f"  {len(pairs):,} training pairs from {len(split.train):,} training sequences "
        f"({len(split.cold_items)} cold items and {len(split.inductive_test)} held-out users excluded)")
    texts = [t.text for t in catalog.item_texts]
    models: dict[str, Recommender] = {FROZEN: frozen}
    runs: dict[str, LoraRun] = {}
    with tempfile.TemporaryDirectory(prefix="lora-bench-") as tmp:
        out = Path(tmp)
        for run in step("fine-tune", lambda: finetune(texts, pairs, options.encoder, settings, snapshots, out, say)):
            name = f"LoRA {run.steps} steps"
            directory = merged_encoder(run.adapter, options.encoder, out / f"merged-{run.steps}")
            adapted = replace(options, encoder=replace(options.encoder, name=str(directory)),
                              cache_dir=str(out / f"cache-{run.steps}"))  # adapted vectors never meet plain ones
            models[name] = step(f"fit on {name} vectors", lambda: fit(dataset, adapted))
            if not np.array_equal(make_split(dataset.interactions, models[name].catalog, options.split).cold_items,
                                  split.cold_items):
                raise RuntimeError("An adapted run's split has other cold items: the comparison would not be like for like.")
            runs[name] = run
    scorers = {n: model_scorer(rec.model, rec.catalog) for n, rec in models.items()}
    scorers[RANDOM] = random_scorer(catalog.n_items, options.split.seed)
    report = step("evaluate (all slices)", lambda: evaluate_all(scorers, split, catalog, seed=SAMPLE_SEED))
    slices = {WARM: (split.test, None), COLD: (split.cold_test, split.cold_items), NEW_USERS: (split.inductive_test, None)}
    vs_frozen = {n: {s: paired_comparison(scorers[n], scorers[FROZEN], cases, catalog.n_items, candidates=cands,
                                          seed=SAMPLE_SEED)
                     for s, (cases, cands) in slices.items()} for n in runs}
    return FinetuneResult(report, runs, vs_frozen, seconds, models)


def format_result(case: str, settings: LoraSettings, result: FinetuneResult) -> str:
    """Markdown: every model on every slice with 95% intervals, then each adapted model minus frozen, paired."""
    report = result.report
    lines = [f"### {case}", "", f"Protocol: {report.protocol}", "", f"Fine-tuning: {settings}", "",
             "| " + " | ".join([f"{METRIC} ± 95%"] + [f"{s.name} ({s.n_cases} users)" for s in report.slices]) + " |",
             "|" + "---|" * (len(report.slices) + 1)]
    for name in report.slices[0].metrics:
        cells = [f"{s.metrics[name][METRIC]:.4f} ± {s.ci95.get(name, {}).get(METRIC, math.nan):.4f}" for s in report.slices]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    for name, by_slice in result.vs_frozen.items():
        run = result.runs[name]
        lines.append(f"- **{name}** ({run.steps} steps × {run.batch} pairs, {run.seconds:.0f} s wall = "
                     f"{run.seconds_per_step:.2f} s/step, {run.cpu_seconds_per_step:.2f} CPU s/step; "
                     f"loss {run.first_loss:.3f} → {run.last_loss:.3f}) − frozen, paired:")
        for slice_name, p in by_slice.items():
            lines.append(f"  - {slice_name}: {p.a:.4f} − {p.b:.4f} = **{p.diff:+.4f} ± {p.diff_ci95:.4f}** "
                         f"(ratio {p.ratio:.3f}, {p.n_cases} users)")
    lines.append("")
    lines.append("Training: " + "; ".join(f"{n} best epoch {r.training.best_epoch} ({r.training.stopped})"
                                          for n, r in result.models.items()))
    lines.append("Wall time (2 shared cores): " + "; ".join(f"{n} {s:.0f} s" for n, s in result.seconds.items()))
    return "\n".join(lines)


def main() -> None:
    from cases import CASES, load_case

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", default="demo", choices=list(CASES))
    parser.add_argument("--steps", type=int, nargs="+", default=[60, 150],
                        help="step budgets: one run to the largest, an adapted model from each (a snapshot)")
    parser.add_argument("--minutes", type=float, default=None, help="also stop fine-tuning after this many minutes")
    parser.add_argument("--batch", type=int, default=LoraSettings.batch, help="pairs per step")
    parser.add_argument("--lr", type=float, default=LoraSettings.lr)
    parser.add_argument("--rank", type=int, default=LoraSettings.rank)
    parser.add_argument("--top-layers", type=int, default=LoraSettings.top_layers, help="LoRA on this many top layers")
    parser.add_argument("--seed", type=int, default=0, help="split, training and fine-tuning seed")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for everything (1: on shared cores two threads ran ~3x slower)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    options = FitOptions(split=split_config(args.seed), train=TrainConfig(seed=args.seed))
    settings = LoraSettings(steps=max(args.steps), batch=args.batch, lr=args.lr, rank=args.rank, top_layers=args.top_layers,
                            max_minutes=args.minutes, seed=args.seed)
    print(f"bench/finetune.py {' '.join(sys.argv[1:])} — {time.strftime('%Y-%m-%d %H:%M')}", flush=True)
    started = time.perf_counter()
    data = load_case(args.case)
    result = measure(data, options, settings, sorted(args.steps), say=lambda line: print(line, flush=True))
    print("\n" + format_result(args.case, settings, result), flush=True)
    print(f"[{args.case}] done in {(time.perf_counter() - started) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
