"""``python -m recsys_core explain``: one explanation as JSON (and optionally HTML)."""
from __future__ import annotations

import json
import sys
from argparse import Namespace
from pathlib import Path

from ..exports import write_output
from ..recommender import Recommender, UserContext
from .core import explain_pair
from .counterfactual import Counterfactual, counterfactual
from .html import explanation_html
from .pair import item_title
from .types import ExplainConfig


def _write(path: Path, text: str) -> None:
    write_output(path, text.encode("utf-8"), "explanation.html")


def run_explain(args: Namespace, recommender: Recommender, ctx: UserContext | None = None) -> int:
    """Explain ``args.user`` × ``args.item``; ``ctx`` is the user side of a user the model never saw."""
    config = ExplainConfig(method=args.method, n_steps=args.steps, baseline=args.baseline)
    say = lambda _fraction, s: print(f"· {s}", file=sys.stderr)  # noqa: E731
    exp = explain_pair(recommender, args.user, args.item, config, ctx=ctx, progress=say)
    change: Counterfactual | None = None
    if getattr(args, "counterfactual", False):
        user = ctx if ctx is not None else recommender.context(args.user)
        change = counterfactual(recommender, user, recommender.item_position(args.item), args.k, progress=say)
    detail = "full" if getattr(args, "full_attention", False) else "summary"
    data = exp.to_dict(attention=detail)
    if change is not None:
        data["counterfactual"] = change.to_dict()
    _write(Path(args.out), json.dumps(data, indent=1))
    if args.html:
        title = item_title(recommender, recommender.item_position(args.item))
        _write(Path(args.html), explanation_html(exp, title, change))
    print(exp.reason)
    if change is not None:
        print(change.summary())
    for w in exp.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(
        f"score {exp.score:+.4f}, baseline {exp.baseline_score:+.4f}, convergence delta {exp.convergence_delta:+.5f}; "
        f"wrote {args.out}" + (f" and {args.html}" if args.html else ""),
        file=sys.stderr,
    )
    return 0
