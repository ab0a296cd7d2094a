"""Acting on approvals through the API: the inbox (`GET /api/v1/approvals?box=`), approve,
reject and reassign a task, recall and comment an approval; who may (a rep cannot decide the
manager's task nor see another rep's approvals), conflicts and bad input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app import clock
from app.context import Context
from tests import approvalkit
from tests.apikit import error_of, token_for
from tests.approvalkit import START, Flow, api_caller
from tests.webkit import web_app

Call = Callable[..., Any]


ctx = approvalkit.approval_ctx


@pytest.fixture
def api(ctx: Context) -> Call:
    """`api(user, method, path, json=None)`: the response to a call with the user's token."""
    return api_caller(ctx)


def submitted(flow: Flow, discount: float = 45, owner: str = "rep", name: str = "Big deal"
              ) -> int:
    quote = flow.quote(discount=discount, owner=owner, name=name)
    return flow.as_user(owner).submit("quote", quote, flow.who(owner))


def test_the_three_boxes(ctx: Context, api: Call) -> None:
    flow = Flow(ctx)
    first = submitted(flow, name="First")
    second = submitted(flow, owner="rep2", name="Second")
    pending = api("manager", "GET", "/approvals").get_json()
    assert pending["box"] == "pending" and pending["count"] == 2
    assert [i["title"] for i in pending["data"]] == ["First", "Second"]
    item = pending["data"][0]
    assert item["task_id"] == flow.task_for(first, "manager")
    assert (item["approval_id"], item["entity"], item["status"]) == (first, "quote", "open")
    assert item["due_at"] == "2026-11-04T09:00:00+00:00" and item["overdue"] is False
    assert item["step_label"] == "Manager approval" and item["submitted_by"] == "Rep"
    mine = api("rep", "GET", "/approvals?box=submitted").get_json()
    assert [(i["approval_id"], i["status"], i["task_id"]) for i in mine["data"]] == [
        (first, "pending", None)]
    assert api("rep", "GET", "/approvals").get_json()["data"] == []
    api("manager", "POST", f"/approval-tasks/{flow.task_for(second, 'manager')}/reject",
        {"comment": "No"})
    history = api("manager", "GET", "/approvals?box=history").get_json()
    assert [(i["approval_id"], i["status"], i["comment"]) for i in history["data"]] == [
        (second, "rejected", "No")]
    assert api("manager", "GET", "/approvals").get_json()["count"] == 1
    # two days on, the manager's task is overdue
    clock.set_now(START.replace(day=5))
    assert api("manager", "GET", "/approvals").get_json()["data"][0]["overdue"] is True


def test_the_inbox_pages_like_other_lists(ctx: Context, api: Call) -> None:
    flow = Flow(ctx)
    made = [submitted(flow, name=f"Quote {n}") for n in range(5)]
    page = api("manager", "GET", "/approvals?limit=2").get_json()
    seen = [i["approval_id"] for i in page["data"]]
    assert page["has_more"] and page["count"] == 5 and not page["count_is_estimate"]
    while page["has_more"]:
        page = api("manager", "GET", f"/approvals?limit=2&cursor={page['next_cursor']}"
                   ).get_json()
        seen += [i["approval_id"] for i in page["data"]]
    assert seen == made and page["next_cursor"] is None


@pytest.mark.parametrize(("query", "says"), [
    ("box=mine", "box must be pending, submitted or history"),
    ("limit=0", "limit must be a whole number"),
    ("limit=501", "limit must be a whole number"),
    ("cursor=x", "cursor is not valid"),
    ("cursor=999", "cursor is not valid"),
    ("colour=red", "Unknown parameter 'colour'"),
])
def test_bad_inbox_parameters(api: Call, query: str, says: str) -> None:
    resp = api("manager", "GET", f"/approvals?{query}")
    assert resp.status_code == 400 and says in error_of(resp)["message"]


