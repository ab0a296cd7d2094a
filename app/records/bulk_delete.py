"""Soft-deleting many records at once (undoing an import): the checks and effects of
`Records.delete` for a batch of ids, with one query per check instead of several per record.

In one transaction: the live records are read (and locked on PostgreSQL), the actor's delete
scope, `on_delete: restrict` lookups that still point at them and each record's
`crm_record_before_delete` hooks are checked; the records that pass are marked deleted with one
UPDATE, their audit rows written with one INSERT, their master-detail children deleted with
them (the same way), parents' roll-ups recomputed once, the records read back once and each
one's `crm_record_after_delete` hooks run. A record that fails a check is reported and kept;
when the write fails, the batch is written again record by record (as `bulk.BulkWriter` does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app.i18n import _
from app.model.system import audit
from app.records import side
from app.records.bulk import ROW_FAILURES, failure
from app.records.change import Actor, Change
from app.records.errors import RECORD, Forbidden, RecordError

if TYPE_CHECKING:
    from app.records.service import Records


@dataclass
class DeleteOutcome:
    deleted: list[int] = field(default_factory=list)
    #: record id -> why it was not deleted
    failed: dict[int, str] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)

    def merge(self, other: DeleteOutcome) -> None:
        self.deleted += other.deleted
        self.failed.update(other.failed)
        self.changes += other.changes


def delete_many(records: Records, entity: str, ids: Sequence[int], actor: Actor
                ) -> DeleteOutcome:
    """Soft-delete the records `ids` of `entity` (see the module's docstring)."""
    acc = records.access(actor)
    if not acc.allows(entity, "delete"):
        raise Forbidden(_("You may not delete %(entities)s.",
                          entities=records.entity(entity).plural_for(actor.locale)))
    when = datetime.now(UTC)
    with records.transaction() as conn:
        outcome = _attempt(records, conn, entity, list(ids), actor, when)
    for change in outcome.changes:
        records._after_commit(change)
    return outcome


def _attempt(records: Records, conn: sa.Connection, entity: str, ids: list[int],
             actor: Actor, when: datetime) -> DeleteOutcome:
    point = conn.begin_nested()
    try:
        outcome = _delete(records, conn, entity, ids, actor, when, with_parent=False)
    except ROW_FAILURES as exc:
        point.rollback()
        if len(ids) == 1:
            return DeleteOutcome(failed={ids[0]: _message(failure(exc))})
        outcome = DeleteOutcome()
        for one in ids:
            outcome.merge(_attempt(records, conn, entity, [one], actor, when))
        return outcome
    point.commit()
    return outcome


def _delete(records: Records, conn: sa.Connection, entity: str, ids: list[int], actor: Actor,
            when: datetime, *, with_parent: bool) -> DeleteOutcome:
    outcome = DeleteOutcome()
    table = records.table(entity)
    label = records.entity(entity).label_for(actor.locale)
    olds: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 1000):
        stmt = records.full_select(entity).where(table.c.id.in_(ids[start:start + 1000]),
                                                 table.c.deleted_at.is_(None))
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update(of=table)
        olds.update({int(r.id): records.to_record(r) for r in conn.execute(stmt)})
    for missing in [i for i in ids if i not in olds]:
        outcome.failed[missing] = _("%(entity)s #%(id)s does not exist or was deleted.",
                                    entity=label, id=missing)
    acc = records.access(actor)
    if not with_parent and not acc.unrestricted and olds:
        where = acc.where(entity, "delete")
        if where is not None:
            reach = _ids(conn, table, table.c.id, list(olds), where)
            for lost in [i for i in olds if i not in reach]:
                outcome.failed[lost] = _("You may not delete %(entity)s #%(id)s.",
                                         entity=label, id=lost)
                del olds[lost]
    for record_id, message in _restricted(records, conn, entity, list(olds)).items():
        outcome.failed[record_id] = message
        del olds[record_id]
    spec = records.spec(entity)
    changes: list[Change] = []
    for record_id, old in list(olds.items()):
        change = Change(spec.entity, "delete", actor, conn, {}, old=old, id=record_id,
                        meta=records.meta)
        try:
            records._hook("crm_record_before_delete", change)
        except RecordError as exc:
            outcome.failed[record_id] = exc.message
            del olds[record_id]
            continue
        changes.append(change)
    if not changes:
        return outcome
    good = [int(c.id or 0) for c in changes]
    for start in range(0, len(good), 1000):
        conn.execute(table.update().where(table.c.id.in_(good[start:start + 1000])).values(
            deleted_at=when, version=table.c.version + 1, updated_by_id=actor.id))
    conn.execute(audit.insert(), [
        {"entity": entity, "record_id": c.id, "action": "delete", "user_id": actor.id,
         "version": c.old["version"] + 1, "changes": None, "at": when} for c in changes])
    for child, link in records._detail_children(entity):
        ctable = records.table(child.name)
        col = ctable.c[records.spec(child.name).columns[link]]
        kids = sorted(_ids(conn, ctable, ctable.c.id, good, ctable.c.deleted_at.is_(None),
                           link_col=col))
        if kids:
            done = _delete(records, conn, child.name, kids, actor, when, with_parent=True)
            if done.failed:  # a child that may not go keeps its parent: undo them all
                first = next(iter(done.failed.values()))
                raise RecordError(first)
            outcome.changes += done.changes
    side.recompute_rollups(conn, records.models, entity,
                           side.link_values(records.models, entity, *olds.values()))
    saved = {int(r.id): records.to_record(r) for r in conn.execute(
        records.full_select(entity).where(table.c.id.in_(good)))}
    for change in changes:
        change.record = saved[int(change.id or 0)]
        records._hook("crm_record_after_delete", change)
    outcome.deleted += good
    outcome.changes = changes + outcome.changes
    return outcome


