"""Approval processes at work (workflows/*.yaml `approvals:`; app/meta/approvals.py): submit a
record, approve or reject a task, recall, reassign, comment. Each operation is one transaction
through the records service: the record's changes (`on_submit`, `on_approve` ... actions) are
saved by the system actor and obey the record's rules; a refused operation changes nothing.

An approval is pinned to its process as it was at submission (sys_approval.definition): editing
or removing the process in the YAML never changes an approval in flight.

Who may do what:
- submit: whoever may edit the record and has one of `submitters` (admins always), when the
  process's `when` holds and no approval of the record is pending;
- approve / reject: the task's approver, the approver a delegate stands in for, any member of a
  queue's team, or an admin;
- reassign: the same people, to another active user;
- recall: the submitter, or an admin, while pending;
- comment: whoever can see the record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app import clock
from app.i18n import _
from app.meta.access import ADMIN
from app.meta.approvals import ApprovalDef
from app.meta.approvals_snapshot import approval_to_dict
from app.model.approvals import (
    DONE_APPROVED,
    DONE_REJECTED,
    OPEN,
    PENDING,
    REASSIGNED,
    RECALLED,
    approval_tasks,
    approvals,
)
from app.records import guard
from app.records.change import Actor
from app.records.errors import RECORD, Forbidden, NotFound, RecordError, ValidationFailed
from app.records.values import evaluate, with_formulas
from app.workflow.approvals import steps
from app.workflow.approvals.effects import Op, entity_label, labelled, run_actions, tell
from app.workflow.approvals.routing import Assignment, Directory

if TYPE_CHECKING:
    from app.records.service import Records
    from app.settings import Settings

MAX_COMMENT = 4000


class ApprovalNotFound(NotFound):
    """No such approval or task (or not one this user may see)."""


class StateConflict(RecordError):
    """The approval is not in a state that allows this (already pending, decided, finished)."""

    status = 409


@dataclass(frozen=True)
class Refusal:
    """Why a user may not submit a record to a process (None: they may)."""

    process: str
    reason: str


class Approvals:
    """The approval operations for one records service (its config version and reader)."""

    def __init__(self, rs: Records, settings: Settings) -> None:
        self.rs = rs
        self.settings = settings
        self.meta = rs.meta

    # --- processes -------------------------------------------------------------------------
    def processes(self, entity: str) -> list[ApprovalDef]:
        return [p for p in self.meta.approvals.values() if p.entity == entity]

    def process(self, name: str) -> ApprovalDef:
        found = self.meta.approvals.get(name)
        if found is None:
            raise ApprovalNotFound(_("There is no approval process %(name)s.", name=name))
        return found

    def refusal(self, process: ApprovalDef, record: dict[str, Any], actor: Actor
                ) -> str | None:
        """Why `actor` may not submit `record` to `process` (edit access is checked apart)."""
        if process.submitters and ADMIN not in actor.roles and not actor.is_system \
                and not set(process.submitters) & set(actor.roles):
            return _("Only %(roles)s may submit for %(process)s.",
                     roles=", ".join(process.submitters),
                     process=labelled(process.label, process.name))
        if process.when:
            spec = self.rs.spec(process.entity)
            if evaluate(spec.expr(process.when), with_formulas(spec, record)) is not True:
                return labelled(process.message, "") or _(
                    "This record does not meet the entry criteria of %(process)s (%(when)s).",
                    process=labelled(process.label, process.name), when=process.when)
        return None

    # --- operations ------------------------------------------------------------------------
    def _op(self, conn: sa.Connection) -> Op:
        now = clock.now()
        return Op(self.rs, self.settings, conn, now, Directory(conn, now))

    def submit(self, entity: str, record_id: int, actor: Actor, *, process: str | None = None,
               comment: str | None = None) -> int:
        """Submit the record for approval: the new approval's id."""
        comment = _comment(comment)
        with self.rs.transaction() as conn:
            op = self._op(conn)
            guard.may(self.rs, conn, entity, record_id, actor, "edit")
            record = self.rs._locked(conn, entity, record_id)
            if pending(conn, entity, record_id) is not None:
                raise StateConflict(_("This record already waits for an approval; recall it "
                                      "first to submit it again."))
            chosen = self._choose(entity, record, actor, process)
            row_id = int(conn.execute(approvals.insert().values(
                process=chosen.name, entity=entity, record_id=record_id, status=PENDING, step=0,
                submitted_by_id=actor.id, submitted_at=op.now, config_version=_version(conn),
                definition=approval_to_dict(chosen), comment=comment)
                .returning(approvals.c.id)).scalar_one())
            steps.event(op, row_id, "submitted", user_id=actor.id, comment=comment)
            row = _row(conn, row_id)
            if chosen.actions.get("on_submit"):
                run_actions(op, entity, record_id, chosen.actions["on_submit"], kind="approval",
                            name=chosen.name, event="on_submit", submitter_id=actor.id)
            steps.advance(op, row, chosen, 0)
        op.after_commit()
        return row_id

    def _choose(self, entity: str, record: dict[str, Any], actor: Actor, name: str | None
                ) -> ApprovalDef:
        found = [self.process(name)] if name else self.processes(entity)
        if name and found[0].entity != entity:
            raise ApprovalNotFound(_("There is no approval process %(name)s.", name=name))
        if not found:
            raise RecordError(_("%(entity)s records have no approval process.",
                                entity=self.rs.entity(entity).label_for(_locale())))
        reasons = []
        for p in found:
            why = self.refusal(p, record, actor)
            if why is None:
                return p
            reasons.append(why)
        raise ValidationFailed({RECORD: reasons})

    def decide(self, task_id: int, actor: Actor, *, approve: bool,
               comment: str | None = None) -> None:
        comment = _comment(comment)
        with self.rs.transaction() as conn:
            op = self._op(conn)
            task, row = self._task(conn, task_id, actor)
            process = steps.definition(row)
            conn.execute(approval_tasks.update().where(approval_tasks.c.id == task.id).values(
                status=DONE_APPROVED if approve else DONE_REJECTED, decided_at=op.now,
                decided_by_id=actor.id, comment=comment,
                assignee_id=task.assignee_id if task.assignee_id is not None else actor.id))
            steps.event(op, row.id, "approved" if approve else "rejected", user_id=actor.id,
                        step=task.step, step_name=task.step_name, task_id=task.id,
                        comment=comment)
            result = steps.outcome(op, row, process)
            if result is not None:
                steps.step_decided(op, row, process, result, actor.id)
        op.after_commit()

    def recall(self, approval_id: int, actor: Actor, *, comment: str | None = None) -> None:
        comment = _comment(comment)
        with self.rs.transaction() as conn:
            op = self._op(conn)
            row = self._approval(conn, approval_id, actor)
            if row.status != PENDING:
                raise StateConflict(_("Only a pending approval can be recalled."))
            if row.submitted_by_id != actor.id and ADMIN not in actor.roles:
                raise Forbidden(_("Only the submitter or an administrator may recall it."))
            process = steps.definition(row)
            waiting = steps.cancel_open(op, row.id)
            conn.execute(approvals.update().where(approvals.c.id == row.id).values(
                status=RECALLED, decided_at=op.now))
            steps.event(op, row.id, "recalled", user_id=actor.id, comment=comment)
            run_actions(op, row.entity, row.record_id, process.actions.get("on_recall", ()),
                        kind="approval", name=process.name, event="on_recall",
                        submitter_id=row.submitted_by_id)
            title = op.title(row.entity, row.record_id)
            who = op.directory.name(actor.id)
            tell(op, waiting, "approval.recalled", row.entity, row.record_id, lambda: (
                _("Recalled: %(entity)s %(title)s", entity=entity_label(op, row.entity),
                  title=title),
                _("%(who)s recalled it; nothing waits for you any more.", who=who)))
        op.after_commit()

    def reassign(self, task_id: int, actor: Actor, to_user: int, *,
                 comment: str | None = None) -> int:
        comment = _comment(comment)
        with self.rs.transaction() as conn:
            op = self._op(conn)
            task, row = self._task(conn, task_id, actor)
            if to_user not in op.directory.people:
                raise ValidationFailed({"to": [_("Choose an active user.")]})
            if to_user == row.submitted_by_id:
                raise ValidationFailed({"to": [_("The submitter cannot approve their own "
                                                 "submission.")]})
            if to_user in step_people(conn, row.id, task.step):
                raise ValidationFailed({"to": [_("%(name)s already has this step's task.",
                                                 name=op.directory.name(to_user))]})
            process = steps.definition(row)
            step = process.steps[task.step]
            conn.execute(approval_tasks.update().where(approval_tasks.c.id == task.id).values(
                status=REASSIGNED, decided_at=op.now, decided_by_id=actor.id, comment=comment))
            new = Assignment(user_id=to_user)
            new_id = steps.add_task(op, row, task.step, step, new, replaces=task.id)
            steps.event(op, row.id, "reassigned", user_id=actor.id, step=task.step,
                        step_name=task.step_name, task_id=new_id, comment=comment,
                        data={"from": task.assignee_id, "to": to_user, "queue": task.queue})
            steps.notify_pending(op, row, process, step, [(new_id, new)])
        op.after_commit()
        return new_id

    def comment(self, approval_id: int, actor: Actor, text: str) -> None:
        text = _comment(text) or ""
        if not text:
            raise ValidationFailed({"comment": [_("Write a comment.")]})
        with self.rs.transaction() as conn:
            op = self._op(conn)
            row = self._approval(conn, approval_id, actor)
            steps.event(op, row.id, "commented", user_id=actor.id, comment=text)
            others = [u for u in [row.submitted_by_id, *open_assignees(conn, row.id)]
                      if u is not None and u != actor.id]
            title = op.title(row.entity, row.record_id)
            who = op.directory.name(actor.id)
            tell(op, others, "approval.comment", row.entity, row.record_id, lambda: (
                _("Comment on %(entity)s %(title)s", entity=entity_label(op, row.entity),
                  title=title), f"{who}: {text}"))
        op.after_commit()

    # --- lookups with permission checks ------------------------------------------------------
    def _approval(self, conn: sa.Connection, approval_id: int, actor: Actor) -> Any:
        row = _row(conn, approval_id, lock=True)
        if row is None or not self._sees(conn, row, actor):
            raise ApprovalNotFound(_("Approval #%(id)s does not exist.", id=approval_id))
        return row

    def _sees(self, conn: sa.Connection, row: Any, actor: Actor) -> bool:
        if actor.is_system or actor.id == row.submitted_by_id or ADMIN in actor.roles:
            return True
        return involved(conn, row.id, actor.id) or _reads(self.rs, conn, row, actor)

    def _task(self, conn: sa.Connection, task_id: int, actor: Actor) -> tuple[Any, Any]:
        # the approval first, then its task: every writer locks in this order (no deadlock)
        found = conn.execute(sa.select(approval_tasks.c.approval_id)
                             .where(approval_tasks.c.id == task_id)).scalar()
        row = _row(conn, found, lock=True) if found is not None else None
        task = conn.execute(sa.select(approval_tasks).where(approval_tasks.c.id == task_id)
                            .with_for_update()).first() if row is not None else None
        if task is None or row is None or not self._sees(conn, row, actor):
            raise ApprovalNotFound(_("Approval task #%(id)s does not exist.", id=task_id))
        if task.status != OPEN or row.status != PENDING:
            raise StateConflict(_("This approval task was already decided."))
        if not may_act(conn, task, actor, row.submitted_by_id):
            raise Forbidden(_("This approval task is not yours to decide."))
        return task, row


