"""The approvals inbox (/approvals/): the navigation link with my pending count, the three tabs
(pending for me, submitted by me, history) with their empty states, and acting from it:
approve / reject / reassign with a comment, recall; POST + CSRF only, nothing changes on a GET,
another user's task is refused."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
from flask import Flask

from app import clock
from app.context import Context
from tests import approvalkit
from tests.approvalkit import START, Flow, approval_deployment, signed_in
from tests.webkit import csrf, web_app

COUNT = re.compile(r'id="approvals-count">(\d+)<')


ctx = approvalkit.approval_ctx


@pytest.fixture
def web(ctx: Context) -> Flask:
    return web_app(ctx)


user = signed_in


def submitted(flow: Flow, discount: float = 45, owner: str = "rep", name: str = "Big deal"
              ) -> int:
    quote = flow.quote(discount=discount, owner=owner, name=name)
    return flow.as_user(owner).submit("quote", quote, flow.who(owner), comment="Please")


def test_the_link_counts_my_pending_tasks(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    manager = user(web, "manager")
    home = manager.get("/").text
    assert 'id="approvals-link"' in home and COUNT.search(home) is None
    submitted(flow)
    submitted(flow, owner="rep2", name="Second")
    assert COUNT.search(manager.get("/").text).group(1) == "2"  # type: ignore[union-attr]
    assert COUNT.search(user(web, "rep").get("/").text) is None


def test_no_link_without_an_approval_process(tmp_path: Path, database_url: str) -> None:
    made = approval_deployment(tmp_path, database_url, workflows={"none.yaml": "stages: {}\n"})
    try:
        client = user(web_app(made), "manager")
        assert 'id="approvals-link"' not in client.get("/").text
        assert client.get("/approvals/").status_code == 404
    finally:
        made.dispose()


def test_the_empty_tabs_say_what_they_are_for(web: Flask) -> None:
    client = user(web, "loner")
    pending = unescape(client.get("/approvals/").text)
    assert "Nothing waits for your approval." in pending and "appear here" in pending
    mine = unescape(client.get("/approvals/?tab=submitted").text)
    assert "You have not submitted anything for approval." in mine
    history = unescape(client.get("/approvals/?tab=history").text)
    assert "You have not decided any approval yet." in history
    assert client.get("/approvals/?tab=nonsense").status_code == 404


def test_pending_shows_step_submitter_due_date_and_overdue(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    submitted(flow, name="Acme <renewal>")
    client = user(web, "manager")
    html = unescape(client.get("/approvals/").text)
    assert "Acme <renewal>" not in client.get("/approvals/").text  # escaped
    assert "Acme <renewal>" in html and "Manager approval" in html
    assert "Submitted by Rep" in html and "due Nov 4, 2026" in html and "Overdue" not in html
    clock.set_now(START.replace(day=5))  # past the two days of the manager step
    late = unescape(client.get("/approvals/").text)
    assert "Overdue" in late and "text-danger" in late


def test_approve_from_the_inbox_with_a_comment(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    approval = submitted(flow)
    task = flow.task_for(approval, "manager")
    client = user(web, "manager")
    page = client.get("/approvals/")
    assert f'action="/approvals/tasks/{task}/decide"' in page.text
    client.get(f"/approvals/tasks/{task}/decide")  # a GET is not an action
    assert flow.tasks(approval)[0].id == task
    resp = client.post(f"/approvals/tasks/{task}/decide", data={
        "csrf_token": csrf(page.text), "decision": "approve", "comment": "Fine by me",
        "next": "/approvals/?tab=pending"})
    assert resp.status_code == 303 and resp.headers["Location"] == "/approvals/?tab=pending"
    assert flow.assignees(approval) == ["director", "director2"]
    after = unescape(client.get(resp.headers["Location"]).text)
    assert "You approved it." in after and "Nothing waits for your approval." in after
    history = unescape(client.get("/approvals/?tab=history").text)
    assert "Big deal" in history and "Approved" in history and "Fine by me" in history
    assert "approved" in flow.events(approval)


def test_reject_and_reassign_from_the_inbox(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    first, second = submitted(flow, name="One"), submitted(flow, name="Two")
    client = user(web, "manager")
    token = csrf(client.get("/approvals/").text)
    client.post(f"/approvals/tasks/{flow.task_for(first, 'manager')}/decide",
                data={"csrf_token": token, "decision": "reject", "comment": "Too much"})
    assert flow.approval(first).status == "rejected"
    director2 = flow.who("director2").id
    resp = client.post(f"/approvals/tasks/{flow.task_for(second, 'manager')}/reassign",
                       data={"csrf_token": token, "to": str(director2), "comment": "Away"})
    assert resp.status_code == 303
    assert "Reassigned to Director2." in unescape(client.get("/approvals/").text)
    assert flow.assignees(second) == ["director2"]
    assert "Two" in unescape(user(web, "director2").get("/approvals/").text)
    history = unescape(client.get("/approvals/?tab=history").text)
    assert "Too much" in history and "Rejected" in history and "Reassigned" in history


def test_bad_decisions_are_messages(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    approval = submitted(flow)
    task = flow.task_for(approval, "manager")
    client = user(web, "manager")
    token = csrf(client.get("/approvals/").text)
    for data, message in (
            ({"decision": "maybe"}, "Choose Approve or Reject."),
            ({"decision": "approve", "comment": "x" * 4001}, "at most 4000 characters"),
            ({"to": "abc"}, "Choose whom to reassign it to."),
            ({"to": str(flow.who("rep").id)}, "cannot approve their own submission")):
        action = "reassign" if "to" in data else "decide"
        resp = client.post(f"/approvals/tasks/{task}/{action}",
                           data={"csrf_token": token, **data}, follow_redirects=True)
        assert resp.status_code == 200 and message in unescape(resp.text), data
    assert flow.tasks(approval)[0].id == task  # still open, unchanged
    client.post(f"/approvals/tasks/{task}/decide",
                data={"csrf_token": token, "decision": "approve"})
    again = client.post(f"/approvals/tasks/{task}/decide",
                        data={"csrf_token": token, "decision": "approve"},
                        follow_redirects=True)
    assert "already decided" in unescape(again.text)


def test_csrf_and_other_peoples_tasks_are_refused(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    approval = submitted(flow)
    task = flow.task_for(approval, "manager")
    manager = user(web, "manager")
    assert manager.post(f"/approvals/tasks/{task}/decide",
                        data={"decision": "approve"}).status_code == 400  # no CSRF token
    rep2 = user(web, "rep2")  # not involved, cannot read rep's quote
    token = csrf(rep2.get("/approvals/").text)
    assert rep2.post(f"/approvals/tasks/{task}/decide", data={
        "csrf_token": token, "decision": "approve"}).status_code == 404
    rep = user(web, "rep")  # the submitter sees it but may not decide
    token = csrf(rep.get("/approvals/").text)
    refused = rep.post(f"/approvals/tasks/{task}/decide",
                       data={"csrf_token": token, "decision": "approve"})
    assert refused.status_code == 403 and "not yours to decide" in unescape(refused.text)
    assert rep.post("/approvals/tasks/999999/decide", data={
        "csrf_token": token, "decision": "approve"}).status_code == 404
    assert rep.post("/approvals/tasks/99999999999/decide", data={
        "csrf_token": token, "decision": "approve"}).status_code == 404
    assert flow.approval(approval).status == "pending"


def test_submitted_tab_and_recall(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    approval = submitted(flow)
    done = submitted(flow, discount=30, name="Small")
    flow.as_user("manager").decide(flow.task_for(done, "manager"), flow.who("manager"),
                                   approve=True)
    client = user(web, "rep")
    page = client.get("/approvals/?tab=submitted")
    html = unescape(page.text)
    assert "Big deal" in html and "Small" in html and "Pending" in html and "Approved" in html
    assert f'action="/approvals/{approval}/recall"' in page.text
    assert f'action="/approvals/{done}/recall"' not in page.text
    resp = client.post(f"/approvals/{approval}/recall", data={
        "csrf_token": csrf(page.text), "comment": "Wrong price",
        "next": "/approvals/?tab=submitted"})
    assert resp.status_code == 303
    assert "Recalled" in unescape(client.get(resp.headers["Location"]).text)
    assert flow.approval(approval).status == "recalled"
    assert flow.record("quote", flow.approval(approval).record_id)["status"] == "draft"
    other = user(web, "rep2")
    assert other.post(f"/approvals/{done}/recall", data={
        "csrf_token": csrf(other.get("/approvals/").text)}).status_code == 404


def test_next_must_stay_on_the_site(web: Flask, ctx: Context) -> None:
    flow = Flow(ctx)
    approval = submitted(flow)
    client = user(web, "rep")
    resp = client.post(f"/approvals/{approval}/comment", data={
        "csrf_token": csrf(client.get("/approvals/").text), "comment": "Any news?",
        "next": "//evil.example/"})
    assert resp.status_code == 303 and resp.headers["Location"] == "/approvals/"
    assert flow.events(approval)[-1] == "commented"
