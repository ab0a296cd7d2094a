"""How a step decides: any (the first answer), all, at least N; queues (one task any member
takes); reassignment; comments; who may act on a task."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.model.access import user_teams
from app.records import Forbidden, RecordError
from tests import approvalkit
from tests.approvalkit import Flow, approval_deployment

frozen_clock = approvalkit.frozen_clock

PROCESS = """\
approvals:
  deal_desk:
    entity: quote
    steps:
      - name: desk
        approvers: [{queue: east}]
      - name: directors
        approvers: [{role: sales_director}, {user: manager}]
        mode: {mode}
        {extra}
    on_approve: [{set: {approved_at: now}}]
"""


def _flow(tmp_path: Path, database_url: str, mode: str, extra: str = "") -> Flow:
    text = PROCESS.replace("{mode}", mode).replace("{extra}", extra)
    ctx = approval_deployment(tmp_path, database_url, workflows={"x.yaml": text})
    flow = Flow(ctx)
    with ctx.engine.begin() as conn:
        for name in ("loner",):
            conn.execute(user_teams.insert().values(user_id=flow.who(name).id, team="east"))
    return flow


@pytest.fixture
def flows(tmp_path: Path, database_url: str, frozen_clock: object) -> Iterator[list[Flow]]:
    made: list[Flow] = []
    yield made
    for f in made:
        f.ctx.dispose()


def _through_desk(flow: Flow) -> tuple[int, int]:
    quote = flow.quote(discount=5)
    approval = flow.approvals.submit("quote", quote, flow.who("rep"))
    (task,) = flow.tasks(approval)
    assert task.queue == "east" and task.assignee_id is None
    with pytest.raises(Forbidden):  # not in the team
        flow.approvals.decide(task.id, flow.who("manager"), approve=True)
    flow.approvals.decide(task.id, flow.who("loner"), approve=True, comment="desk ok")
    assert flow.tasks(approval, "approved")[0].assignee_id == flow.who("loner").id
    return quote, approval


def test_any_member_of_a_queue_takes_its_task(tmp_path: Path, database_url: str,
                                               flows: list[Flow]) -> None:
    flows.append(flow := _flow(tmp_path, database_url, "any"))
    _quote, approval = _through_desk(flow)
    assert flow.assignees(approval) == ["director", "director2", "manager"]


def test_all_needs_every_approver(tmp_path: Path, database_url: str, flows: list[Flow]) -> None:
    flows.append(flow := _flow(tmp_path, database_url, "all"))
    quote, approval = _through_desk(flow)
    for name in ("director", "director2"):
        flow.approvals.decide(flow.task_for(approval, name), flow.who(name), approve=True)
        assert flow.approval(approval).status == "pending"
    flow.approvals.decide(flow.task_for(approval, "manager"), flow.who("manager"), approve=True)
    assert flow.approval(approval).status == "approved"
    assert flow.record("quote", quote)["approved_at"] is not None


def test_all_is_rejected_by_one_no(tmp_path: Path, database_url: str, flows: list[Flow]) -> None:
    flows.append(flow := _flow(tmp_path, database_url, "all"))
    _quote, approval = _through_desk(flow)
    flow.approvals.decide(flow.task_for(approval, "director"), flow.who("director"),
                          approve=False)
    assert flow.approval(approval).status == "rejected"
    assert flow.tasks(approval) == []


def test_at_least_two_of_three(tmp_path: Path, database_url: str, flows: list[Flow]) -> None:
    flows.append(flow := _flow(tmp_path, database_url, "at_least", "at_least: 2"))
    _quote, approval = _through_desk(flow)
    flow.approvals.decide(flow.task_for(approval, "director"), flow.who("director"),
                          approve=False)
    assert flow.approval(approval).status == "pending"  # two may still say yes
    flow.approvals.decide(flow.task_for(approval, "director2"), flow.who("director2"),
                          approve=True)
    assert flow.approval(approval).status == "pending"
    flow.approvals.decide(flow.task_for(approval, "manager"), flow.who("manager"), approve=True)
    assert flow.approval(approval).status == "approved"


def test_at_least_two_fails_once_two_said_no(tmp_path: Path, database_url: str,
                                             flows: list[Flow]) -> None:
    flows.append(flow := _flow(tmp_path, database_url, "at_least", "at_least: 2"))
    _quote, approval = _through_desk(flow)
    for name in ("director", "director2"):
        flow.approvals.decide(flow.task_for(approval, name), flow.who(name), approve=False)
    assert flow.approval(approval).status == "rejected"


def test_reassign_hands_the_task_to_someone_else(tmp_path: Path, database_url: str,
                                                  flows: list[Flow]) -> None:
    flows.append(flow := _flow(tmp_path, database_url, "any"))
    _quote, approval = _through_desk(flow)
    task = flow.task_for(approval, "manager")
    with pytest.raises(Forbidden):  # not theirs
        flow.approvals.reassign(task, flow.who("loner"), flow.who("rep2").id)
    with pytest.raises(RecordError, match="submitter"):
        flow.approvals.reassign(task, flow.who("manager"), flow.who("rep").id)
    with pytest.raises(RecordError, match="already has this step's task"):
        flow.approvals.reassign(task, flow.who("manager"), flow.who("director").id)
    new = flow.approvals.reassign(task, flow.who("manager"), flow.who("rep2").id,
                                  comment="You know this customer")
    assert "rep2" in flow.assignees(approval) and "manager" not in flow.assignees(approval)
    flow.approvals.decide(new, flow.who("rep2"), approve=True)
    assert flow.approval(approval).status == "approved"
    assert "reassigned" in flow.events(approval)


def test_comments_are_history_and_reach_the_others(tmp_path: Path, database_url: str,
                                                   flows: list[Flow]) -> None:
    flows.append(flow := _flow(tmp_path, database_url, "any"))
    _quote, approval = _through_desk(flow)
    flow.approvals.comment(approval, flow.who("director"), "Which competitor?")
    with pytest.raises(RecordError):
        flow.approvals.comment(approval, flow.who("director"), "   ")
    with pytest.raises(RecordError, match="does not exist"):  # cannot see the quote
        flow.as_user("rep2").comment(approval, flow.who("rep2"), "hi")
    from app.model.notify import notifications

    with flow.ctx.engine.connect() as conn:
        kinds = conn.execute(sa.select(notifications.c.kind).where(
            notifications.c.user_id == flow.who("rep").id)).scalars().all()
    assert "approval.comment" in kinds
    assert flow.events(approval)[-1] == "commented"


def test_an_admin_may_decide_any_task_and_a_decided_one_is_final(
        tmp_path: Path, database_url: str, flows: list[Flow]) -> None:
    flows.append(flow := _flow(tmp_path, database_url, "any"))
    _quote, approval = _through_desk(flow)
    task = flow.task_for(approval, "manager")
    flow.approvals.decide(task, flow.who("admin"), approve=True, comment="on behalf")
    assert flow.approval(approval).status == "approved"
    with pytest.raises(RecordError, match="already decided"):
        flow.approvals.decide(task, flow.who("manager"), approve=False)
    with pytest.raises(RecordError, match="does not exist"):
        flow.approvals.decide(999999, flow.who("admin"), approve=True)
