"""What people see of approvals: their inbox (pending for me, submitted by me, my history),
a record's approvals with their steps, tasks and history, and what the user may do on a record
now (submit, recall, approve/reject/reassign). Read-only; labels in the current locale."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app import clock
from app.i18n import get_locale
from app.meta.access import ADMIN
from app.meta.approvals import ApprovalDef
from app.meta.types import label_text
from app.model.approvals import OPEN, PENDING, approval_events, approval_tasks, approvals
from app.records.change import Actor
from app.records.errors import RecordError
from app.workflow.approvals.engine import Approvals, may_act, pending, team_of, users_named
from app.workflow.approvals.steps import definition

if TYPE_CHECKING:
    from app.records.service import Records

LIMIT = 200


@dataclass(frozen=True)
class Item:
    """One row of an inbox list: a task (pending / history) or an approval (submitted)."""

    approval_id: int
    process: str
    process_label: str
    entity: str
    entity_label: str
    record_id: int
    title: str
    status: str
    submitted_by: str
    submitted_at: datetime
    submitted_by_id: int | None = None
    step_label: str = ""
    task_id: int | None = None
    queue: str | None = None
    delegated_from: str | None = None
    due_at: datetime | None = None
    decided_at: datetime | None = None
    comment: str | None = None

    @property
    def overdue(self) -> bool:
        return self.due_at is not None and self.status == OPEN and self.due_at < clock.now()

    def as_json(self) -> dict[str, Any]:
        out = {k: (v.isoformat() if isinstance(v, datetime) else v)
               for k, v in self.__dict__.items()}
        out["overdue"] = self.overdue
        return out


@dataclass
class TaskView:
    id: int
    step_label: str
    assignee: str
    queue: str | None
    delegated_from: str | None
    status: str
    created_at: datetime
    due_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    comment: str | None


@dataclass
class EventView:
    at: datetime
    kind: str
    user: str
    step_label: str
    comment: str | None
    data: dict[str, Any]


@dataclass
class ApprovalView:
    id: int
    process: str
    process_label: str
    status: str
    submitted_by_id: int | None
    submitted_by: str
    submitted_at: datetime
    decided_at: datetime | None
    step_label: str
    config_version: int | None
    tasks: list[TaskView] = field(default_factory=list)
    events: list[EventView] = field(default_factory=list)


@dataclass
class RecordActions:
    """What the user may do on the record now."""

    #: processes the user may submit the record to (name, label)
    submit: list[tuple[str, str]] = field(default_factory=list)
    #: why not, per process label (shown greyed)
    refused: list[tuple[str, str]] = field(default_factory=list)
    pending_id: int | None = None
    recall: bool = False
    #: open tasks the user may decide (or reassign)
    tasks: list[int] = field(default_factory=list)
    locked: bool = False


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _label(process: ApprovalDef, step: int | None) -> tuple[str, str]:
    loc = get_locale()
    plabel = label_text(process.label, loc, process.name)
    if step is None or step >= len(process.steps):
        return plabel, ""
    s = process.steps[step]
    return plabel, label_text(s.label, loc, s.name)


class Inbox:
    def __init__(self, rs: Records) -> None:
        self.rs = rs

    def _items(self, conn: sa.Connection, rows: Sequence[Any], tasks: bool) -> list[Item]:
        names = users_named(conn, [u for r in rows for u in (r.submitted_by_id,
                                                            getattr(r, "delegated_from_id", None))
                                   if u is not None])
        titles: dict[tuple[str, int], str] = {}
        for ent in {r.entity for r in rows}:
            if ent in self.rs.meta.entities:
                for rid, title in self.rs.titles(ent, [r.record_id for r in rows
                                                       if r.entity == ent], conn).items():
                    titles[(ent, rid)] = title
        out: list[Item] = []
        for r in rows:
            process = definition(r)
            plabel, slabel = _label(process, r.task_step if tasks else r.step)
            e = self.rs.meta.entities.get(r.entity)
            out.append(Item(
                approval_id=r.id, process=r.process, process_label=plabel, entity=r.entity,
                entity_label=e.label_for(get_locale()) if e else r.entity,
                record_id=r.record_id, title=titles.get((r.entity, r.record_id),
                                                        f"#{r.record_id}"),
                status=r.task_status if tasks else r.status,
                submitted_by=names.get(r.submitted_by_id, ""),
                submitted_at=_aware(r.submitted_at),  # type: ignore[arg-type]
                submitted_by_id=r.submitted_by_id,
                step_label=slabel, task_id=r.task_id if tasks else None,
                queue=r.queue if tasks else None,
                delegated_from=names.get(r.delegated_from_id) if tasks and
                r.delegated_from_id else None,
                due_at=_aware(r.due_at) if tasks else None,
                decided_at=_aware(r.task_decided_at if tasks else r.decided_at),
                comment=r.task_comment if tasks else r.comment))
        return out

    def _task_query(self) -> sa.Select[Any]:
        t = approval_tasks.c
        return sa.select(approvals, t.id.label("task_id"), t.step.label("task_step"),
                         t.status.label("task_status"), t.queue, t.delegated_from_id, t.due_at,
                         t.decided_at.label("task_decided_at"),
                         t.comment.label("task_comment")).join(
            approval_tasks, t.approval_id == approvals.c.id)

    @staticmethod
    def _mine(conn: sa.Connection, actor: Actor) -> sa.ColumnElement[bool]:
        """Open tasks the user may decide: theirs, those they stand in for, their queues'."""
        t = approval_tasks.c
        who = [t.assignee_id == actor.id, t.delegated_from_id == actor.id]
        teams = team_of(conn, actor.id)
        if teams:
            who.append(sa.and_(t.assignee_id.is_(None), t.queue.in_(sorted(teams))))
        return sa.and_(t.status == OPEN, approvals.c.status == PENDING, sa.or_(*who),
                       sa.or_(approvals.c.submitted_by_id.is_(None),
                              approvals.c.submitted_by_id != actor.id))

    def pending_for(self, actor: Actor) -> list[Item]:
        t = approval_tasks.c
        with self.rs.engine.connect() as conn:
            rows = conn.execute(self._task_query().where(self._mine(conn, actor))
                                .order_by(t.due_at.is_(None), t.due_at, t.id).limit(LIMIT)).all()
            return self._items(conn, rows, tasks=True)

    def submitted_by(self, actor: Actor) -> list[Item]:
        with self.rs.engine.connect() as conn:
            rows = conn.execute(sa.select(approvals).where(
                approvals.c.submitted_by_id == actor.id)
                .order_by(approvals.c.id.desc()).limit(LIMIT)).all()
            return self._items(conn, rows, tasks=False)

    def history_of(self, actor: Actor) -> list[Item]:
        """Tasks the user decided (approved, rejected or passed on), newest first."""
        t = approval_tasks.c
        with self.rs.engine.connect() as conn:
            rows = conn.execute(self._task_query().where(
                t.decided_by_id == actor.id, t.status != OPEN)
                .order_by(t.decided_at.desc(), t.id.desc()).limit(LIMIT)).all()
            return self._items(conn, rows, tasks=True)

    def count_pending(self, actor: Actor) -> int:
        """How many tasks wait for the user (one COUNT: the navbar asks on every page)."""
        if actor.id is None:
            return 0
        with self.rs.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(
                approval_tasks.join(approvals, approvals.c.id == approval_tasks.c.approval_id))
                .where(self._mine(conn, actor))).scalar_one())

    # --- one record ------------------------------------------------------------------------
    def of_record(self, entity: str, record_id: int) -> list[ApprovalView]:
        """Every approval of the record, newest first, with tasks and history (the caller has
        checked that the user may see the record)."""
        with self.rs.engine.connect() as conn:
            rows = conn.execute(sa.select(approvals).where(
                approvals.c.entity == entity, approvals.c.record_id == record_id)
                .order_by(approvals.c.id.desc())).all()
            ids = [r.id for r in rows]
            tasks = conn.execute(sa.select(approval_tasks).where(
                approval_tasks.c.approval_id.in_(ids)).order_by(approval_tasks.c.id)).all() \
                if ids else []
            events = conn.execute(sa.select(approval_events).where(
                approval_events.c.approval_id.in_(ids)).order_by(approval_events.c.id)).all() \
                if ids else []
            people = [u for r in rows for u in [r.submitted_by_id]]
            people += [u for t in tasks for u in (t.assignee_id, t.delegated_from_id,
                                                   t.decided_by_id)]
            people += [e.user_id for e in events]
            names = users_named(conn, [u for u in people if u is not None])
        out: list[ApprovalView] = []
        for r in rows:
            process = definition(r)
            plabel, slabel = _label(process, r.step)
            view = ApprovalView(
                id=r.id, process=r.process, process_label=plabel, status=r.status,
                submitted_by_id=r.submitted_by_id,
                submitted_by=names.get(r.submitted_by_id, ""),
                submitted_at=_aware(r.submitted_at),  # type: ignore[arg-type]
                decided_at=_aware(r.decided_at), step_label=slabel,
                config_version=r.config_version)
            for t in tasks:
                if t.approval_id == r.id:
                    view.tasks.append(TaskView(
                        id=t.id, step_label=_label(process, t.step)[1],
                        assignee=names.get(t.assignee_id, ""), queue=t.queue,
                        delegated_from=names.get(t.delegated_from_id),
                        status=t.status, created_at=_aware(t.created_at),  # type: ignore
                        due_at=_aware(t.due_at), decided_at=_aware(t.decided_at),
                        decided_by=names.get(t.decided_by_id), comment=t.comment))
            for e in events:
                if e.approval_id == r.id:
                    view.events.append(EventView(
                        at=_aware(e.at), kind=e.kind,  # type: ignore[arg-type]
                        user=names.get(e.user_id, ""),
                        step_label=_label(process, e.step)[1] if e.step is not None else "",
                        comment=e.comment, data=dict(e.data or {})))
            out.append(view)
        return out

    def actions(self, service: Approvals, entity: str, record_id: int, actor: Actor
                ) -> RecordActions:
        """What `actor` may do on the record now (buttons on the record page, the API)."""
        out = RecordActions()
        processes = service.processes(entity)
        if not processes:
            return out
        with self.rs.engine.connect() as conn:
            row = pending(conn, entity, record_id)
            if row is not None:
                out.pending_id = row.id
                out.locked = definition(row).lock
                out.recall = row.submitted_by_id == actor.id or ADMIN in actor.roles
                tasks = conn.execute(sa.select(approval_tasks).where(
                    approval_tasks.c.approval_id == row.id,
                    approval_tasks.c.status == OPEN)).all()
                out.tasks = [t.id for t in tasks if may_act(conn, t, actor, row.submitted_by_id)
                             and (ADMIN not in actor.roles or actor.id in (
                                 t.assignee_id, t.delegated_from_id) or t.queue)]
                if ADMIN in actor.roles and not out.tasks:
                    out.tasks = [t.id for t in tasks]
                return out
        if not self.rs.permits(entity, record_id, "edit"):
            return out
        try:
            record = self.rs.get(entity, record_id)
        except RecordError:
            return out
        for p in processes:
            why = service.refusal(p, record, actor)
            label = label_text(p.label, get_locale(), p.name)
            if why is None:
                out.submit.append((p.name, label))
            else:
                out.refused.append((label, why))
        return out