def _restricted(records: Records, conn: sa.Connection, entity: str, ids: list[int]
                ) -> dict[int, str]:
    """Records still pointed at through `on_delete: restrict` lookups -> the refusal."""
    out: dict[int, str] = {}
    if not ids:
        return out
    for e in records.meta:
        for f in e:
            restricts = f.type == "lookup" and f.opt("to") == entity \
                and f.opt("on_delete") == "restrict"
            if not restricts or f.name not in records.spec(e.name).columns:
                continue
            table = records.table(e.name)
            col = table.c[records.spec(e.name).columns[f.name]]
            for start in range(0, len(ids), 1000):
                rows = conn.execute(sa.select(col, sa.func.count()).where(
                    col.in_(ids[start:start + 1000]), table.c.deleted_at.is_(None))
                    .group_by(col)).all()
                for target, count in rows:
                    out.setdefault(int(target), _(
                        "This record cannot be deleted: %(count)s %(entities)s still refer to "
                        "it through %(field)s. Change or delete those first.", count=count,
                        entities=e.plural_for(_locale()), field=f.label_for(_locale())))
    return out


def _ids(conn: sa.Connection, table: sa.Table, col: sa.ColumnElement[Any], ids: list[int],
         *where: sa.ColumnElement[bool], link_col: sa.ColumnElement[Any] | None = None
         ) -> set[int]:
    """Ids of `table` rows whose `link_col` (default: `col`) is in `ids` and `where` holds."""
    on = col if link_col is None else link_col
    found: set[int] = set()
    for start in range(0, len(ids), 1000):
        stmt = sa.select(table.c.id).where(on.in_(ids[start:start + 1000]), *where)
        found.update(int(i) for i in conn.execute(stmt).scalars())
    return found


def _message(errors: dict[str, list[str]]) -> str:
    first = next(iter(errors.items()), (RECORD, [""]))
    return first[1][0] if first[0] == RECORD else f"{first[0]}: {first[1][0]}"


def _locale() -> str:
    from app.i18n import get_locale

    return get_locale()
