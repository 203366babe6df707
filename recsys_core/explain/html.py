"""A self-contained HTML card of an explanation, for presentations (no scripts, no network)."""
from __future__ import annotations

import html

import numpy as np

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


def _heatmap(matrix: np.ndarray, labels: list[str]) -> str:
    n = len(labels)
    size = max(8, min(18, 480 // max(n, 1)))
    top = float(matrix.max()) or 1.0
    cells = []
    for i in range(n):
        for j in range(n):
            alpha = matrix[i, j] / top
            cells.append(
                f'<div style="width:{size}px;height:{size}px;background:rgba(68,1,84,{alpha:.3f})" '
                f'title="{html.escape(labels[i])} → {html.escape(labels[j])}: {matrix[i, j]:.3f}"></div>'
            )
    return (
        f'<div style="display:grid;grid-template-columns:repeat({n},{size}px);gap:0">{"".join(cells)}</div>'
        f'<p class="small">Rows: query tokens; columns: attended tokens ({", ".join(html.escape(l) for l in labels[:40])}'
        f'{"…" if n > 40 else ""}).</p>'
    )


def explanation_html(exp: Explanation, item_title: str = "") -> str:
    """The explanation as one HTML page: reason, scores, coloured tokens, fields, history, heatmap."""
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
        roll = np.array(item_att.rollout)
        heat = f"<h2>Attention rollout over the item text</h2>{_heatmap(roll, item_att.tokens)}"
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
</style></head><body>
<h1>Why “{title}” for user {html.escape(exp.user_id)}</h1>
<p class="reason">{html.escape(exp.reason)}</p>
<p>Score {exp.score:+.4f} (P = {1 / (1 + np.exp(-exp.score)):.3f}); blanked-text reference {exp.baseline_score:+.4f};
rank {exp.rank}; convergence delta {exp.convergence_delta:+.5f}.</p>
{warn}
<p class="small">Red tokens raised the score, blue lowered it (integrated gradients, {exp.config.n_steps} steps, {html.escape(exp.config.baseline)} baseline).</p>
<h2>Each text's share of the score</h2><table><tr><th>text</th><th>share</th><th>split into</th></tr>{text_rows}</table>
<h2>Item text</h2><p>{_text_block(item_tokens, scale)}</p>
<h2>User side</h2>{user_blocks}
<h2>Fields</h2><table><tr><th>field</th><th>attribution</th></tr>{field_rows}</table>
<h2>History items</h2><table><tr><th>item</th><th>attribution</th><th>model attention</th></tr>{hist_rows}</table>
{heat}
<h2>Faithfulness (deletion)</h2><table><tr><th>method</th><th>area</th><th>comprehensiveness</th><th>sufficiency</th></tr>{curves}</table>
</body></html>
"""