# --- queries shared with the lock, the inbox and the pages -------------------------------------
def _row(conn: sa.Connection, approval_id: int, *, lock: bool = False) -> Any:
    stmt = sa.select(approvals).where(approvals.c.id == approval_id)
    return conn.execute(stmt.with_for_update() if lock else stmt).first()


def pending(conn: sa.Connection, entity: str, record_id: int) -> Any:
    """The record's pending approval row, if any."""
    return conn.execute(sa.select(approvals).where(
        approvals.c.entity == entity, approvals.c.record_id == record_id,
        approvals.c.status == PENDING)).first()


def open_assignees(conn: sa.Connection, approval_id: int, *, step: int | None = None
                   ) -> list[int]:
    t = approval_tasks.c
    where = [t.approval_id == approval_id, t.status == OPEN, t.assignee_id.is_not(None)]
    if step is not None:
        where.append(t.step == step)
    return [int(u) for u in conn.execute(sa.select(t.assignee_id).where(*where)).scalars()]


def step_people(conn: sa.Connection, approval_id: int, step: int) -> set[int]:
    """Who holds an open task of the step, or approved it, in its current round."""
    t = approval_tasks.c
    current = sa.select(approvals.c.round).where(approvals.c.id == approval_id).scalar_subquery()
    return {int(u) for u in conn.execute(sa.select(t.assignee_id).where(
        t.approval_id == approval_id, t.step == step, t.round == current,
        t.status.in_((OPEN, DONE_APPROVED)), t.assignee_id.is_not(None))).scalars()}


