"""The approvals of one record in the API: `GET|POST /api/v1/<entity>/<id>/approvals` (the
approvals with tasks and history, what the caller may do now; submitting) and
`GET .../approvals/simulate`; who may see and submit what, and bad input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.context import Context
from tests import approvalkit
from tests.apikit import error_of
from tests.approvalkit import START, Flow, api_caller

Call = Callable[..., Any]


ctx = approvalkit.approval_ctx


@pytest.fixture
def api(ctx: Context) -> Call:
    """`api(user, method, path, json=None)`: the response to a call with the user's token."""
    return api_caller(ctx)


def test_submit_answers_the_new_approval_and_locks_the_quote(ctx: Context, api: Call) -> None:
    flow = Flow(ctx)
    quote = flow.quote(discount=45)
    resp = api("rep", "POST", f"/quote/{quote}/approvals", {"comment": "Big customer"})
    assert resp.status_code == 201, resp.text
    body = resp.get_json()
    assert body["status"] == "pending" and body["process"] == "quote_discount"
    assert body["process_label"] == "Discount approval"
    assert body["step_label"] == "Manager approval" and body["submitted_by"] == "Rep"
    assert body["submitted_at"] == START.isoformat()
    [task] = body["tasks"]
    assert (task["assignee"], task["status"]) == ("Manager", "open")
    assert task["due_at"] == "2026-11-04T09:00:00+00:00"  # escalates after 2 days
    assert [e["kind"] for e in body["events"]][:2] == ["submitted", "step_started"]
    assert body["events"][0]["comment"] == "Big customer"
    assert flow.record("quote", quote)["status"] == "pending_approval"
    # the quote is locked for the rep now: a change through the API is a 423
    locked = api("rep", "PATCH", f"/quote/{quote}", {"name": "Changed"})
    assert locked.status_code == 423 and "locked" in error_of(locked)["message"]


def test_the_record_lists_approvals_history_and_actions(ctx: Context, api: Call) -> None:
    flow = Flow(ctx)
    quote = flow.quote(discount=45)
    before = api("rep", "GET", f"/quote/{quote}/approvals").get_json()
    assert before["data"] == []
    assert before["actions"] == {"submit": [{"process": "quote_discount",
                                             "label": "Discount approval"}],
                                 "refused": [], "pending_approval": None, "recall": False,
                                 "tasks": [], "locked": False}
    approval = api("rep", "POST", f"/quote/{quote}/approvals").get_json()["id"]
    mine = api("rep", "GET", f"/quote/{quote}/approvals").get_json()
    assert [a["id"] for a in mine["data"]] == [approval]
    assert mine["actions"]["recall"] is True and mine["actions"]["tasks"] == []
    assert mine["actions"]["pending_approval"] == approval and mine["actions"]["locked"]
    task = flow.task_for(approval, "manager")
    theirs = api("manager", "GET", f"/quote/{quote}/approvals").get_json()
    assert theirs["actions"]["tasks"] == [task] and theirs["actions"]["recall"] is False
    api("manager", "POST", f"/approval-tasks/{task}/approve", {"comment": "OK"})
    director = flow.task_for(approval, "director")
    api("director", "POST", f"/approval-tasks/{director}/reject", {"comment": "Too much"})
    done = api("rep", "GET", f"/quote/{quote}/approvals").get_json()
    [view] = done["data"]
    assert view["status"] == "pending" and view["step_label"] == "Manager approval"
    kinds = [e["kind"] for e in view["events"]]
    assert kinds.count("approved") == 1 and "rejected" in kinds and "sent_back" in kinds
    decided = {t["id"]: t for t in view["tasks"]}
    assert decided[task]["decided_by"] == "Manager" and decided[task]["comment"] == "OK"
    assert decided[director]["status"] == "rejected"


def test_a_quote_below_the_threshold_says_why_not(ctx: Context, api: Call) -> None:
    quote = Flow(ctx).quote(discount=10)
    actions = api("rep", "GET", f"/quote/{quote}/approvals").get_json()["actions"]
    assert actions["submit"] == []
    [(label, reason)] = [(r["label"], r["reason"]) for r in actions["refused"]]
    assert label == "Discount approval" and "over 20%" in reason
    refused = api("rep", "POST", f"/quote/{quote}/approvals")
    assert refused.status_code == 422
    assert "over 20%" in error_of(refused)["fields"]["__record__"][0]


def test_submitting_twice_is_a_conflict(ctx: Context, api: Call) -> None:
    quote = Flow(ctx).quote(discount=30)
    assert api("rep", "POST", f"/quote/{quote}/approvals").status_code == 201
    again = api("rep", "POST", f"/quote/{quote}/approvals")
    assert again.status_code == 409
    assert "already waits for an approval" in error_of(again)["message"]


