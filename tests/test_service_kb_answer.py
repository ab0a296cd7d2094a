"""Answering a case from the knowledge base: the case's button opens /kb/?case=<id>, each
published result offers "Use this answer" (POST, CSRF), which writes the article's summary into
the case's resolution and links the article, as the agent (audited), counts the use on the
article, and returns to the case. Refusals: 404 for what the user may not see, 403 for a case
they may not change, 409 for an article that is not published, 400 without CSRF."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from app.context import Context
from app.kb.answer import use_answer
from tests.servicekit import Desk, service_deployment, signed_in, web
from tests.webkit import csrf


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    made = service_deployment(tmp_path, database_url)
    try:
        yield made
    finally:
        made.dispose()


@pytest.fixture
def desk(ctx: Context) -> Desk:
    return Desk(ctx)


@pytest.fixture
def app(ctx: Context) -> Flask:
    return web(ctx)


def test_use_this_answer_writes_the_case_and_counts_the_use(app: Flask, desk: Desk) -> None:
    art = desk.article("Printer jams", summary="Open tray 2 and remove the sheet.",
                       body="# Steps\n\n- Open **tray 2**\n- Pull the sheet")
    case = desk.case(owner="agent")
    client = signed_in(app, "agent")
    page = client.get(f"/case/{case['id']}")
    assert f'href="/kb/?case={case["id"]}" id="kb-answer"' in page.text
    results = client.get(f"/kb/?case={case['id']}&q=printer")
    assert 'id="kb-case"' in results.text and f'id="use-{art}"' in results.text
    resp = client.post(f"/kb/{art}/use", data={"case": case["id"],
                                               "csrf_token": csrf(results.text)})
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/case/{case['id']}")
    saved = desk.record("case", case["id"])
    assert saved["resolution"] == "Open tray 2 and remove the sheet."
    assert saved["kb_article"] == art
    assert desk.record("kb_article", art)["usage_count"] == 1
    last = desk.rs.history("case", case["id"])[0]
    assert last["username"] == "agent" and "resolution" in last["changes"]
    # used again (from the article's own page): the text is there already, the use counts
    article = client.get(f"/kb/{art}?case={case['id']}")
    assert "<h2>Steps</h2>" in article.text and "<strong>tray 2</strong>" in article.text
    client.post(f"/kb/{art}/use", data={"case": case["id"], "csrf_token": csrf(article.text)})
    assert desk.record("case", case["id"])["resolution"] == "Open tray 2 and remove the sheet."
    assert desk.record("kb_article", art)["usage_count"] == 2
    # a second article is added below the first answer
    other = desk.article("Toner", body="Shake the **toner** cartridge.")
    use_answer(desk.as_user("agent"), desk.who("agent"), case["id"], other)
    assert desk.record("case", case["id"])["resolution"] == (
        "Open tray 2 and remove the sheet.\n\nShake the toner cartridge.")


def test_refusals(app: Flask, desk: Desk) -> None:
    art = desk.article("Printer jams", summary="Open tray 2.")
    draft = desk.article("Not yet", status="draft", owner="agent", summary="Secret")
    mine = desk.case(owner="agent")
    theirs = desk.case(owner="agent2")  # another team's case: out of agent's sight
    reps = desk.case(owner="rep")       # sales reps see their cases but may not change them
    client = signed_in(app, "agent")
    token = csrf(client.get("/kb/").text)
    assert client.post(f"/kb/{art}/use", data={"case": mine["id"]}).status_code == 400
    assert client.post(f"/kb/{art}/use", data={"case": theirs["id"],
                                               "csrf_token": token}).status_code == 404
    assert client.post(f"/kb/{draft}/use", data={"case": mine["id"],
                                                 "csrf_token": token}).status_code == 409
    assert client.post("/kb/999999/use", data={"case": mine["id"],
                                                "csrf_token": token}).status_code == 404
    assert client.post(f"/kb/{art}/use", data={"csrf_token": token}).status_code == 400
    assert client.get(f"/kb/?case={theirs['id']}").status_code == 404
    rep = signed_in(app, "rep")
    rep_page = rep.get(f"/case/{reps['id']}")
    assert 'id="kb-answer"' not in rep_page.text
    assert rep.post(f"/kb/{art}/use", data={"case": reps["id"],
                                            "csrf_token": csrf(rep_page.text)}).status_code == 403
    assert desk.record("kb_article", art)["usage_count"] == 0
    assert desk.record("case", mine["id"])["resolution"] is None


def test_helpful_counts_once_per_session(app: Flask, desk: Desk) -> None:
    art = desk.article("Printer jams", summary="Open tray 2.")
    client = signed_in(app, "agent2")
    page = client.get(f"/kb/{art}")
    assert 'id="kb-helpful"' in page.text
    for _ in range(2):
        resp = client.post(f"/kb/{art}/helpful", data={"csrf_token": csrf(page.text)})
        assert resp.status_code == 303
    assert desk.record("kb_article", art)["helpful_count"] == 1
    assert 'id="kb-helpful"' not in client.get(f"/kb/{art}").text


def test_article_text_is_never_run_as_html(app: Flask, desk: Desk) -> None:
    art = desk.article("<b>Bold</b> title", summary="<img src=x onerror=alert(1)>",
                       body="<script>alert(1)</script>\n\n[click](javascript:alert(1)) "
                            "[docs](https://example.com/a?b=1&c=2)")
    page = signed_in(app, "agent").get(f"/kb/{art}").text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "<b>Bold</b>" not in page
    assert 'href="javascript' not in page
    assert '<a href="https://example.com/a?b=1&amp;c=2" rel="nofollow noopener noreferrer"' \
        in page
