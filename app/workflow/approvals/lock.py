"""The record lock of a pending approval (a built-in plugin, `app.plugins.BUILTIN_PLUGINS`).

While an approval whose process has `lock: true` (the default) is pending, the record and its
master-detail children (a quote's lines) may be changed or deleted only by an administrator, the
system (the approval's own actions) and the people who may decide one of its open tasks. Every
other save is refused with `Locked` (HTTP 423), naming the process; nothing is changed. The lock
is checked for entities that have an approval process in the live config (and their children).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.i18n import _, get_locale
from app.meta.access import ADMIN
from app.meta.types import EntityDef, Meta, label_text
from app.model.approvals import OPEN, approval_tasks
from app.plugins import hookimpl
from app.records.change import Actor, Change
from app.records.errors import Locked

_MEMO = "_crm_approval_locked_entities"


def _parents(meta: Meta) -> dict[str, list[str]]:
    """entity -> its master-detail fields whose parent entity has an approval process (and
    "" when the entity itself has one)."""
    found: dict[str, list[str]] | None = vars(meta).get(_MEMO)
    if found is None:
        with_process = {p.entity for p in meta.approvals.values() if p.lock}
        found = {}
        for e in meta.entities.values():
            keys = [""] if e.name in with_process else []
            keys += [f.name for f in e if f.type == "master_detail"
                     and f.opt("to") in with_process]
            if keys:
                found[e.name] = keys
        found = vars(meta).setdefault(_MEMO, found)
    return found


def check(change: Change, record: dict[str, Any]) -> None:
    """Raise Locked when a pending approval locks the record (or its parent) for this actor."""
    meta = change.meta
    if meta is None or change.actor.is_system or ADMIN in change.actor.roles:
        return
    for key in _parents(meta).get(change.entity.name, ()):
        if key == "":
            target, target_id = change.entity, change.id
        else:
            target = meta.entities[str(change.entity.fields[key].opt("to"))]
            target_id = record.get(key)
        if target_id is None:
            continue
        _refuse_if_locked(change.conn, target, int(target_id), change.actor)


def _refuse_if_locked(conn: sa.Connection, entity: EntityDef, record_id: int, actor: Actor
                      ) -> None:
    from app.workflow.approvals.engine import may_act, pending
    from app.workflow.approvals.steps import definition

    row = pending(conn, entity.name, record_id)
    if row is None or not definition(row).lock:
        return
    tasks = conn.execute(sa.select(approval_tasks).where(
        approval_tasks.c.approval_id == row.id, approval_tasks.c.status == OPEN)).all()
    if any(may_act(conn, t, actor, row.submitted_by_id) for t in tasks):
        return
    process = definition(row)
    raise Locked(_("%(entity)s %(id)s is locked while it waits for %(process)s; only its "
                   "current approver or an administrator may change it. The submitter may "
                   "recall it to edit it.", entity=entity.label_for(get_locale()),
                   id=f"#{record_id}",
                   process=label_text(process.label, get_locale(), process.name)))


@hookimpl
def crm_record_before_validate(change: Change) -> None:
    if change.action in ("update", "create"):
        check(change, change.values)
    if change.action == "update" and change.old:
        check(change, {k: v for k, v in change.old.items() if change.values.get(k) != v})
        if not change.actor.is_system:
            _revoke(change)


def _revoke(change: Change) -> None:
    """A user changed a field of `revoke_on_change` on a record whose last approval by that
    process is approved: the approval no longer holds. Its `on_recall` values are set in this
    same save (the quote goes back to draft) and the history says so. Runs before the stage
    machine's check (plugins registered later run first), which then checks that move."""
    from app import clock
    from app.fields import registry
    from app.meta.approvals import NOW
    from app.meta.types import thaw
    from app.model.approvals import APPROVED, approval_events, approvals
    from app.workflow.approvals.steps import definition

    meta, old = change.meta, change.old or {}
    if meta is None or change.id is None:
        return
    for process in meta.approvals.values():
        if process.entity != change.entity.name or not process.revoke_on_change:
            continue
        moved = [f for f in process.revoke_on_change if old.get(f) != change.values.get(f)]
        if not moved:
            continue
        last = change.conn.execute(sa.select(approvals).where(
            approvals.c.entity == change.entity.name, approvals.c.record_id == change.id,
            approvals.c.process == process.name).order_by(approvals.c.id.desc()).limit(1)).first()
        if last is None or last.status != APPROVED:
            continue
        now = clock.now()
        for ref in definition(last).actions.get("on_recall", ()):
            if ref.action != "set":
                continue
            for key, value in ref.params.items():
                f = change.entity.fields[key]
                raw = thaw(value)
                if raw == NOW:
                    raw = now if f.type == "datetime" else now.date()
                change.values[key] = registry.get(f.type).to_python(f, raw)
        change.conn.execute(approval_events.insert().values(
            approval_id=last.id, at=now, user_id=change.actor.id, kind="revoked",
            data={"fields": moved}))


@hookimpl
def crm_record_before_save(change: Change) -> None:
    if change.action == "restore":  # a line restored into a pending quote changes it too
        check(change, dict(change.old or {}))


@hookimpl
def crm_record_before_delete(change: Change) -> None:
    check(change, dict(change.old or {}))


@hookimpl
def crm_record_after_delete(change: Change) -> None:
    """A record deleted while its approval is pending (an admin may): the approval ends as
    recalled, its open tasks are cancelled, so nothing waits for a record that is gone."""
    from app import clock
    from app.model.approvals import CANCELLED, RECALLED, approval_events, approvals
    from app.workflow.approvals.engine import pending

    if change.meta is None or change.id is None or not any(
            p.entity == change.entity.name for p in change.meta.approvals.values()):
        return
    row = pending(change.conn, change.entity.name, change.id)
    if row is None:
        return
    now = clock.now()
    change.conn.execute(approval_tasks.update().where(
        approval_tasks.c.approval_id == row.id, approval_tasks.c.status == OPEN)
        .values(status=CANCELLED, decided_at=now))
    change.conn.execute(approvals.update().where(approvals.c.id == row.id)
                        .values(status=RECALLED, decided_at=now))
    change.conn.execute(approval_events.insert().values(
        approval_id=row.id, at=now, user_id=change.actor.id, kind="record_deleted"))


def refuse_if_locked(records: Any, entity: str, record_id: int, actor: Actor) -> None:
    """Raise Locked when attaching or removing a file would change a locked record (the
    attachments are part of what is approved)."""
    meta = records.meta
    if actor.is_system or ADMIN in actor.roles or entity not in _parents(meta) \
            or "" not in _parents(meta)[entity]:
        return
    with records.engine.connect() as conn:
        _refuse_if_locked(conn, meta.entities[entity], record_id, actor)
