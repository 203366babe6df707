"""dashboard.safe_text: uploaded strings escaped for Markdown show literally and create no markup.

A CommonMark renderer (markdown-it-py) stands in for Streamlit's: after ``plain``, the rendered HTML
is one paragraph of text equal to the input.  The Streamlit-only syntax (math, icons, emoji,
autolinks, arrows) matches on the parsed text, so the test checks those patterns are broken there.
The real renderer is exercised by tests/test_hostile_text.py in a browser.
"""
from __future__ import annotations

import html
import re

import pytest
from markdown_it import MarkdownIt

from dashboard.safe_text import NO_BREAK_SPACE, WORD_JOINER, plain, plotly_text

HOSTILE = [
    "![b](http://127.0.0.1:9/b.png)",
    "[js](javascript:alert(1))",
    '<img src=x onerror="alert(1)">',
    "<script>alert(1)</script>",
    "$x^2$ and $$y$$",
    "**bold** _it_ ~~s~~ `code` # not a heading",
    "# heading\n- item\n1. item\n> quote\n    code\n| a | b |\n|---|---|",
    "http://203.0.113.7/auto www.example.com a@b.co",
    ":material/home: :smile: :red[red] :red-background[x]",
    "a -> b <- c <-> d -- e >= f <= g ~= h",
    "&amp; &lt;b&gt; &#x41;",
    "trailing backslash \\",
    "tab\tand NUL\x00 and bell\x07",
    "movie_title snake_case_name _it_ __bold__ a__b x_ _y a_*b*_c é_ü",  # intraword "_" left unescaped
]
# Patterns Streamlit's renderer applies to parsed text (mirrors its bundled JavaScript, version 1.67).
TEXT_PATTERNS = [
    re.compile(r":(?:material_|material/)?[\w+-][\w_+-]*:"),  # icons and emoji shortcodes
    re.compile(r"https?://|www\.", re.I),  # GFM literal autolinks
    re.compile(r"[-.\w+]+@[-\w]+(?:\.[-\w]+)+"),  # e-mail autolinks
    re.compile(r"(^|\s)(<->|->|<-|--|>=|<=|~=)(\s|$)"),  # typographic arrows
]
RENDER = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def rendered_text(source: str) -> tuple[str, str]:
    """(HTML, the text a reader sees) for Markdown ``source``."""
    out = RENDER.render(source)
    text = re.sub(r"<br />\n", "\n", out)
    text = re.sub(r"</?p>\n?", "", text)
    return out, html.unescape(text).rstrip("\n").replace(WORD_JOINER, "").replace(NO_BREAK_SPACE, " ")


@pytest.mark.parametrize("value", HOSTILE)
def test_plain_text_renders_as_one_paragraph_of_the_same_characters(value):
    out, text = rendered_text(plain(value))
    tags = set(re.findall(r"<(\w+)", out))
    assert tags <= {"p", "br"}, out  # no img, a, script, em, code, h1, li, table, …
    shown = value.replace("\x00", "\u2400").replace("\x07", "\u2407")  # control characters made visible
    assert text == shown


@pytest.mark.parametrize("value", HOSTILE)
def test_plain_text_breaks_the_patterns_streamlit_matches_after_parsing(value):
    _, text_with_joiners = rendered_text(plain(value).replace(WORD_JOINER, "\x01"))
    for pattern in TEXT_PATTERNS:
        assert not pattern.search(text_with_joiners.replace("\x01", WORD_JOINER)), (pattern, value)


def test_plain_text_leaves_ordinary_words_alone():
    assert plain("Heat 1995 Action Crime") == "Heat 1995 Action Crime"
    assert plain(42) == "42"


def test_plotly_text_escapes_its_pseudo_html():
    assert plotly_text('<a href="http://203.0.113.7">x</a> & <b>') == '&lt;a href="http://203.0.113.7"&gt;x&lt;/a&gt; &amp; &lt;b&gt;'
