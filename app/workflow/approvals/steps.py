"""Moving an approval through its steps, on the definition it is pinned to: starting a step
(its tasks, notifications, `on_enter`), deciding whether a step is approved or rejected, sending
it back, and finishing the approval. Used by engine.py (user operations) and timers.py."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app.i18n import _
from app.meta.approvals import ApprovalDef, StepDef, seconds
from app.meta.approvals_snapshot import approval_from_dict
from app.model.approvals import (
    APPROVED,
    CANCELLED,
    DONE_APPROVED,
    DONE_REJECTED,
    OPEN,
    REJECTED,
    approval_events,
    approval_tasks,
    approvals,
)
from app.records.errors import RecordError
from app.records.values import evaluate, with_formulas
from app.workflow.approvals.effects import (
    Op,
    due_text,
    entity_label,
    labelled,
    run_actions,
    tell,
)
from app.workflow.approvals.routing import Assignment, route_step

if TYPE_CHECKING:
    from app.records.service import Records

#: task statuses that no longer count for the step's decision
SUPERSEDED = ("cancelled", "escalated", "reassigned")


class NoApprover(RecordError):
    """A step that applies has nobody to approve it (the operation changes nothing)."""


def definition(row: Any) -> ApprovalDef:
    """The process an approval row is pinned to."""
    return approval_from_dict(row.process, row.definition)


def applies(rs: Records, process: ApprovalDef, step: StepDef, record: dict[str, Any]) -> bool:
    if not step.when:
        return True
    spec = rs.spec(process.entity)
    return evaluate(spec.expr(step.when), with_formulas(spec, record)) is True


def event(op: Op, approval_id: int, kind: str, *, user_id: int | None = None,
          step: int | None = None, step_name: str | None = None, task_id: int | None = None,
          comment: str | None = None, data: dict[str, Any] | None = None) -> None:
    op.conn.execute(approval_events.insert().values(
        approval_id=approval_id, at=op.now, user_id=user_id, kind=kind, step=step,
        step_name=step_name, task_id=task_id, comment=comment or None, data=data))


def current_round(op: Op, approval_id: int) -> int:
    return int(op.conn.execute(sa.select(approvals.c.round).where(
        approvals.c.id == approval_id)).scalar_one())


def add_task(op: Op, row: Any, index: int, step: StepDef, who: Assignment,
             replaces: int | None = None) -> int:
    escalate, remind = seconds(step.escalate_after), seconds(step.remind_after)
    return int(op.conn.execute(approval_tasks.insert().values(
        approval_id=row.id, step=index, step_name=step.name, assignee_id=who.user_id,
        round=current_round(op, row.id),
        queue=who.queue, delegated_from_id=who.delegated_from, replaces_id=replaces,
        status=OPEN, created_at=op.now,
        due_at=op.now + timedelta(seconds=escalate) if escalate else None,
        remind_at=op.now + timedelta(seconds=remind) if remind else None,
    ).returning(approval_tasks.c.id)).scalar_one())


def notify_pending(op: Op, row: Any, process: ApprovalDef, step: StepDef,
                   tasks: list[tuple[int, Assignment]], *, kind: str = "approval.pending"
                   ) -> None:
    """Tell each new task's approver (a queue's members) that it waits for them."""
    users: list[int] = []
    for _id, who in tasks:
        if who.user_id is not None:
            users.append(who.user_id)
        elif who.queue is not None:
            users += sorted(op.directory.teams.get(who.queue, ()))
    title = op.title(row.entity, row.record_id)
    submitter = op.directory.name(row.submitted_by_id)
    due = op.now + timedelta(seconds=seconds(step.escalate_after) or 0) \
        if step.escalate_after else None

    def compose() -> tuple[str, str]:
        what = entity_label(op, row.entity)
        name = labelled(process.label, process.name)
        subject = (_("Escalated to you: %(entity)s %(title)s (%(process)s)", entity=what,
                     title=title, process=name) if kind == "approval.escalated" else
                   _("Reminder: %(entity)s %(title)s waits for your approval", entity=what,
                     title=title) if kind == "approval.reminder" else
                   _("Approval needed: %(entity)s %(title)s (%(process)s)", entity=what,
                     title=title, process=name))
        body = _("%(submitter)s submitted %(entity)s %(title)s for %(process)s. Step: "
                 "%(step)s. Due: %(due)s.", submitter=submitter, entity=what, title=title,
                 process=name, step=labelled(step.label, step.name), due=due_text(due))
        return subject, body

    tell(op, users, kind, row.entity, row.record_id, compose)


def start_step(op: Op, row: Any, process: ApprovalDef, index: int,
               record: dict[str, Any]) -> bool:
    """Open step `index`: its tasks, or None when nobody remains but the submitter (then the
    step counts as approved on their behalf and False is returned). NoApprover when it has no
    approver at all."""
    step = process.steps[index]
    routing = route_step(op.directory, step, record, row.submitted_by_id)
    if not routing.assignments:
        if routing.submitter_left_out:
            event(op, row.id, "step_approved", user_id=row.submitted_by_id, step=index,
                  step_name=step.name, comment=_("The submitter is this step's approver."))
            return False
        raise NoApprover(_("Step \"%(step)s\" of %(process)s has no approver: %(why)s. Ask an "
                           "administrator to fix the users or the process.",
                           step=labelled(step.label, step.name),
                           process=labelled(process.label, process.name),
                           why="; ".join(routing.problems) or _("nobody")))
    op.conn.execute(approvals.update().where(approvals.c.id == row.id).values(
        step=index, round=approvals.c.round + 1))
    tasks = [(add_task(op, row, index, step, who), who) for who in routing.assignments]
    event(op, row.id, "step_started", step=index, step_name=step.name,
          data={"tasks": [t for t, _w in tasks], "fallback": routing.fell_back,
                "problems": routing.problems})
    for task_id, who in tasks:
        if who.delegated_from is not None:
            event(op, row.id, "delegated", user_id=who.delegated_from, step=index,
                  step_name=step.name, task_id=task_id,
                  data={"to": who.user_id, "from": who.delegated_from})
    if step.on_enter:
        run_actions(op, row.entity, row.record_id, step.on_enter, kind="approval",
                    name=process.name, event=f"{step.name}.on_enter",
                    submitter_id=row.submitted_by_id, approvers=_users(tasks))
    notify_pending(op, row, process, step, tasks)
    return True


def _users(tasks: list[tuple[int, Assignment]]) -> list[int]:
    return [w.user_id for _t, w in tasks if w.user_id is not None]


def advance(op: Op, row: Any, process: ApprovalDef, start: int) -> None:
    """Open the first step from `start` that applies and has someone to approve it; approve
    the whole approval when none is left."""
    for index in range(start, len(process.steps)):
        step = process.steps[index]
        record = op.record(row.entity, row.record_id)
        if not applies(op.rs, process, step, record):
            event(op, row.id, "step_skipped", step=index, step_name=step.name)
            continue
        if start_step(op, row, process, index, record):
            return
    finish(op, row, process, approved=True)


def outcome(op: Op, row: Any, process: ApprovalDef) -> str | None:
    """"approved", "rejected" or None (still waiting) for the approval's current step."""
    step = process.steps[row.step]
    tasks = op.conn.execute(sa.select(approval_tasks.c.status).where(
        approval_tasks.c.approval_id == row.id, approval_tasks.c.step == row.step,
        approval_tasks.c.round == current_round(op, row.id),
        approval_tasks.c.status.not_in(SUPERSEDED))).scalars().all()
    count = len(tasks)
    yes = sum(1 for s in tasks if s == DONE_APPROVED)
    no = sum(1 for s in tasks if s == DONE_REJECTED)
    needed = step.needed(count)
    if yes >= needed:
        return APPROVED
    if (step.mode in ("any", "all") and no) or no > count - needed:
        return REJECTED
    return None


