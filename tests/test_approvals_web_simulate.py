"""The Simulate page of a record: who would approve it and through which steps, as the user
(or, for an admin, anyone) submitting it now, changing nothing."""

from __future__ import annotations

from html import unescape

import pytest
from flask import Flask

from app.context import Context
from tests import approvalkit
from tests.approvalkit import Flow, signed_in
from tests.webkit import web_app

ctx = approvalkit.approval_ctx


@pytest.fixture
def web(ctx: Context) -> Flask:
    return web_app(ctx)


user = signed_in


def step(html: str, name: str) -> str:
    start = html.index(f'data-step="{name}"')
    return html[start:html.index("</li>", start)]


def test_the_steps_and_approvers_of_a_big_discount(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    quote = flow.quote(discount=45)
    client = user(web, "rep")
    assert f'href="/quote/{quote}/approval/simulate"' in client.get(f"/quote/{quote}").text
    resp = client.get(f"/quote/{quote}/approval/simulate")
    assert resp.status_code == 200
    html = unescape(resp.text)
    assert "Who would approve Big deal" in html and "nothing is submitted" in html
    assert 'data-outcome="ok"' in html
    manager = step(html, "manager")
    assert 'data-applies="yes"' in manager and ">Manager<" in manager
    assert "escalates after 2 d to Director, Director2" in manager
    assert "reminder after 8 h" in manager
    director = step(html, "director")
    assert ">Director<" in director and ">Director2<" in director
    assert "a rejection goes back to the step before" in director
    assert flow.record("quote", quote)["status"] == "draft"  # nothing changed


def test_a_small_discount_is_refused_and_skips_the_director(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    quote = flow.quote(discount=30)
    html = unescape(user(web, "rep").get(f"/quote/{quote}/approval/simulate").text)
    assert 'data-applies="no"' in step(html, "director")
    assert "skipped: its condition does not hold" in step(html, "director")
    small = flow.quote(discount=5, name="Tiny")
    html = unescape(user(web, "rep").get(f"/quote/{small}/approval/simulate").text)
    assert 'data-outcome="refused"' in html
    assert "Only draft quotes with a discount over 20% need approval" in html


def test_an_admin_simulates_as_someone_else(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    quote = flow.quote(discount=30, owner="loner")
    admin = user(web, "admin")
    loner = flow.who("loner").id
    html = unescape(admin.get(f"/quote/{quote}/approval/simulate?as={loner}").text)
    assert 'id="sim-as"' in html and "as if Loner submitted it now" in html
    manager = step(html, "manager")  # the loner has no manager: who takes it, and why
    assert "Loner has no active manager" in manager and ">Director<" in manager
    assert admin.get(f"/quote/{quote}/approval/simulate?as=99999").status_code == 404
    rep = user(web, "rep")
    mine = flow.quote(discount=30)
    assert rep.get(f"/quote/{mine}/approval/simulate?as={loner}").status_code == 403
    assert 'id="sim-as"' not in rep.get(f"/quote/{mine}/approval/simulate").text


def test_bad_requests(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    quote = flow.quote(discount=45)
    rep = user(web, "rep")
    assert rep.get(f"/quote/{quote}/approval/simulate?process=nope").status_code == 404
    assert rep.get("/quote/99999/approval/simulate").status_code == 404
    assert rep.get("/quote/99999999999/approval/simulate").status_code == 404
    assert user(web, "rep2").get(f"/quote/{quote}/approval/simulate").status_code == 404
    account = flow.rs.create("account", {"name": "Acme"}, flow.who("rep"))["id"]
    assert rep.get(f"/account/{account}/approval/simulate").status_code == 404
    pending = flow.as_user("rep").submit("quote", quote, flow.who("rep"))
    html = unescape(rep.get(f"/quote/{quote}/approval/simulate").text)
    assert 'id="sim-pending"' in html and flow.approval(pending).status == "pending"
