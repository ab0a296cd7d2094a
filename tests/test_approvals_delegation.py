"""Out of office: while a delegation holds, an approver's new tasks go to their delegate, who
decides them; before and after it, to the approver; bad delegations are refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path

import pytest

from app import clock
from app.records import ValidationFailed
from app.workflow.approvals.delegation import clear_delegation, delegation_of, set_delegation
from tests import approvalkit
from tests.approvalkit import START, Flow, approval_deployment

frozen_clock = approvalkit.frozen_clock


@pytest.fixture
def flow(tmp_path: Path, database_url: str, frozen_clock: object) -> Iterator[Flow]:
    ctx = approval_deployment(tmp_path, database_url)
    try:
        yield Flow(ctx)
    finally:
        ctx.dispose()


def _delegate(flow: Flow, who: str, to: str, **when: object) -> None:
    with flow.ctx.engine.begin() as conn:
        set_delegation(conn, flow.who(who).id, flow.who(to).id, **when)  # type: ignore[arg-type]


def test_the_delegate_gets_and_decides_the_task(flow: Flow) -> None:
    _delegate(flow, "manager", "director2", ends_at=START + timedelta(days=7))
    quote = flow.quote(discount=30)
    approval = flow.approvals.submit("quote", quote, flow.who("rep"))
    (task,) = flow.tasks(approval)
    assert task.assignee_id == flow.who("director2").id
    assert task.delegated_from_id == flow.who("manager").id
    assert "delegated" in flow.events(approval)
    flow.approvals.decide(task.id, flow.who("director2"), approve=True)
    assert flow.record("quote", quote)["status"] == "approved"


def test_the_approver_may_still_decide_a_delegated_task(flow: Flow) -> None:
    _delegate(flow, "manager", "director2")
    approval = flow.approvals.submit("quote", flow.quote(discount=30), flow.who("rep"))
    flow.approvals.decide(flow.tasks(approval)[0].id, flow.who("manager"), approve=True)
    assert flow.approval(approval).status == "approved"


def test_outside_its_window_the_delegation_does_nothing(flow: Flow) -> None:
    _delegate(flow, "manager", "director2", starts_at=START + timedelta(days=1),
              ends_at=START + timedelta(days=2))
    early = flow.approvals.submit("quote", flow.quote(discount=30), flow.who("rep"))
    assert flow.assignees(early) == ["manager"]
    clock.set_now(START + timedelta(days=1, hours=1))
    during = flow.approvals.submit("quote", flow.quote(discount=30), flow.who("rep"))
    assert flow.assignees(during) == ["director2"]
    clock.set_now(START + timedelta(days=3))
    late = flow.approvals.submit("quote", flow.quote(discount=30), flow.who("rep"))
    assert flow.assignees(late) == ["manager"]


def test_bad_delegations_are_refused(flow: Flow) -> None:
    with pytest.raises(ValidationFailed, match="someone else"):
        _delegate(flow, "manager", "manager")
    _delegate(flow, "manager", "director")
    with pytest.raises(ValidationFailed, match="delegates their approvals to you"):
        _delegate(flow, "director", "manager")
    with pytest.raises(ValidationFailed, match="future"):
        _delegate(flow, "rep", "rep2", ends_at=START - timedelta(hours=1))
    with flow.ctx.engine.begin() as conn:
        found = delegation_of(conn, flow.who("manager").id)
        assert found is not None and found.delegate == "Director" and found.active
        assert clear_delegation(conn, flow.who("manager").id)
        assert delegation_of(conn, flow.who("manager").id) is None


def test_a_delegation_in_another_time_zone_is_kept_as_the_same_moment(flow: Flow) -> None:
    from datetime import datetime, timezone

    beijing = timezone(timedelta(hours=8))
    _delegate(flow, "manager", "director2", ends_at=datetime(2026, 11, 10, 18, tzinfo=beijing))
    with flow.ctx.engine.connect() as conn:
        found = delegation_of(conn, flow.who("manager").id)
    assert found is not None and found.ends_at == datetime(2026, 11, 10, 10, tzinfo=UTC)