def test_approve_through_both_steps(ctx: Context, api: Call) -> None:
    flow = Flow(ctx)
    approval = submitted(flow, discount=45)
    task = flow.task_for(approval, "manager")
    resp = api("manager", "POST", f"/approval-tasks/{task}/approve", {"comment": "Fine"})
    assert resp.status_code == 200, resp.text
    body = resp.get_json()
    assert body["id"] == approval and body["status"] == "pending"
    assert body["step_label"] == "Director approval"
    assert sorted(t["assignee"] for t in body["tasks"] if t["status"] == "open") == [
        "Director", "Director2"]
    last = flow.task_for(approval, "director2")
    done = api("director2", "POST", f"/approval-tasks/{last}/approve").get_json()
    assert done["status"] == "approved" and done["decided_at"] == START.isoformat()
    quote = flow.approval(approval).record_id
    assert flow.record("quote", quote)["status"] == "approved"
    # deciding again: the task is not open any more
    again = api("director2", "POST", f"/approval-tasks/{last}/approve")
    assert again.status_code == 409 and "already decided" in error_of(again)["message"]


def test_a_rep_cannot_decide_the_managers_task(ctx: Context, api: Call) -> None:
    flow = Flow(ctx)
    approval = submitted(flow)
    task = flow.task_for(approval, "manager")
    # the submitter sees the approval but the task is not theirs
    mine = api("rep", "POST", f"/approval-tasks/{task}/approve")
    assert mine.status_code == 403 and "not yours" in error_of(mine)["message"]
    # another rep does not even see it
    for path in (f"/approval-tasks/{task}/approve", f"/approval-tasks/{task}/reject",
                 f"/approvals/{approval}/recall", f"/approvals/{approval}/comments"):
        other = api("rep2", "POST", path, {"comment": "hi"})
        assert other.status_code == 404, path
    reassign = api("rep2", "POST", f"/approval-tasks/{task}/reassign", {"to": "rep2"})
    assert reassign.status_code == 404
    assert flow.tasks(approval)[0].status == "open" and flow.events(approval)[-1] != "approved"


def test_reject_is_final_at_the_first_step(ctx: Context, api: Call) -> None:
    flow = Flow(ctx)
    approval = submitted(flow, discount=30)
    task = flow.task_for(approval, "manager")
    body = api("manager", "POST", f"/approval-tasks/{task}/reject", {"comment": "No"}
               ).get_json()
    assert body["status"] == "rejected"
    assert flow.record("quote", flow.approval(approval).record_id)["status"] == "rejected"


def test_reassign_by_username_or_id(ctx: Context, api: Call) -> None:
    flow = Flow(ctx)
    approval = submitted(flow)
    task = flow.task_for(approval, "manager")
    resp = api("manager", "POST", f"/approval-tasks/{task}/reassign",
               {"to": "director", "comment": "You decide"})
    assert resp.status_code == 200, resp.text
    body = resp.get_json()
    new = body["task_id"]
    assert new == flow.task_for(approval, "director")
    assert {t["id"]: t["status"] for t in body["approval"]["tasks"]} == {
        task: "reassigned", new: "open"}
    assert body["approval"]["events"][-1]["kind"] == "reassigned"
    # the admin passes it on by id
    again = api("admin", "POST", f"/approval-tasks/{new}/reassign",
                {"to": flow.who("director2").id})
    assert again.status_code == 200
    assert flow.assignees(approval) == ["director2"]  # the open task
    assert [t.status for t in flow.tasks(approval, None)] == ["reassigned"] * 2 + ["open"]


