"""The API's approval statistics (`GET /api/v1/approvals/stats`: administrators, sales
directors and service managers) and the caller's out-of-office delegation
(`GET|PUT|DELETE /api/v1/me/delegation`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from app import clock
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


def test_stats_count_outcomes_and_time_per_step(ctx: Context, api: Call) -> None:
    flow = Flow(ctx)
    rep = flow.as_user("rep")
    one = rep.submit("quote", flow.quote(discount=30, name="One"), flow.who("rep"))
    two = rep.submit("quote", flow.quote(discount=30, name="Two"), flow.who("rep"))
    rep.submit("quote", flow.quote(discount=30, name="Three"), flow.who("rep"))
    clock.set_now(START + timedelta(hours=2))
    flow.as_user("manager").decide(flow.task_for(one, "manager"), flow.who("manager"),
                                   approve=True)
    clock.set_now(START + timedelta(hours=4))
    flow.as_user("manager").decide(flow.task_for(two, "manager"), flow.who("manager"),
                                   approve=False)
    clock.set_now(START + timedelta(days=3))  # the third one's task is overdue now
    resp = api("director", "GET", "/approvals/stats")
    assert resp.status_code == 200, resp.text
    body = resp.get_json()
    [stats] = body["data"]
    assert (stats["process"], stats["submitted"], stats["approved"], stats["rejected"],
            stats["pending"], stats["approval_rate"]) == ("quote_discount", 3, 1, 1, 1, 0.5)
    manager = stats["steps"][0]
    assert (manager["step"], manager["decided"], manager["open"], manager["overdue"]) == (
        "manager", 2, 1, 1)
    assert manager["avg_seconds"] == 3 * 3600 and manager["p90_seconds"] == 4 * 3600
    assert body["overdue"] == 1 and body["since"] is None and body["process"] is None
    later = api("admin", "GET", "/approvals/stats?since=2026-11-03&process=quote_discount"
                ).get_json()
    assert later["data"] == [] and later["since"] == "2026-11-03"
    assert later["process"] == "quote_discount"


def test_stats_are_for_some_roles_only(ctx: Context, api: Call) -> None:
    for user in ("rep", "manager"):
        resp = api(user, "GET", "/approvals/stats")
        assert resp.status_code == 403, user
        assert "sales directors" in error_of(resp)["message"]
    assert api("admin", "GET", "/approvals/stats").status_code == 200


@pytest.mark.parametrize(("query", "status", "says"), [
    ("since=yesterday", 400, "since must be a date"),
    ("since=2026-13-01", 400, "since must be a date"),
    ("since=2026-W45-1", 400, "since must be a date"),
    ("process=nope", 404, "no approval process nope"),
    ("colour=red", 400, "Unknown parameter"),
])
def test_bad_stats_parameters(api: Call, query: str, status: int, says: str) -> None:
    resp = api("admin", "GET", f"/approvals/stats?{query}")
    assert resp.status_code == status and says in error_of(resp)["message"]


def test_delegation_set_read_and_cleared(ctx: Context, api: Call) -> None:
    flow = Flow(ctx)
    none = api("manager", "GET", "/me/delegation")
    assert none.status_code == 404 and "not delegated" in error_of(none)["message"]
    resp = api("manager", "PUT", "/me/delegation",
               {"delegate": "director", "ends_at": "2026-11-10T18:00:00+08:00"})
    assert resp.status_code == 200, resp.text
    body = resp.get_json()
    assert body == {"delegate_id": flow.who("director").id, "delegate": "Director",
                    "starts_at": None, "ends_at": "2026-11-10T10:00:00+00:00",
                    "active": True}
    assert api("manager", "GET", "/me/delegation").get_json() == body
    # new tasks go to the delegate while it holds
    approval = flow.as_user("rep").submit("quote", flow.quote(discount=30), flow.who("rep"))
    assert flow.assignees(approval) == ["director"]
    assert api("director", "GET", "/approvals").get_json()["data"][0]["delegated_from"] == \
        "Manager"
    # replaced by id, from a later start (naive times are UTC)
    later = api("manager", "PUT", "/me/delegation",
                {"delegate": flow.who("director2").id, "starts_at": "2026-11-05T09:00"}
                ).get_json()
    assert later["delegate"] == "Director2" and later["active"] is False
    assert later["starts_at"] == "2026-11-05T09:00:00+00:00" and later["ends_at"] is None
    assert api("manager", "DELETE", "/me/delegation").status_code == 204
    assert api("manager", "GET", "/me/delegation").status_code == 404
    assert api("manager", "DELETE", "/me/delegation").status_code == 404


@pytest.mark.parametrize(("body", "status", "field", "says"), [
    ({}, 400, None, "Send 'delegate'"),
    ({"delegate": "director", "until": "x"}, 400, None, "Unknown key 'until'"),
    ({"delegate": 1.5}, 400, None, "'delegate' must be a user id"),
    ({"delegate": "director", "ends_at": 5}, 400, None, "must be a date and time"),
    ({"delegate": "ghost"}, 422, "delegate", "There is no active user 'ghost'"),
    ({"delegate": "manager"}, 422, "delegate", "someone else than yourself"),
    ({"delegate": "director", "ends_at": "soon"}, 422, "ends_at", "like 2026-11-02T09:00"),
    ({"delegate": "director", "ends_at": "0001-01-01T00:00:00+01:00"}, 422, "ends_at",
     "like 2026-11-02T09:00"),
    ({"delegate": "director", "ends_at": "2026-11-01T00:00:00Z"}, 422, "ends_at",
     "in the future"),
    ({"delegate": "director", "starts_at": "2026-11-09T00:00:00Z",
      "ends_at": "2026-11-08T00:00:00Z"}, 422, "ends_at", "after the start"),
])
def test_bad_delegations(ctx: Context, api: Call, body: Any, status: int, field: str | None,
                         says: str) -> None:
    resp = api("manager", "PUT", "/me/delegation", body)
    assert resp.status_code == status, resp.text
    error = error_of(resp)
    assert says in error["message"]
    if field:
        assert list(error["fields"]) == [field]
    assert api("manager", "GET", "/me/delegation").status_code == 404


def test_no_delegating_back(ctx: Context, api: Call) -> None:
    assert api("manager", "PUT", "/me/delegation", {"delegate": "director"}
               ).status_code == 200
    back = api("director", "PUT", "/me/delegation", {"delegate": "manager"})
    assert back.status_code == 422 and "delegates their approvals to you" in error_of(back)[
        "message"]
