"""A self-contained HTML card of an explanation, for presentations (no scripts, no network)."""
from __future__ import annotations

import html

import numpy as np

from .counterfactual import Counterfactual
from .rollup import merge_words
from .types import Explanation


def _colour(value: float, scale: float) -> str:
    """Red for positive (pushed the item up), blue for negative; alpha by magnitude."""
    alpha = min(1.0, abs(value) / scale) if scale > 0 else 0.0
    rgb = "214, 39, 40" if value >= 0 else "31, 119, 180"
    return f"rgba({rgb}, {alpha * 0.85:.3f})"


def _text_block(tokens, scale: float) -> str:
    words, values = merge_words([t.text for t in tokens], [t.attribution for t in tokens])
    spans = []
    for w, v in zip(words, values):
        if w in ("[CLS]", "[SEP]", "[PAD]"):
            continue
        spans.append(f'<span class="tok" style="background:{_colour(v, scale)}" title="{v:+.4f}">{html.escape(w)}</span>')
    return " ".join(spans)


SPECIAL = ("[CLS]", "[SEP]", "[PAD]")


def readable_attention(matrix: np.ndarray, tokens: list[str]) -> tuple[np.ndarray, list[str]]:
    """The map without [CLS]/[SEP] rows and columns, each row renormalised to sum to 1.

    Why: [CLS]/[SEP] soak up most of the weight (and the rollout's residual term most of
    the rest on the diagonal), so scaled by the overall maximum every other cell was
    nearly white.  Per row, the shares say where each token looks among the content tokens.
    """
    keep = [i for i, t in enumerate(tokens) if t not in SPECIAL]
    if not keep:
        return np.zeros((0, 0)), []
    sub = np.asarray(matrix, dtype=np.float64)[np.ix_(keep, keep)]
    sums = sub.sum(axis=1, keepdims=True)
    sub = np.divide(sub, sums, out=np.zeros_like(sub), where=sums > 0)
    return sub, [f"{tokens[i]} ({i})" for i in keep]


def _heatmap(matrix: np.ndarray, labels: list[str]) -> str:
    """A labelled grid; a cell's strength is its weight relative to the largest weight of its row."""
    n = len(labels)
    size = max(10, min(22, 640 // max(n, 1)))
    cells = ['<div></div>'] + [
        f'<div class="col" title="{html.escape(l)}">{html.escape(l)}</div>' for l in labels
    ]
    for i in range(n):
        row_max = float(matrix[i].max()) or 1.0
        cells.append(f'<div class="row">{html.escape(labels[i])}</div>')
        for j in range(n):
            alpha = matrix[i, j] / row_max
            cells.append(
                f'<div style="background:rgba(68,1,84,{alpha:.3f})" '
                f'title="{html.escape(labels[i])} → {html.escape(labels[j])}: {matrix[i, j]:.3f}"></div>'
            )
    return (
        f'<div class="heat" style="grid-template-columns:max-content repeat({n},{size}px);grid-template-rows:max-content;grid-auto-rows:{size}px">'
        f'{"".join(cells)}</div>'
        '<p class="small">Rows: query tokens; columns: attended tokens ([CLS]/[SEP] left out). Each row is '
        "renormalised over the tokens shown and shaded relative to its own largest weight.</p>"
    )


def _counterfactual_html(change: Counterfactual | None) -> str:
    if change is None:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(r.title)}</td><td>{html.escape(r.item_id)}</td><td>{html.escape(r.rating_label or '')}</td></tr>"
        for r in change.removed
    )
    table = f"<table><tr><th>removed item</th><th>id</th><th>rating</th></tr>{rows}</table>" if rows else ""
    return f"<h2>Smallest change to the history (top {change.k})</h2><p>{html.escape(change.summary())}</p>{table}"