def cancel_open(op: Op, approval_id: int, *, step: int | None = None) -> list[int]:
    """Close every open task (of one step) as cancelled; their assignees."""
    where = [approval_tasks.c.approval_id == approval_id, approval_tasks.c.status == OPEN]
    if step is not None:
        where.append(approval_tasks.c.step == step)
    rows = op.conn.execute(sa.select(approval_tasks.c.id, approval_tasks.c.assignee_id)
                           .where(*where)).all()
    if rows:
        op.conn.execute(approval_tasks.update().where(*where).values(
            status=CANCELLED, decided_at=op.now))
    return [int(r.assignee_id) for r in rows if r.assignee_id is not None]


def step_decided(op: Op, row: Any, process: ApprovalDef, result: str, actor_id: int | None
                 ) -> None:
    """The current step was approved or rejected: go on, go back, or finish."""
    step = process.steps[row.step]
    cancel_open(op, row.id, step=row.step)
    if result == APPROVED:
        event(op, row.id, "step_approved", user_id=actor_id, step=row.step, step_name=step.name)
        if step.on_approve:
            run_actions(op, row.entity, row.record_id, step.on_approve, kind="approval",
                        name=process.name, event=f"{step.name}.on_approve",
                        submitter_id=row.submitted_by_id)
        advance(op, row, process, row.step + 1)
        return
    if step.on_reject == "back":
        before = previous_step(op, row)
        if before is not None:
            event(op, row.id, "sent_back", user_id=actor_id, step=row.step, step_name=step.name,
                  data={"to_step": before})
            record = op.record(row.entity, row.record_id)
            if start_step(op, row, process, before, record):
                return
            advance(op, row, process, before + 1)  # pragma: no cover - submitter's own step
            return
    finish(op, row, process, approved=False, actor_id=actor_id)


