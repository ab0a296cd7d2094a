"""/approvals/stats: who may see it (admins, sales directors, service managers; others 403),
the numbers per process and per step (approval rate, average and 90th percentile time in words,
open and overdue tasks), and the `since` filter."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from flask import Flask

from app import clock
from app.context import Context
from app.users import create_user
from tests import approvalkit
from tests.approvalkit import START, Flow, password, signed_in
from tests.webkit import web_app

ctx = approvalkit.approval_ctx


@pytest.fixture
def web(ctx: Context) -> Flask:
    return web_app(ctx)


user = signed_in


def stat(html: str, key: str, step: str | None = None) -> str:
    """The number shown for `key` (of the process, or of one step's row)."""
    if step is not None:
        html = html[html.index(f'data-step="{step}"'):]
        found = re.search(rf'data-stat="{key}">([^<]*)<', html)
    else:
        found = re.search(rf'data-stat="{key}"><div class="fs-5 fw-semibold">([^<]*)<', html)
    assert found, key
    return found.group(1).strip()


def at(hours: float) -> None:
    clock.set_now(START + timedelta(hours=hours))


def history(flow: Flow) -> None:
    """Four discount approvals: approved in two steps, rejected, recalled, still pending."""
    big = flow.quote(discount=45, name="Big")
    first = flow.as_user("rep").submit("quote", big, flow.who("rep"))
    at(2)
    flow.as_user("manager").decide(flow.task_for(first, "manager"), flow.who("manager"),
                                   approve=True)
    at(2 + 4 / 3)  # the director decides 1 h 20 min after the step began
    flow.as_user("director").decide(flow.task_for(first, "director"), flow.who("director"),
                                    approve=True)
    at(24)
    second = flow.as_user("rep").submit("quote", flow.quote(discount=30, name="No"),
                                        flow.who("rep"))
    at(28)
    flow.as_user("manager").decide(flow.task_for(second, "manager"), flow.who("manager"),
                                   approve=False)
    third = flow.as_user("rep2").submit("quote", flow.quote(discount=30, owner="rep2"),
                                        flow.who("rep2"))
    flow.as_user("rep2").recall(third, flow.who("rep2"))
    flow.as_user("rep").submit("quote", flow.quote(discount=30, name="Open"), flow.who("rep"))


def test_only_some_roles_see_the_statistics(web: Flask, ctx: Context) -> None:
    with ctx.engine.begin() as conn:
        create_user(conn, "service", password("service"), ["service_manager"],
                    ctx.settings.roles, full_name="Service")
    for name in ("rep", "manager"):
        refused = user(web, name).get("/approvals/stats")
        assert refused.status_code == 403, name
        assert "sales directors and service managers" in unescape(refused.text)
        assert 'id="approval-stats-link"' not in user(web, name).get("/approvals/").text
    for name in ("admin", "director", "service"):
        assert user(web, name).get("/approvals/stats").status_code == 200, name
    assert 'id="approval-stats-link"' in user(web, "director").get("/approvals/").text


def test_the_numbers_per_process_and_step(web: Flask, ctx: Context) -> None:
    history(Flow(ctx))
    at(24 * 10)  # the open manager task was due after two days
    html = unescape(user(web, "director").get("/approvals/stats").text)
    assert "Discount approval" in html
    for key, value in (("submitted", "4"), ("approved", "1"), ("rejected", "1"),
                       ("recalled", "1"), ("pending", "1"), ("rate", "50%")):
        assert stat(html, key) == value, key
    for key, value in (("decided", "2"), ("approved", "1"), ("rejected", "1"), ("rate", "50%"),
                       ("avg", "3 h"), ("p90", "4 h"), ("open", "1"), ("overdue", "1")):
        assert stat(html, key, "manager") == value, key
    for key, value in (("decided", "1"), ("rate", "100%"), ("avg", "1 h 20 min"),
                       ("p90", "1 h 20 min"), ("open", "0"), ("overdue", "0")):
        assert stat(html, key, "director") == value, key
    assert "Tasks overdue now, all processes: 1" in html


def test_the_since_filter(web: Flask, ctx: Context) -> None:
    history(Flow(ctx))
    at(24 * 100)
    client = user(web, "admin")
    assert stat(unescape(client.get("/approvals/stats?since=365").text), "submitted") == "4"
    recent = unescape(client.get("/approvals/stats?since=90").text)
    assert 'id="stats-empty"' in recent and "No approval was submitted in this period." in recent
    assert '<option value="90" selected>' in recent
    bad = client.get("/approvals/stats?since=7")
    assert bad.status_code == 400 and "Choose a period" in unescape(bad.text)
    assert client.get("/approvals/stats?process=nope").status_code == 404
    one = unescape(client.get("/approvals/stats?process=quote_discount&since=all").text)
    assert stat(one, "submitted") == "4"
