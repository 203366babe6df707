"""Show uploaded text as text: escaping for the Streamlit elements that render Markdown.

Ids, titles, descriptions, profile fields, column and file names come from files analysts upload,
so they are data, never markup.  Prefer elements that never parse Markdown (``st.text``,
``st.code``, ``st.dataframe`` cells); where a string must go through an element that does
(``st.markdown``, ``st.caption``, ``st.header``, alert bodies, widget labels, tab and expander
labels, metric labels), pass it through ``plain`` first.

Streamlit's Markdown is more than CommonMark: GFM autolinks (``http://…``, ``www.…``,
``a@b.c``), ``$…$`` KaTeX math, ``:material/…:`` icons, ``:emoji:`` shortcodes, ``:red[…]``
directives and typographic arrows (`` -> `` becomes →).  Backslash escapes stop the syntax
parts; the rest match on the parsed text (after escapes are removed), so ``plain`` also puts an
invisible WORD JOINER (U+2060) where those patterns would otherwise match.
"""
from __future__ import annotations

import html
import re

WORD_JOINER = "\u2060"
# Every ASCII punctuation character may be backslash-escaped in CommonMark, and then it is literal.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
# Patterns Streamlit's renderer matches on text that escapes no longer protect (see module docstring):
# after ":" (icons, emoji, directives, "http://"), "@" (e-mail autolinks), "www" before "." (www autolinks),
# and the first character of "->", "<-", "<->", "--", ">=", "<=", "~=".
_AFTER_COLON_OR_AT = re.compile(r"(\\[:@])")
_WWW_DOT = re.compile(r"(?i)(www)(\\\.)")
_ARROW_START = re.compile(r"(\\[-<>~])(?=\\[-<>=])")
# An underscore between two letters or digits never starts or ends emphasis (CommonMark's flanking rules), so
# it is left unescaped: a widget's aria-label is its label's Markdown source, where "movie\_title" (what a
# screen reader reads, and what the page's accessibility tree shows) had a backslash the analyst never typed.
_INTRAWORD_UNDERSCORE = re.compile(r"(?<=[^\W_])\\_(?=[^\W_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LEADING_BLANKS = re.compile(r"^[ \t]+", re.M)
NO_BREAK_SPACE = "\u00a0"


def _control_picture(match: re.Match[str]) -> str:
    """A control character as its visible Unicode picture (NUL → ␀), so it is seen, not acted on."""
    code = ord(match.group())
    return "\u2421" if code == 0x7F else chr(0x2400 + code)


def plain(s: object) -> str:
    """``s`` as Markdown source that Streamlit displays literally (no links, images, HTML, math or icons).

    Line breaks are kept as line breaks, indentation as no-break spaces (Markdown would drop it or start
    a code block); control characters other than tab are shown as their Unicode pictures.
    Use it for user-supplied values inside ``st.markdown``-like elements and widget labels; never use
    the result as a widget option value (pass ``format_func=plain`` instead where options render Markdown).
    """
    text = str(s).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub(_control_picture, text)
    text = _LEADING_BLANKS.sub(lambda m: NO_BREAK_SPACE * len(m.group().expandtabs(4)), text)
    text = _PUNCTUATION.sub(r"\\\1", text)
    text = _INTRAWORD_UNDERSCORE.sub("_", text)
    text = _AFTER_COLON_OR_AT.sub(r"\1" + WORD_JOINER, text)
    text = _WWW_DOT.sub(r"\1" + WORD_JOINER + r"\2", text)
    text = _ARROW_START.sub(r"\1" + WORD_JOINER, text)
    return text.replace("\n", "  \n")  # a Markdown hard break: one line of the value stays one line


def plotly_text(s: object) -> str:
    """``s`` for plotly titles, tick labels and hover text: plotly reads ``<a href>``, ``<b>`` etc. as markup."""
    return html.escape(str(s), quote=False)


__all__ = ["plain", "plotly_text"]
