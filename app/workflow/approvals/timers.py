"""Time in workflows: reminders to approvers, escalation of tasks nobody decided in time, and
timed escalations of records (`escalations:`, a case past its SLA). `tick(rs, settings)` does
whatever is due at `app.clock.now()`; the task queue runs it every minute (`workflow.tick`,
app/workflow/approvals/tasks.py) and `crm workflow tick` runs it by hand. Each item is done in
its own transaction and at most once: a reminder marks its task, an escalation closes the
task it replaces, a fired escalation rule is remembered per record and deadline.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app import clock
from app.i18n import _
from app.meta.approvals import EscalationDef, seconds
from app.model.approvals import (
    ESCALATED,
    OPEN,
    PENDING,
    approval_tasks,
    approvals,
    escalations_fired,
)
from app.records.errors import RecordError
from app.records.values import evaluate, with_formulas
from app.workflow.approvals import steps
from app.workflow.approvals.effects import Op, run_actions
from app.workflow.approvals.routing import Directory, route

if TYPE_CHECKING:
    from app.records.service import Records
    from app.settings import Settings

log = logging.getLogger(__name__)
BATCH = 500


@dataclass
class TickReport:
    reminded: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    #: (rule, record id, "warn" or "breach")
    fired: list[tuple[str, int, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"reminded": self.reminded, "escalated": self.escalated,
                "fired": [list(f) for f in self.fired], "problems": self.problems}


def tick(rs: Records, settings: Settings) -> TickReport:
    now = clock.now()
    report = TickReport()
    _reminders(rs, settings, now, report)
    _escalations(rs, settings, now, report)
    for rule in rs.meta.escalations.values():
        _rule(rs, settings, rule, now, report)
    return report


def _op(rs: Records, settings: Settings, conn: sa.Connection, now: datetime) -> Op:
    return Op(rs, settings, conn, now, Directory(conn, now))


def _due_tasks(rs: Records, column: sa.Column[Any], now: datetime, *extra: Any) -> list[int]:
    t = approval_tasks.c
    with rs.engine.connect() as conn:
        return [int(i) for i in conn.execute(sa.select(t.id).join(
            approvals, approvals.c.id == t.approval_id).where(
            t.status == OPEN, approvals.c.status == PENDING, column.is_not(None),
            column <= now, *extra).order_by(t.id).limit(BATCH)).scalars()]


def _reminders(rs: Records, settings: Settings, now: datetime, report: TickReport) -> None:
    t = approval_tasks.c
    for task_id in _due_tasks(rs, t.remind_at, now, t.reminded_at.is_(None)):
        try:
            _remind(rs, settings, now, task_id, report)
        except RecordError as exc:
            log.warning("reminding approval task %s failed: %s", task_id, exc)
            report.problems.append(f"task {task_id}: {exc}")
            with rs.transaction() as conn:
                conn.execute(approval_tasks.update().where(t.id == task_id)
                             .values(reminded_at=now))


def _remind(rs: Records, settings: Settings, now: datetime, task_id: int,
            report: TickReport) -> None:
    t = approval_tasks.c
    with rs.transaction() as conn:
        op = _op(rs, settings, conn, now)
        task = conn.execute(sa.select(approval_tasks).where(
            t.id == task_id, t.status == OPEN, t.reminded_at.is_(None))
            .with_for_update()).first()
        if task is None:
            return
        row = conn.execute(sa.select(approvals).where(approvals.c.id == task.approval_id)
                           ).one()
        conn.execute(approval_tasks.update().where(t.id == task_id).values(reminded_at=now))
        process = steps.definition(row)
        steps.event(op, row.id, "reminded", step=task.step, step_name=task.step_name,
                    task_id=task_id)
        from app.workflow.approvals.routing import Assignment

        steps.notify_pending(op, row, process, process.steps[task.step],
                             [(task_id, Assignment(task.assignee_id, task.queue))],
                             kind="approval.reminder")
    op.after_commit()
    report.reminded.append(task_id)


def _escalations(rs: Records, settings: Settings, now: datetime, report: TickReport) -> None:
    for task_id in _due_tasks(rs, approval_tasks.c.due_at, now):
        try:
            if _escalate(rs, settings, now, task_id, report):
                report.escalated.append(task_id)
        except RecordError as exc:  # one broken approval never stops the others
            log.warning("escalating approval task %s failed: %s", task_id, exc)
            report.problems.append(f"task {task_id}: {exc}")
            with rs.transaction() as conn:  # and it is not tried again every minute
                conn.execute(approval_tasks.update().where(approval_tasks.c.id == task_id)
                             .values(due_at=None))


def _escalate(rs: Records, settings: Settings, now: datetime, task_id: int,
              report: TickReport) -> bool:
    t = approval_tasks.c
    with rs.transaction() as conn:
        op = _op(rs, settings, conn, now)
        found = conn.execute(sa.select(t.approval_id).where(t.id == task_id)).scalar()
        # the approval first, then its task: the order every writer locks in
        row = conn.execute(sa.select(approvals).where(approvals.c.id == found)
                           .with_for_update()).first()
        task = conn.execute(sa.select(approval_tasks).where(
            t.id == task_id, t.status == OPEN).with_for_update()).first()
        if task is None or row is None or row.status != PENDING:
            return False
        process = steps.definition(row)
        step = process.steps[task.step]
        record = op.record(row.entity, row.record_id)
        routing = route(op.directory, step.escalate_to, record, row.submitted_by_id)
        taken = {x for x in _open_people(conn, row.id, task.step) if x is not None}
        new = [a for a in routing.assignments if a.user_id not in taken or a.queue]
        if not new:
            # nobody to escalate to: stop asking every minute, say so in the history
            conn.execute(approval_tasks.update().where(t.id == task_id).values(due_at=None))
            steps.event(op, row.id, "escalation_failed", step=task.step,
                        step_name=task.step_name, task_id=task_id,
                        comment="; ".join(routing.problems) or _("nobody to escalate to"))
            report.problems.append(f"task {task_id}: nobody to escalate to")
            return False
        conn.execute(approval_tasks.update().where(t.id == task_id).values(
            status=ESCALATED, decided_at=now))
        fresh = dataclasses.replace(step, escalate_after=None)
        created = [(steps.add_task(op, row, task.step, fresh, who, replaces=task_id), who)
                   for who in new]
        steps.event(op, row.id, "escalated", step=task.step, step_name=task.step_name,
                    task_id=task_id, data={"to": [c for c, _w in created],
                                           "from": task.assignee_id})
        steps.notify_pending(op, row, process, step, created, kind="approval.escalated")
    op.after_commit()
    return True


def _open_people(conn: sa.Connection, approval_id: int, step: int) -> list[int | None]:
    t = approval_tasks.c
    return list(conn.execute(sa.select(t.assignee_id).where(
        t.approval_id == approval_id, t.step == step, t.status == OPEN)).scalars())


# --- escalation rules (SLA) --------------------------------------------------------------------
def deadline_of(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0, 0), tzinfo=UTC)
    return None


def _rule(rs: Records, settings: Settings, rule: EscalationDef, now: datetime,
          report: TickReport) -> None:
    """Fire `on_warn` / `on_breach` for each record of the rule whose moment has come."""
    if rule.entity not in rs.meta.entities:
        return
    table = rs.table(rule.entity)
    column = table.c[rs.spec(rule.entity).columns[rule.deadline]]
    after = timedelta(seconds=seconds(rule.after) or 0)
    warn = timedelta(seconds=seconds(rule.warn_before) or 0)
    kinds = ([("warn", now + warn - after)] if rule.on_warn else []) + \
        ([("breach", now - after)] if rule.on_breach else [])
    matched = _when_sql(rs, rule, table)
    for kind, horizon in kinds:
        bound: Any = horizon if rs.entity(rule.entity).fields[rule.deadline].type == "datetime" \
            else horizon.date()
        stmt = rs.full_select(rule.entity).where(
            table.c.deleted_at.is_(None), column.is_not(None), column <= bound)
        if matched is not None:
            stmt = stmt.where(matched)
        with rs.engine.connect() as conn:
            candidates = [dict(r._mapping) for r in conn.execute(stmt.order_by(table.c.id))]
            ids = [r["id"] for r in candidates]
            done = set()
            for start in range(0, len(ids), BATCH):
                done |= {(r.record_id, r.deadline) for r in conn.execute(
                    sa.select(escalations_fired.c.record_id, escalations_fired.c.deadline)
                    .where(escalations_fired.c.rule == rule.name,
                           escalations_fired.c.kind == kind,
                           escalations_fired.c.record_id.in_(ids[start:start + BATCH])))}
        for record in candidates:
            due = deadline_of(record.get(rule.deadline))
            if due is not None and (record["id"], due.isoformat()) not in done:
                _fire(rs, settings, rule, kind, record, now, report)


def _when_sql(rs: Records, rule: EscalationDef, table: sa.Table) -> Any:
    """The rule's `when` as SQL (None when it has none or it cannot be said in SQL: then it
    is checked record by record, as it always is again before firing)."""
    from app.expr import ExprError, parse
    from app.meta.checks import expr_kinds

    if not rule.when:
        return None
    columns: dict[str, Any] = {f: table.c[c] for f, c in rs.spec(rule.entity).columns.items()
                               if c in table.c}
    columns.update(rs.models.formulas.get(rule.entity, {}))
    try:
        return parse(rule.when, expr_kinds(rs.entity(rule.entity), rs.registry)).to_sql(columns)
    except (ExprError, NotImplementedError, KeyError):
        return None


def _fire(rs: Records, settings: Settings, rule: EscalationDef, kind: str,
          record: dict[str, Any], now: datetime, report: TickReport) -> None:
    spec = rs.spec(rule.entity)
    if rule.when and evaluate(spec.expr(rule.when), with_formulas(spec, record)) is not True:
        return
    due = deadline_of(record.get(rule.deadline))
    if due is None:
        return
    if kind == "warn" and due + timedelta(seconds=seconds(rule.after) or 0) <= now \
            and rule.on_breach:
        return  # already past: the breach says it
    try:
        with rs.transaction() as conn:
            done = conn.execute(sa.select(escalations_fired.c.id).where(
                escalations_fired.c.rule == rule.name,
                escalations_fired.c.record_id == record["id"],
                escalations_fired.c.kind == kind,
                escalations_fired.c.deadline == due.isoformat())).first()
            if done is not None:
                return
            conn.execute(escalations_fired.insert().values(
                rule=rule.name, entity=rule.entity, record_id=record["id"], kind=kind,
                deadline=due.isoformat(), fired_at=now))
            op = _op(rs, settings, conn, now)
            run_actions(op, rule.entity, int(record["id"]),
                        rule.on_warn if kind == "warn" else rule.on_breach,
                        kind="escalation", name=rule.name, event=f"on_{kind}")
    except RecordError as exc:
        log.warning("escalation %s on %s #%s failed: %s", rule.name, rule.entity,
                    record["id"], exc)
        report.problems.append(f"{rule.name} {rule.entity} #{record['id']}: {exc}")
        return
    op.after_commit()
    report.fired.append((rule.name, int(record["id"]), kind))
