"""The Approval card on a record's page: Submit for approval (with a comment; when refused, the
reason greyed), the lock banner, Approve / Reject / Reassign for whoever may decide, Recall for
the submitter, Add comment, and the history of every approval with its tasks and events."""

from __future__ import annotations

from html import unescape

import pytest
from flask import Flask

from app.context import Context
from app.i18n import get_locale, use_locale
from tests import approvalkit
from tests.approvalkit import Flow, signed_in
from tests.webkit import csrf, web_app

ctx = approvalkit.approval_ctx


@pytest.fixture
def web(ctx: Context) -> Flask:
    return web_app(ctx)


user = signed_in


def card(html: str) -> str:
    start = html.index('id="approval"')
    return unescape(html[start:html.index("</section>", start)])


def test_submit_from_the_record_with_a_comment(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    quote = flow.quote(discount=45)
    client = user(web, "rep")
    page = client.get(f"/quote/{quote}")
    assert "Submit for approval" in card(page.text) and 'id="approval-lock"' not in page.text
    resp = client.post(f"/quote/{quote}/approval/submit", data={
        "csrf_token": csrf(page.text), "process": "quote_discount",
        "comment": "Strategic customer"})
    assert resp.status_code == 303 and resp.headers["Location"] == f"/quote/{quote}#approval"
    after = client.get(f"/quote/{quote}")
    html = unescape(after.text)
    assert "Submitted for approval." in html
    assert "Locked while it waits for Discount approval - step Manager approval." in html
    shown = card(after.text)
    assert "Pending" in shown and "Manager" in shown and "due Nov 4, 2026" in shown
    assert "Strategic customer" in shown and 'data-action="recall"' in shown
    assert 'data-action="approve"' not in shown  # the submitter does not decide
    assert flow.record("quote", quote)["status"] == "pending_approval"


def test_a_refused_submission_shows_the_reason_greyed(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    quote = flow.quote(discount=10)
    client = user(web, "rep")
    page = client.get(f"/quote/{quote}")
    shown = card(page.text)
    assert "data-refused" in shown and "disabled" in shown
    assert "Only draft quotes with a discount over 20% need approval" in shown
    assert 'id="approval-submit"' not in shown
    resp = client.post(f"/quote/{quote}/approval/submit",
                       data={"csrf_token": csrf(page.text)}, follow_redirects=True)
    assert resp.status_code == 200
    assert "Only draft quotes with a discount over 20% need approval" in unescape(resp.text)
    assert flow.record("quote", quote)["status"] == "draft"


def test_bad_submissions(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    quote = flow.quote(discount=45)
    client = user(web, "rep")
    token = csrf(client.get(f"/quote/{quote}").text)
    assert client.post(f"/quote/{quote}/approval/submit").status_code == 400  # no CSRF
    assert client.get(f"/quote/{quote}/approval/submit").status_code == 405
    unknown = client.post(f"/quote/{quote}/approval/submit",
                          data={"csrf_token": token, "process": "nope"})
    assert unknown.status_code == 404 and "no approval process nope" in unescape(unknown.text)
    assert client.post("/quote/99999/approval/submit",
                       data={"csrf_token": token}).status_code == 404
    other = user(web, "rep2")  # may not read rep's quote
    assert other.post(f"/quote/{quote}/approval/submit", data={
        "csrf_token": csrf(other.get("/").text)}).status_code == 404
    account = flow.rs.create("account", {"name": "Acme"}, flow.who("rep"))["id"]
    page = client.get(f"/account/{account}")
    assert 'id="approval"' not in page.text  # no process for accounts: no card
    refused = client.post(f"/account/{account}/approval/submit", data={"csrf_token": token},
                          follow_redirects=True)
    assert refused.status_code == 200 and "have no approval process" in unescape(refused.text)
    client.post(f"/quote/{quote}/approval/submit", data={"csrf_token": token})
    twice = client.post(f"/quote/{quote}/approval/submit", data={"csrf_token": token},
                        follow_redirects=True)
    assert "already waits for an approval" in unescape(twice.text)


def test_the_approver_decides_on_the_record(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    quote = flow.quote(discount=45)
    approval = flow.as_user("rep").submit("quote", quote, flow.who("rep"), comment="Please")
    manager = user(web, "manager")
    page = manager.get(f"/quote/{quote}")
    shown = card(page.text)
    task = flow.task_for(approval, "manager")
    assert f'action="/approvals/tasks/{task}/decide"' in shown and "Reassign" in shown
    assert "You may still change it" in unescape(page.text)
    resp = manager.post(f"/approvals/tasks/{task}/decide", data={
        "csrf_token": csrf(page.text), "decision": "approve", "comment": "OK from me",
        "next": f"/quote/{quote}#approval"})
    assert resp.headers["Location"] == f"/quote/{quote}#approval"
    director = user(web, "director")
    page = director.get(f"/quote/{quote}")
    assert "step Director approval" in unescape(page.text)
    task = flow.task_for(approval, "director")
    director.post(f"/approvals/tasks/{task}/decide", data={
        "csrf_token": csrf(page.text), "decision": "reject", "comment": "Too generous"})
    # a rejection of the director step goes back to the manager
    assert flow.assignees(approval) == ["manager"]
    shown = card(user(web, "rep").get(f"/quote/{quote}").text)
    for text in ("OK from me", "Too generous", "Sent back to the step before",
                 "Step started, waiting for Director, Director2", "Submitted for approval"):
        assert text in shown, text


def test_reassign_from_the_record_leaves_out_the_submitter(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    quote = flow.quote(discount=30)
    approval = flow.as_user("rep").submit("quote", quote, flow.who("rep"))
    manager = user(web, "manager")
    page = manager.get(f"/quote/{quote}")
    shown = card(page.text)
    rep_id, loner_id = flow.who("rep").id, flow.who("loner").id
    assert f'<option value="{loner_id}">' in shown and f'<option value="{rep_id}">' not in shown
    manager.post(f"/approvals/tasks/{flow.task_for(approval, 'manager')}/reassign", data={
        "csrf_token": csrf(page.text), "to": str(loner_id), "comment": "Holiday"})
    history = card(user(web, "rep").get(f"/quote/{quote}").text)
    assert "Reassigned from Manager to Loner" in history and "Holiday" in history


def test_recall_and_comment_on_the_record(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    quote = flow.quote(discount=30)
    approval = flow.as_user("rep").submit("quote", quote, flow.who("rep"))
    client = user(web, "rep")
    page = client.get(f"/quote/{quote}")
    token = csrf(page.text)
    client.post(f"/approvals/{approval}/comment", data={
        "csrf_token": token, "comment": "Customer waits", "next": f"/quote/{quote}"})
    empty = client.post(f"/approvals/{approval}/comment", data={
        "csrf_token": token, "comment": "  "}, follow_redirects=True)
    assert "Write a comment." in unescape(empty.text)
    client.post(f"/approvals/{approval}/recall", data={
        "csrf_token": token, "comment": "Price changes", "next": f"/quote/{quote}"})
    page = client.get(f"/quote/{quote}")
    shown = card(page.text)
    assert 'id="approval-lock"' not in page.text
    assert "Recalled" in shown and "Customer waits" in shown and "Commented" in shown
    assert "Price changes" in shown and 'id="approval-submit"' in shown  # may submit again
    assert flow.events(approval)[-1] == "recalled"


def test_an_admin_decides_for_the_approver(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    quote = flow.quote(discount=30)
    approval = flow.as_user("rep").submit("quote", quote, flow.who("rep"))
    admin = user(web, "admin")
    page = admin.get(f"/quote/{quote}")
    shown = card(page.text)
    assert "Task of Manager" in shown and 'data-action="recall"' in shown
    admin.post(f"/approvals/tasks/{flow.task_for(approval, 'manager')}/decide", data={
        "csrf_token": csrf(page.text), "decision": "approve"})
    assert flow.approval(approval).status == "approved"
    shown = card(admin.get(f"/quote/{quote}").text)
    assert "Approval complete: approved" in shown and "by Admin" in shown


def test_the_card_in_chinese(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    quote = flow.quote(discount=30)
    flow.as_user("rep").submit("quote", quote, flow.who("rep"))
    client = user(web, "rep")
    with use_locale("en"):  # the requests set the process's locale: put it back after
        client.post("/me/language", data={"csrf_token": csrf(client.get("/").text),
                                          "locale": "zh_CN", "next": "/"})
        html = unescape(client.get(f"/quote/{quote}").text)
    assert get_locale() == "en"
    assert "折扣审批" in html and "经理审批" in html  # the process and step labels of the YAML
