"""Time: reminders after `remind_after`, escalation after `escalate_after`, and the case SLA
escalation of workflows/service.yaml - each run by the task queue's `workflow.tick` task with
the clock moved by the test, with the notifications arriving over SMTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import clock
from app.model.approvals import escalations_fired
from tests import approvalkit, mailkit
from tests.approvalkit import START, Flow, approval_deployment
from tests.mailkit import MailBox

mail_server = mailkit.mail_server
frozen_clock = approvalkit.frozen_clock


@pytest.fixture
def flow(tmp_path: Path, database_url: str, mail_server: MailBox, frozen_clock: object
         ) -> Iterator[Flow]:
    ctx = approval_deployment(tmp_path, database_url, extra_config=mail_server.config)
    try:
        yield Flow(ctx)
    finally:
        ctx.dispose()


def _tick(flow: Flow) -> None:
    """What the worker does every minute (the immediate queue runs it at once)."""
    flow.ctx.queue.enqueue_task("workflow.tick")


def _subjects(box: MailBox, address: str) -> list[str]:
    return [str(m["Subject"]) for m in box.messages if m["To"] == address]


def test_the_approver_is_reminded_once_after_eight_hours(flow: Flow, mail_server: MailBox
                                                         ) -> None:
    quote = flow.quote(discount=30)
    approval = flow.approvals.submit("quote", quote, flow.who("rep"))
    clock.set_now(START + timedelta(hours=7, minutes=59))
    _tick(flow)
    assert _subjects(mail_server, "manager@example.com") == [
        "Approval needed: Quote Big deal (Discount approval)"]
    clock.set_now(START + timedelta(hours=8))
    _tick(flow)
    _tick(flow)
    subjects = _subjects(mail_server, "manager@example.com")
    assert subjects[1:] == ["Reminder: Quote Big deal waits for your approval"]
    assert flow.events(approval).count("reminded") == 1


def test_after_two_days_the_directors_take_over(flow: Flow, mail_server: MailBox) -> None:
    quote = flow.quote(discount=30)
    approval = flow.approvals.submit("quote", quote, flow.who("rep"))
    clock.set_now(START + timedelta(days=2) - timedelta(minutes=1))
    _tick(flow)
    assert flow.assignees(approval) == ["manager"]
    clock.set_now(START + timedelta(days=2))
    _tick(flow)
    assert flow.assignees(approval) == ["director", "director2"]
    assert flow.tasks(approval, None)[0].status == "escalated"
    assert "escalated" in flow.events(approval)
    assert any(s.startswith("Escalated to you") for s in
               _subjects(mail_server, "director@example.com"))
    # the manager's task is gone; a director decides; nothing escalates again
    clock.set_now(START + timedelta(days=30))
    _tick(flow)
    assert flow.events(approval).count("escalated") == 1
    flow.approvals.decide(flow.task_for(approval, "director"), flow.who("director"),
                          approve=True)
    assert flow.record("quote", quote)["status"] == "approved"


def _case(flow: Flow, due_in: timedelta, status: str = "new") -> int:
    agent = flow.who("admin")
    case = flow.rs.create("case", {"subject": "Printer on fire", "status": status,
                                   "resolution": "Replaced" if status == "resolved" else None,
                                   "priority": "high",
                                   "sla_due_at": START + due_in}, agent)
    return int(case["id"])


def test_a_case_is_warned_then_escalated_at_its_sla(flow: Flow, mail_server: MailBox) -> None:
    case = _case(flow, timedelta(hours=4))
    done = _case(flow, timedelta(hours=4), status="resolved")
    clock.set_now(START + timedelta(hours=1, minutes=59))
    _tick(flow)
    assert not mail_server.messages
    clock.set_now(START + timedelta(hours=2))
    _tick(flow)
    _tick(flow)
    warned = _subjects(mail_server, "admin@example.com")
    number = flow.record("case", case)["number"]
    assert warned == [f"Case {number} is due in two hours: Printer on fire"]
    assert flow.record("case", case)["status"] == "new"
    clock.set_now(START + timedelta(hours=4))
    _tick(flow)
    _tick(flow)
    assert flow.record("case", case)["status"] == "escalated"
    assert flow.record("case", done)["status"] == "resolved"
    breached = _subjects(mail_server, "admin@example.com")[1:]
    assert len(breached) == 1 and "breached its SLA" in breached[0]
    with flow.ctx.engine.connect() as conn:
        fired = conn.execute(sa.select(escalations_fired.c.record_id,
                                       escalations_fired.c.kind)).all()
    assert sorted(fired) == [(case, "breach"), (case, "warn")]
    # the follow-up task landed on the case
    activities = flow.rs.table("activity")
    with flow.ctx.engine.connect() as conn:
        subjects = conn.execute(sa.select(activities.c.subject)).scalars().all()
    assert any("Escalated case" in s for s in subjects)


def test_a_new_deadline_fires_again(flow: Flow) -> None:
    case = _case(flow, timedelta(hours=1))
    clock.set_now(START + timedelta(hours=1))
    _tick(flow)
    assert flow.record("case", case)["status"] == "escalated"
    flow.rs.update("case", case, {"status": "in_progress",
                                  "sla_due_at": START + timedelta(days=1)}, flow.who("admin"))
    _tick(flow)
    assert flow.record("case", case)["status"] == "in_progress"
    clock.set_now(START + timedelta(days=1, minutes=1))
    _tick(flow)
    assert flow.record("case", case)["status"] == "escalated"
