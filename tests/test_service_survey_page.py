"""The public survey page /survey/<token> (no sign-in): the form in the survey's language, the
answers saved once (as the system, audited) onto the survey and its case, a thank-you page;
a second answer, an expired link and an unknown link each get their own page (410, 410, 404);
a bad rating is a 422 beside the question with nothing saved; the form needs its CSRF token.
The case's page shows the survey card."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app import clock
from app.context import Context
from app.workflow.approvals.timers import tick
from tests.servicekit import Desk, service_deployment, signed_in, web
from tests.webkit import csrf


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    made = service_deployment(tmp_path, database_url)
    try:
        yield made
    finally:
        made.dispose()
        clock.set_now(None)


@pytest.fixture
def desk(ctx: Context) -> Desk:
    return Desk(ctx)


@pytest.fixture
def app(ctx: Context) -> Flask:
    return web(ctx)


def _closed_case(desk: Desk) -> tuple[dict[str, Any], str]:
    case = desk.case(contact=desk.contact("li.wei@example.com"))
    token = desk.close(case)
    assert token is not None
    return case, token


def test_the_answers_are_saved_once(app: Flask, desk: Desk) -> None:
    case, token = _closed_case(desk)
    client = app.test_client()
    page = client.get(f"/survey/{token}")
    assert page.status_code == 200 and str(case["number"]) in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert 'name="rating"' in page.text and 'id="comment"' in page.text
    token_field = csrf(page.text)
    assert client.post(f"/survey/{token}", data={"rating": "4"}).status_code == 400  # CSRF
    for bad in ("", "0", "6", "four", "4.5"):
        resp = client.post(f"/survey/{token}", data={"rating": bad, "csrf_token": token_field,
                                                     "comment": "Keep this text"})
        assert resp.status_code == 422, bad
        assert 'id="rating-error"' in resp.text and "Keep this text" in resp.text
    resp = client.post(f"/survey/{token}", data={"rating": "3", "resolved": "maybe",
                                                 "csrf_token": token_field})
    assert resp.status_code == 422
    assert desk.surveys()[0]["status"] == "sent"  # nothing saved by a refused answer
    done = client.post(f"/survey/{token}", data={
        "rating": "4", "resolved": "yes", "comment": "Quick & kind <b>thanks</b>",
        "csrf_token": token_field})
    assert done.status_code == 200 and 'id="survey-thanks"' in done.text
    [survey] = desk.surveys()
    assert (survey["status"], survey["rating"], survey["resolved"]) == ("answered", 4, True)
    assert survey["comment"] == "Quick & kind <b>thanks</b>" and survey["answered_at"]
    audit = desk.rs.history("survey_response", survey["id"])[0]
    assert audit["user_id"] is None and audit["changes"]["rating"] == [None, 4]
    saved = desk.record("case", case["id"])
    assert (saved["satisfaction"], saved["survey_status"]) == (4, "answered")
    again = client.post(f"/survey/{token}", data={"rating": "1", "csrf_token": token_field})
    assert again.status_code == 410 and 'data-reason="answered"' in again.text
    assert client.get(f"/survey/{token}").status_code == 410
    assert desk.surveys()[0]["rating"] == 4
    # the case's card shows the answers to its agent, escaped
    card = signed_in(app, "agent").get(f"/case/{case['id']}").text
    assert 'id="survey-card" data-status="answered"' in card
    assert 'id="survey-rating">4 / 5' in card and "&lt;b&gt;thanks&lt;/b&gt;" in card


def test_unknown_and_expired_links(app: Flask, desk: Desk) -> None:
    case, token = _closed_case(desk)
    client = app.test_client()
    for wrong in ("x" * 43, "short", token[:-1] + ("A" if token[-1] != "A" else "B")):
        resp = client.get(f"/survey/{wrong}")
        assert resp.status_code == 404 and 'data-reason="unknown"' in resp.text
    page = client.get(f"/survey/{token}")
    assert '<html lang="en">' in page.text  # the survey's language; ?lang= switches
    assert '<html lang="zh-CN">' in client.get(f"/survey/{token}?lang=zh_CN").text
    clock.set_now(clock.now() + timedelta(days=15))
    resp = client.post(f"/survey/{token}", data={"rating": "5", "csrf_token": csrf(page.text)})
    assert resp.status_code == 410 and 'data-reason="expired"' in resp.text
    assert desk.surveys()[0]["status"] == "sent"
    # the workflow tick expires it (the survey_expiry escalation); the case shows it
    tick(desk.rs, desk.ctx.settings)
    assert desk.surveys()[0]["status"] == "expired"
    assert desk.record("case", case["id"])["survey_status"] == "expired"
    assert client.get(f"/survey/{token}").status_code == 410