def explanation_html(exp: Explanation, item_title: str = "", counterfactual: Counterfactual | None = None) -> str:
    """The explanation as one HTML page: reason, scores, coloured tokens, fields, history, heatmap, and the
    smallest history change that moves the item across the top-k boundary when it was searched."""
    scale = max((abs(t.attribution) for t in exp.tokens), default=1.0)
    item_tokens = [t for t in exp.tokens if t.text_index == 0]
    user_texts: dict[int, list] = {}
    for t in exp.tokens:
        if t.text_index > 0:
            user_texts.setdefault(t.text_index, []).append(t)
    field_rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td style='text-align:right'>{v:+.4f}</td></tr>" for k, v in exp.fields.items()
    )
    hist_rows = "".join(
        f"<tr><td>{html.escape(h.title)}</td><td style='text-align:right'>{h.attribution:+.4f}</td>"
        f"<td style='text-align:right'>{h.attention_weight:.3f}</td></tr>"
        for h in exp.history_items
    )
    labels = {t.text_index: t.label for t in exp.texts}
    labels.update({a.text_index: a.label for a in exp.attention})
    text_rows = "".join(
        f"<tr><td>{html.escape(t.label)}</td><td style='text-align:right'>{t.attribution:+.4f}</td>"
        f"<td>{'tokens' if t.split else 'whole text'}</td></tr>"
        for t in sorted(exp.texts, key=lambda t: -abs(t.attribution))
    )
    user_blocks = "".join(
        f"<p><b>{html.escape(labels.get(n, 'profile' if n == 1 else f'text {n}'))}</b><br>{_text_block(toks, scale)}</p>"
        for n, toks in sorted(user_texts.items())
    )
    heat = ""
    if exp.attention:
        item_att = exp.attention[0]
        last = np.asarray(item_att.layers)[-1].mean(axis=0)  # last layer, heads averaged
        matrix, tokens = readable_attention(last, item_att.tokens)
        heat = f"<h2>Encoder attention over the item text (last layer, heads averaged)</h2>{_heatmap(matrix, tokens)}"
    curves = "".join(
        f"<tr><td>{html.escape(c.method)}</td><td style='text-align:right'>{c.area:.4f}</td>"
        f"<td style='text-align:right'>{c.comprehensiveness:.4f}</td><td style='text-align:right'>{c.sufficiency:.4f}</td></tr>"
        for c in exp.faithfulness
    )
    warn = "".join(f"<p class='warn'>{html.escape(w)}</p>" for w in exp.warnings)
    title = html.escape(item_title or exp.item_id)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Why {title} for {html.escape(exp.user_id)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 980px; margin: 2em auto; color: #222; line-height: 1.5; }}
.tok {{ padding: 1px 3px; border-radius: 3px; }}
table {{ border-collapse: collapse; }} td, th {{ padding: 2px 10px; border-bottom: 1px solid #ddd; }}
.small {{ font-size: 12px; color: #666; }} .warn {{ color: #a40; font-weight: bold; }}
.reason {{ font-size: 1.2em; background: #f4f4f8; padding: .8em 1em; border-radius: 6px; }}
.heat {{ display: grid; gap: 1px; font-size: 11px; }}
.heat .row {{ padding-right: 6px; text-align: right; white-space: nowrap; line-height: 1; align-self: center; }}
.heat .col {{ writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; align-self: end;
  justify-self: center; line-height: 1; padding-top: 4px; }}
</style></head><body>
<h1>Why “{title}” for user {html.escape(exp.user_id)}</h1>
<p class="reason">{html.escape(exp.reason)}</p>
<p>Score (logit) {exp.score:+.4f}; rank {exp.rank} among the user's unseen items; blanked-text reference
{exp.baseline_score:+.4f}; convergence delta {exp.convergence_delta:+.5f}.</p>
{warn}
<p class="small">Red tokens raised the score, blue lowered it (integrated gradients, {exp.config.n_steps} steps, {html.escape(exp.config.baseline)} baseline).</p>
<h2>Each text's share of the score</h2><table><tr><th>text</th><th>share</th><th>split into</th></tr>{text_rows}</table>
<h2>Item text</h2><p>{_text_block(item_tokens, scale)}</p>
<h2>User side</h2>{user_blocks}
<h2>Fields</h2><table><tr><th>field</th><th>attribution</th></tr>{field_rows}</table>
<h2>History items</h2><table><tr><th>item</th><th>attribution</th><th>model attention</th></tr>{hist_rows}</table>
{_counterfactual_html(counterfactual)}
{heat}
<h2>Faithfulness (deletion)</h2><table><tr><th>method</th><th>mean score drop (higher: found what the score rests on; compare with random)</th><th>comprehensiveness (higher is better)</th><th>sufficiency (lower is better)</th></tr>{curves}</table>
</body></html>
"""