def team_of(conn: sa.Connection, user_id: int | None) -> set[str]:
    from app.model.access import user_teams

    if user_id is None:
        return set()
    return set(conn.execute(sa.select(user_teams.c.team)
                            .where(user_teams.c.user_id == user_id)).scalars())


def may_act(conn: sa.Connection, task: Any, actor: Actor, submitter_id: int | None) -> bool:
    """Whether `actor` may decide (or reassign) the open task: never the submitter (four eyes),
    except an admin."""
    if ADMIN in actor.roles or actor.is_system:
        return True
    if actor.id == submitter_id:
        return False
    if actor.id is not None and actor.id in (task.assignee_id, task.delegated_from_id):
        return True
    return task.assignee_id is None and task.queue is not None \
        and task.queue in team_of(conn, actor.id)


def involved(conn: sa.Connection, approval_id: int, user_id: int | None) -> bool:
    """Whether the user has (or had) a task on the approval, for themselves or a queue."""
    if user_id is None:
        return False
    t = approval_tasks.c
    who = [t.assignee_id == user_id, t.delegated_from_id == user_id]
    teams = team_of(conn, user_id)
    if teams:
        who.append(t.queue.in_(sorted(teams)))
    return conn.execute(sa.select(t.id).where(t.approval_id == approval_id, sa.or_(*who))
                        .limit(1)).first() is not None


def _reads(rs: Records, conn: sa.Connection, row: Any, actor: Actor) -> bool:
    where = rs.access(actor).where(row.entity, "read")
    table = rs.table(row.entity)
    stmt = sa.select(table.c.id).where(table.c.id == row.record_id)
    if where is not None:
        stmt = stmt.where(where)
    return conn.execute(stmt).first() is not None


def _version(conn: sa.Connection) -> int | None:
    from app.migrate.publish import current_version_id

    return current_version_id(conn)


def _comment(text: str | None) -> str | None:
    text = (text or "").strip()
    if len(text) > MAX_COMMENT:
        raise ValidationFailed({"comment": [_("A comment has at most %(n)s characters.",
                                              n=MAX_COMMENT)]})
    return text or None


def _locale() -> str:
    from app.i18n import get_locale

    return get_locale()


def users_named(conn: sa.Connection, ids: Sequence[int]) -> dict[int, str]:
    from app.model.system import users

    if not ids:
        return {}
    rows = conn.execute(sa.select(users.c.id, users.c.full_name, users.c.username)
                        .where(users.c.id.in_(sorted(set(ids))))).all()
    return {int(r.id): r.full_name or r.username for r in rows}