@pytest.mark.parametrize(("body", "status", "says"), [
    ({}, 400, "Send 'to'"),
    ({"to": True}, 400, "'to' must be a user id"),
    ({"to": 0}, 400, "'to' must be a user id"),
    ({"to": 2**31}, 400, "'to' must be a user id"),
    ({"to": ["director"]}, 400, "'to' must be a user id"),
    ({"to": "director", "why": "x"}, 400, "Unknown key 'why'"),
    ({"to": "ghost"}, 422, "There is no active user 'ghost'"),
    ({"to": 4242}, 422, "Choose an active user"),
    ({"to": "rep"}, 422, "cannot approve their own submission"),
])
def test_bad_reassignments(ctx: Context, api: Call, body: Any, status: int, says: str
                           ) -> None:
    flow = Flow(ctx)
    task = flow.task_for(submitted(flow), "manager")
    resp = api("manager", "POST", f"/approval-tasks/{task}/reassign", body)
    assert resp.status_code == status, resp.text
    error = error_of(resp)
    assert says in error["message"]
    if status == 422:
        assert list(error["fields"]) == ["to"]


def test_recall_by_the_submitter(ctx: Context, api: Call) -> None:
    flow = Flow(ctx)
    approval = submitted(flow)
    manager_only = api("manager", "POST", f"/approvals/{approval}/recall")
    assert manager_only.status_code == 403
    resp = api("rep", "POST", f"/approvals/{approval}/recall", {"comment": "Wrong price"})
    assert resp.status_code == 200, resp.text
    body = resp.get_json()
    assert body["status"] == "recalled" and body["events"][-1]["comment"] == "Wrong price"
    assert [t["status"] for t in body["tasks"]] == ["cancelled"]
    quote = flow.approval(approval).record_id
    assert flow.record("quote", quote)["status"] == "draft"
    # the quote may be changed again
    assert api("rep", "PATCH", f"/quote/{quote}", {"name": "Better"}).status_code == 200
    again = api("rep", "POST", f"/approvals/{approval}/recall")
    assert again.status_code == 409 and "Only a pending approval" in error_of(again)["message"]


def test_comments_reach_the_history(ctx: Context, api: Call) -> None:
    flow = Flow(ctx)
    approval = submitted(flow)
    resp = api("manager", "POST", f"/approvals/{approval}/comments",
               {"comment": "Which customer?"})
    assert resp.status_code == 201, resp.text
    last = resp.get_json()["events"][-1]
    assert (last["kind"], last["user"], last["comment"]) == ("commented", "Manager",
                                                              "Which customer?")
    assert api("rep", "POST", f"/approvals/{approval}/comments", {"comment": "Acme"}
               ).status_code == 201
    assert flow.events(approval).count("commented") == 2
    empty = api("rep", "POST", f"/approvals/{approval}/comments", {"comment": "   "})
    assert empty.status_code == 422 and error_of(empty)["fields"] == {
        "comment": ["Write a comment."]}
    assert api("rep", "POST", f"/approvals/{approval}/comments", {}).status_code == 400
    assert api("rep", "POST", f"/approvals/{approval}/comments", {"comment": 5}
               ).status_code == 400


def test_missing_and_out_of_range_ids(api: Call) -> None:
    for path in ("/approval-tasks/999/approve", "/approval-tasks/0/reject",
                 "/approval-tasks/2147483648/approve", "/approvals/999/recall",
                 "/approvals/2147483648/comments", "/approval-tasks/999/reassign"):
        body = {"to": "director", "comment": "x"} if path.endswith("reassign") else {
            "comment": "x"}
        resp = api("admin", "POST", path, body)
        assert resp.status_code == 404, path
        assert resp.is_json and error_of(resp)
    assert api("admin", "POST", "/approval-tasks/1/ponder").status_code == 404


def test_a_read_only_token_may_not_decide(ctx: Context) -> None:
    flow = Flow(ctx)
    task = flow.task_for(submitted(flow), "manager")
    client = web_app(ctx).test_client()
    headers = token_for(ctx, "manager", scope="read")
    assert client.get("/api/v1/approvals", headers=headers).status_code == 200
    resp = client.post(f"/api/v1/approval-tasks/{task}/approve", headers=headers)
    assert resp.status_code == 403 and flow.tasks(flow.approval(1).id)[0].status == "open"