def test_who_may_see_and_submit(ctx: Context, api: Call) -> None:
    flow = Flow(ctx)
    quote = flow.quote(discount=30)
    # another rep may not read the rep's quote: it does not exist for them
    assert api("rep2", "GET", f"/quote/{quote}/approvals").status_code == 404
    assert api("rep2", "POST", f"/quote/{quote}/approvals").status_code == 404
    assert api("rep2", "GET", f"/quote/{quote}/approvals/simulate").status_code == 404
    approval = api("rep", "POST", f"/quote/{quote}/approvals").get_json()["id"]
    assert api("rep2", "GET", f"/quote/{quote}/approvals").status_code == 404
    # the approver reads the record they are asked to approve, and its approvals
    seen = api("manager", "GET", f"/quote/{quote}/approvals")
    assert seen.status_code == 200 and seen.get_json()["data"][0]["id"] == approval
    # an entity without an approval process
    account = flow.rs.create("account", {"name": "Acme"}, flow.who("rep"))["id"]
    none = api("rep", "POST", f"/account/{account}/approvals")
    assert none.status_code == 404 and "no approval process" in error_of(none)["message"]
    listed = api("rep", "GET", f"/account/{account}/approvals").get_json()
    assert listed["data"] == [] and listed["actions"]["submit"] == []


@pytest.mark.parametrize(("body", "status", "says"), [
    ("[1]", 400, "one JSON object"),
    ('{"process": 5}', 400, "'process' must be text"),
    ('{"colour": "red"}', 400, "Unknown key 'colour'"),
    ('{"process": "lead_check"}', 404, "no approval process lead_check"),
    ('{"comment": "' + "x" * 4001 + '"}', 422, "at most 4000 characters"),
])
def test_bad_submissions(ctx: Context, api: Call, body: str, status: int, says: str) -> None:
    quote = Flow(ctx).quote(discount=30)
    resp = api("rep", "POST", f"/quote/{quote}/approvals", data=body,
               content_type="application/json")
    assert resp.status_code == status, resp.text
    assert says in error_of(resp)["message"]


def test_ids_and_names_that_do_not_exist(ctx: Context, api: Call) -> None:
    for path in ("/quote/999/approvals", "/quote/2147483648/approvals", "/quote/0/approvals",
                 "/quote/999/approvals/simulate", "/nothing/1/approvals"):
        resp = api("admin", "GET", path)
        assert resp.status_code == 404, path
        assert resp.is_json
    assert api("admin", "POST", "/quote/2147483648/approvals").status_code == 404
    quote = Flow(ctx).quote()
    unknown = api("rep", "GET", f"/quote/{quote}/approvals?colour=red")
    assert unknown.status_code == 400 and "colour" in error_of(unknown)["message"]


def test_simulate_shows_the_steps_and_changes_nothing(ctx: Context, api: Call) -> None:
    flow = Flow(ctx)
    quote = flow.quote(discount=45)
    resp = api("rep", "GET", f"/quote/{quote}/approvals/simulate")
    assert resp.status_code == 200, resp.text
    sim = resp.get_json()
    assert sim["submitter"] == "Rep" and sim["pending_approval"] is None
    [plan] = sim["processes"]
    assert plan["name"] == "quote_discount" and plan["refused"] is None
    assert [(s["name"], s["applies"], s["approvers"]) for s in plan["steps"]] == [
        ("manager", True, ["Manager"]), ("director", True, ["Director", "Director2"])]
    assert plan["steps"][0]["escalate_after"] == "2d" and not plan["blocked"]
    assert flow.record("quote", quote)["status"] == "draft"
    assert api("rep", "GET", f"/quote/{quote}/approvals").get_json()["data"] == []
    # a smaller discount skips the director; `process=` picks the process
    small = flow.quote(discount=30)
    steps = api("rep", "GET", f"/quote/{small}/approvals/simulate?process=quote_discount"
                ).get_json()["processes"][0]["steps"]
    assert [s["applies"] for s in steps] == [True, False]
    assert api("rep", "GET", f"/quote/{small}/approvals/simulate?process=nope"
               ).status_code == 404


def test_simulate_as_someone_else_is_for_admins(ctx: Context, api: Call) -> None:
    flow = Flow(ctx)
    quote = flow.quote(discount=45, owner="loner")
    as_loner = api("admin", "GET", f"/quote/{quote}/approvals/simulate?as=loner").get_json()
    assert as_loner["submitter"] == "Loner"
    first = as_loner["processes"][0]["steps"][0]
    assert first["approvers"] == ["Director", "Director2"]  # no manager: the fallback
    assert any("fallback" in p for p in first["problems"])
    as_director = api("admin", "GET", f"/quote/{quote}/approvals/simulate?as=director"
                      ).get_json()["processes"][0]
    assert as_director["steps"][1]["approvers"] == ["Director2"]  # never themselves
    missing = api("admin", "GET", f"/quote/{quote}/approvals/simulate?as=ghost")
    assert missing.status_code == 404 and "ghost" in error_of(missing)["message"]
    own = flow.quote(discount=45, owner="rep")
    assert api("rep", "GET", f"/quote/{own}/approvals/simulate?as=rep").status_code == 200
    refused = api("rep", "GET", f"/quote/{own}/approvals/simulate?as=manager")
    assert refused.status_code == 403 and "administrators" in error_of(refused)["message"]