def previous_step(op: Op, row: Any) -> int | None:
    """The step before the current one that had approvers in this approval."""
    found = op.conn.execute(sa.select(sa.func.max(approval_tasks.c.step)).where(
        approval_tasks.c.approval_id == row.id, approval_tasks.c.step < row.step)).scalar()
    return int(found) if found is not None else None


def finish(op: Op, row: Any, process: ApprovalDef, *, approved: bool,
           actor_id: int | None = None) -> None:
    status = APPROVED if approved else REJECTED
    op.conn.execute(approvals.update().where(approvals.c.id == row.id).values(
        status=status, decided_at=op.now))
    event(op, row.id, "final_approved" if approved else "final_rejected", user_id=actor_id)
    refs = process.actions.get("on_approve" if approved else "on_reject", ())
    run_actions(op, row.entity, row.record_id, refs, kind="approval", name=process.name,
                event="on_approve" if approved else "on_reject",
                submitter_id=row.submitted_by_id)
    title = op.title(row.entity, row.record_id)
    comment = op.conn.execute(sa.select(approval_events.c.comment).where(
        approval_events.c.approval_id == row.id, approval_events.c.comment.is_not(None))
        .order_by(approval_events.c.id.desc()).limit(1)).scalar()

    def compose() -> tuple[str, str]:
        what = entity_label(op, row.entity)
        subject = (_("Approved: %(entity)s %(title)s", entity=what, title=title) if approved
                   else _("Rejected: %(entity)s %(title)s", entity=what, title=title))
        body = _("%(process)s finished: %(result)s.", process=labelled(process.label,
                                                                      process.name),
                 result=_("approved") if approved else _("rejected"))
        if comment:
            body += "\n" + _("Last comment: %(comment)s", comment=comment)
        return subject, body

    if row.submitted_by_id is not None:
        tell(op, [row.submitted_by_id], "approval.approved" if approved else "approval.rejected",
             row.entity, row.record_id, compose)
