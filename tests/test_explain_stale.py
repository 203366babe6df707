"""Switching pairs on Explain: nothing of the old pair stays unlabelled, and a busy line says what runs.

What a browser shows between two runs (the old run's elements, faded) is checked in
tests/test_browser_explain_switch.py; here the executor's view of a session's jobs and the page's
final state after a switch (Streamlit AppTest).
"""
from __future__ import annotations

import re
import threading
from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard.executor import INTERACTIVE, ON_REQUEST, PREFETCH, ExplanationExecutor, executor
from dashboard.explanations import SESSION_KEY, Work

from test_explain_cancel import _blocking_job

ROOT = Path(__file__).resolve().parents[1]


def test_work_of_lists_a_sessions_jobs_with_what_runs_before_them():
    pool = ExplanationExecutor()
    started, release = threading.Event(), threading.Event()
    other = pool.submit(_blocking_job(started, release), INTERACTIVE, ("split", 1), "session-b", "tokens for b")
    assert started.wait(10)
    first = pool.submit(lambda j: 1, INTERACTIVE, ("state", 2), "session-a", "the first view of X")
    later = pool.submit(lambda j: 2, ON_REQUEST, ("faithfulness", 2), "session-a", "deletion curves of X")
    pool.submit(lambda j: 3, PREFETCH, ("prefetch", 3), "session-a", "ahead of time")
    work = pool.work_of("session-a", ON_REQUEST)  # prefetches left out
    assert [(s.job, s.running, s.ahead) for s in work] == [(first, False, 1), (later, False, 2)]
    assert [s.job.description for s in work] == ["the first view of X", "deletion curves of X"]
    assert len(pool.work_of("session-a")) == 3
    assert [(s.job, s.running) for s in pool.work_of("session-b")] == [(other, True)]
    # a more urgent submission of the same work moves it up the queue (merged, re-prioritised)
    assert pool.submit(lambda j: 2, INTERACTIVE, ("faithfulness", 2), "session-c") is later
    assert [s.ahead for s in pool.work_of("session-a", ON_REQUEST)] == [1, 2]
    release.set()
    assert later.wait(10) == 2
    assert pool.work_of("session-a") == [] or all(s.job.priority == PREFETCH for s in pool.work_of("session-a"))
    pool.shutdown()


def test_a_work_line_says_queued_or_how_far():
    assert Work("the first view of X", False, 1, 0.0, "queued").line() == "the first view of X (queued behind 1 job)"
    assert Work("deletion curves of X", False, 3, 0.0, "queued").line().endswith("(queued behind 3 jobs)")
    assert Work("tokens of X", True, 0, 0.42, "text 2 of 5").line() == "tokens of X (42%: text 2 of 5)"


def _app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "4_Explain.py"), default_timeout=600)
    at.session_state["explain_steps"] = 8  # fewer steps keep the test fast; the page default is 64
    return at


def _leaves(node):
    children = getattr(node, "children", None)
    if children:
        for child in children.values():
            yield from _leaves(child)
    else:
        yield node


ALLOWED = {"selectbox", "multiselect"}  # widgets whose options list every top item, the old one included


def _shown_with(at: AppTest, needle: str) -> list[str]:
    """The text of every element (plotly specs and token html included) that mentions ``needle``, widgets
    that offer it as an option left out."""
    found = []
    for leaf in _leaves(at._tree):
        if getattr(leaf, "type", None) in ALLOWED or getattr(leaf, "proto", None) is None:
            continue
        text = str(leaf.proto)
        if needle.lower() in text.lower():
            found.append(text)
    return found


def test_after_a_pair_switch_only_labelled_results_name_the_old_item():
    at = _app()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    rec = at.session_state["model"]
    old = at.selectbox(key="explain_item").value
    label = next(o for o in at.selectbox(key="explain_item").options if f"({old})" in o)
    title = label.rsplit(" (", 1)[0]  # the item's first field, its title in the demo
    assert _shown_with(at, title), "the old pair's own view should name its item (else the test proves nothing)"
    at.multiselect(key="whatif_fields").set_value(["description"])
    at.button(key="whatif_run").click()
    at.run()
    assert any(m.label == "Rank after" for m in at.metric)

    at.selectbox(key="explain_item").select_index(1)  # another of the user's top 10
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    new = at.selectbox(key="explain_item").value
    assert new != old
    mentions = _shown_with(at, title)
    labelled = [m for m in mentions if "This result is for the earlier choice" in m]
    assert labelled, "the kept what-if of the old pair must say it is for the earlier choice"
    assert len(mentions) == len(labelled), [m[:300] for m in mentions if m not in labelled]
    # the old item's own words (not in the new item's text nor the user's texts) are nowhere either
    texts = rec.catalog.item_texts
    words = lambda t: set(re.findall(r"[a-z]{5,}", t.lower()))  # noqa: E731
    ctx = rec.context(at.selectbox(key="explain_user").value)
    others = words(texts[rec.item_position(new)].text) | set().union(*(words(texts[i].text) for i in ctx.history))
    own = sorted(words(texts[rec.item_position(old)].text) - others)
    assert own, "the two items share every word: pick another pair"
    leftover = {w: _shown_with(at, w) for w in own}
    assert not any(v and any("earlier choice" not in m for m in v) for v in leftover.values()), \
        {w: [m[:200] for m in v] for w, v in leftover.items() if v}
    # nothing is queued for this session at the end of the run: no busy line
    assert not [i.value for i in at.info if i.value.startswith(("Computing", "Still running"))]


def test_busy_line_names_background_work_of_an_earlier_choice_and_goes_when_it_ends():
    at = _app()
    at.session_state[SESSION_KEY] = "stale-test-session"
    at.run()  # the pair is explained (and cached for the runs below)
    started, release = threading.Event(), threading.Event()
    job = executor().submit(_blocking_job(started, release), ON_REQUEST, ("faithfulness", "stale-test"),
                            "stale-test-session", "deletion curves of an earlier pair")
    try:
        assert started.wait(30)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        lines = [i.value for i in at.info if "Still running in the background" in i.value]
        assert len(lines) == 1 and "deletion curves of an earlier pair" in lines[0], [i.value for i in at.info]
    finally:
        release.set()
    assert job.wait(30) == "finished"
    at.run()
    assert not [i.value for i in at.info if i.value.startswith(("Computing", "Still running"))]
