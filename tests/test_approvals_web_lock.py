"""A record waiting for an approval is locked: the pages keep their Edit and Delete buttons, and
the records service's refusal (423 Locked) shows as a clear message: the edit or new form comes
back with the user's input and the reason, a delete goes back to the record with it. The
current approver and admins may still change it."""

from __future__ import annotations

import re
from html import unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.context import Context
from tests import approvalkit
from tests.approvalkit import Flow, signed_in
from tests.webkit import csrf, web_app

LOCKED = "is locked while it waits for Discount approval"


ctx = approvalkit.approval_ctx


@pytest.fixture
def web(ctx: Context) -> Flask:
    return web_app(ctx)


user = signed_in


def pending_quote(flow: Flow) -> int:
    quote = flow.quote(discount=45, name="Locked deal")
    flow.as_user("rep").submit("quote", quote, flow.who("rep"))
    return quote


def edit(client: FlaskClient, quote: int, name: str) -> tuple[int, str]:
    page = client.get(f"/quote/{quote}/edit")
    assert page.status_code == 200
    version = re.search(r'name="_version"[^>]*value="(\d+)"', page.text)
    assert version
    resp = client.post(f"/quote/{quote}/edit", data={
        "csrf_token": csrf(page.text), "_version": version.group(1), "name": name,
        "discount": "45", "currency": "CNY", "status": "pending_approval",
        "terms": "Net 30, typed before saving"})
    return resp.status_code, unescape(resp.text)


def test_the_edit_form_keeps_the_input_and_says_why(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    quote = pending_quote(flow)
    rep = user(web, "rep")
    page = rep.get(f"/quote/{quote}")
    assert 'id="edit-record"' in page.text and 'id="delete-record"' in page.text
    status, html = edit(rep, quote, "My new name")
    assert status == 423
    assert LOCKED in html and "The submitter may recall it to edit it." in html
    assert 'value="My new name"' in html and "Net 30, typed before saving" in html
    assert '<form' in html and 'name="_version"' in html  # the form, not an error page
    assert flow.record("quote", quote)["name"] == "Locked deal"


def test_a_new_line_on_a_locked_quote_is_refused_on_its_form(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    quote = pending_quote(flow)
    rep = user(web, "rep")
    page = rep.get(f"/quote_line/new?quote={quote}")
    resp = rep.post(f"/quote_line/new?quote={quote}", data={
        "csrf_token": csrf(page.text), "quote": str(quote), "description": "Extra seats",
        "quantity": "3", "unit_price": "50"})
    html = unescape(resp.text)
    assert resp.status_code == 423 and LOCKED in html and 'value="Extra seats"' in html
    assert flow.record("quote", quote)["line_count"] == 1


def test_delete_goes_back_to_the_record_with_the_reason(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    quote = pending_quote(flow)
    rep = user(web, "rep")
    page = rep.get(f"/quote/{quote}")
    resp = rep.post(f"/quote/{quote}/delete", data={
        "csrf_token": csrf(page.text), "confirm": "1", "version": str(
            flow.record("quote", quote)["version"])})
    assert resp.status_code == 303 and resp.headers["Location"] == f"/quote/{quote}"
    shown = unescape(rep.get(resp.headers["Location"]).text)
    assert LOCKED in shown and 'id="approval-lock"' in shown
    assert flow.record("quote", quote)["deleted_at"] is None


def test_json_callers_get_a_423_error(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    quote = pending_quote(flow)
    rep = user(web, "rep")
    token = csrf(rep.get(f"/quote/{quote}").text)
    resp = rep.post(f"/quote/{quote}/delete", data={"csrf_token": token, "confirm": "1"},
                    headers={"Accept": "application/json"})
    assert resp.status_code == 423
    assert LOCKED in resp.get_json()["error"]["message"]


def test_the_approver_and_an_admin_may_still_edit(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    quote = pending_quote(flow)
    status, _html = edit(user(web, "manager"), quote, "Fixed by the manager")
    assert status == 302
    status, _html = edit(user(web, "admin"), quote, "Fixed by the admin")
    assert status == 302
    assert flow.record("quote", quote)["name"] == "Fixed by the admin"
